package format

import (
	"fmt"
	"io"
	"slices"

	"github.com/fsnap/fsnap/format/internal/binio"
)

// WriteMetadata writes m as a _metadata file.
func WriteMetadata(w io.Writer, m *Metadata) error {
	b, err := AppendMetadata(nil, m)
	if err != nil {
		return err
	}
	_, err = w.Write(b)
	return err
}

// AppendMetadata appends the _metadata encoding of m to dst. It refuses
// content the target version cannot hold rather than dropping it.
func AppendMetadata(dst []byte, m *Metadata) ([]byte, error) {
	if m.Version < MinVersion || m.Version > MaxVersion {
		return dst, &VersionError{Version: m.Version}
	}
	w := writer{e: binio.NewEncoder(dst), version: m.Version}
	w.metadata(m)
	if err := w.e.Err(); err != nil {
		return dst, fmt.Errorf("writing _metadata version %d: %w", m.Version, err)
	}
	return w.e.Bytes(), nil
}

type writer struct {
	e       *binio.Encoder
	version int32
}

func (w *writer) metadata(m *Metadata) {
	e := w.e
	e.I32(int32(Magic))
	e.I32(m.Version)
	if m.CheckpointID < 0 {
		e.Failf("negative checkpoint id %d", m.CheckpointID)
	}
	e.I64(m.CheckpointID)
	e.Len32(len(m.MasterStates), "master states")
	for i := range m.MasterStates {
		w.masterState(&m.MasterStates[i])
	}
	e.Len32(len(m.Operators), "operators")
	for i := range m.Operators {
		w.operator(&m.Operators[i])
	}
	switch {
	case w.version >= 4:
		w.properties(m.Properties)
	case m.Properties != nil:
		e.Failf("version %d has no checkpoint properties (they came with version 4)", w.version)
	}
}

func (w *writer) properties(p *CheckpointProperties) {
	if p == nil {
		p = &CheckpointProperties{Null: true}
	}
	if w.e.Err() != nil {
		return // the encoder below would forget the error
	}
	b, err := appendProperties(w.e.Bytes(), p)
	if err != nil {
		w.e.Failf("checkpoint properties: %v", err)
		return
	}
	*w.e = *binio.NewEncoder(b)
}

func (w *writer) masterState(ms *MasterState) {
	e := w.e
	e.I32(masterStateMagic)
	body := binio.NewEncoder(nil)
	body.I32(ms.Version)
	body.UTF(ms.Name, "master state name")
	body.Len32(len(ms.Payload), "master state payload")
	body.Raw(ms.Payload)
	if err := body.Err(); err != nil {
		e.Failf("master state %q: %v", ms.Name, err)
	}
	e.Len32(body.Len(), "master state")
	e.Raw(body.Bytes())
}

func (w *writer) operator(op *OperatorState) {
	e := w.e
	if w.version >= 5 {
		e.UTF(op.Name, "operator name")
		e.UTF(op.UID, "operator uid")
	} else if op.Name != "" || op.UID != "" {
		e.Failf("operator %v: version %d cannot store the operator name and uid (version 5 can)", op.ID, w.version)
	}
	e.Raw(op.ID[:])
	e.I32(op.Parallelism)
	e.I32(op.MaxParallelism)
	if w.version == 2 {
		if op.Coordinator != nil || op.FullyFinished {
			e.Failf("operator %v: version 2 cannot store coordinator state or finished operators", op.ID)
		}
		e.I32(op.LegacyChainLength)
	} else {
		if op.Coordinator != nil && op.Coordinator.StreamType() != ByteStream {
			e.Failf("operator %v: coordinator state must be inline bytes, not %v", op.ID, op.Coordinator.StreamType())
		}
		w.streamHandle(op.Coordinator)
	}
	if op.FullyFinished {
		if op.Coordinator != nil || len(op.Subtasks) > 0 {
			e.Failf("operator %v: a fully finished operator has no coordinator or subtask state", op.ID)
		}
		e.I32(-1)
		return
	}
	e.Len32(len(op.Subtasks), "subtasks")
	for i := range op.Subtasks {
		w.subtask(op, &op.Subtasks[i])
	}
}

