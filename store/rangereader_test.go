package store

import (
	"bytes"
	"context"
	"io"
	"math/rand/v2"
	"testing"
)

// TestBlockReader reads an object through blockReader in the patterns the
// state readers use (forward scans, small steps back, jumps, reads across
// block borders, past the end) and compares with the bytes themselves.
func TestBlockReader(t *testing.T) {
	ctx := context.Background()
	l, err := Open(ctx, "mem://verify-blockreader/dir")
	if err != nil {
		t.Fatal(err)
	}
	data := make([]byte, 9*blockSize+12345)
	rng := rand.New(rand.NewPCG(3, 4))
	for i := range data {
		data[i] = byte(rng.Uint32())
	}
	if err := l.Bucket.WriteAll(ctx, "dir/obj", data, nil); err != nil {
		t.Fatal(err)
	}
	const base = 1000 // a segment of the object
	seg := data[base:]
	b := &blockReader{ctx: ctx, l: l, key: "dir/obj", base: base, size: int64(len(seg))}
	defer b.close()
	check := func(off int64, n int) {
		t.Helper()
		p := make([]byte, n)
		got, err := b.ReadAt(p, off)
		want := 0
		if off < int64(len(seg)) {
			want = min(n, len(seg)-int(off))
		}
		if got != want || !bytes.Equal(p[:got], seg[off:off+int64(got)]) {
			t.Fatalf("ReadAt(%d, %d) = %d, want %d bytes, or wrong bytes", off, n, got, want)
		}
		if (want < n) != (err == io.EOF) {
			t.Fatalf("ReadAt(%d, %d): err %v", off, n, err)
		}
	}
	// A forward scan in 64 KiB steps: one request per doubling span.
	for off := int64(0); off < int64(len(seg)); off += 64 << 10 {
		check(off, 64<<10)
	}
	if b.opens > 5 {
		t.Errorf("forward scan of %d bytes took %d requests", len(seg), b.opens)
	}
	opens := b.opens
	// Steps back within the cached blocks cost nothing.
	check(int64(len(seg))-3*blockSize, 1000)
	if b.opens != opens {
		t.Errorf("a step back into the cache made %d requests", b.opens-opens)
	}
	for range 200 {
		off := rng.Int64N(int64(len(seg)) + 100)
		check(off, rng.IntN(3*blockSize))
	}
}
