// Package format reads and writes Flink's checkpoint and savepoint metadata
// (the _metadata file) byte for byte, versions 2 to 7.
//
// ParseMetadata turns the bytes into typed structs that mirror the file;
// AppendMetadata turns them back into the same bytes. The package knows
// nothing of stores or RocksDB and builds without cgo. Sub-packages read the
// state files the handles point to.
package format

import (
	"encoding/hex"
	"fmt"
)

// Magic is the first four bytes of every _metadata file
// (Checkpoints.HEADER_MAGIC_NUMBER).
const Magic uint32 = 0x4960672D

// Metadata versions this package reads and writes.
const (
	MinVersion = 2
	MaxVersion = 7
)

// MetadataFileName is the name of the metadata file in a snapshot directory.
const MetadataFileName = "_metadata"

// Metadata is a parsed _metadata file.
type Metadata struct {
	Version      int32
	CheckpointID int64
	MasterStates []MasterState
	Operators    []OperatorState
	// Properties is the Java-serialized CheckpointProperties trailer of
	// version 4 and later; nil for versions 2 and 3.
	Properties *CheckpointProperties
}

// MasterState is the state of a master hook (MasterTriggerRestoreHook).
type MasterState struct {
	Version int32
	Name    string
	Payload []byte
}

// OperatorID is the 16-byte operator id in file order (the hex form Flink
// prints, OperatorID.toHexString).
type OperatorID [16]byte

func (id OperatorID) String() string { return hex.EncodeToString(id[:]) }

// ParseOperatorID parses the 32-hex-digit form.
func ParseOperatorID(s string) (OperatorID, error) {
	var id OperatorID
	if len(s) != 32 {
		return id, fmt.Errorf("operator id %q: want 32 hex digits", s)
	}
	if _, err := hex.Decode(id[:], []byte(s)); err != nil {
		return id, fmt.Errorf("operator id %q: %v", s, err)
	}
	return id, nil
}

// OperatorState is the state of one operator across its subtasks.
type OperatorState struct {
	Name string // version 5+: operator name; "" when absent
	UID  string // version 5+: user-assigned uid; "" when absent
	ID   OperatorID

	Parallelism    int32
	MaxParallelism int32

	// Coordinator is the operator coordinator's state (version 3+): nil or a
	// *ByteStreamHandle.
	Coordinator StreamHandle

	// FullyFinished marks an operator whose subtasks all finished (version
	// 3+, stored as subtask count -1); it has no subtask states.
	FullyFinished bool

	Subtasks []SubtaskState

	// LegacyChainLength is version 2's unused chain-length field, kept so
	// the file is written back unchanged (Flink writes 1).
	LegacyChainLength int32
}

// SubtaskState is the state of one subtask of an operator.
type SubtaskState struct {
	Index int32
	// Finished marks a subtask that had finished (version 3+); it carries no
	// state.
	Finished bool

	ManagedOperatorState *OperatorStateHandle // nil when absent
	RawOperatorState     *OperatorStateHandle // nil when absent
	ManagedKeyedState    KeyedStateHandle     // nil when absent
	RawKeyedState        KeyedStateHandle     // nil when absent

	// Channels is the in-flight data of unaligned checkpoints (version 3+);
	// nil when the subtask has none. (Rare fields sit behind pointers: a
	// checkpoint of a large job holds hundreds of thousands of subtasks.)
	Channels *ChannelState

	// RefCheckpointID is version 7's optional reference checkpoint id.
	RefCheckpointID *int64

	// Legacy holds version 2's extra fields; nil for other versions.
	Legacy *LegacySubtask
}

// ChannelState is a subtask's channel state handles, in the two lists the
// file keeps them in.
type ChannelState struct {
	InputChannels       []ChannelStateHandle
	ResultSubpartitions []ChannelStateHandle
}

// LegacySubtask holds version 2's per-subtask fields.
type LegacySubtask struct {
	// Duration is unused (Flink writes -1); kept so the file is written
	// back unchanged.
	Duration int64
	// OperatorState is non-partitionable operator state (the Checkpointed
	// interface of Flink 1.3); no Flink since 1.4 restores it.
	OperatorState []StreamHandle
}

// KeyGroupRange is an inclusive range of key groups, stored as start and count.
type KeyGroupRange struct {
	Start int32
	Count int32
}

// End is the last key group of the range (Start-1 when empty).
func (r KeyGroupRange) End() int32 { return r.Start + r.Count - 1 }

func (r KeyGroupRange) String() string {
	if r.Count == 0 {
		return "[]"
	}
	return fmt.Sprintf("[%d-%d]", r.Start, r.End())
}

// Contains reports whether key group kg is in the range.
func (r KeyGroupRange) Contains(kg int32) bool { return kg >= r.Start && kg-r.Start < r.Count }

// InputChannels are the subtask's input channel state handles.
func (st *SubtaskState) InputChannels() []ChannelStateHandle {
	if st.Channels == nil {
		return nil
	}
	return st.Channels.InputChannels
}

// ResultSubpartitions are the subtask's result subpartition state handles.
func (st *SubtaskState) ResultSubpartitions() []ChannelStateHandle {
	if st.Channels == nil {
		return nil
	}
	return st.Channels.ResultSubpartitions
}

// ChannelStateSize is the number of the subtask's channel state handles
// (in-flight data of unaligned checkpoints) and their state sizes' sum.
func (st *SubtaskState) ChannelStateSize() (handles int, bytes int64) {
	for _, hs := range [][]ChannelStateHandle{st.InputChannels(), st.ResultSubpartitions()} {
		for _, h := range hs {
			handles++
			bytes += h.StateSize
		}
	}
	return handles, bytes
}

// LegacyOperatorState is version 2's non-partitionable operator state.
func (st *SubtaskState) LegacyOperatorState() []StreamHandle {
	if st.Legacy == nil {
		return nil
	}
	return st.Legacy.OperatorState
}
