package format

import "iter"

// KeyedHandleType is the type byte of a keyed state handle in _metadata
// (MetadataV2V3SerializerBase).
type KeyedHandleType uint8

const (
	KeyedNull                    KeyedHandleType = 0
	KeyGroupsHandleV1            KeyedHandleType = 3  // KeyGroupsStateHandle, pre-1.15 writers
	IncrementalHandleV1          KeyedHandleType = 5  // IncrementalRemoteKeyedStateHandle, no checkpointed size
	SavepointKeyGroupsHandle     KeyedHandleType = 7  // KeyGroupsSavepointStateHandle (canonical savepoints, 1.13+)
	ChangelogHandleV1            KeyedHandleType = 8  // ChangelogStateBackendHandleImpl
	ChangelogByteIncrementHandle KeyedHandleType = 9  // InMemoryChangelogStateHandle
	ChangelogFileIncrementV1     KeyedHandleType = 10 // ChangelogStateHandleStreamImpl
	IncrementalHandleV2          KeyedHandleType = 11 // IncrementalRemoteKeyedStateHandle with checkpointed size and id
	KeyGroupsHandleV2            KeyedHandleType = 12 // KeyGroupsStateHandle with state handle id
	ChangelogFileIncrementV2     KeyedHandleType = 13 // ChangelogStateHandleStreamImpl with storage id
	ChangelogHandleV2            KeyedHandleType = 14 // ChangelogStateBackendHandleImpl with checkpoint id
)

var keyedHandleNames = map[KeyedHandleType]string{
	KeyedNull:                    "NULL",
	KeyGroupsHandleV1:            "KEY_GROUPS",
	IncrementalHandleV1:          "INCREMENTAL_KEY_GROUPS",
	SavepointKeyGroupsHandle:     "SAVEPOINT_KEY_GROUPS",
	ChangelogHandleV1:            "CHANGELOG",
	ChangelogByteIncrementHandle: "CHANGELOG_BYTE_INCREMENT",
	ChangelogFileIncrementV1:     "CHANGELOG_FILE_INCREMENT",
	IncrementalHandleV2:          "INCREMENTAL_KEY_GROUPS_V2",
	KeyGroupsHandleV2:            "KEY_GROUPS_V2",
	ChangelogFileIncrementV2:     "CHANGELOG_FILE_INCREMENT_V2",
	ChangelogHandleV2:            "CHANGELOG_V2",
}

func (t KeyedHandleType) String() string { return enumName(t, keyedHandleNames, "KeyedHandleType") }

// StreamHandleType is the type byte of a stream state handle.
type StreamHandleType uint8

const (
	StreamNull         StreamHandleType = 0
	ByteStream         StreamHandleType = 1  // ByteStreamStateHandle: bytes inline in _metadata
	FileStream         StreamHandleType = 2  // FileStateHandle: absolute path
	LegacyKeyGroups    StreamHandleType = 3  // KeyGroupsStateHandle nested as a stream handle
	RelativeFileStream StreamHandleType = 6  // RelativeFileStateHandle: path relative to the snapshot directory
	SegmentFile        StreamHandleType = 15 // SegmentFileStateHandle: a range of a merged file (file merging, 1.20+)
	EmptySegmentFile   StreamHandleType = 16 // EmptySegmentFileStateHandle: placeholder of file merging
)

var streamHandleNames = map[StreamHandleType]string{
	StreamNull:         "NULL",
	ByteStream:         "BYTE_STREAM",
	FileStream:         "FILE",
	LegacyKeyGroups:    "KEY_GROUPS",
	RelativeFileStream: "RELATIVE_FILE",
	SegmentFile:        "SEGMENT_FILE",
	EmptySegmentFile:   "EMPTY_SEGMENT_FILE",
}

func (t StreamHandleType) String() string { return enumName(t, streamHandleNames, "StreamHandleType") }

// StreamHandle is a handle to a stream of bytes: *ByteStreamHandle,
// *FileHandle, *RelativeFileHandle, *SegmentFileHandle,
// *EmptySegmentFileHandle or (legacy nesting) *KeyGroupsHandle.
type StreamHandle interface {
	StreamType() StreamHandleType
	// StateSize is the stream's length in bytes.
	StateSize() int64
}

// ByteStreamHandle holds a stream inline in _metadata.
type ByteStreamHandle struct {
	// Name is opaque (a UUID, a would-be path, an operator id); never a path
	// to resolve.
	Name string
	Data []byte
}

// FileHandle names a file by absolute path (URI string).
type FileHandle struct {
	Path string
	Size int64
}

