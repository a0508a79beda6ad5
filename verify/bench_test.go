package verify

import (
	"bufio"
	"context"
	"encoding/binary"
	"fmt"
	"math/rand/v2"
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
	"github.com/fsnap/fsnap/snapshot"
)

func TestMain(m *testing.M) {
	code := m.Run()
	benchMu.Lock()
	for _, d := range benchDirs {
		os.RemoveAll(d)
	}
	benchMu.Unlock()
	testservers.StopAll()
	os.Exit(code)
}

var (
	benchMu   sync.Mutex
	benchDirs = map[string]string{} // generated savepoints by variant
)

// benchSavepoint is a canonical savepoint whose keyed streams are real
// (written by format/state's unified writer): one keyed operator, max
// parallelism 128, parallelism 4, a VALUE state of byte arrays (16 to 240
// bytes) and a VALUE state of longs, about total bytes of streams. It is
// generated once per test binary and variant.
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
	dir = filepath.Join(root, "savepoint-be0c4a-0123456789ab")
	if err := writeBenchSavepoint(dir, total, compressed); err != nil {
		os.RemoveAll(root)
		b.Fatal(err)
	}
	benchDirs[key] = root
	return dir, streamFiles(b, dir)
}

func streamFiles(b *testing.B, dir string) []string {
	m := readMetadataB(b, dir)
	var out []string
	for _, r := range keyGroupHandles(m) {
		out = append(out, filepath.Join(dir, r.h.Delegate.(*format.RelativeFileHandle).RelativePath))
	}
	return out
}

func readMetadataB(b *testing.B, dir string) *format.Metadata {
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

func writeBenchSavepoint(dir string, total int64, compressed bool) error {
	const maxPar, par = 128, 4
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	void := state.SimpleSnapshot(state.VoidNamespaceSnapshotClass)
	h := state.NewKeyedHeader(compressed, state.SimpleSnapshot(state.LongSnapshotClass),
		state.KeyValueStateMeta("payload", "VALUE", void, state.SimpleSnapshot(state.BytesSnapshotClass)),
		state.KeyValueStateMeta("count", "VALUE", void, state.SimpleSnapshot(state.LongSnapshotClass)))
	rng := rand.New(rand.NewPCG(1, 2))
	// Values cut from text of 256 made-up words: Snappy (LZ77 without
	// entropy coding) compresses it about as well as real text.
	var words [][]byte
	for range 256 {
		w := make([]byte, 3+rng.IntN(8))
		for i := range w {
			w[i] = 'a' + byte(rng.IntN(26))
		}
		words = append(words, append(w, ' '))
	}
	pool := make([]byte, 0, 1<<20+16)
	for len(pool) < 1<<20 {
		pool = append(pool, words[rng.IntN(len(words))]...)
	}
	op := format.OperatorState{ID: format.OperatorIDFromUID("bench-keyed"), UID: "bench-keyed", Name: "KeyedProcess",
		Parallelism: par, MaxParallelism: maxPar}
	perGroup := total / maxPar
	var ck, val []byte
	k := int64(0)
	for sub := range int32(par) {
		r := fixtures.KeyGroupRangeFor(maxPar, par, sub)
		name := fmt.Sprintf("bench-%d", sub)
		f, err := os.Create(filepath.Join(dir, name))
		if err != nil {
			return err
		}
		bw := bufio.NewWriterSize(f, 1<<20)
		u, err := state.NewUnifiedWriter(bw, h, r.Start, r.Count, maxPar)
		if err != nil {
			return err
		}
		for kg := r.Start; kg <= r.End(); kg++ {
			start := u.Size()
			// State 0 for the group's keys, then state 1 for the same keys.
			var keys []int64
			for u.Size()-start < perGroup*9/10 {
				k++
				keys = append(keys, k)
				ck = state.AppendCompositeKey(ck[:0], binary.BigEndian.AppendUint64(nil, uint64(k)), []byte{0}, nil, false)
				n := 16 + rng.IntN(225)
				off := rng.IntN(len(pool) - n)
				val = binary.BigEndian.AppendUint32(val[:0], uint32(n))
				val = append(val, pool[off:off+n]...)
				if err := u.Add(kg, 0, ck, val); err != nil {
					return err
				}
			}
			for _, key := range keys {
				ck = state.AppendCompositeKey(ck[:0], binary.BigEndian.AppendUint64(nil, uint64(key)), []byte{0}, nil, false)
				if err := u.Add(kg, 1, ck, binary.BigEndian.AppendUint64(val[:0], uint64(key*7))); err != nil {
					return err
				}
			}
		}
		groups, err := u.Close()
		if err != nil {
			return err
		}
		if err := bw.Flush(); err != nil {
			return err
		}
		if err := f.Close(); err != nil {
			return err
		}
		op.Subtasks = append(op.Subtasks, format.SubtaskState{Index: sub, ManagedKeyedState: &format.KeyGroupsHandle{
			Type: format.SavepointKeyGroupsHandle, Range: r, Offsets: groups.Offsets,
			Delegate: &format.RelativeFileHandle{RelativePath: name, Size: u.Size()}}})
	}
	m := &format.Metadata{Version: 6, CheckpointID: 1, Operators: []format.OperatorState{op},
		Properties: format.NewSavepointProperties("CANONICAL")}
	raw, err := format.AppendMetadata(nil, m)
	if err != nil {
		return err
	}
	return os.WriteFile(filepath.Join(dir, format.MetadataFileName), raw, 0o644)
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
// stream (file) bytes. The uncompressed savepoint has 1 GiB of streams;
// the Snappy one 512 MiB of files holding about 1.4 GB of state.
func BenchmarkDeep(b *testing.B) {
	for _, compressed := range []bool{false, true} {
		name := "uncompressed"
		if compressed {
			name = "snappy"
		}
		b.Run(name, func(b *testing.B) {
			total := benchBytes()
			if compressed {
				total /= 2 // its values compress about 2.7:1: 1.4 GB of state
			}
			dir, files := benchSavepoint(b, total, compressed)
			var size int64
			for _, f := range files {
				fi, err := os.Stat(f)
				if err != nil {
					b.Fatal(err)
				}
				size += fi.Size()
			}
			m := readMetadataB(b, dir)
			refs := keyGroupHandles(m)
			iterate := func(b *testing.B) int64 {
				var n int64
				for i, path := range files {
					f, err := os.Open(path)
					if err != nil {
						b.Fatal(err)
					}
					ks, err := state.OpenKeyed(f, refs[i].h.Delegate.StateSize(), state.KeyGroupsOf(refs[i].h),
						state.KeyedOptions{Name: path, MaxParallelism: m.Operators[0].MaxParallelism})
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
	s, ref, err := snapshot.Load(ctx, dir)
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
