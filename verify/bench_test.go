package verify

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/fsnap/fsnap/fixtures"
	"github.com/fsnap/fsnap/format"
	"github.com/fsnap/fsnap/format/state"
	"github.com/fsnap/fsnap/internal/testservers"
	snapsrc "github.com/fsnap/fsnap/snapshot/source"
)

func TestMain(m *testing.M) {
	code := m.Run()
	benchMu.Lock()
	for _, d := range benchRoots {
		os.RemoveAll(d)
	}
	benchMu.Unlock()
	testservers.StopAll()
	os.Exit(code)
}

var (
	benchMu    sync.Mutex
	benchDirs  = map[string]string{} // generated savepoint directories by variant
	benchRoots []string              // their temporary roots
)

// benchSavepoint is fixtures' canonical savepoint with real keyed state
// (one keyed operator, max parallelism 128, parallelism 4, a VALUE state of
// text-like byte arrays of 64 to 192 bytes and a VALUE state of longs, keys
// in the key groups Flink assigns them), about total bytes of streams. It
// is generated once per test binary and variant.
func benchSavepoint(b *testing.B, total int64, compressed bool) (dir string, streams []string) {
	key := fmt.Sprintf("%d-%v", total, compressed)
	benchMu.Lock()
	defer benchMu.Unlock()
	if d, ok := benchDirs[key]; ok {
		return d, streamFiles(b, d)
	}
	root, err := os.MkdirTemp("", "fsnap-verify-bench-")
	if err != nil {
		b.Fatal(err)
	}
	sp, err := fixtures.WriteKeyedSavepoint(context.Background(), fixtures.Dir(root), fixtures.KeyedSpec{
		Seed: 1, Parallelism: 4, MaxParallelism: 128, Bytes: total, ValueBytes: 128, Compressed: compressed})
	if err != nil {
		os.RemoveAll(root)
		b.Fatal(err)
	}
	benchRoots = append(benchRoots, root)
	dir = filepath.Join(root, sp.Dir)
	benchDirs[key] = dir
	return dir, streamFiles(b, dir)
}

func streamFiles(b *testing.B, dir string) []string {
	m := readMetadata(b, dir)
	var out []string
	for _, r := range keyGroupHandles(m) {
		out = append(out, filepath.Join(dir, r.h.Delegate.(*format.RelativeFileHandle).RelativePath))
	}
	return out
}

// benchBytes is the size of the generated savepoint: FSNAP_VERIFY_BENCH_MB,
// default 1024 (1 GiB).
func benchBytes() int64 {
	if s := os.Getenv("FSNAP_VERIFY_BENCH_MB"); s != "" {
		if n, err := strconv.Atoi(s); err == nil && n > 0 {
			return int64(n) << 20
		}
	}
	return 1 << 30
}

// BenchmarkDeep compares `verify --deep` over a generated canonical
// savepoint with the plain key-group iterator over the same files in the
// same run (both from the page cache after the first pass): MB/s of
// stream (file) bytes. Both savepoints hold 1 GiB of state; Snappy
// compresses it into about 430 MB of files.
func BenchmarkDeep(b *testing.B) {
	for _, compressed := range []bool{false, true} {
		name := "uncompressed"
		if compressed {
			name = "snappy"
		}
		b.Run(name, func(b *testing.B) {
			total := benchBytes()
			dir, files := benchSavepoint(b, total, compressed)
			var size int64
			for _, f := range files {
				fi, err := os.Stat(f)
				if err != nil {
					b.Fatal(err)
				}
				size += fi.Size()
			}
			m := readMetadata(b, dir)
			refs := keyGroupHandles(m)
			iterate := func(b *testing.B) int64 {
				var n int64
				for i, path := range files {
					n += countEntries(b, path, refs[i].h, m.Operators[0].MaxParallelism)
				}
				return n
			}
			b.Run("iterator", func(b *testing.B) {
				b.SetBytes(size)
				b.ReportAllocs()
				defer cpuThroughput(b, size)()
				for range b.N {
					b.ReportMetric(float64(iterate(b)), "entries")
				}
			})
			// paired runs the iterator and verify one after the other in
			// each round, so both see the same load: the ratio of their
			// throughputs is what the target is about.
			b.Run("paired", func(b *testing.B) {
				var it, ve time.Duration
				for range b.N {
					t0 := time.Now()
					iterate(b)
					t1 := time.Now()
					benchCheck(b, dir, size, 0)
					it, ve = it+t1.Sub(t0), ve+time.Since(t1)
				}
				mb := float64(size) * float64(b.N) / 1e6
				b.ReportMetric(mb/it.Seconds(), "iter-MB/s")
				b.ReportMetric(mb/ve.Seconds(), "verify-MB/s")
				b.ReportMetric(it.Seconds()/ve.Seconds(), "verify/iter")
			})
			for _, workers := range []int{1, 0} {
				bname := "verify-deep"
				if workers == 1 {
					bname = "verify-deep-1-worker"
				}
				b.Run(bname, func(b *testing.B) { benchVerify(b, dir, size, workers) })
			}
		})
	}
}

// benchVerify runs Check at LevelDeep over dir; workers 0 is the default
// (GOMAXPROCS streams in parallel for local files).
func benchVerify(b *testing.B, dir string, size int64, workers int) {
	b.SetBytes(size)
	b.ReportAllocs()
	defer cpuThroughput(b, size)()
	for range b.N {
		b.ReportMetric(float64(benchCheck(b, dir, size, workers)), "entries")
	}
}

// benchCheck verifies dir deep and returns the entries read.
func benchCheck(b *testing.B, dir string, size int64, workers int) int64 {
	ctx := context.Background()
	s, ref, err := snapsrc.Load(ctx, dir)
	if err != nil {
		b.Fatal(err)
	}
	defer ref.Close()
	r, err := Check(ctx, s, ref, Options{Level: LevelDeep, Concurrency: workers})
	if err != nil {
		b.Fatal(err)
	}
	if len(r.Findings) != 0 || r.Checked.BytesWalked != size {
		b.Fatalf("findings %v, walked %d of %d bytes", r.CodeCounts(), r.Checked.BytesWalked, size)
	}
	return r.Checked.Entries
}

// cpuThroughput reports MB per CPU-second (user + system time of the whole
// process), a measure that holds on a machine shared with other work, where
// wall-clock MB/s swings with the load. Call the returned func at the end.
func cpuThroughput(b *testing.B, size int64) func() {
	start := cpuTime()
	return func() {
		if d := cpuTime() - start; d > 0 {
			b.ReportMetric(float64(size)*float64(b.N)/d.Seconds()/1e6, "MB/cpu-s")
		}
	}
}

func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// countEntries walks the key-group stream of h in the file at path: the
// plain iterator verify --deep is measured against.
func countEntries(b *testing.B, path string, h *format.KeyGroupsHandle, maxParallelism int32) int64 {
	f, err := os.Open(path)
	if err != nil {
		b.Fatal(err)
	}
	defer f.Close()
	ks, err := state.OpenKeyed(f, h.Delegate.StateSize(), state.KeyGroupsOf(h), state.KeyedOptions{Name: path, MaxParallelism: maxParallelism})
	if err == nil {
		it := ks.Iter()
		n := int64(0)
		for it.Next() {
			n++
		}
		if err = it.Err(); err == nil {
			return n
		}
	}
	b.Fatal(err)
	return 0
}
