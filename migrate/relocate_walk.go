package migrate

import (
	"fmt"

	"github.com/fsnap/fsnap/format"
)

// handleSlot is one place in _metadata that holds a stream handle, so that
// relocation can read it and put a rewritten handle back.
type handleSlot struct {
	h *format.StreamHandle
	// op is the operator state handle whose delegate this handleSlot is (nil
	// otherwise): a file-merging handle must become a plain one when its
	// segment delegate is rewritten.
	op    *format.OperatorStateHandle
	where string // for messages: operator, subtask and handleSlot
}

// handleSlots lists every stream handle handleSlot of m in file order, looking
// through nested key-group handles, incremental (RocksDB) handles and
// changelog handles. Inline changelog changes hold no handle.
func handleSlots(m *format.Metadata) []handleSlot {
	var out []handleSlot
	var stream func(h *format.StreamHandle, op *format.OperatorStateHandle, where string)
	stream = func(h *format.StreamHandle, op *format.OperatorStateHandle, where string) {
		if kg, ok := (*h).(*format.KeyGroupsHandle); ok { // legacy nesting
			stream(&kg.Delegate, nil, where)
			return
		}
		if *h != nil {
			out = append(out, handleSlot{h: h, op: op, where: where})
		}
	}
	var keyed func(h format.KeyedStateHandle, where string)
	keyed = func(h format.KeyedStateHandle, where string) {
		switch h := h.(type) {
		case *format.KeyGroupsHandle:
			stream(&h.Delegate, nil, where)
		case *format.IncrementalHandle:
			stream(&h.MetaStateHandle, nil, where+" meta")
			for i := range h.SharedState {
				stream(&h.SharedState[i].Handle, nil, where+" shared "+h.SharedState[i].LocalPath)
			}
			for i := range h.PrivateState {
				stream(&h.PrivateState[i].Handle, nil, where+" private "+h.PrivateState[i].LocalPath)
			}
		case *format.ChangelogHandle:
			for _, c := range h.Materialized {
				if c != nil {
					keyed(c, where+" materialized")
				}
			}
			for _, c := range h.NonMaterialized {
				if c != nil {
					keyed(c, where+" changelog")
				}
			}
		case *format.ChangelogFileHandle:
			for i := range h.Handles {
				stream(&h.Handles[i].Handle, nil, where)
			}
		}
	}
	for oi := range m.Operators {
		op := &m.Operators[oi]
		if op.Coordinator != nil {
			stream(&op.Coordinator, nil, fmt.Sprintf("operator %s coordinator", op.ID))
		}
		for si := range op.Subtasks {
			st := &op.Subtasks[si]
			w := fmt.Sprintf("operator %s subtask %d", op.ID, st.Index)
			for i := range st.LegacyOperatorState() {
				stream(&st.LegacyOperatorState()[i], nil, w+" legacy operator state")
			}
			if h := st.ManagedOperatorState; h != nil {
				stream(&h.Delegate, h, w+" managed operator state")
			}
			if h := st.RawOperatorState; h != nil {
				stream(&h.Delegate, h, w+" raw operator state")
			}
			if st.ManagedKeyedState != nil {
				keyed(st.ManagedKeyedState, w+" managed keyed state")
			}
			if st.RawKeyedState != nil {
				keyed(st.RawKeyedState, w+" raw keyed state")
			}
			for i := range st.InputChannels() {
				stream(&st.InputChannels()[i].Delegate, nil, w+" input channel")
			}
			for i := range st.ResultSubpartitions() {
				stream(&st.ResultSubpartitions()[i].Delegate, nil, w+" result subpartition")
			}
		}
	}
	return out
}
