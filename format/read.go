package format

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"

	"github.com/fsnap/fsnap/format/internal/binio"
)

// FormatError reports bytes that are not a valid _metadata file, with the
// offset of the field that failed.
type FormatError struct {
	Offset int64
	Msg    string
}

func (e *FormatError) Error() string {
	return fmt.Sprintf("_metadata offset %d (0x%x): %s", e.Offset, e.Offset, e.Msg)
}

// ErrUnsupportedVersion is wrapped by the errors of files whose version this
// package does not read (versions 0 and 1, written by Flink 1.1 and 1.2, and
// versions above MaxVersion).
var ErrUnsupportedVersion = errors.New("unsupported _metadata version")

// VersionError is returned for a file whose version cannot be read.
type VersionError struct {
	Version int32
}

func (e *VersionError) Error() string {
	switch e.Version {
	case 0, 1:
		return fmt.Sprintf("_metadata version %d was written by Flink 1.1 or 1.2; Flink 1.2 was the last release that read it (restore and take a new savepoint with Flink 1.2 to 1.8 first)", e.Version)
	}
	return fmt.Sprintf("_metadata version %d is not known (this fsnap reads versions %d to %d)", e.Version, MinVersion, MaxVersion)
}

func (e *VersionError) Unwrap() error { return ErrUnsupportedVersion }

// ReadMetadata reads a whole _metadata file from r.
func ReadMetadata(r io.Reader) (*Metadata, error) {
	b, err := io.ReadAll(r)
	if err != nil {
		return nil, err
	}
	return ParseMetadata(b)
}

// ReadMetadataFile reads and parses the _metadata file at path (or the
// _metadata in the directory path), errors naming the file.
func ReadMetadataFile(path string) (*Metadata, error) {
	b, name, err := readMetadataBytes(path)
	if err != nil {
		return nil, err
	}
	m, err := ParseMetadata(b)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	return m, nil
}

// MaxMetadataFileSize bounds what ReadMetadataFile reads into memory.
const MaxMetadataFileSize = 4 << 30

// ParseMetadata parses the bytes of a _metadata file. The result aliases b
// (inline state and ASCII strings are not copied): do not modify b afterwards.
func ParseMetadata(b []byte) (*Metadata, error) {
	return ParseMetadataWith(b, ParseOptions{})
}

// ParseOptions change how ParseMetadataWith parses.
type ParseOptions struct {
	// Copy says what of the input the result may refer to. By default
	// strings and inline bytes point into it (do not modify it afterwards).
	Copy Copying
	// Consumed, with CopyAll, is called now and then with the length of
	// the input's prefix the parser is done with: the caller may free it.
	Consumed func(n int)
	// Parsed is called whenever the first n operators of m are complete,
	// so that a consumer (on another goroutine) can start on them while the
	// rest is parsed. m.Operators has its final length from the first call;
	// operators from n on and the other fields after the operators
	// (Properties) are being written until ParseMetadataWith returns. On an
	// error the partial m must be dropped.
	Parsed func(m *Metadata, n int)
}

// Copying is what a parse copies out of its input. Copying takes a little
// longer; a string repeated nearby is copied once, and handles naming the
// same file with the same size may then be one *FileHandle or
// *RelativeFileHandle (handles are never changed in place: a rewrite
// replaces them).
type Copying uint8

const (
	CopyNothing Copying = iota
	// CopyStrings copies the strings: a path or name kept from the result
	// does not hold the whole input, but inline state (and other bytes
	// fields) still points into it, so a file of inline state is not held
	// twice.
	CopyStrings
	// CopyAll copies everything the result keeps: the input may be reused
	// or freed, in part while parsing (ParseOptions.Consumed).
	CopyAll
)

// consumedStep is how far the parser goes between Consumed calls.
var consumedStep = 4 << 20 // a variable for the tests

