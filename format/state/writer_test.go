package state_test

import (
	"bytes"
	"fmt"
	"reflect"
	"testing"

	"github.com/fsnap/fsnap/format/state"
)

type plainEntry struct {
	State              int
	KeyGroup           int32
	Key, NS, UK, Value string
	Composite          string
}

func collect(t *testing.T, ks *state.KeyedStream) []plainEntry {
	t.Helper()
	var out []plainEntry
	it := ks.Iter()
	for it.Next() {
		e := it.Entry()
		out = append(out, plainEntry{e.State, e.KeyGroup, string(e.Key), string(e.Namespace), string(e.UserKey), string(e.Value), string(e.Composite)})
	}
	if err := it.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

// rewrite writes the entries of a unified stream again with UnifiedWriter.
func rewrite(t *testing.T, ks *state.KeyedStream, h *state.KeyedHeader, maxP int32) ([]byte, state.KeyGroups) {
	t.Helper()
	var buf bytes.Buffer
	w, err := state.NewUnifiedWriter(&buf, h, ks.Groups.First, int32(len(ks.Groups.Offsets)), maxP)
	if err != nil {
		t.Fatal(err)
	}
	it := ks.Iter()
	for it.Next() {
		e := it.Entry()
		if err := w.Add(e.KeyGroup, e.State, e.Composite, e.Value); err != nil {
			t.Fatal(err)
		}
	}
	if err := it.Err(); err != nil {
		t.Fatal(err)
	}
	groups, err := w.Close()
	if err != nil {
		t.Fatal(err)
	}
	if w.Size() != int64(buf.Len()) {
		t.Fatalf("Size %d, wrote %d", w.Size(), buf.Len())
	}
	return buf.Bytes(), groups
}

// TestWriterReproducesCorpus writes every unified corpus stream again from
// its entries: uncompressed streams come out byte for byte with the same
// offsets; compressed ones (Snappy output differs between encoders) read
// back to the same entries; and every stream is also written with the
// compression flag flipped and read back.
func TestWriterReproducesCorpus(t *testing.T) {
	identical, compressed := 0, 0
	for _, s := range corpusStreams(t) {
		if s.kind != "managedKeyed" {
			continue
		}
		ks := openKeyed(t, s)
		if ks.Layout != state.LayoutUnified {
			continue
		}
		want := collect(t, ks)
		out, groups := rewrite(t, ks, ks.Header, s.op.MaxParallelism)
		if !ks.Header.Compressed {
			if !bytes.Equal(out, s.data) {
				t.Errorf("%s: rewritten stream differs (%d vs %d bytes)", s, len(out), len(s.data))
			} else {
				identical++
			}
			if !reflect.DeepEqual(groups.Offsets, s.keyed.Offsets) {
				t.Errorf("%s: offsets %v, want %v", s, groups.Offsets, s.keyed.Offsets)
			}
		} else {
			compressed++
		}
		// Read back, and flip the compression flag.
		for _, flip := range []bool{false, true} {
			h := *ks.Header
			data, g := out, groups
			if flip {
				h.Compressed = !h.Compressed
				data, g = rewrite(t, ks, &h, s.op.MaxParallelism)
			}
			back, err := state.OpenKeyed(bytes.NewReader(data), int64(len(data)), g, state.KeyedOptions{Name: "rewritten", MaxParallelism: s.op.MaxParallelism})
			if err != nil {
				t.Fatalf("%s (flip %v): %v", s, flip, err)
			}
			if back.Layout != state.LayoutUnified || back.Header.Compressed != h.Compressed {
				t.Errorf("%s: read back as %v compressed=%v", s, back.Layout, back.Header.Compressed)
			}
			if got := collect(t, back); !reflect.DeepEqual(stripOffsets(got), stripOffsets(want)) {
				t.Errorf("%s (flip %v): entries differ after rewrite", s, flip)
			}
		}
	}
	t.Logf("%d uncompressed streams reproduced byte for byte, %d compressed streams re-encoded", identical, compressed)
	if identical < 500 || compressed < 10 {
		t.Errorf("only %d identical and %d compressed streams", identical, compressed)
	}
}

func stripOffsets(es []plainEntry) []plainEntry { return es }

// TestWriterRules covers the writer's own checks.
func TestWriterRules(t *testing.T) {
	h := syntheticHeader(false, 2)
	var buf bytes.Buffer
	w, err := state.NewUnifiedWriter(&buf, h, 0, 4, 4)
	if err != nil {
		t.Fatal(err)
	}
	key := func(k int64) []byte { return state.AppendCompositeKey(nil, be64(k), []byte{0}, nil, false) }
	steps := []struct {
		kg      int32
		state   int
		wantErr bool
	}{{1, 0, false}, {1, 0, false}, {1, 1, false}, {1, 0, true}}
	for i, st := range steps {
		err := w.Add(st.kg, st.state, key(int64(i)), be64(int64(i)))
		if (err != nil) != st.wantErr {
			t.Fatalf("step %d: err %v", i, err)
		}
	}
	if _, err := w.Close(); err == nil {
		t.Fatal("Close after a failed Add succeeded")
	}
	w, _ = state.NewUnifiedWriter(&bytes.Buffer{}, h, 0, 4, 4)
	for _, bad := range []struct {
		kg int32
		st int
	}{{4, 0}, {-1, 0}, {0, 2}} {
		w2, _ := state.NewUnifiedWriter(&bytes.Buffer{}, h, 0, 4, 4)
		if err := w2.Add(bad.kg, bad.st, key(1), nil); err == nil {
			t.Errorf("Add(%d, %d) accepted", bad.kg, bad.st)
		}
	}
	w.Add(2, 0, key(1), nil)
	if err := w.Add(1, 0, key(1), nil); err == nil {
		t.Error("descending key group accepted")
	}
	if _, err := state.NewUnifiedWriter(&bytes.Buffer{}, h, 2, 4, 4); err == nil {
		t.Error("key groups beyond max parallelism accepted")
	}
	_ = fmt.Sprint()
}

// TestHeapCompressed recompresses every heap corpus stream (the corpus has
// no compressed heap stream): the key-group index stays plain and the rest
// of each block becomes a framed stream; the entries must read back the same.
func TestHeapCompressed(t *testing.T) {
	n := 0
	for _, s := range corpusStreams(t) {
		if s.kind != "managedKeyed" {
			continue
		}
		ks := openKeyed(t, s)
		if ks.Layout != state.LayoutHeap || ks.Header.Version < state.KeyedVersionFlink14 {
			continue // Flink 1.3 headers have no compression flag
		}
		want := collect(t, ks)
		h := *ks.Header
		h.Compressed = true
		out, err := h.Append(nil)
		if err != nil {
			t.Fatal(err)
		}
		offs := make([]int64, len(s.keyed.Offsets))
		for i, o := range s.keyed.Offsets {
			end := int64(len(s.data))
			if i+1 < len(s.keyed.Offsets) {
				end = s.keyed.Offsets[i+1]
			}
			offs[i] = int64(len(out))
			out = append(out, s.data[o:o+4]...)
			var buf bytes.Buffer
			z := state.NewSnappyWriter(&buf)
			z.Write(s.data[o+4 : end])
			if err := z.Flush(); err != nil {
				t.Fatal(err)
			}
			out = append(out, buf.Bytes()...)
		}
		back, err := state.OpenKeyed(bytes.NewReader(out), int64(len(out)), state.KeyGroups{First: s.keyed.Range.Start, Offsets: offs},
			state.KeyedOptions{Name: "recompressed", MaxParallelism: s.op.MaxParallelism})
		if err != nil {
			t.Fatalf("%s: %v", s, err)
		}
		if back.Layout != state.LayoutHeap {
			t.Fatalf("%s: recompressed stream sniffed as %v", s, back.Layout)
		}
		got := collect(t, back)
		for i := range got {
			got[i].Composite = ""
		}
		for i := range want {
			want[i].Composite = ""
		}
		if len(got) != len(want) || (len(got) > 0 && !reflect.DeepEqual(got, want)) {
			t.Errorf("%s: %d entries after recompression, %d before", s, len(got), len(want))
		}
		n++
	}
	if n < 500 {
		t.Errorf("recompressed %d heap streams", n)
	}
}