// RelativeFileHandle names a file relative to the snapshot directory.
type RelativeFileHandle struct {
	RelativePath string
	Size         int64
}

// SegmentScope is the scope of a file-merging segment (CheckpointedStateScope).
type SegmentScope int32

const (
	SegmentExclusive SegmentScope = 0
	SegmentShared    SegmentScope = 1
)

var segmentScopeNames = map[SegmentScope]string{SegmentExclusive: "EXCLUSIVE", SegmentShared: "SHARED"}

func (s SegmentScope) String() string { return enumName(s, segmentScopeNames, "SegmentScope") }

// SegmentFileHandle is a range of a physical file that file merging (Flink
// 1.20+) shares between logical state files.
type SegmentFileHandle struct {
	StartPos      int64
	Size          int64
	Scope         SegmentScope
	Path          string // absolute path of the physical file
	LogicalFileID string
}

// EmptySegmentFileHandle is file merging's placeholder for an empty stream.
type EmptySegmentFileHandle struct{}

func (*SegmentFileHandle) StreamType() StreamHandleType      { return SegmentFile }
func (h *SegmentFileHandle) StateSize() int64                { return h.Size }
func (*EmptySegmentFileHandle) StreamType() StreamHandleType { return EmptySegmentFile }
func (*EmptySegmentFileHandle) StateSize() int64             { return 0 }

func (*ByteStreamHandle) StreamType() StreamHandleType   { return ByteStream }
func (*FileHandle) StreamType() StreamHandleType         { return FileStream }
func (*RelativeFileHandle) StreamType() StreamHandleType { return RelativeFileStream }
func (h *ByteStreamHandle) StateSize() int64             { return int64(len(h.Data)) }
func (h *FileHandle) StateSize() int64                   { return h.Size }
func (h *RelativeFileHandle) StateSize() int64           { return h.Size }

// KeyedStateHandle is a keyed state handle: *KeyGroupsHandle,
// *IncrementalHandle, *ChangelogHandle, *ChangelogBytesHandle or
// *ChangelogFileHandle.
type KeyedStateHandle interface {
	KeyedType() KeyedHandleType
	KeyGroups() KeyGroupRange
}

// KeyGroupsHandle is a key-grouped stream with one offset per key group
// (types 3, 7, 12; and stream type 3 when nested as a stream handle).
type KeyGroupsHandle struct {
	Type     KeyedHandleType // 3, 7 or 12
	Range    KeyGroupRange
	Offsets  []int64 // Offsets[i] is the position of key group Range.Start+i in Delegate
	Delegate StreamHandle
	// HandleID is the state handle id (type 12 only).
	HandleID string
}

func (h *KeyGroupsHandle) KeyedType() KeyedHandleType   { return h.Type }
func (h *KeyGroupsHandle) KeyGroups() KeyGroupRange     { return h.Range }
func (h *KeyGroupsHandle) StreamType() StreamHandleType { return LegacyKeyGroups }
func (h *KeyGroupsHandle) StateSize() int64 {
	if h.Delegate == nil {
		return 0
	}
	return h.Delegate.StateSize()
}

// NamedHandle is a RocksDB file of an incremental handle: its local name in
// the instance directory (000010.sst, CURRENT, MANIFEST-000005, …) and where
// it is stored.
type NamedHandle struct {
	LocalPath string
	Handle    StreamHandle
}

// IncrementalHandle is a RocksDB native snapshot (types 5 and 11).
type IncrementalHandle struct {
	Type              KeyedHandleType // 5 or 11
	CheckpointID      int64
	BackendIdentifier string
	Range             KeyGroupRange
	CheckpointedSize  int64        // type 11 only
	MetaStateHandle   StreamHandle // the serialization proxy naming the column families
	SharedState       []NamedHandle
	PrivateState      []NamedHandle
	HandleID          string // type 11 only
}

func (h *IncrementalHandle) KeyedType() KeyedHandleType { return h.Type }
func (h *IncrementalHandle) KeyGroups() KeyGroupRange   { return h.Range }

// Files yields the instance's files, SharedState's first, each with
// whether it is shared; the pointer is into the list, to read or replace
// the entry in place.
func (h *IncrementalHandle) Files() iter.Seq2[*NamedHandle, bool] {
	return func(yield func(*NamedHandle, bool) bool) {
		for part, files := range [2][]NamedHandle{h.SharedState, h.PrivateState} {
			for i := range files {
				if !yield(&files[i], part == 0) {
					return
				}
			}
		}
	}
}

