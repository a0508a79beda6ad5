// Package snapshot is the model of a Flink snapshot above the raw
// _metadata format: what kind it is, which Flink releases could have written
// it, its operators, and every file its handles use, with scope and users.
package snapshot

import (
	"runtime"
	"strings"
	"sync"

	"github.com/fsnap/fsnap/format"
)

// MaxMetadataSize bounds the _metadata files fsnap reads into memory.
const MaxMetadataSize = format.MaxMetadataFileSize

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
	// KeyedHandles counts the keyed state handles by type (nested ones
	// included).
	KeyedHandles map[format.KeyedHandleType]int
	// Files lists every stream the handles use, one entry per distinct file
	// (and one per inline stream), in the order first met.
	Files []*File

	// The model's cost follows distinct files, not handles: a file's users
	// are listed only when asked for (Users), by a second walk.
	relative map[string]*File // exclusive files by the name in the handle
	absolute map[string]*File // other files by path
	users    struct {
		once sync.Once
		of   map[*File][]Use
	}
}

// FileOf is the file a file-backed stream handle names; nil for inline
// streams and other handles.
func (s *Snapshot) FileOf(h format.StreamHandle) *File {
	switch h := h.(type) {
	case *format.RelativeFileHandle:
		return s.relative[h.RelativePath]
	case *format.FileHandle:
		return s.absolute[h.Path]
	case *format.SegmentFileHandle:
		return s.absolute[h.Path]
	}
	return nil
}

// Stream names the bytes a stream handle reads: its file and the range in
// it, or the handle itself for an inline stream. Handles naming the same
// bytes have equal Streams, so a reader can read each once (a 100 MB
// _metadata may hold 300,000 handles over a few dozen files).
type Stream struct {
	File        *File
	Inline      format.StreamHandle
	Start, Size int64 // a file-merging segment's range; zero for a whole file
}

// StreamOf is the Stream h reads (looking through a legacy nested
// key-group handle).
func (s *Snapshot) StreamOf(h format.StreamHandle) Stream {
	if kg, nested := h.(*format.KeyGroupsHandle); nested {
		h = kg.Delegate
	}
	switch sh := h.(type) {
	case *format.SegmentFileHandle:
		return Stream{File: s.FileOf(sh), Start: sh.StartPos, Size: sh.Size}
	case *format.FileHandle, *format.RelativeFileHandle:
		return Stream{File: s.FileOf(sh)}
	}
	return Stream{Inline: h}
}

