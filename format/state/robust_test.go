package state_test

import (
	"bytes"
	"encoding/binary"
	"testing"

	"github.com/fsnap/fsnap/format"
	"github.com/fsnap/fsnap/format/javaser"
	"github.com/fsnap/fsnap/format/state"
)

// distinct returns the corpus streams of a kind with distinct bytes.
func distinct(t testing.TB, kinds ...string) []*streamRef {
	t.Helper()
	seen := map[string]bool{}
	var out []*streamRef
	for _, s := range corpusStreams(t) {
		ok := false
		for _, k := range kinds {
			ok = ok || s.kind == k
		}
		if !ok || s.data == nil || seen[string(s.data)] {
			continue
		}
		seen[string(s.data)] = true
		out = append(out, s)
	}
	return out
}

// prefixes yields the cut points to test for a buffer of n bytes: all of
// them for buffers up to limit bytes; for larger ones every prefix in the
// first and last KiB and about limit more spread between.
func prefixes(n, limit int) []int {
	var out []int
	if n <= limit {
		for i := 0; i < n; i++ {
			out = append(out, i)
		}
		return out
	}
	step := n/limit + 1
	for i := 0; i < n; i++ {
		if i < 512 || i >= n-512 || i%step == 0 {
			out = append(out, i)
		}
	}
	return out
}

// spread yields about k cut points over n bytes plus the last 64.
func spread(n, k int) []int {
	var out []int
	step := n/k + 1
	for i := 0; i < n; i += step {
		out = append(out, i)
	}
	for i := max(0, n-64); i < n; i++ {
		out = append(out, i)
	}
	return out
}

// TestTruncatedHeaders cuts every distinct corpus header at every byte
// (headers over 2 KiB, the Java-serialized table types, at every byte of
// their first and last 512 bytes and 2048 points between, to keep the quadratic
// cost down): each prefix must be an error, never a panic or a success.
func TestTruncatedHeaders(t *testing.T) {
	n := 0
	seen := map[string]bool{}
	for _, s := range distinct(t, "managedKeyed", "rocksdbMeta", "managedOperator") {
		keyed := s.kind != "managedOperator"
		var raw []byte
		if keyed {
			h, err := state.ReadKeyedHeader(s.data, 0)
			if err != nil {
				t.Fatal(err)
			}
			raw = h.Raw
		} else {
			h, err := state.ReadOperatorHeader(s.data, 0)
			if err != nil {
				t.Fatal(err)
			}
			raw = h.Raw
		}
		if seen[string(raw)] {
			continue
		}
		seen[string(raw)] = true
		for _, i := range prefixes(len(raw), 2048) {
			cut := raw[:i:i]
			var err error
			if keyed {
				_, err = state.ReadKeyedHeader(cut, 0)
			} else {
				_, err = state.ReadOperatorHeader(cut, 0)
			}
			if err == nil {
				t.Fatalf("%s: header cut at %d of %d bytes parsed", s, i, len(raw))
			}
			n++
		}
	}
	t.Logf("%d truncated headers rejected", n)
}

// TestTruncatedStreams cuts distinct keyed and operator streams: opening
// and walking every prefix must fail, never panic.
func TestTruncatedStreams(t *testing.T) {
	n := 0
	for _, s := range distinct(t, "managedKeyed", "managedOperator") {
		for _, i := range spread(len(s.data), 128) {
			cut := bytes.Clone(s.data[:i])
			if walk(s, cut) == nil {
				t.Fatalf("%s: stream cut at %d of %d bytes read without error", s, i, len(s.data))
			}
			n++
		}
	}
	t.Logf("%d truncated streams rejected", n)
}

// walk opens and reads a stream to the end, returning the first error.
func walk(s *streamRef, data []byte) error {
	r := bytes.NewReader(data)
	if s.kind == "managedKeyed" {
		ks, err := state.OpenKeyed(r, int64(len(data)), state.KeyGroupsOf(s.keyed), state.KeyedOptions{Name: "cut", MaxParallelism: s.op.MaxParallelism})
		if err != nil {
			return err
		}
		_, err = ks.Sizes()
		return err
	}
	os, err := state.OpenOperator(r, int64(len(data)), s.opState.States, "cut")
	if err != nil {
		return err
	}
	_, err = os.Sizes()
	return err
}

// TestCorruptedStreams flips bytes of distinct streams: the readers may
// fail or succeed, but never panic or hang.
func TestCorruptedStreams(t *testing.T) {
	n := 0
	for _, s := range distinct(t, "managedKeyed", "managedOperator") {
		step := max(1, len(s.data)/12)
		for i := 0; i < len(s.data); i += step {
			for _, x := range []byte{0xff, 0x80, 0x01} {
				c := bytes.Clone(s.data)
				c[i] ^= x
				walk(s, c)
				n++
			}
		}
	}
	t.Logf("%d corrupted streams read without panic", n)
}

