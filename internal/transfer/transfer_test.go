package transfer

import (
	"bytes"
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"testing"

	"github.com/fsnap/fsnap/internal/testservers"
	"github.com/fsnap/fsnap/store"
)

func put(t testing.TB, l *store.Location, key string, b []byte) {
	t.Helper()
	if err := l.Bucket.WriteAll(context.Background(), key, b, nil); err != nil {
		t.Fatal(err)
	}
}

func randBytes(n int, seed uint64) []byte {
	r := rand.New(rand.NewPCG(seed, 1))
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(r.Uint32())
	}
	return b
}

func TestCopyLocalAndResume(t *testing.T) {
	ctx := context.Background()
	srcDir, dstDir := t.TempDir(), t.TempDir()
	src, dst := testservers.Open(t, srcDir), testservers.Open(t, dstDir)
	var files []File
	for i := range 20 {
		b := randBytes(i*70_000+1, uint64(i))
		name := fmt.Sprintf("f%02d", i)
		os.WriteFile(filepath.Join(srcDir, name), b, 0o644)
		files = append(files, File{Src: Object{src, src.Prefix + name}, Dst: Object{dst, dst.Prefix + name}, Length: -1, Size: int64(len(b))})
	}
	e := New(Options{Transfers: 4})
	for i, r := range e.Copy(ctx, files) {
		if r.Err != nil || r.Outcome != Copied || r.Bytes != files[i].Size {
			t.Fatalf("%d: %+v", i, r)
		}
	}
	for i := range files {
		a, _ := os.ReadFile(filepath.Join(srcDir, fmt.Sprintf("f%02d", i)))
		b, _ := os.ReadFile(filepath.Join(dstDir, fmt.Sprintf("f%02d", i)))
		if !bytes.Equal(a, b) {
			t.Fatalf("f%02d differs", i)
		}
	}
	if got := e.Stats.BytesDone.Load(); got != e.Stats.BytesTotal.Load() || got == 0 {
		t.Errorf("stats: %d of %d bytes", got, e.Stats.BytesTotal.Load())
	}
	// Again: all present, verified by reading both sides (no checksums
	// on local files).
	for i := range files {
		files[i].SrcAttrs = nil
	}
	for i, r := range New(Options{}).Copy(ctx, files) {
		if r.Outcome != Present || r.Checked[len(r.Checked)-1] != "crc32c(read both)" {
			t.Fatalf("%d: %+v", i, r)
		}
	}
	// A changed destination is a conflict, never overwritten.
	os.WriteFile(filepath.Join(dstDir, "f03"), randBytes(int(files[3].Size), 99), 0o644)
	r := New(Options{}).Copy(ctx, files[3:4])[0]
	if ProblemOf(r.Err) != Conflict {
		t.Fatalf("want a conflict, got %+v", r)
	}
}

func TestCopyRangeMissingAndSize(t *testing.T) {
	ctx := context.Background()
	src, dst := testservers.Open(t, "mem://transfer-range-src"), testservers.Open(t, "mem://transfer-range-dst")
	b := randBytes(100_000, 7)
	put(t, src, "merged", b)
	put(t, src, "short", b[:10])
	e := New(Options{})
	res := e.Copy(ctx, []File{
		{Src: Object{src, "merged"}, Dst: Object{dst, "seg"}, Offset: 1000, Length: 5000, Size: -1},
		{Src: Object{src, "nothing"}, Dst: Object{dst, "x"}, Length: -1, Size: 5},
		{Src: Object{src, "short"}, Dst: Object{dst, "y"}, Length: -1, Size: 11},
		{Src: Object{src, "merged"}, Dst: Object{dst, "z"}, Offset: 99_000, Length: 5000, Size: -1},
	})
	if res[0].Err != nil || res[0].Bytes != 5000 {
		t.Fatalf("range: %+v", res[0])
	}
	got, _ := dst.Bucket.ReadAll(ctx, "seg")
	if !bytes.Equal(got, b[1000:6000]) {
		t.Error("range copy has other bytes")
	}
	for i, want := range []Problem{"", Missing, SizeMismatch, SizeMismatch} {
		if ProblemOf(res[i].Err) != want {
			t.Errorf("%d: problem %q, want %q (%v)", i, ProblemOf(res[i].Err), want, res[i].Err)
		}
	}
	for _, k := range []string{"x", "y", "z"} {
		if ok, _ := dst.Bucket.Exists(ctx, k); ok {
			t.Errorf("%s written despite the problem", k)
		}
	}
}

