package snapshot

import (
	"fmt"

	"github.com/fsnap/fsnap/format"
)

// Kind is what a snapshot is.
type Kind string

const (
	CanonicalSavepoint    Kind = "canonical-savepoint"
	NativeSavepoint       Kind = "native-savepoint"
	AlignedCheckpoint     Kind = "checkpoint"
	UnalignedCheckpoint   Kind = "unaligned-checkpoint"
	IncrementalCheckpoint Kind = "incremental-checkpoint"
	ChangelogCheckpoint   Kind = "changelog-checkpoint"
	Unknown               Kind = "unknown"
)

// IsSavepoint reports whether k is a kind of savepoint.
func (k Kind) IsSavepoint() bool { return k == CanonicalSavepoint || k == NativeSavepoint }

// KindInfo is the kind and how it was found.
type KindInfo struct {
	Kind Kind
	// Source is "properties" when the file's CheckpointProperties say it,
	// "inferred" when it is deduced from the handles.
	Source string
	// Alternatives are other kinds the same bytes could be (inferred only).
	Alternatives []Kind
	// Reason explains the inference in a sentence.
	Reason string
	// Detail from the properties: the type's name ("Checkpoint",
	// "Suspend Savepoint", …), sharing strategy and format type.
	TypeName             string
	SharingFilesStrategy string
	FormatType           string
}

// Matches reports whether k is the kind or one of its alternatives.
func (ki KindInfo) Matches(k Kind) bool {
	if ki.Kind == k {
		return true
	}
	for _, a := range ki.Alternatives {
		if a == k {
			return true
		}
	}
	return false
}

// handleCensus counts what the handles of a snapshot are.
type handleCensus struct {
	codes       map[format.KeyedHandleType]int
	sharedFiles int // incremental shared entries or absolute paths into shared/
	channel     int
	finished    int
	incremental int
	changelog   int
}

func newCensus() handleCensus { return handleCensus{codes: map[format.KeyedHandleType]int{}} }

// add counts one walked node.
func (c *handleCensus) add(n format.Node) {
	if n.Stream == nil {
		c.codes[n.Keyed.KeyedType()]++
		switch n.Keyed.(type) {
		case *format.IncrementalHandle:
			c.incremental++
		case *format.ChangelogHandle, *format.ChangelogBytesHandle, *format.ChangelogFileHandle:
			c.changelog++
		}
		return
	}
	if _, ok := n.Keyed.(*format.ChangelogFileHandle); ok || n.Slot == SlotLegacyOperator {
		return // changelog files and version 2 operator state say nothing of sharing
	}
	switch h := (*n.Stream).(type) {
	case *format.FileHandle:
		if n.RocksDBShared || scopeOfAbsolute(h.Path) == ScopeShared {
			c.sharedFiles++
		}
	case *format.SegmentFileHandle:
		if h.Scope == format.SegmentShared || scopeOfAbsolute(h.Path) == ScopeShared {
			c.sharedFiles++
		}
	default:
		if n.RocksDBShared {
			c.sharedFiles++
		}
	}
}

// subtasks counts finished subtasks and channel state.
func (c *handleCensus) subtasks(m *format.Metadata) {
	for i := range m.Operators {
		for _, st := range m.Operators[i].Subtasks {
			if st.Finished {
				c.finished++
			}
			c.channel += len(st.InputChannels()) + len(st.ResultSubpartitions())
		}
	}
}

func inferKind(m *format.Metadata, c handleCensus) KindInfo {
	if p := m.Properties; p != nil && !p.Null {
		ki := KindInfo{Source: "properties", TypeName: p.Type.Name,
			SharingFilesStrategy: p.Type.SharingFilesStrategy, FormatType: p.Type.FormatType}
		switch {
		case p.Type.Savepoint && p.Type.FormatType == "NATIVE":
			ki.Kind = NativeSavepoint
		case p.Type.Savepoint && p.Type.FormatType == "CANONICAL":
			ki.Kind = CanonicalSavepoint
		case p.Type.Savepoint:
			ki.Kind = Unknown
			ki.Reason = fmt.Sprintf("savepoint of unknown format %q", p.Type.FormatType)
		default:
			ki.Kind = checkpointKind(c)
			ki.Reason = "the properties say checkpoint; the handles say which kind"
		}
		if ki.Reason == "" {
			ki.Reason = "the checkpoint properties stored in _metadata say so"
		}
		return ki
	}
	ki := KindInfo{Source: "inferred"}
	why := "version 2 and 3 files do not store the kind"
	if m.Properties != nil {
		why = "the checkpoint properties are null (State Processor API)"
	}
	switch {
	case c.changelog > 0:
		ki.Kind = ChangelogCheckpoint
		ki.Reason = why + "; changelog handles occur only in checkpoints"
	case c.channel > 0:
		ki.Kind = UnalignedCheckpoint
		ki.Reason = why + "; channel (in-flight) state occurs only in unaligned checkpoints"
	case c.sharedFiles > 0:
		ki.Kind = IncrementalCheckpoint
		ki.Reason = why + "; files shared with other checkpoints occur only in incremental checkpoints"
	case c.incremental > 0:
		ki.Kind = NativeSavepoint
		ki.Alternatives = []Kind{AlignedCheckpoint}
		ki.Reason = why + "; RocksDB native handles without shared files: a native savepoint or a full checkpoint"
	case c.codes[format.SavepointKeyGroupsHandle] > 0:
		ki.Kind = CanonicalSavepoint
		ki.Alternatives = []Kind{NativeSavepoint}
		ki.Reason = why + "; savepoint key-group handles: a canonical savepoint (or a Flink 1.15 RocksDB native savepoint)"
	case c.codes[format.KeyGroupsHandleV2] > 0:
		ki.Kind = AlignedCheckpoint
		ki.Alternatives = []Kind{NativeSavepoint}
		ki.Reason = why + "; key-group handles of Flink 1.15+: a checkpoint or a native savepoint (their bytes are the same)"
	default:
		ki.Kind = CanonicalSavepoint
		ki.Alternatives = []Kind{AlignedCheckpoint}
		ki.Reason = why + "; Flink up to 1.14 wrote savepoints and aligned checkpoints alike"
	}
	return ki
}

// checkpointKind refines a checkpoint by its handles.
func checkpointKind(c handleCensus) Kind {
	switch {
	case c.changelog > 0:
		return ChangelogCheckpoint
	case c.channel > 0:
		return UnalignedCheckpoint
	case c.sharedFiles > 0:
		return IncrementalCheckpoint
	}
	return AlignedCheckpoint
}