// ParseMetadataWith is ParseMetadata with options.
func ParseMetadataWith(b []byte, o ParseOptions) (*Metadata, error) {
	p := parser{d: binio.NewDecoder(b, 0), parsed: o.Parsed}
	if o.Copy >= CopyStrings {
		p.own = newOwner(len(b))
	}
	if o.Copy == CopyAll {
		p.ownBytes, p.consumed = true, o.Consumed
	}
	m := p.metadata()
	if err := p.d.Err(); err != nil {
		var be *binio.Error
		if errors.As(err, &be) {
			return nil, &FormatError{Offset: be.Offset, Msg: be.Msg}
		}
		return nil, err
	}
	if p.verErr != nil {
		return nil, p.verErr
	}
	return m, nil
}

// PeekVersion returns the version of a _metadata file from its first 8 bytes.
func PeekVersion(b []byte) (int32, error) {
	if len(b) < 8 {
		return 0, &FormatError{Offset: int64(len(b)), Msg: "truncated: header needs 8 bytes"}
	}
	if m := binary.BigEndian.Uint32(b); m != Magic {
		return 0, &FormatError{Msg: fmt.Sprintf("bad magic %08x, want %08x: not a Flink _metadata file", m, Magic)}
	}
	return int32(binary.BigEndian.Uint32(b[4:])), nil
}

type parser struct {
	a       arena
	d       *binio.Decoder
	version int32
	verErr  error
	parsed  func(m *Metadata, n int)
	own     *owner // set to copy the strings the result keeps (ParseOptions.Copy)
	// ownBytes copies the bytes fields too (CopyAll).
	ownBytes bool

	consumed func(n int)
	released int // the prefix last reported to consumed
}

// utf reads a Java UTF string, copied when the parse copies strings.
func (p *parser) utf(what string) string {
	s := p.d.UTF(what)
	if p.own != nil {
		return p.own.str(s)
	}
	return s
}

// kept reads n bytes the result keeps, copied when the parse copies
// everything.
func (p *parser) kept(n int, what string) []byte {
	b := p.d.Bytes(n, what)
	if p.ownBytes {
		return p.own.bytes(b)
	}
	return b
}

// Minimum encoded sizes, used to bound counts before allocating.
const (
	minOperatorV2     = 16 + 4 + 4 + 4 + 4
	minOperatorV3     = 16 + 4 + 4 + 1 + 4
	minSubtaskV2      = 4 + 8 + 4 + 4 + 4 + 1 + 1
	minFinishedIndex  = 4
	minStreamHandle   = 1
	minNamedState     = 2 + 1 + 4
	minNamedHandle    = 2 + 1
	minChannelHandle  = 4 + 8 + 1 + 4
	minMasterState    = 4 + 4 + 4 + 2 + 4
	minKeyedHandle    = 1
	minStateChange    = 4 + 4
	minOffsetHandle   = 8 + 1
	masterStateMagic  = int32(-0x3694E96A) // 0xC96B1696
	partitionableCode = 4
	// fileMergingPartitionableCode is SEGMENT_PARTITIONABLE_OPERATOR_STATE_HANDLE.
	fileMergingPartitionableCode = 17
)