// Users lists every handle using f, in file order. The first call walks
// the handles once for all files.
func (s *Snapshot) Users(f *File) []Use {
	s.users.once.Do(func() {
		s.users.of = make(map[*File][]Use, len(s.Files))
		var inline []*File // the k-th inline handle walked is the k-th inline file
		for _, g := range s.Files {
			if g.Scope == ScopeInline {
				inline = append(inline, g)
			}
		}
		for n := range s.Metadata.Walk() {
			if n.Stream == nil {
				continue
			}
			g := s.FileOf(*n.Stream)
			if _, ok := (*n.Stream).(*format.ByteStreamHandle); ok {
				g, inline = inline[0], inline[1:]
			}
			if g != nil {
				s.users.of[g] = append(s.users.of[g], useOf(s.Metadata, n))
			}
		}
	})
	return s.users.of[f]
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
type Slot = format.Slot

const (
	SlotManagedKeyed       = format.SlotManagedKeyed
	SlotRawKeyed           = format.SlotRawKeyed
	SlotManagedOperator    = format.SlotManagedOperator
	SlotRawOperator        = format.SlotRawOperator
	SlotInputChannel       = format.SlotInputChannel
	SlotResultSubpartition = format.SlotResultSubpartition
	SlotCoordinator        = format.SlotCoordinator
	SlotLegacyOperator     = format.SlotLegacyOperator
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
	// Refs counts the handles using the file; Snapshot.Users lists them.
	Refs int
	// First is the first handle using it, in file order.
	First Use
	// Changelog marks a file a changelog handle uses.
	Changelog bool

	lastOp int // the builder's: last operator (+1) counted as using it
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

// Parse builds the model from the bytes of _metadata found in dir. The
// model refers to metadata (do not modify it afterwards); for a file of
// copyMin bytes or more, only through inline state: its strings are copied
// (format.CopyStrings), so that a path or name taken from the model (by a
// catalog of a hundred checkpoints) does not hold the whole file.
func Parse(dir string, metadata []byte) (*Snapshot, error) {
	return parse(dir, metadata, format.ParseOptions{Copy: copying(metadata, nil)})
}

func parse(dir string, metadata []byte, opts format.ParseOptions) (*Snapshot, error) {
	m, err := format.ParseMetadataWith(metadata, opts)
	if err != nil {
		return nil, err
	}
	return FromMetadata(dir, int64(len(metadata)), m), nil
}

// copyMin is the _metadata size from which the model copies its strings:
// copying costs about a sixth more parsing time, holding a file it no
// longer needs costs its size.
const copyMin = 1 << 20

// copying is what a parse of metadata copies: everything when the caller
// frees metadata (release), the strings of a large file.
func copying(metadata []byte, release func(int)) format.Copying {
	switch {
	case release != nil:
		return format.CopyAll
	case len(metadata) >= copyMin:
		return format.CopyStrings
	}
	return format.CopyNothing
}

// ParsePipelined is Parse for a caller that works on one snapshot: a large
// file's model is built on a second goroutine while it is parsed (the
// model costs about two thirds of the parse, and they overlap). Callers
// parsing several files at once keep their cores busy with Parse.
//
// With release set, the model does not refer to metadata (what it keeps is
// copied, see format.CopyAll) and release is called with the
// length of metadata's prefix parsed so far, now and then while parsing:
// the caller may free that memory, and all of it once ParsePipelined
// returns. A 100 MB file is then not held while its model is.
func ParsePipelined(dir string, metadata []byte, release func(n int)) (*Snapshot, error) {
	opts := format.ParseOptions{Copy: copying(metadata, release), Consumed: release}
	if len(metadata) < pipelineMin || runtime.GOMAXPROCS(0) < 2 {
		return parse(dir, metadata, opts)
	}
	type progress struct {
		m *format.Metadata
		n int
	}
	ready := make(chan progress, 64)
	var (
		parsed *format.Metadata
		err    error
	)
	go func() {
		defer close(ready)
		sent := 0
		opts.Parsed = func(m *format.Metadata, n int) {
			if n-sent >= pipelineBatch || n == len(m.Operators) {
				ready <- progress{m, n}
				sent = n
			}
		}
		parsed, err = format.ParseMetadataWith(metadata, opts)
	}()
	var b *builder
	for p := range ready {
		if b == nil {
			b = newBuilder(dir, int64(len(metadata)), p.m)
		}
		b.operators(p.n)
	}
	if err != nil {
		return nil, err
	}
	if b == nil { // no operators
		return FromMetadata(dir, int64(len(metadata)), parsed), nil
	}
	return b.finish(), nil
}

// pipelineMin is the _metadata size from which ParsePipelined builds the
// model while parsing; pipelineBatch the operators it hands over at a time. (Variables
// for the tests.)
var (
	pipelineMin   = 4 << 20
	pipelineBatch = 256
)

// FromMetadata builds the model from parsed metadata.
func FromMetadata(dir string, size int64, m *format.Metadata) *Snapshot {
	b := newBuilder(dir, size, m)
	b.operators(len(m.Operators))
	return b.finish()
}

// builder builds a Snapshot operator by operator.
type builder struct {
	s    *Snapshot
	m    *format.Metadata
	c    handleCensus
	done int // operators built
}

func newBuilder(dir string, size int64, m *format.Metadata) *builder {
	s := &Snapshot{Dir: strings.TrimSuffix(dir, "/"), MetadataSize: size, Metadata: m, Operators: make([]Operator, len(m.Operators))}
	s.relative, s.absolute = map[string]*File{}, map[string]*File{}
	return &builder{s: s, m: m, c: newCensus()}
}

// operators builds the operators up to index n (exclusive).
func (b *builder) operators(n int) {
	s, m := b.s, b.m
	for i := b.done; i < n; i++ {
		op := &m.Operators[i]
		o := Operator{State: op, UID: op.UID, Name: op.Name}
		if op.FullyFinished {
			o.Finished = int(op.Parallelism)
		}
		for j := range op.Subtasks {
			if op.Subtasks[j].Finished {
				o.Finished++
			} else {
				o.Subtasks++
			}
		}
		s.Operators[i] = o
	}
	for n := range m.WalkOperators(b.done, n) {
		b.c.add(n)
		o := &s.Operators[n.Operator]
		size := b.node(m, n)
		switch n.Slot {
		case SlotCoordinator:
			o.Bytes.Coordinator += size
		case SlotLegacyOperator, SlotRawOperator:
			o.Bytes.RawOperator += size
		case SlotManagedOperator:
			o.Bytes.ManagedOperator += size
		case SlotManagedKeyed:
			o.Bytes.ManagedKeyed += size
		case SlotRawKeyed:
			o.Bytes.RawKeyed += size
		case SlotInputChannel, SlotResultSubpartition:
			o.Bytes.Channel += size
		}
	}
	b.done = n
}

// finish draws the conclusions that need every operator (and the
// properties after them).
func (b *builder) finish() *Snapshot {
	s, m := b.s, b.m
	b.c.subtasks(m)
	s.KeyedHandles = b.c.codes
	s.Kind = inferKind(m, b.c)
	s.Flink = inferFlinkRange(m, b.c)
	return s
}

// node records the file of a walked node and returns the state bytes it
// adds. A changelog handle's bytes are its own count, not its files'.
func (b *builder) node(m *format.Metadata, n format.Node) int64 {
	if n.Stream == nil {
		switch h := n.Keyed.(type) {
		case *format.ChangelogBytesHandle:
			var size int64
			for _, c := range h.Changes {
				size += int64(len(c.Data))
			}
			return size
		case *format.ChangelogFileHandle:
			return h.StateSize
		}
		return 0
	}
	f, size := b.stream(*n.Stream)
	if f == nil {
		return 0
	}
	if f.Refs == 0 {
		f.First = useOf(m, n)
	}
	f.Refs++
	if f.Scope != ScopeInline && f.lastOp != n.Operator+1 {
		f.lastOp = n.Operator + 1
		b.s.Operators[n.Operator].Files++
	}
	if _, ok := n.Keyed.(*format.ChangelogFileHandle); ok {
		f.Changelog = true
		return 0
	}
	return size
}

// useOf is the use a walked node makes of its stream.
func useOf(m *format.Metadata, n format.Node) Use {
	u := Use{Operator: n.Operator, Subtask: -1, Slot: n.Slot, Role: n.Role, RocksDBShared: n.RocksDBShared}
	if n.Subtask >= 0 {
		u.Subtask = m.Operators[n.Operator].Subtasks[n.Subtask].Index
	}
	return u
}

// stream finds or adds one stream handle's file and returns it with the
// bytes the handle holds.
func (b *builder) stream(h format.StreamHandle) (*File, int64) {
	switch h := h.(type) {
	case *format.ByteStreamHandle:
		f := &File{InlineName: h.Name, Size: int64(len(h.Data)), Scope: ScopeInline}
		b.s.Files = append(b.s.Files, f)
		return f, f.Size
	case *format.RelativeFileHandle:
		if f, ok := b.s.relative[h.RelativePath]; ok {
			return f, f.Size
		}
		p := b.s.Dir + "/" + h.RelativePath
		f, ok := b.s.absolute[p] // the same file named by an absolute handle before
		if !ok {
			f = b.add(&File{Path: p, Size: h.Size, Scope: ScopeExclusive})
		}
		f.Relative = h.RelativePath
		b.s.relative[h.RelativePath] = f
		if err := format.CheckRelativePath(h.RelativePath); err != nil {
			f.Unsafe = err
			f.Path = ""
		}
		return f, f.Size
	case *format.FileHandle:
		f, ok := b.s.absolute[h.Path]
		if !ok {
			if rel, in := strings.CutPrefix(h.Path, b.s.Dir+"/"); in && b.s.relative[rel] != nil {
				f = b.s.relative[rel] // named by a relative handle before
			} else {
				f = b.add(&File{Path: h.Path, Size: h.Size, Scope: scopeOfAbsolute(h.Path)})
			}
			b.s.absolute[h.Path] = f
		}
		return f, f.Size
	case *format.SegmentFileHandle:
		f, ok := b.s.absolute[h.Path]
		if !ok {
			scope := scopeOfAbsolute(h.Path)
			if scope == ScopeExternal && h.Scope == format.SegmentShared {
				scope = ScopeShared
			}
			f = b.add(&File{Path: h.Path, Scope: scope})
			b.s.absolute[h.Path] = f
		}
		// A merged physical file: its known extent is the furthest segment end.
		f.Size = max(f.Size, h.StartPos+h.Size)
		f.Segments++
		return f, h.Size
	}
	return nil, 0 // empty segments; the parser produces no other kind
}

func (b *builder) add(f *File) *File {
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