func (w *writer) subtask(op *OperatorState, st *SubtaskState) {
	e := w.e
	if st.Index < 0 {
		e.Failf("operator %v: negative subtask index %d", op.ID, st.Index)
	}
	if st.Finished {
		if w.version == 2 {
			e.Failf("operator %v: version 2 cannot store finished subtasks", op.ID)
		}
		e.I32(-st.Index - 1)
		return
	}
	e.I32(st.Index)
	if w.version == 2 {
		duration := int64(-1) // what Flink writes
		if st.Legacy != nil {
			duration = st.Legacy.Duration
		}
		e.I64(duration)
		e.Len32(len(st.LegacyOperatorState()), "legacy operator states")
		for _, h := range st.LegacyOperatorState() {
			w.streamHandle(h)
		}
	} else if st.Legacy != nil {
		e.Failf("operator %v subtask %d: version %d has no legacy subtask fields (version 2 does)", op.ID, st.Index, w.version)
	}
	w.optionalOperatorHandle(st.ManagedOperatorState)
	w.optionalOperatorHandle(st.RawOperatorState)
	w.keyedHandle(st.ManagedKeyedState)
	w.keyedHandle(st.RawKeyedState)
	if w.version >= 3 {
		w.channelHandles(st.InputChannels(), true)
		w.channelHandles(st.ResultSubpartitions(), false)
	} else if len(st.InputChannels())+len(st.ResultSubpartitions()) > 0 {
		e.Failf("operator %v subtask %d: version 2 cannot store channel state", op.ID, st.Index)
	}
	switch {
	case w.version >= 7 && st.RefCheckpointID != nil:
		e.U8(1)
		e.I64(*st.RefCheckpointID)
	case w.version >= 7:
		e.U8(0)
	case st.RefCheckpointID != nil:
		e.Failf("operator %v subtask %d: version %d cannot store a ref checkpoint id (version 7 can)", op.ID, st.Index, w.version)
	}
}

func (w *writer) optionalOperatorHandle(h *OperatorStateHandle) {
	e := w.e
	if h == nil {
		e.I32(0)
		return
	}
	e.I32(1)
	if h.FileMerging != nil {
		e.U8(fileMergingPartitionableCode)
	} else {
		e.U8(partitionableCode)
	}
	e.Len32(len(h.States), "operator states")
	for i := range h.States {
		s := &h.States[i]
		e.UTF(s.Name, "operator state name")
		if s.Mode > Broadcast {
			e.Failf("operator state %q: unknown distribution mode %d", s.Name, s.Mode)
		}
		e.U8(uint8(s.Mode))
		w.longs(s.Offsets)
	}
	if fm := h.FileMerging; fm != nil {
		e.UTF(fm.TaskOwnedDir, "task-owned dir")
		e.UTF(fm.SharedDir, "shared dir")
		e.Bool(fm.Empty)
		switch h.Delegate.(type) {
		case *SegmentFileHandle, *EmptySegmentFileHandle:
		default:
			e.Failf("a file-merging operator state handle needs a segment file delegate, not %s", streamTypeName(h.Delegate))
		}
	}
	w.streamHandle(h.Delegate)
}

func (w *writer) longs(v []int64) {
	w.e.Len32(len(v), "offsets")
	for _, x := range v {
		w.e.I64(x)
	}
}

func (w *writer) keyGroupRange(r KeyGroupRange) {
	w.e.I32(r.Start)
	w.e.I32(r.Count)
}

func (w *writer) keyedHandle(h KeyedStateHandle) {
	e := w.e
	if h == nil {
		e.U8(uint8(KeyedNull))
		return
	}
	switch h := h.(type) {
	case *KeyGroupsHandle:
		w.keyedType(h.Type, "key groups handle", KeyGroupsHandleV1, SavepointKeyGroupsHandle, KeyGroupsHandleV2)
		w.keyGroupsBody(h)
	case *IncrementalHandle:
		w.keyedType(h.Type, "incremental handle", IncrementalHandleV1, IncrementalHandleV2)
		e.I64(h.CheckpointID)
		e.UTF(h.BackendIdentifier, "backend identifier")
		w.keyGroupRange(h.Range)
		if h.Type == IncrementalHandleV2 {
			e.I64(h.CheckpointedSize)
		}
		w.streamHandle(h.MetaStateHandle)
		w.namedHandles(h.SharedState)
		w.namedHandles(h.PrivateState)
		if h.Type == IncrementalHandleV2 {
			e.UTF(h.HandleID, "state handle id")
		}
	case *ChangelogHandle:
		w.keyedType(h.Type, "changelog handle", ChangelogHandleV1, ChangelogHandleV2)
		w.keyGroupRange(h.Range)
		e.I64(h.CheckpointedSize)
		w.keyedHandles(h.Materialized)
		w.keyedHandles(h.NonMaterialized)
		e.I64(h.MaterializationID)
		if h.Type == ChangelogHandleV2 {
			e.I64(h.CheckpointID)
		}
		e.UTF(h.HandleID, "state handle id")
	case *ChangelogBytesHandle:
		e.U8(uint8(ChangelogByteIncrementHandle))
		w.keyGroupRange(h.Range)
		e.I64(h.From)
		e.I64(h.To)
		e.Len32(len(h.Changes), "changes")
		for _, c := range h.Changes {
			e.I32(c.KeyGroup)
			e.Len32(len(c.Data), "change bytes")
			e.Raw(c.Data)
		}
		e.UTF(h.HandleID, "state handle id")
	case *ChangelogFileHandle:
		w.keyedType(h.Type, "changelog file handle", ChangelogFileIncrementV1, ChangelogFileIncrementV2)
		w.keyGroupRange(h.Range)
		e.Len32(len(h.Handles), "changelog files")
		for _, oh := range h.Handles {
			e.I64(oh.Offset)
			w.streamHandle(oh.Handle)
		}
		e.I64(h.StateSize)
		e.I64(h.CheckpointedSize)
		e.UTF(h.HandleID, "state handle id")
		if h.Type == ChangelogFileIncrementV2 {
			e.UTF(h.StorageIdentifier, "storage identifier")
		}
	default:
		e.Failf("unknown keyed state handle %T", h)
	}
}