func (p *parser) metadata() *Metadata {
	d := p.d
	magic := uint32(d.I32("magic"))
	if d.Failed() {
		return nil
	}
	if magic != Magic {
		d.FailAt(0, "bad magic %08x, want %08x: not a Flink _metadata file", magic, Magic)
		return nil
	}
	p.version = d.I32("version")
	if d.Failed() {
		return nil
	}
	if p.version < MinVersion || p.version > MaxVersion {
		p.verErr = &VersionError{Version: p.version}
		return nil
	}
	m := &Metadata{Version: p.version}
	at := d.Offset()
	m.CheckpointID = d.I64("checkpoint id")
	if m.CheckpointID < 0 {
		d.FailAt(at, "negative checkpoint id %d", m.CheckpointID)
	}
	if n := d.Count("master state count", minMasterState); n > 0 {
		m.MasterStates = make([]MasterState, n)
		for i := range m.MasterStates {
			p.masterState(&m.MasterStates[i])
		}
	}
	minOp := minOperatorV3
	if p.version == 2 {
		minOp = minOperatorV2
	}
	if n := d.Count("operator count", minOp); n > 0 {
		m.Operators = make([]OperatorState, n)
		for i := range m.Operators {
			p.operator(&m.Operators[i])
			if d.Failed() {
				return nil
			}
			if p.parsed != nil {
				p.parsed(m, i+1)
			}
			if p.consumed != nil && d.Pos()-p.released >= consumedStep {
				p.released = d.Pos()
				p.consumed(p.released)
			}
		}
	}
	if d.Failed() {
		return nil
	}
	if p.version >= 4 {
		start := d.Offset()
		props, err := decodeProperties(d.Bytes(d.Remaining(), "properties"), start)
		if err != nil {
			var be *binio.Error
			if errors.As(err, &be) {
				d.FailAt(be.Offset, "checkpoint properties: %s", be.Msg)
			} else {
				d.Failf("checkpoint properties: %v", err)
			}
			return nil
		}
		m.Properties = props
		if p.own != nil { // a few hundred bytes: cloned whole
			m.Properties = cloneProperties(props)
		}
	} else if d.Remaining() > 0 {
		d.Failf("%d bytes after the last operator (version %d files end there)", d.Remaining(), p.version)
	}
	return m
}

func (p *parser) masterState(ms *MasterState) {
	d := p.d
	at := d.Offset()
	if magic := d.I32("master state magic"); magic != masterStateMagic && !d.Failed() {
		d.FailAt(at, "bad master state magic %08x, want c96b1696", uint32(magic))
		return
	}
	at = d.Offset()
	n := d.I32("master state length")
	if d.Failed() {
		return
	}
	if n <= 0 || int(n) > d.Remaining() {
		d.FailAt(at, "master state length %d outside 1..%d", n, d.Remaining())
		return
	}
	end := d.Pos() + int(n)
	ms.Version = d.I32("master state version")
	ms.Name = p.utf("master state name")
	ms.Payload = p.kept(d.Count("master state payload length", 1), "master state payload")
	if !d.Failed() && d.Pos() != end {
		d.Failf("master state block declares %d bytes but its fields end %d bytes from there", n, d.Pos()-(end-int(n)))
	}
}

func (p *parser) operator(op *OperatorState) {
	d := p.d
	if p.version >= 5 {
		op.Name = p.utf("operator name")
		op.UID = p.utf("operator uid")
	}
	copy(op.ID[:], d.Bytes(16, "operator id"))
	op.Parallelism = d.I32("parallelism")
	op.MaxParallelism = d.I32("max parallelism")
	if p.version == 2 {
		op.LegacyChainLength = d.I32("legacy chain length")
	} else {
		at := d.Offset()
		op.Coordinator = p.streamHandle("coordinator state")
		if op.Coordinator != nil && op.Coordinator.StreamType() != ByteStream {
			d.FailAt(at, "coordinator state is a %v handle; only inline bytes are allowed", op.Coordinator.StreamType())
		}
	}
	at := d.Offset()
	n := d.I32("subtask count")
	if d.Failed() {
		return
	}
	if n == -1 && p.version >= 3 {
		if op.Coordinator != nil {
			d.FailAt(at, "fully finished operator has coordinator state")
		}
		op.FullyFinished = true
		return
	}
	minSub := minFinishedIndex
	if p.version == 2 {
		minSub = minSubtaskV2
	}
	cnt := d.CheckCount(at, int64(n), "subtask count", minSub)
	if cnt <= 0 {
		return
	}
	op.Subtasks = p.a.subtasks.take(cnt)
	for i := range op.Subtasks {
		p.subtask(&op.Subtasks[i])
		if d.Failed() {
			return
		}
	}
}

