package state_test

import (
	"bytes"
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/fsnap/fsnap/format"
	"github.com/fsnap/fsnap/format/state"
)

// A bad Snappy chunk stays reachable as a *state.SnappyError through the
// iterators' errors, with its kind in Checksum and the chunk's offset, so
// callers (verify) never read the message. Each case breaks one chunk of a
// valid compressed stream: its stored CRC (a checksum error) or the file
// inside its body (a framing error).

// snappyErrorOf finds the *state.SnappyError in err.
func snappyErrorOf(t *testing.T, what string, err error) *state.SnappyError {
	t.Helper()
	var se *state.SnappyError
	if !errors.As(err, &se) {
		t.Fatalf("%s: error %v carries no *state.SnappyError", what, err)
	}
	return se
}

func TestKeyedSnappyErrorKinds(t *testing.T) {
	data, groups, entries := synthStream(t, true, 256<<10, 100)
	walk := func(b []byte) (int, error) {
		ks, err := state.OpenKeyed(bytes.NewReader(b), int64(len(b)), groups, state.KeyedOptions{Name: "synthetic", MaxParallelism: 128})
		if err != nil {
			return 0, err
		}
		n := 0
		it := ks.Iter()
		for it.Next() {
			n++
		}
		return n, it.Err()
	}
	if n, err := walk(data); err != nil || n != entries {
		t.Fatalf("intact stream: %d of %d entries, %v", n, entries, err)
	}

	// The CRC of the first data chunk of a middle key group.
	g := len(groups.Offsets) / 2
	chunk := groups.Offsets[g] + int64(len(state.SnappyStreamID))
	bad := bytes.Clone(data)
	bad[chunk+4] ^= 0xFF
	_, err := walk(bad)
	se := snappyErrorOf(t, "corrupted CRC", err)
	if !se.Checksum || se.Offset != chunk {
		t.Errorf("corrupted CRC: got %+v, want a checksum error at offset %d", se, chunk)
	}
	var ste *state.StreamError
	if !errors.As(err, &ste) || ste.KeyGroup != groups.First+int32(g) {
		t.Errorf("corrupted CRC: %v does not name key group %d", err, groups.First+int32(g))
	}

	// The file ends inside the first data chunk of the last key group.
	last := groups.Offsets[len(groups.Offsets)-1] + int64(len(state.SnappyStreamID))
	_, err = walk(data[:last+4+3])
	se = snappyErrorOf(t, "truncated chunk", err)
	if se.Checksum || se.Offset != last || !strings.Contains(se.Msg, fmt.Sprintf("truncated at offset %d", last+7)) {
		t.Errorf("truncated chunk: got %+v, want a framing error at offset %d", se, last)
	}
}

func TestOperatorSnappyErrorKinds(t *testing.T) {
	// One list state of three longs, each element its own chunk, as Flink
	// flushes the compressed stream at every element offset.
	h := &state.OperatorHeader{Version: state.OperatorVersion, Compressed: true, OperatorStates: []state.StateMeta{{
		Name: "list", Type: state.OperatorState,
		Options:     []state.Option{{Key: state.OptDistributionMode, Value: "SPLIT_DISTRIBUTE"}},
		Serializers: []state.NamedSnapshot{{Key: state.ValueSerializerKey, Snapshot: state.SimpleSnapshot(state.LongSnapshotClass)}},
	}}}
	data, err := h.Append(nil)
	if err != nil {
		t.Fatal(err)
	}
	var z bytes.Buffer
	w := state.NewSnappyWriter(&z)
	if err := w.Flush(); err != nil { // the stream identifier alone
		t.Fatal(err)
	}
	st := format.NamedOperatorState{Name: "list", Mode: format.SplitDistribute}
	for i := range int64(3) {
		st.Offsets = append(st.Offsets, int64(len(data)+z.Len()))
		w.Write(be64(1000 + i))
		if err := w.Flush(); err != nil {
			t.Fatal(err)
		}
	}
	data = append(data, z.Bytes()...)
	walk := func(b []byte) (int64, error) {
		os, err := state.OpenOperator(bytes.NewReader(b), int64(len(b)), []format.NamedOperatorState{st}, "synthetic")
		if err != nil {
			return 0, err
		}
		sizes, err := os.Sizes()
		return sizes[0].Elements, err
	}
	if n, err := walk(data); err != nil || n != 3 {
		t.Fatalf("intact stream: %d of 3 elements, %v", n, err)
	}

	bad := bytes.Clone(data)
	bad[st.Offsets[1]+4] ^= 0xFF
	_, err = walk(bad)
	se := snappyErrorOf(t, "corrupted CRC", err)
	if !se.Checksum || se.Offset != st.Offsets[1] {
		t.Errorf("corrupted CRC: got %+v, want a checksum error at offset %d", se, st.Offsets[1])
	}

	_, err = walk(data[:st.Offsets[2]+4+3])
	se = snappyErrorOf(t, "truncated chunk", err)
	if se.Checksum || se.Offset != st.Offsets[2] || !strings.Contains(se.Msg, fmt.Sprintf("truncated at offset %d", st.Offsets[2]+7)) {
		t.Errorf("truncated chunk: got %+v, want a framing error at offset %d", se, st.Offsets[2])
	}
}
