package format

import (
	"bytes"
	"errors"
	"math/rand/v2"
	"runtime"
	"testing"

	"github.com/fsnap/fsnap/internal/corpus"
)

// Every proper prefix of a valid file must be an error: a silent partial
// result would let a truncated upload pass as a snapshot.
func TestTruncatedCorpusFilesFail(t *testing.T) {
	for _, e := range corpus.Require(t) {
		b := readCorpusMetadata(t, e)
		for n := 0; n < len(b); n++ {
			cut := bytes.Clone(b[:n])
			m, err := ParseMetadata(cut)
			if err == nil {
				t.Fatalf("%s cut at %d of %d bytes: parsed without error (%d operators)", e.Name, n, len(b), len(m.Operators))
			}
			var fe *FormatError
			if n >= 8 && !errors.As(err, &fe) {
				t.Fatalf("%s cut at %d: error %T %v is not a *FormatError", e.Name, n, err, err)
			}
			if fe != nil && (fe.Offset < 0 || fe.Offset > int64(n)) {
				t.Fatalf("%s cut at %d: error offset %d outside the input", e.Name, n, fe.Offset)
			}
		}
	}
}

// Single-byte corruption: an error or a result, never a panic, and memory in
// proportion to the input.
func TestCorruptedCorpusFiles(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	for _, e := range corpus.Require(t) {
		b := readCorpusMetadata(t, e)
		offsets := 64
		if len(b) < offsets {
			offsets = len(b)
		}
		for i := 0; i < offsets; i++ {
			c := bytes.Clone(b)
			off := rng.IntN(len(c))
			c[off] ^= byte(1 + rng.IntN(255))
			alloc := allocatedBy(func() { checkRoundTripIfParsed(t, e.Name, off, c) })
			if limit := uint64(64*len(c) + 1<<20); alloc > limit {
				t.Errorf("%s corrupted at %d: allocated %d bytes for a %d-byte file", e.Name, off, alloc, len(c))
			}
		}
	}
}

// checkRoundTripIfParsed asserts the invariant every accepted input keeps:
// the writer gives back exactly the bytes read.
func checkRoundTripIfParsed(t testing.TB, name string, off int, b []byte) {
	m, err := ParseMetadata(b)
	if err != nil {
		return
	}
	out, err := AppendMetadata(nil, m)
	if err != nil {
		t.Errorf("%s (byte %d changed): parsed, but writing it back failed: %v", name, off, err)
		return
	}
	if !bytes.Equal(out, b) {
		t.Errorf("%s (byte %d changed): parsed, but writing it back gives other bytes", name, off)
	}
}

func allocatedBy(f func()) uint64 {
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	f()
	runtime.ReadMemStats(&after)
	return after.TotalAlloc - before.TotalAlloc
}

func TestVersionErrors(t *testing.T) {
	for _, tc := range []struct {
		version int32
		want    string
	}{
		{0, "Flink 1.1 or 1.2"},
		{1, "Flink 1.1 or 1.2"},
		{8, "not known"},
		{-3, "not known"},
	} {
		b := []byte{0x49, 0x60, 0x67, 0x2D, byte(tc.version >> 24), byte(tc.version >> 16), byte(tc.version >> 8), byte(tc.version), 0, 0}
		_, err := ParseMetadata(b)
		if !errors.Is(err, ErrUnsupportedVersion) || !bytes.Contains([]byte(err.Error()), []byte(tc.want)) {
			t.Errorf("version %d: got %v, want ErrUnsupportedVersion mentioning %q", tc.version, err, tc.want)
		}
	}
	if _, err := ParseMetadata([]byte("PK\x03\x04 not metadata")); err == nil || !bytes.Contains([]byte(err.Error()), []byte("bad magic")) {
		t.Errorf("zip bytes: got %v, want a bad magic error", err)
	}
}

func FuzzParseMetadata(f *testing.F) {
	entries, _ := corpus.Load()
	for _, e := range entries {
		f.Add(readCorpusMetadata(f, e))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		checkRoundTripIfParsed(t, "fuzz input", -1, b)
	})
}
