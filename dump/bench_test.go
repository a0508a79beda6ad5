package dump_test

import (
	"context"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"testing"

	"github.com/fsnap/fsnap/dump"
	"github.com/fsnap/fsnap/fixtures"
	"github.com/fsnap/fsnap/format"
	"github.com/fsnap/fsnap/format/state"
	"github.com/fsnap/fsnap/snapshot/source"
)

// BenchmarkDumpParquet dumps a generated canonical savepoint
// (FSNAP_DUMP_BENCH_MB of keyed state, default 1 GiB: a byte[] payload and a
// long per key) to Parquet files on local disk, and walks the same files
// with the plain key-group iterator in the same run: MB/s of state files
// for both (README: performance table).
func BenchmarkDumpParquet(b *testing.B) {
	total := int64(1 << 30)
	if s := os.Getenv("FSNAP_DUMP_BENCH_MB"); s != "" {
		if n, err := strconv.Atoi(s); err == nil && n > 0 {
			total = int64(n) << 20
		}
	}
	root := b.TempDir()
	sp, err := fixtures.WriteKeyedSavepoint(context.Background(), fixtures.Dir(root), fixtures.KeyedSpec{
		Seed: 1, Parallelism: 4, MaxParallelism: 128, Bytes: total, ValueBytes: 128})
	if err != nil {
		b.Fatal(err)
	}
	dir := filepath.Join(root, sp.Dir)
	s, src, err := source.Load(context.Background(), dir)
	if err != nil {
		b.Fatal(err)
	}
	defer src.Close()
	var size int64
	for _, f := range s.Files {
		size += f.Size
	}
	b.Run("iterator", func(b *testing.B) {
		b.SetBytes(size)
		for i := 0; i < b.N; i++ {
			for _, op := range s.Operators {
				for _, st := range op.State.Subtasks {
					h, ok := st.ManagedKeyedState.(*format.KeyGroupsHandle)
					if !ok {
						continue
					}
					f, err := src.Open(context.Background(), h.Delegate)
					if err != nil {
						b.Fatal(err)
					}
					ks, err := state.OpenKeyed(f, f.Size, state.KeyGroupsOf(h), state.KeyedOptions{Name: f.Name, MaxParallelism: op.State.MaxParallelism})
					if err != nil {
						b.Fatal(err)
					}
					it := ks.Iter()
					for it.Next() {
					}
					if err := it.Err(); err != nil {
						b.Fatal(err)
					}
					f.Close()
				}
			}
		}
	})
	b.Run("parquet", func(b *testing.B) {
		b.SetBytes(size)
		for i := 0; i < b.N; i++ {
			out := b.TempDir()
			c := dump.NewColumnar(dump.Parquet, func(name string) (io.WriteCloser, error) {
				p := filepath.Join(out, name)
				os.MkdirAll(filepath.Dir(p), 0o755)
				return os.Create(p)
			})
			st, err := dump.Dump(context.Background(), s, src, dump.Options{FirstKeyGroup: -1, LastKeyGroup: -1}, c)
			if cerr := c.Close(); err == nil {
				err = cerr
			}
			if err != nil || st.Rows == 0 {
				b.Fatal(st, err)
			}
		}
	})
}
