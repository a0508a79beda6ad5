package state_test

import (
	"bytes"
	"encoding/binary"
	"errors"
	"strings"
	"testing"

	"github.com/fsnap/fsnap/format"
	"github.com/fsnap/fsnap/format/state"
)

// TestUnknownClassStops: an unknown snapshot class stops the header with an
// error naming the class and its offset, keeping what was read before.
func TestUnknownClassStops(t *testing.T) {
	mystery := &state.Snapshot{ProxyVersion: 2, Class: "com.example.MysterySerializer$MysterySnapshot", Version: 7,
		Parts: []state.Part{{Kind: state.PartInt32, Int: 42}}}
	long := state.SimpleSnapshot(state.LongSnapshotClass)
	void := state.SimpleSnapshot(state.VoidNamespaceSnapshotClass)
	h := state.NewKeyedHeader(false, long,
		state.KeyValueStateMeta("known", "VALUE", void, long),
		state.KeyValueStateMeta("mystery", "VALUE", void, mystery))
	b, err := h.Append(nil)
	if err != nil {
		t.Fatal(err)
	}
	at := int64(bytes.Index(b, []byte(mystery.Class))) - 2
	got, err := state.ReadKeyedHeader(b, 0)
	var ue *state.UnknownClassError
	if !errors.As(err, &ue) || ue.Class != mystery.Class || ue.Offset != at || ue.Version != 7 {
		t.Fatalf("err = %v, want unknown class at %d", err, at)
	}
	if !strings.Contains(err.Error(), mystery.Class) {
		t.Errorf("error %q does not name the class", err)
	}
	if got == nil || len(got.States) != 2 || got.States[0].Name != "known" || got.States[1].Name != "mystery" ||
		got.States[0].Serializer(state.ValueSerializerKey) == nil {
		t.Errorf("partial header %+v", got)
	}
	if got.Raw != nil {
		t.Error("partial header has Raw bytes")
	}
}

func TestHeaderVersions(t *testing.T) {
	for v, want := range map[int32]string{0: "not a known version", 7: "not a known version", -1: "not a known version"} {
		b := binary.BigEndian.AppendUint32(nil, uint32(v))
		_, err := state.ReadKeyedHeader(append(b, 0, 0, 0, 0), 0)
		if !errors.Is(err, state.ErrUnsupportedVersion) || !strings.Contains(err.Error(), want) {
			t.Errorf("keyed version %d: %v", v, err)
		}
		_, err = state.ReadOperatorHeader(append(b, 0, 0, 0, 0), 0)
		if !errors.Is(err, state.ErrUnsupportedVersion) {
			t.Errorf("operator version %d: %v", v, err)
		}
	}
}

// TestSnappyCRC: the masked CRC of the doc's worked example, and a corrupted
// compressed corpus stream fails with a CRC error naming the chunk.
func TestSnappyCRC(t *testing.T) {
	var s *streamRef
	for _, x := range corpusStreams(t) {
		if x.kind == "managedKeyed" && strings.HasSuffix(x.snap.Name, "flink1.19-rocksdb-savepoint") && strings.HasPrefix(x.name, "e56b5420") {
			s = x
		}
	}
	if s == nil {
		t.Fatal("worked-example stream not found")
	}
	off := s.keyed.Offsets[0]
	if off != 505 || !bytes.Equal(s.data[off:off+10], state.SnappyStreamID) {
		t.Fatalf("offset %d: % x", off, s.data[off:off+10])
	}
	chunk := s.data[off+10:]
	n := int(chunk[1]) | int(chunk[2])<<8 | int(chunk[3])<<16
	if chunk[0] != 1 || n != 0x22 || binary.LittleEndian.Uint32(chunk[4:]) != 0xb62722d7 {
		t.Fatalf("chunk header % x", chunk[:8])
	}
	if got := state.MaskedCRC(chunk[8 : 4+n]); got != 0xb62722d7 {
		t.Errorf("MaskedCRC = %08x", got)
	}
	bad := bytes.Clone(s.data)
	bad[off+10+8+5] ^= 1
	err := walk(s, bad)
	var se *state.SnappyError
	if !errors.As(err, &se) || se.Offset != off+10 || !se.Checksum || !strings.Contains(err.Error(), "CRC") {
		t.Errorf("corrupted chunk: %v", err)
	}
}

// TestInferredComposite: an unknown class whose bytes show a composite
// snapshot with an empty outer snapshot is read through its framing.
func TestInferredComposite(t *testing.T) {
	long := state.SimpleSnapshot(state.LongSnapshotClass)
	c := state.CompositeSnapshot("com.example.PairSerializer$PairSnapshot", 1, nil, long, long)
	h := state.NewKeyedHeader(true, c)
	b, _ := h.Append(nil)
	got, err := state.ReadKeyedHeader(b, 0)
	if err != nil {
		t.Fatal(err)
	}
	if s := got.KeySerializer.String(); s != "com.example.PairSerializer<LongSerializer,LongSerializer>" && !strings.Contains(s, "<LongSerializer,LongSerializer>") {
		t.Errorf("inferred %s", s)
	}
	if state.IsKnownClass(c.Class) || !got.Compressed {
		t.Error("inferred class reported as known, or flag lost")
	}
}

// TestDeclaredSizeNotAllocated: key-group offsets (or a stream size) that
// _metadata declares but the file does not back fail with an error, without
// allocating the declared size (a 1 TiB offset once panicked in makeslice).
func TestDeclaredSizeNotAllocated(t *testing.T) {
	data := []byte{0, 0, 0, 6, 0} // a header cut short
	const huge = 1 << 40
	_, err := state.OpenKeyed(bytes.NewReader(data), huge, state.KeyGroups{Offsets: []int64{huge - 1}},
		state.KeyedOptions{Name: "cut", MaxParallelism: 128})
	if err == nil || !strings.Contains(err.Error(), "the stream ends at offset 5") {
		t.Errorf("keyed: %v", err)
	}
	_, err = state.OpenOperator(bytes.NewReader(data), huge, []format.NamedOperatorState{{Name: "s", Offsets: []int64{huge - 1}}}, "cut")
	if err == nil || !strings.Contains(err.Error(), "the stream ends at offset 5") {
		t.Errorf("operator: %v", err)
	}
}