func (p *parser) subtask(st *SubtaskState) {
	d := p.d
	at := d.Offset()
	st.Index = d.I32("subtask index")
	if p.version == 2 {
		st.Legacy = &LegacySubtask{Duration: d.I64("legacy duration")}
		if n := d.Count("legacy state count", minStreamHandle); n > 0 {
			st.Legacy.OperatorState = make([]StreamHandle, n)
			for i := range st.Legacy.OperatorState {
				st.Legacy.OperatorState[i] = p.streamHandle("legacy operator state")
			}
		}
	} else if st.Index < 0 {
		st.Finished = true
		st.Index = -st.Index - 1
		if st.Index < 0 {
			d.FailAt(at, "invalid finished subtask index")
		}
		return
	}
	if st.Index < 0 {
		d.FailAt(at, "negative subtask index %d", st.Index)
		return
	}
	st.ManagedOperatorState = p.optionalOperatorHandle("managed operator state")
	st.RawOperatorState = p.optionalOperatorHandle("raw operator state")
	st.ManagedKeyedState = p.keyedHandle("managed keyed state")
	st.RawKeyedState = p.keyedHandle("raw keyed state")
	if p.version >= 3 {
		in := p.channelHandles("input channel", true)
		out := p.channelHandles("result subpartition", false)
		if in != nil || out != nil {
			st.Channels = &ChannelState{InputChannels: in, ResultSubpartitions: out}
		}
	}
	if p.version >= 7 {
		at := d.Offset()
		switch d.U8("ref checkpoint id flag") {
		case 0:
		case 1:
			id := d.I64("ref checkpoint id")
			st.RefCheckpointID = &id
		default:
			d.FailAt(at, "ref checkpoint id flag must be 0 or 1")
		}
	}
}

func (p *parser) optionalOperatorHandle(what string) *OperatorStateHandle {
	d := p.d
	at := d.Offset()
	switch d.I32("presence") {
	case 0:
		return nil
	case 1:
		return p.operatorHandle(what)
	default:
		d.FailAt(at, "%s presence flag must be 0 or 1", what)
		return nil
	}
}

func (p *parser) operatorHandle(what string) *OperatorStateHandle {
	d := p.d
	at := d.Offset()
	code := d.U8("handle type")
	switch code {
	case 0:
		// NULL inside a present slot: Flink reads it as absent.
		if !d.Failed() {
			d.FailAt(at, "%s is flagged present but its handle is NULL", what)
		}
		return nil
	case partitionableCode, fileMergingPartitionableCode:
	default:
		d.FailAt(at, "unknown operator state handle type %d (want 4 or 17, partitionable)", code)
		return nil
	}
	h := p.a.opHandles.new()
	if n := d.Count("state count", minNamedState); n > 0 {
		h.States = p.a.opStates.take(n)
		for i := range h.States {
			s := &h.States[i]
			s.Name = p.utf("operator state name")
			mat := d.Offset()
			s.Mode = DistributionMode(d.U8("distribution mode"))
			if s.Mode > Broadcast && !d.Failed() {
				d.FailAt(mat, "unknown distribution mode %d", s.Mode)
			}
			s.Offsets = p.longs("operator state offsets")
		}
	}
	if code == fileMergingPartitionableCode {
		h.FileMerging = &FileMergingDirs{TaskOwnedDir: p.utf("task-owned dir"), SharedDir: p.utf("shared dir")}
		h.FileMerging.Empty = p.boolean("file-merging empty flag")
		dat := d.Offset()
		h.Delegate = p.streamHandle("stream")
		switch h.Delegate.(type) {
		case *SegmentFileHandle, *EmptySegmentFileHandle:
		default:
			if !d.Failed() {
				d.FailAt(dat, "%s: a file-merging operator state handle needs a segment file, not %s", what, streamTypeName(h.Delegate))
			}
		}
		return h
	}
	h.Delegate = p.streamHandle("stream")
	return h
}

