package state_test

import (
	"encoding/binary"

	"github.com/fsnap/fsnap/format/state"
)

func be64(v int64) []byte { return binary.BigEndian.AppendUint64(nil, uint64(v)) }

// syntheticHeader is a Long-keyed header with n VALUE states of Long values.
func syntheticHeader(compressed bool, n int) *state.KeyedHeader {
	var sts []state.StateMeta
	for i := 0; i < n; i++ {
		sts = append(sts, state.KeyValueStateMeta(string(rune('a'+i))+"-state", "VALUE",
			state.SimpleSnapshot(state.VoidNamespaceSnapshotClass), state.SimpleSnapshot(state.LongSnapshotClass)))
	}
	return state.NewKeyedHeader(compressed, state.SimpleSnapshot(state.LongSnapshotClass), sts...)
}

// rebuild reconstructs a corpus snapshot with the package's constructors,
// or returns nil when they do not cover it.
func rebuild(s *state.Snapshot) *state.Snapshot {
	var nested []*state.Snapshot
	for _, n := range s.Nested() {
		r := rebuild(n)
		if r == nil {
			return nil
		}
		nested = append(nested, r)
	}
	switch s.Class {
	case state.LongSnapshotClass, state.IntSnapshotClass, state.StringSnapshotClass, state.BooleanSnapshotClass,
		state.DoubleSnapshotClass, state.BytesSnapshotClass, state.VoidNamespaceSnapshotClass:
		if s.Version != 3 {
			return nil
		}
		return state.SimpleSnapshot(s.Class)
	case state.TupleSnapshotClass:
		return state.TupleSnapshot(s.Str("tupleClass"), nested...)
	case state.ListSnapshotClass:
		return state.ListSnapshot(nested[0])
	case state.MapSnapshotClass:
		return state.MapSnapshot(nested[0], nested[1])
	case state.TimerSnapshotClass:
		return state.TimerSnapshot(nested[0], nested[1])
	}
	return nil
}
