// Package snapshot is the model of a Flink snapshot above the raw
// _metadata format: what kind it is, which Flink releases could have written
// it, its operators, and every file its handles use, with scope and users.
package snapshot

import (
	"strings"

	"github.com/fsnap/fsnap/format"
)

// MaxMetadataSize bounds the _metadata files fsnap reads into memory.
const MaxMetadataSize = 4 << 30

// Snapshot is one checkpoint or savepoint.
type Snapshot struct {
	// Dir is the snapshot directory as given (a path or a store URL without
	// secrets); relative handles resolve against it.
	Dir          string
	MetadataSize int64
	Metadata     *format.Metadata
	Kind         KindInfo
	Flink        VersionRange
	Operators    []Operator
	// Files lists every stream the handles use, one entry per distinct file
	// (and one per inline stream), in the order first met.
	Files []*File
}

// Operator summarises one operator's state.
type Operator struct {
	State    *format.OperatorState
	UID      string // from the file (version 5+), else ""
	Name     string // from the file (version 5+), else ""
	Subtasks int    // subtasks with state (finished ones excluded)
	Finished int    // finished subtasks (or all, for a fully finished operator)
	Bytes    StateBytes
	Files    int // distinct files (not inline streams) this operator uses
}

// StateBytes are the bytes of state per slot.
type StateBytes struct {
	ManagedKeyed    int64
	RawKeyed        int64
	ManagedOperator int64
	RawOperator     int64
	Channel         int64
	Coordinator     int64
}

// Total is the sum of all slots.
func (b StateBytes) Total() int64 {
	return b.ManagedKeyed + b.RawKeyed + b.ManagedOperator + b.RawOperator + b.Channel + b.Coordinator
}

// Scope says where a stream lives and so who owns it.
type Scope string

const (
	ScopeInline    Scope = "inline"    // bytes inside _metadata
	ScopeExclusive Scope = "exclusive" // a file in the snapshot directory (relative handle)
	ScopeShared    Scope = "shared"    // absolute path into a checkpoint root's shared/ folder
	ScopeTaskOwned Scope = "task-owned"
	ScopeExternal  Scope = "external" // any other absolute path
)

// Slot is the place in a subtask's state a handle sits in.
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

// File is one stream used by the snapshot.
type File struct {
	// Path is the resolved location: Dir + "/" + relative path for
	// relative handles, the path as written for absolute ones, "" for inline.
	Path string
	// Relative is the name as written in a relative handle.
	Relative string
	// InlineName is an inline stream's handle name (opaque, never a path).
	InlineName string
	Size       int64
	Scope      Scope
	// Unsafe is set when a relative name could leave the snapshot
	// directory; such a file is never opened.
	Unsafe error
	// Segments counts the file-merging segments (Flink 1.20+) in this
	// physical file; Size is then the furthest segment end.
	Segments int
	Users    []Use
}

// Use is one reference to a file.
type Use struct {
	Operator int // index into Snapshot.Operators
	Subtask  int32
	Slot     Slot
	// Role says what the file is to the handle: "state", "meta" (RocksDB
	// serialization proxy), the RocksDB file name (000010.sst, CURRENT, …)
	// for native handles, "changelog" for changelog files.
	Role string
	// RocksDBShared marks files listed in an incremental handle's shared
	// state (as opposed to its private state).
	RocksDBShared bool
}

// Parse builds the model from the bytes of _metadata found in dir.
func Parse(dir string, metadata []byte) (*Snapshot, error) {
	m, err := format.ParseMetadata(metadata)
	if err != nil {
		return nil, err
	}
	return FromMetadata(dir, int64(len(metadata)), m), nil
}

// FromMetadata builds the model from parsed metadata.
func FromMetadata(dir string, size int64, m *format.Metadata) *Snapshot {
	s := &Snapshot{Dir: strings.TrimSuffix(dir, "/"), MetadataSize: size, Metadata: m}
	b := builder{s: s, byPath: map[string]*File{}}
	for i := range m.Operators {
		b.operator(i, &m.Operators[i])
	}
	s.Kind = inferKind(m)
	s.Flink = inferFlinkRange(m)
	return s
}

type builder struct {
	s      *Snapshot
	byPath map[string]*File
	// per operator: distinct files it uses
	opFiles map[*File]bool
}