// checkSize refuses a negative file size read at offset at.
func (p *parser) checkSize(at, size int64, what string) {
	if size < 0 && !p.d.Failed() {
		p.d.FailAt(at, "%s: negative file size %d", what, size)
	}
}

// boolean reads a Java boolean, refusing values other than 0 and 1 (which
// would not write back the same).
func (p *parser) boolean(what string) bool {
	at := p.d.Offset()
	switch v := p.d.U8(what); v {
	case 0:
		return false
	case 1:
		return true
	default:
		p.d.FailAt(at, "%s: boolean byte %d, want 0 or 1", what, v)
		return false
	}
}

func streamTypeName(h StreamHandle) string {
	if h == nil {
		return "NULL"
	}
	return h.StreamType().String()
}

// longs reads an i32 count and that many i64 values.
func (p *parser) longs(what string) []int64 {
	d := p.d
	n := d.Count("count", 8)
	if n <= 0 {
		return nil
	}
	raw := d.Bytes(8*n, what)
	out := p.a.longs.take(n)
	for i := range out {
		out[i] = int64(binary.BigEndian.Uint64(raw[8*i:]))
	}
	return out
}

func (p *parser) keyGroupRange(what string) KeyGroupRange {
	d := p.d
	at := d.Offset()
	r := KeyGroupRange{Start: d.I32("start key group"), Count: d.I32("key group count")}
	if !d.Failed() && (r.Start < 0 || r.Count < 0 || int64(r.Start)+int64(r.Count) > 1<<31) {
		d.FailAt(at, "%s: invalid key group range start %d count %d", what, r.Start, r.Count)
	}
	return r
}

func (p *parser) keyedHandle(what string) KeyedStateHandle {
	d := p.d
	at := d.Offset()
	code := KeyedHandleType(d.U8("handle type"))
	if d.Failed() {
		return nil
	}
	switch code {
	case KeyedNull:
		return nil
	case KeyGroupsHandleV1, SavepointKeyGroupsHandle, KeyGroupsHandleV2:
		return p.keyGroupsHandle(code, what)
	case IncrementalHandleV1, IncrementalHandleV2:
		return p.incrementalHandle(code, what)
	case ChangelogHandleV1, ChangelogHandleV2:
		return p.changelogHandle(code, what)
	case ChangelogByteIncrementHandle:
		return p.changelogBytesHandle(what)
	case ChangelogFileIncrementV1, ChangelogFileIncrementV2:
		return p.changelogFileHandle(code, what)
	}
	d.FailAt(at, "%s: unknown keyed state handle type %d", what, uint8(code))
	return nil
}

func (p *parser) keyGroupsHandle(code KeyedHandleType, what string) *KeyGroupsHandle {
	d := p.d
	h := p.a.keyGroups.new()
	h.Type = code
	h.Range = p.keyGroupRange(what)
	if d.Failed() {
		return nil
	}
	n := d.CheckCount(d.Offset(), int64(h.Range.Count), "key group offsets", 8)
	if n < 0 {
		return nil
	}
	raw := d.Bytes(8*n, "key group offsets")
	h.Offsets = p.a.longs.take(n)
	for i := range h.Offsets {
		h.Offsets[i] = int64(binary.BigEndian.Uint64(raw[8*i:]))
	}
	h.Delegate = p.streamHandle("stream")
	if code == KeyGroupsHandleV2 {
		h.HandleID = p.utf("state handle id")
	}
	return h
}