func TestCopySharedOnce(t *testing.T) {
	ctx := context.Background()
	src, dst := testservers.Open(t, "mem://transfer-shared-src"), testservers.Open(t, "mem://transfer-shared-dst")
	put(t, src, "sst", randBytes(5000, 3))
	e := New(Options{NoServerSide: true})
	f := File{Src: Object{src, "sst"}, Dst: Object{dst, "shared/sst"}, Length: -1, Size: 5000, Shared: true}
	res := e.Copy(ctx, []File{f, f, f, f})
	copied := 0
	for _, r := range res {
		if r.Err != nil {
			t.Fatal(r.Err)
		}
		if r.Outcome == Copied {
			copied++
		}
	}
	if copied != 1 {
		t.Errorf("copied %d times, want once", copied)
	}
}

func TestCopyServerSideMem(t *testing.T) {
	ctx := context.Background()
	l := testservers.Open(t, "mem://transfer-same")
	put(t, l, "a/x", randBytes(3000, 4))
	r := New(Options{}).Copy(ctx, []File{{Src: Object{l, "a/x"}, Dst: Object{l, "b/x"}, Length: -1, Size: 3000}})[0]
	if r.Err != nil || r.Outcome != ServerSide || len(r.Checked) < 2 || r.Checked[1] != "md5" {
		t.Fatalf("%+v", r)
	}
}

// BenchmarkCopyLocal streams 64 files of 1 MiB from one local directory to
// another (hash, write, fsync off, check).
func BenchmarkCopyLocal(b *testing.B) {
	srcDir := b.TempDir()
	src := testservers.Open(b, srcDir)
	const n, size = 64, 1 << 20
	data := randBytes(size, 5)
	for i := range n {
		os.WriteFile(filepath.Join(srcDir, fmt.Sprint(i)), data, 0o644)
	}
	b.SetBytes(n * size)
	b.ReportAllocs()
	for b.Loop() {
		b.StopTimer()
		dstDir := b.TempDir()
		dst := testservers.Open(b, dstDir)
		var files []File
		for i := range n {
			files = append(files, File{Src: Object{src, src.Prefix + fmt.Sprint(i)}, Dst: Object{dst, dst.Prefix + fmt.Sprint(i)}, Length: -1, Size: size})
		}
		b.StartTimer()
		for _, r := range New(Options{}).Copy(context.Background(), files) {
			if r.Err != nil {
				b.Fatal(r.Err)
			}
		}
	}
}

// BenchmarkCopyMem streams between two in-memory buckets: the engine's own
// cost (hashing both MD5 and CRC32C, since memory buckets give MD5).
func BenchmarkCopyMem(b *testing.B) {
	src := testservers.Open(b, "mem://bench-copy-src")
	const n, size = 64, 1 << 20
	data := randBytes(size, 6)
	for i := range n {
		put(b, src, fmt.Sprint(i), data)
	}
	b.SetBytes(n * size)
	b.ReportAllocs()
	round := 0
	for b.Loop() {
		round++
		dst := testservers.Open(b, fmt.Sprintf("mem://bench-copy-dst-%d", round))
		var files []File
		for i := range n {
			files = append(files, File{Src: Object{src, fmt.Sprint(i)}, Dst: Object{dst, fmt.Sprint(i)}, Length: -1, Size: size})
		}
		for _, r := range New(Options{}).Copy(context.Background(), files) {
			if r.Err != nil {
				b.Fatal(r.Err)
			}
		}
	}
}
