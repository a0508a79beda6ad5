package migrate

import "github.com/fsnap/fsnap/format"

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

// handleSlots lists every stream handle slot of m in file order
// (format's walk).
func handleSlots(m *format.Metadata) []handleSlot {
	var out []handleSlot
	for n := range m.Walk() {
		if n.Stream != nil {
			out = append(out, handleSlot{h: n.Stream, op: n.Owner, where: n.Where(m)})
		}
	}
	return out
}