func (p *parser) incrementalHandle(code KeyedHandleType, what string) *IncrementalHandle {
	d := p.d
	h := p.a.incr.new()
	h.Type = code
	h.CheckpointID = d.I64("checkpoint id")
	h.BackendIdentifier = p.utf("backend identifier")
	h.Range = p.keyGroupRange(what)
	if code == IncrementalHandleV2 {
		h.CheckpointedSize = d.I64("checkpointed size")
	}
	h.MetaStateHandle = p.streamHandle("meta state")
	h.SharedState = p.namedHandles("shared state")
	h.PrivateState = p.namedHandles("private state")
	if code == IncrementalHandleV2 {
		h.HandleID = p.utf("state handle id")
	}
	return h
}

func (p *parser) namedHandles(what string) []NamedHandle {
	d := p.d
	n := d.Count("count", minNamedHandle)
	if n <= 0 {
		return nil
	}
	out := p.a.named.take(n)
	for i := range out {
		out[i].LocalPath = p.utf("local path")
		out[i].Handle = p.streamHandle("file")
		if d.Failed() {
			return nil
		}
	}
	return out
}

func (p *parser) changelogHandle(code KeyedHandleType, what string) *ChangelogHandle {
	d := p.d
	h := &ChangelogHandle{Type: code}
	h.Range = p.keyGroupRange(what)
	h.CheckpointedSize = d.I64("checkpointed size")
	h.Materialized = p.keyedHandles("materialized")
	nat := d.Offset()
	h.NonMaterialized = p.keyedHandles("non-materialized")
	for _, c := range h.NonMaterialized {
		switch c.(type) {
		case *ChangelogBytesHandle, *ChangelogFileHandle, nil:
		default:
			d.FailAt(nat, "%s: non-materialized handle of type %v", what, c.KeyedType())
		}
	}
	h.MaterializationID = d.I64("materialization id")
	if code == ChangelogHandleV2 {
		h.CheckpointID = d.I64("checkpoint id")
	}
	h.HandleID = p.utf("state handle id")
	return h
}

func (p *parser) keyedHandles(what string) []KeyedStateHandle {
	d := p.d
	n := d.Count("count", minKeyedHandle)
	if n <= 0 {
		return nil
	}
	out := make([]KeyedStateHandle, n)
	for i := range out {
		out[i] = p.keyedHandle(what)
		if d.Failed() {
			return nil
		}
	}
	return out
}

func (p *parser) changelogBytesHandle(what string) *ChangelogBytesHandle {
	d := p.d
	h := &ChangelogBytesHandle{}
	h.Range = p.keyGroupRange(what)
	h.From = d.I64("from sequence number")
	h.To = d.I64("to sequence number")
	if n := d.Count("change count", minStateChange); n > 0 {
		h.Changes = make([]StateChange, n)
		for i := range h.Changes {
			h.Changes[i].KeyGroup = d.I32("change key group")
			h.Changes[i].Data = p.kept(d.Count("change length", 1), "change bytes")
		}
	}
	h.HandleID = p.utf("state handle id")
	return h
}

func (p *parser) changelogFileHandle(code KeyedHandleType, what string) *ChangelogFileHandle {
	d := p.d
	h := &ChangelogFileHandle{Type: code}
	h.Range = p.keyGroupRange(what)
	if n := d.Count("handle count", minOffsetHandle); n > 0 {
		h.Handles = make([]OffsetHandle, n)
		for i := range h.Handles {
			h.Handles[i].Offset = d.I64("changelog offset")
			h.Handles[i].Handle = p.streamHandle("changelog file")
			if d.Failed() {
				return nil
			}
		}
	}
	h.StateSize = d.I64("state size")
	h.CheckpointedSize = d.I64("checkpointed size")
	h.HandleID = p.utf("state handle id")
	if code == ChangelogFileIncrementV2 {
		h.StorageIdentifier = p.utf("storage identifier")
	}
	return h
}

