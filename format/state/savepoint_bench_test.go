package state_test

import (
	"context"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"testing"

	"github.com/fsnap/fsnap/fixtures"
	"github.com/fsnap/fsnap/format"
	"github.com/fsnap/fsnap/format/state"
)

// savepointMB is the size of the generated savepoint: FSNAP_BENCH_MB,
// default 1024.
func savepointMB() int64 {
	if v, err := strconv.ParseInt(os.Getenv("FSNAP_BENCH_MB"), 10, 64); err == nil && v > 0 {
		return v
	}
	return 1024
}

var (
	genOnce sync.Map // compressed → *generated
)

type generated struct {
	once sync.Once
	dir  string
	sp   *fixtures.KeyedSavepoint
	err  error
}

// generatedSavepoint writes (once per test binary) a canonical savepoint of
// savepointMB MiB of keyed streams under a temporary folder.
func generatedSavepoint(b *testing.B, compressed bool) (string, *fixtures.KeyedSavepoint) {
	v, _ := genOnce.LoadOrStore(compressed, &generated{})
	g := v.(*generated)
	g.once.Do(func() {
		g.dir, g.err = os.MkdirTemp("", "fsnap-state-bench-")
		if g.err != nil {
			return
		}
		g.sp, g.err = fixtures.WriteKeyedSavepoint(context.Background(), fixtures.Dir(g.dir),
			fixtures.KeyedSpec{Bytes: savepointMB() << 20, Compressed: compressed, Parallelism: 4, MaxParallelism: 128})
	})
	if g.err != nil {
		b.Fatal(g.err)
	}
	return filepath.Join(g.dir, g.sp.Dir), g.sp
}

func TestMain(m *testing.M) {
	code := m.Run()
	genOnce.Range(func(_, v any) bool {
		if g := v.(*generated); g.dir != "" {
			os.RemoveAll(g.dir)
		}
		return true
	})
	os.Exit(code)
}

// BenchmarkIterateGeneratedSavepoint walks every keyed stream of a generated
// canonical savepoint (≥ 1 GiB by default) from local files. MB/s is over
// the stream bytes on disk; entries/s counts both states' entries.
func BenchmarkIterateGeneratedSavepoint(b *testing.B) {
	for _, compressed := range []bool{false, true} {
		name := "plain"
		if compressed {
			name = "snappy"
		}
		b.Run(name, func(b *testing.B) {
			dir, sp := generatedSavepoint(b, compressed)
			m := readMetadata(b, dir)
			b.SetBytes(sp.StreamBytes)
			b.ReportAllocs()
			var n int64
			for b.Loop() {
				n = 0
				for _, st := range m.Operators[0].Subtasks {
					h := st.ManagedKeyedState.(*format.KeyGroupsHandle)
					f, err := os.Open(filepath.Join(dir, h.Delegate.(*format.RelativeFileHandle).RelativePath))
					if err != nil {
						b.Fatal(err)
					}
					ks, err := state.OpenKeyed(f, h.Delegate.StateSize(), state.KeyGroupsOf(h), state.KeyedOptions{MaxParallelism: 128})
					if err != nil {
						b.Fatal(err)
					}
					it := ks.Iter()
					for it.Next() {
						n++
					}
					if err := it.Err(); err != nil {
						b.Fatal(err)
					}
					f.Close()
				}
			}
			if n != 2*sp.Keys {
				b.Fatalf("walked %d entries, want %d", n, 2*sp.Keys)
			}
			b.ReportMetric(float64(n)*float64(b.N)/b.Elapsed().Seconds()/1e6, "Mentries/s")
		})
	}
}

func readMetadata(b *testing.B, dir string) *format.Metadata {
	raw, err := os.ReadFile(filepath.Join(dir, format.MetadataFileName))
	if err != nil {
		b.Fatal(err)
	}
	m, err := format.ParseMetadata(raw)
	if err != nil {
		b.Fatal(err)
	}
	return m
}