// ChangelogHandle is the changelog backend's handle (types 8 and 14): a
// materialized base plus non-materialized changes.
type ChangelogHandle struct {
	Type              KeyedHandleType // 8 or 14
	Range             KeyGroupRange
	CheckpointedSize  int64
	Materialized      []KeyedStateHandle // nil entries are NULL handles kept as written
	NonMaterialized   []KeyedStateHandle
	MaterializationID int64
	CheckpointID      int64 // type 14 only
	HandleID          string
}

func (h *ChangelogHandle) KeyedType() KeyedHandleType { return h.Type }
func (h *ChangelogHandle) KeyGroups() KeyGroupRange   { return h.Range }

// StateChange is one change record of an in-memory changelog handle.
type StateChange struct {
	KeyGroup int32 // -1 for a metadata change
	Data     []byte
}

// ChangelogBytesHandle holds changelog changes inline (type 9).
type ChangelogBytesHandle struct {
	Range    KeyGroupRange
	From, To int64 // sequence numbers
	Changes  []StateChange
	HandleID string
}

func (h *ChangelogBytesHandle) KeyedType() KeyedHandleType { return ChangelogByteIncrementHandle }
func (h *ChangelogBytesHandle) KeyGroups() KeyGroupRange   { return h.Range }

// OffsetHandle is a changelog file and the offset of the changes in it.
type OffsetHandle struct {
	Offset int64
	Handle StreamHandle
}

// ChangelogFileHandle refers to changelog changes stored in files (types 10 and 13).
type ChangelogFileHandle struct {
	Type              KeyedHandleType // 10 or 13
	Range             KeyGroupRange
	Handles           []OffsetHandle
	StateSize         int64
	CheckpointedSize  int64
	HandleID          string
	StorageIdentifier string // type 13 only
}

func (h *ChangelogFileHandle) KeyedType() KeyedHandleType { return h.Type }
func (h *ChangelogFileHandle) KeyGroups() KeyGroupRange   { return h.Range }

// DistributionMode is how operator state is redistributed on restore.
type DistributionMode uint8

const (
	SplitDistribute DistributionMode = 0
	Union           DistributionMode = 1
	Broadcast       DistributionMode = 2
)

var distributionModeNames = map[DistributionMode]string{SplitDistribute: "SPLIT_DISTRIBUTE", Union: "UNION", Broadcast: "BROADCAST"}

func (m DistributionMode) String() string {
	return enumName(m, distributionModeNames, "DistributionMode")
}

// OperatorStateHandle is a partitionable operator state handle (type 4, or
// 17 with file merging): named states with element offsets into one stream.
type OperatorStateHandle struct {
	States   []NamedOperatorState // in file order (a Java HashMap's order)
	Delegate StreamHandle
	// FileMerging is set for file-merging handles (type 17, Flink 1.20+),
	// whose delegate is a segment file.
	FileMerging *FileMergingDirs
}

// FileMergingDirs are the directories of a file-merging operator state handle.
type FileMergingDirs struct {
	TaskOwnedDir string
	SharedDir    string
	Empty        bool // an EmptyFileMergingOperatorStreamStateHandle
}

// NamedOperatorState is one operator state's entry in an OperatorStateHandle.
type NamedOperatorState struct {
	Name    string
	Mode    DistributionMode
	Offsets []int64
}

// ChannelHandleType is the type byte of a channel state handle (version 6+).
// Versions 3 to 5 have no type byte: their handles are InputChannelHandle or
// ResultSubpartitionHandle by the list they are in.
type ChannelHandleType uint8

const (
	InputChannelHandle        ChannelHandleType = 1
	ResultSubpartitionHandle  ChannelHandleType = 2
	MergedInputChannelHandle  ChannelHandleType = 3
	MergedResultSubpartHandle ChannelHandleType = 4
)

var channelHandleNames = map[ChannelHandleType]string{InputChannelHandle: "INPUT_CHANNEL", ResultSubpartitionHandle: "RESULT_SUBPARTITION", MergedInputChannelHandle: "MERGED_INPUT_CHANNEL", MergedResultSubpartHandle: "MERGED_RESULT_SUBPARTITION"}

func (t ChannelHandleType) String() string {
	return enumName(t, channelHandleNames, "ChannelHandleType")
}

// ChannelStateHandle is the in-flight data of unaligned checkpoints.
type ChannelStateHandle struct {
	Type         ChannelHandleType
	SubtaskIndex int32
	// Info is (gate, channel) for input channels and (partition,
	// subpartition) for result subpartitions; unused by merged handles.
	Info      [2]int32
	Offsets   []int64 // unmerged handles
	StateSize int64
	Delegate  StreamHandle
	// MergedOffsets is the serialized channel offsets of merged handles, kept opaque.
	MergedOffsets []byte
}