// keyedType writes a keyed handle's type byte, which must be one of those
// its struct can hold.
func (w *writer) keyedType(t KeyedHandleType, what string, allowed ...KeyedHandleType) {
	if !slices.Contains(allowed, t) {
		w.e.Failf("%s with type %v", what, t)
	}
	w.e.U8(uint8(t))
}

func (w *writer) keyGroupsBody(h *KeyGroupsHandle) {
	e := w.e
	if int(h.Range.Count) != len(h.Offsets) {
		e.Failf("key groups handle %v has %d offsets", h.Range, len(h.Offsets))
	}
	w.keyGroupRange(h.Range)
	for _, o := range h.Offsets {
		e.I64(o)
	}
	w.streamHandle(h.Delegate)
	if h.Type == KeyGroupsHandleV2 {
		e.UTF(h.HandleID, "state handle id")
	}
}

func (w *writer) keyedHandles(hs []KeyedStateHandle) {
	w.e.Len32(len(hs), "keyed handles")
	for _, h := range hs {
		w.keyedHandle(h)
	}
}

func (w *writer) namedHandles(hs []NamedHandle) {
	w.e.Len32(len(hs), "named handles")
	for _, h := range hs {
		w.e.UTF(h.LocalPath, "local path")
		w.streamHandle(h.Handle)
	}
}

func (w *writer) streamHandle(h StreamHandle) {
	e := w.e
	switch h := h.(type) {
	case nil:
		e.U8(uint8(StreamNull))
	case *ByteStreamHandle:
		e.U8(uint8(ByteStream))
		e.UTF(h.Name, "handle name")
		e.Len32(len(h.Data), "inline bytes")
		e.Raw(h.Data)
	case *FileHandle:
		e.U8(uint8(FileStream))
		e.I64(h.Size)
		e.UTF(h.Path, "file path")
	case *RelativeFileHandle:
		e.U8(uint8(RelativeFileStream))
		e.UTF(h.RelativePath, "relative path")
		e.I64(h.Size)
	case *SegmentFileHandle:
		e.U8(uint8(SegmentFile))
		e.I64(h.StartPos)
		e.I64(h.Size)
		e.I32(int32(h.Scope))
		e.UTF(h.Path, "segment file path")
		e.UTF(h.LogicalFileID, "logical file id")
	case *EmptySegmentFileHandle:
		e.U8(uint8(EmptySegmentFile))
	case *KeyGroupsHandle:
		if h.Type != KeyGroupsHandleV1 {
			e.Failf("a key groups handle nested as a stream handle must be of type 3, not %v", h.Type)
		}
		e.U8(uint8(LegacyKeyGroups))
		w.keyGroupsBody(h)
	default:
		e.Failf("unknown stream state handle %T", h)
	}
}

func (w *writer) channelHandles(hs []ChannelStateHandle, input bool) {
	e := w.e
	e.Len32(len(hs), "channel state handles")
	for i := range hs {
		h := &hs[i]
		merged := h.Type == MergedInputChannelHandle || h.Type == MergedResultSubpartHandle
		ok := (input && (h.Type == InputChannelHandle || h.Type == MergedInputChannelHandle)) ||
			(!input && (h.Type == ResultSubpartitionHandle || h.Type == MergedResultSubpartHandle))
		if !ok {
			e.Failf("channel state handle of type %v in the wrong list", h.Type)
		}
		if w.version >= 6 {
			e.U8(uint8(h.Type))
		} else if merged {
			e.Failf("version %d cannot store merged channel state (version 6 can)", w.version)
		}
		e.I32(h.SubtaskIndex)
		if merged {
			e.I64(h.StateSize)
			w.streamHandle(h.Delegate)
			e.Len32(len(h.MergedOffsets), "merged offsets")
			e.Raw(h.MergedOffsets)
			continue
		}
		e.I32(h.Info[0])
		e.I32(h.Info[1])
		w.longs(h.Offsets)
		e.I64(h.StateSize)
		w.streamHandle(h.Delegate)
	}
}