func (b *builder) operator(idx int, op *format.OperatorState) {
	o := Operator{State: op, UID: op.UID, Name: op.Name}
	b.opFiles = map[*File]bool{}
	if op.FullyFinished {
		o.Finished = int(op.Parallelism)
	}
	if op.Coordinator != nil {
		o.Bytes.Coordinator = b.stream(op.Coordinator, Use{Operator: idx, Subtask: -1, Slot: SlotCoordinator, Role: "state"})
	}
	for i := range op.Subtasks {
		st := &op.Subtasks[i]
		if st.Finished {
			o.Finished++
			continue
		}
		o.Subtasks++
		u := Use{Operator: idx, Subtask: st.Index, Role: "state"}
		for _, h := range st.LegacyOperatorState() {
			u.Slot = SlotLegacyOperator
			o.Bytes.RawOperator += b.stream(h, u)
		}
		if h := st.ManagedOperatorState; h != nil {
			u.Slot = SlotManagedOperator
			o.Bytes.ManagedOperator += b.stream(h.Delegate, u)
		}
		if h := st.RawOperatorState; h != nil {
			u.Slot = SlotRawOperator
			o.Bytes.RawOperator += b.stream(h.Delegate, u)
		}
		if st.ManagedKeyedState != nil {
			u.Slot = SlotManagedKeyed
			o.Bytes.ManagedKeyed += b.keyed(st.ManagedKeyedState, u)
		}
		if st.RawKeyedState != nil {
			u.Slot = SlotRawKeyed
			o.Bytes.RawKeyed += b.keyed(st.RawKeyedState, u)
		}
		for _, h := range st.InputChannels() {
			u.Slot = SlotInputChannel
			o.Bytes.Channel += b.stream(h.Delegate, u)
		}
		for _, h := range st.ResultSubpartitions() {
			u.Slot = SlotResultSubpartition
			o.Bytes.Channel += b.stream(h.Delegate, u)
		}
	}
	for f := range b.opFiles {
		if f.Scope != ScopeInline {
			o.Files++
		}
	}
	b.s.Operators = append(b.s.Operators, o)
}

// keyed records the files of a keyed handle and returns its bytes.
func (b *builder) keyed(h format.KeyedStateHandle, u Use) int64 {
	switch h := h.(type) {
	case *format.KeyGroupsHandle:
		return b.stream(h.Delegate, u)
	case *format.IncrementalHandle:
		mu := u
		mu.Role = "meta"
		n := b.stream(h.MetaStateHandle, mu)
		for _, f := range h.SharedState {
			fu := u
			fu.Role, fu.RocksDBShared = f.LocalPath, true
			n += b.stream(f.Handle, fu)
		}
		for _, f := range h.PrivateState {
			fu := u
			fu.Role = f.LocalPath
			n += b.stream(f.Handle, fu)
		}
		return n
	case *format.ChangelogHandle:
		var n int64
		for _, c := range h.Materialized {
			if c != nil {
				n += b.keyed(c, u)
			}
		}
		for _, c := range h.NonMaterialized {
			if c != nil {
				n += b.keyed(c, u)
			}
		}
		return n
	case *format.ChangelogBytesHandle:
		var n int64
		for _, c := range h.Changes {
			n += int64(len(c.Data))
		}
		return n
	case *format.ChangelogFileHandle:
		cu := u
		cu.Role = "changelog"
		for _, f := range h.Handles {
			b.stream(f.Handle, cu)
		}
		return h.StateSize
	}
	return 0
}

// stream records one stream handle's file and returns its size.
func (b *builder) stream(h format.StreamHandle, u Use) int64 {
	var f *File
	switch h := h.(type) {
	case nil:
		return 0
	case *format.ByteStreamHandle:
		f = &File{InlineName: h.Name, Size: int64(len(h.Data)), Scope: ScopeInline}
		b.s.Files = append(b.s.Files, f)
	case *format.RelativeFileHandle:
		f = b.file(b.s.Dir+"/"+h.RelativePath, h.Size, ScopeExclusive)
		f.Relative = h.RelativePath
		if err := format.CheckRelativePath(h.RelativePath); err != nil {
			f.Unsafe = err
			f.Path = ""
		}
	case *format.FileHandle:
		f = b.file(h.Path, h.Size, scopeOfAbsolute(h.Path))
	case *format.SegmentFileHandle:
		scope := scopeOfAbsolute(h.Path)
		if scope == ScopeExternal && h.Scope == format.SegmentShared {
			scope = ScopeShared
		}
		// A merged physical file: its known extent is the furthest segment end.
		f = b.file(h.Path, 0, scope)
		f.Size = max(f.Size, h.StartPos+h.Size)
		f.Segments++
		f.Users = append(f.Users, u)
		b.opFiles[f] = true
		return h.Size
	case *format.EmptySegmentFileHandle:
		return 0
	case *format.KeyGroupsHandle:
		return b.stream(h.Delegate, u)
	default: // the parser produces no other kind
		return 0
	}
	f.Users = append(f.Users, u)
	b.opFiles[f] = true
	return f.Size
}

func (b *builder) file(path string, size int64, scope Scope) *File {
	if f, ok := b.byPath[path]; ok {
		return f
	}
	f := &File{Path: path, Size: size, Scope: scope}
	b.byPath[path] = f
	b.s.Files = append(b.s.Files, f)
	return f
}

// scopeOfAbsolute classifies an absolute path by the checkpoint storage
// folder it is in (layout.md §1).
func scopeOfAbsolute(p string) Scope {
	switch {
	case strings.Contains(p, "/shared/"):
		return ScopeShared
	case strings.Contains(p, "/taskowned/"):
		return ScopeTaskOwned
	}
	return ScopeExternal
}

// Totals sums the snapshot's state.
type Totals struct {
	Files       int   // distinct files (not inline)
	FileBytes   int64 // their sizes
	Inline      int   // inline streams
	InlineBytes int64
}

// Totals counts files and bytes over the whole snapshot.
func (s *Snapshot) Totals() Totals {
	var t Totals
	for _, f := range s.Files {
		if f.Scope == ScopeInline {
			t.Inline++
			t.InlineBytes += f.Size
		} else {
			t.Files++
			t.FileBytes += f.Size
		}
	}
	return t
}