// ---- fuzzing ----

func seedHeaders(f *testing.F, kinds ...string) {
	if testing.Short() {
		return
	}
	seen := 0
	for _, s := range distinct(f, kinds...) {
		f.Add(s.data)
		seen++
		if seen > 200 {
			break
		}
	}
}

// FuzzKeyedHeader: no panic; a header that parses encodes to its own bytes.
func FuzzKeyedHeader(f *testing.F) {
	f.Add(state.SnappyStreamID)
	seedHeaders(f, "managedKeyed", "rocksdbMeta")
	f.Fuzz(func(t *testing.T, b []byte) {
		h, err := state.ReadKeyedHeader(b, 0)
		if err != nil {
			return
		}
		enc, err := h.Append(nil)
		if err != nil || !bytes.Equal(enc, h.Raw) {
			t.Fatalf("header of %d bytes re-encodes to %d bytes (%v)", len(h.Raw), len(enc), err)
		}
	})
}

// FuzzOperatorHeader: no panic; round trip.
func FuzzOperatorHeader(f *testing.F) {
	seedHeaders(f, "managedOperator")
	f.Fuzz(func(t *testing.T, b []byte) {
		h, err := state.ReadOperatorHeader(b, 0)
		if err != nil {
			return
		}
		enc, err := h.Append(nil)
		if err != nil || !bytes.Equal(enc, h.Raw) {
			t.Fatalf("header of %d bytes re-encodes to %d bytes (%v)", len(h.Raw), len(enc), err)
		}
	})
}

// FuzzKeyedStream feeds a stream and its key-group offsets (4 bytes each)
// to the keyed reader.
func FuzzKeyedStream(f *testing.F) {
	if !testing.Short() {
		n := 0
		for _, s := range distinct(f, "managedKeyed") {
			var offs []byte
			for _, o := range s.keyed.Offsets {
				offs = binary.BigEndian.AppendUint32(offs, uint32(o))
			}
			f.Add(s.data, offs, uint16(s.op.MaxParallelism))
			if n++; n > 100 {
				break
			}
		}
	}
	f.Fuzz(func(t *testing.T, data, offs []byte, maxP uint16) {
		var g state.KeyGroups
		for i := 0; i+4 <= len(offs) && i < 4*256; i += 4 {
			g.Offsets = append(g.Offsets, int64(binary.BigEndian.Uint32(offs[i:])))
		}
		ks, err := state.OpenKeyed(bytes.NewReader(data), int64(len(data)), g, state.KeyedOptions{Name: "fuzz", MaxParallelism: int32(maxP)})
		if err != nil {
			return
		}
		ks.Sizes()
	})
}

// FuzzOperatorStream feeds a stream and one state's offsets.
func FuzzOperatorStream(f *testing.F) {
	if !testing.Short() {
		n := 0
		for _, s := range distinct(f, "managedOperator") {
			for _, st := range s.opState.States {
				var offs []byte
				for _, o := range st.Offsets {
					offs = binary.BigEndian.AppendUint32(offs, uint32(o))
				}
				f.Add(s.data, st.Name, uint8(st.Mode), offs)
			}
			if n++; n > 100 {
				break
			}
		}
	}
	f.Fuzz(func(t *testing.T, data []byte, name string, mode uint8, offs []byte) {
		st := format.NamedOperatorState{Name: name, Mode: format.DistributionMode(mode % 3)}
		for i := 0; i+4 <= len(offs) && i < 4*256; i += 4 {
			st.Offsets = append(st.Offsets, int64(binary.BigEndian.Uint32(offs[i:])))
		}
		os, err := state.OpenOperator(bytes.NewReader(data), int64(len(data)), []format.NamedOperatorState{st}, "fuzz")
		if err != nil {
			return
		}
		os.Sizes()
	})
}

// FuzzJavaSerialization: the Java stream walker never panics, and what it
// accepts it measures within the input.
func FuzzJavaSerialization(f *testing.F) {
	f.Add([]byte{0xac, 0xed, 0x00, 0x05, 0x74, 0x00, 0x01, 'a'})
	f.Fuzz(func(t *testing.T, b []byte) {
		n, err := javaser.Skip(b)
		if err == nil && (n < 4 || n > len(b)) {
			t.Fatalf("Skip = %d for %d bytes", n, len(b))
		}
	})
}