func (p *parser) streamHandle(what string) StreamHandle {
	d := p.d
	at := d.Offset()
	code := StreamHandleType(d.U8("handle type"))
	if d.Failed() {
		return nil
	}
	switch code {
	case StreamNull:
		return nil
	case ByteStream:
		h := p.a.bytes.new()
		h.Name = p.utf("handle name")
		h.Data = p.kept(d.Count("inline length", 1), "inline bytes")
		if h.Data == nil && !d.Failed() {
			h.Data = []byte{}
		}
		return h
	case FileStream:
		sat := d.Offset()
		h := FileHandle{Size: d.I64("file size"), Path: p.utf("file path")}
		p.checkSize(sat, h.Size, what)
		if p.own == nil {
			return newFile(&p.a.file, nil, 0, h)
		}
		return newFile(&p.a.file, p.own.files, slotOf(h.Path), h)
	case RelativeFileStream:
		h := RelativeFileHandle{RelativePath: p.utf("relative path")}
		sat := d.Offset()
		h.Size = d.I64("file size")
		p.checkSize(sat, h.Size, what)
		if p.own == nil {
			return newFile(&p.a.relative, nil, 0, h)
		}
		return newFile(&p.a.relative, p.own.relative, slotOf(h.RelativePath), h)
	case LegacyKeyGroups:
		return p.keyGroupsHandle(KeyGroupsHandleV1, what)
	case SegmentFile:
		h := &SegmentFileHandle{}
		sat := d.Offset()
		h.StartPos = d.I64("segment start")
		h.Size = d.I64("segment size")
		if (h.StartPos < 0 || h.Size < 0) && !d.Failed() {
			d.FailAt(sat, "%s: negative segment start %d or size %d", what, h.StartPos, h.Size)
		}
		cat := d.Offset()
		h.Scope = SegmentScope(d.I32("segment scope"))
		if h.Scope != SegmentExclusive && h.Scope != SegmentShared && !d.Failed() {
			d.FailAt(cat, "%s: unknown segment scope %d", what, h.Scope)
		}
		h.Path = p.utf("segment file path")
		h.LogicalFileID = p.utf("logical file id")
		return h
	case EmptySegmentFile:
		return &EmptySegmentFileHandle{}
	}
	d.FailAt(at, "%s: unknown stream state handle type %d", what, uint8(code))
	return nil
}

func (p *parser) channelHandles(what string, input bool) []ChannelStateHandle {
	d := p.d
	n := d.Count("handle count", minChannelHandle)
	if n <= 0 {
		return nil
	}
	out := make([]ChannelStateHandle, n)
	for i := range out {
		p.channelHandle(&out[i], what, input)
		if d.Failed() {
			return nil
		}
	}
	return out
}

func (p *parser) channelHandle(h *ChannelStateHandle, what string, input bool) {
	d := p.d
	if input {
		h.Type = InputChannelHandle
	} else {
		h.Type = ResultSubpartitionHandle
	}
	if p.version >= 6 {
		at := d.Offset()
		h.Type = ChannelHandleType(d.U8("handle type"))
		ok := (input && (h.Type == InputChannelHandle || h.Type == MergedInputChannelHandle)) ||
			(!input && (h.Type == ResultSubpartitionHandle || h.Type == MergedResultSubpartHandle))
		if !ok && !d.Failed() {
			d.FailAt(at, "%s: channel state handle type %d does not belong in this list", what, uint8(h.Type))
			return
		}
	}
	h.SubtaskIndex = d.I32("subtask index")
	if h.Type == MergedInputChannelHandle || h.Type == MergedResultSubpartHandle {
		h.StateSize = d.I64("state size")
		h.Delegate = p.streamHandle("stream")
		h.MergedOffsets = p.kept(d.Count("merged offsets length", 1), "merged offsets")
		if h.MergedOffsets == nil && !d.Failed() {
			h.MergedOffsets = []byte{}
		}
		return
	}
	h.Info[0] = d.I32("info")
	h.Info[1] = d.I32("info")
	h.Offsets = p.longs("offsets")
	h.StateSize = d.I64("state size")
	h.Delegate = p.streamHandle("stream")
}
