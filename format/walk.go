package format

import (
	"fmt"
	"iter"
)

// Slot is the place in a subtask's state (or an operator's coordinator
// state) a handle sits in.
type Slot string

const (
	SlotManagedKeyed       Slot = "managed-keyed"
	SlotRawKeyed           Slot = "raw-keyed"
	SlotManagedOperator    Slot = "managed-operator"
	SlotRawOperator        Slot = "raw-operator"
	SlotInputChannel       Slot = "input-channel"
	SlotResultSubpartition Slot = "result-subpartition"
	SlotCoordinator        Slot = "coordinator"
	SlotLegacyOperator     Slot = "legacy-operator" // version 2, Flink 1.3 Checkpointed state
)

// Node is one place in a Metadata tree that Walk visits: a stream handle
// (Stream set), or a keyed state handle as Walk enters it (Stream nil,
// Keyed set), before the stream handles it holds.
type Node struct {
	Operator int  // index into Metadata.Operators
	Subtask  int  // index into the operator's Subtasks; -1 for the coordinator
	Slot     Slot // which part of the state
	// Stream points at the field holding the stream handle, so that a
	// writer can replace it; nil for a keyed handle's node.
	Stream *StreamHandle
	// Keyed is the innermost keyed state handle around the node (the
	// handle itself for its own node); nil outside keyed state.
	Keyed KeyedStateHandle
	// Owner is the operator state handle whose delegate Stream is.
	Owner *OperatorStateHandle
	// Role says what the stream is to its handle: "state", "meta" (a
	// RocksDB serialization proxy), the RocksDB file name (000010.sst,
	// CURRENT, …) of an incremental handle's files, or "changelog".
	Role string
	// RocksDBShared marks the files of an incremental handle's shared state.
	RocksDBShared bool
	// Changelog is "materialized" or "changelog" inside a changelog
	// handle's two lists.
	Changelog string
}

// Handle is the stream handle at the node (nil for a keyed node).
func (n Node) Handle() StreamHandle {
	if n.Stream == nil {
		return nil
	}
	return *n.Stream
}

// Where describes the node for messages: "operator 1a2b… subtask 3 managed
// keyed state shared 000010.sst".
func (n Node) Where(m *Metadata) string {
	op := &m.Operators[n.Operator]
	if n.Subtask < 0 {
		return fmt.Sprintf("operator %s coordinator", op.ID)
	}
	s := fmt.Sprintf("operator %s subtask %d %s state", op.ID, op.Subtasks[n.Subtask].Index, slotWords[n.Slot])
	if n.Changelog != "" {
		s += " " + n.Changelog
	}
	switch {
	case n.Role == "meta":
		s += " meta"
	case n.RocksDBShared:
		s += " shared " + n.Role
	case n.Role != "state" && n.Role != "changelog":
		s += " private " + n.Role
	}
	return s
}

var slotWords = map[Slot]string{
	SlotManagedKeyed: "managed keyed", SlotRawKeyed: "raw keyed",
	SlotManagedOperator: "managed operator", SlotRawOperator: "raw operator",
	SlotInputChannel: "input channel", SlotResultSubpartition: "result subpartition",
	SlotCoordinator: "coordinator", SlotLegacyOperator: "legacy operator",
}

// Walk visits every stream handle of m in file order, looking through
// nested key-group handles, incremental (RocksDB) handles and changelog
// handles, and every keyed handle before its streams. Absent (nil) handles
// are not visited. It is the one walk of the handle tree: a new handle type
// is taught here.
func (m *Metadata) Walk() iter.Seq[Node] { return m.WalkOperators(0, len(m.Operators)) }

// WalkOperators is Walk over the operators from index from to index to
// (exclusive).
func (m *Metadata) WalkOperators(from, to int) iter.Seq[Node] {
	return func(yield func(Node) bool) {
		w := walker{yield: yield}
		for oi := from; oi < to; oi++ {
			op := &m.Operators[oi]
			if !w.stream(Node{Operator: oi, Subtask: -1, Slot: SlotCoordinator, Role: "state"}, &op.Coordinator) {
				return
			}
			for si := range op.Subtasks {
				if !w.subtask(Node{Operator: oi, Subtask: si, Role: "state"}, &op.Subtasks[si]) {
					return
				}
			}
		}
	}
}

type walker struct{ yield func(Node) bool }

func (w walker) subtask(n Node, st *SubtaskState) bool {
	n.Slot = SlotLegacyOperator
	legacy := st.LegacyOperatorState()
	for i := range legacy {
		if !w.stream(n, &legacy[i]) {
			return false
		}
	}
	if h := st.ManagedOperatorState; h != nil {
		n.Slot, n.Owner = SlotManagedOperator, h
		if !w.stream(n, &h.Delegate) {
			return false
		}
	}
	if h := st.RawOperatorState; h != nil {
		n.Slot, n.Owner = SlotRawOperator, h
		if !w.stream(n, &h.Delegate) {
			return false
		}
	}
	n.Owner = nil
	n.Slot = SlotManagedKeyed
	if !w.keyed(n, st.ManagedKeyedState) {
		return false
	}
	n.Slot = SlotRawKeyed
	if !w.keyed(n, st.RawKeyedState) {
		return false
	}
	for slot, list := range [2][]ChannelStateHandle{st.InputChannels(), st.ResultSubpartitions()} {
		n.Slot = [2]Slot{SlotInputChannel, SlotResultSubpartition}[slot]
		for i := range list {
			if !w.stream(n, &list[i].Delegate) {
				return false
			}
		}
	}
	return true
}

func (w walker) keyed(n Node, h KeyedStateHandle) bool {
	if h == nil {
		return true
	}
	n.Keyed = h
	if !w.yield(n) {
		return false
	}
	switch h := h.(type) {
	case *KeyGroupsHandle:
		return w.stream(n, &h.Delegate)
	case *IncrementalHandle:
		m := n
		m.Role = "meta"
		if !w.stream(m, &h.MetaStateHandle) {
			return false
		}
		for file, shared := range h.Files() {
			f := n
			f.Role, f.RocksDBShared = file.LocalPath, shared
			if !w.stream(f, &file.Handle) {
				return false
			}
		}
	case *ChangelogHandle:
		for _, part := range [2]struct {
			name string
			list []KeyedStateHandle
		}{{"materialized", h.Materialized}, {"changelog", h.NonMaterialized}} {
			c := n
			c.Changelog = part.name
			for _, k := range part.list {
				if !w.keyed(c, k) {
					return false
				}
			}
		}
	case *ChangelogFileHandle:
		n.Role = "changelog"
		for i := range h.Handles {
			if !w.stream(n, &h.Handles[i].Handle) {
				return false
			}
		}
	}
	return true
}

// stream visits a stream handle; a key-group handle nested as a stream
// (legacy) is looked through.
func (w walker) stream(n Node, h *StreamHandle) bool {
	if kg, ok := (*h).(*KeyGroupsHandle); ok {
		return w.stream(n, &kg.Delegate)
	}
	if *h == nil {
		return true
	}
	n.Stream = h
	return w.yield(n)
}
