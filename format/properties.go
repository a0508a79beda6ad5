package format

// CheckpointProperties is the trailer of version 4+ files: a
// java.io.ObjectOutputStream holding one
// org.apache.flink.runtime.checkpoint.CheckpointProperties (or null).
type CheckpointProperties struct {
	// Raw is the Java serialization stream as read. When non-nil the writer
	// emits it verbatim; when nil it encodes the fields below.
	Raw []byte

	// Null is set when the stream holds a Java null (the State Processor API
	// writes that); the remaining fields are then zero.
	Null bool

	DiscardSubsumed  bool
	DiscardFinished  bool
	DiscardCancelled bool
	DiscardFailed    bool
	DiscardSuspended bool
	Forced           bool
	Unclaimed        bool

	Type SnapshotType
}

// SnapshotType is the checkpointType field: a CheckpointType or a SavepointType.
type SnapshotType struct {
	// Savepoint is true for org.apache.flink.runtime.checkpoint.SavepointType,
	// false for CheckpointType.
	Savepoint bool
	// Name is the type's name: "Checkpoint", "Full Checkpoint", "Savepoint",
	// "Suspend Savepoint", "Terminate Savepoint", …
	Name string
	// SharingFilesStrategy (CheckpointType): FORWARD_BACKWARD, FORWARD or
	// NO_SHARING. Savepoints share nothing: NO_SHARING.
	SharingFilesStrategy string
	// FormatType (SavepointType): CANONICAL or NATIVE.
	FormatType string
	// PostCheckpointAction (SavepointType): NONE, SUSPEND or TERMINATE.
	PostCheckpointAction string
}

// NewSavepointProperties are the properties Flink writes for a savepoint
// (`flink savepoint`) of the given format, CANONICAL or NATIVE.
func NewSavepointProperties(formatType string) *CheckpointProperties {
	return &CheckpointProperties{Forced: true, Type: SnapshotType{Savepoint: true, Name: "Savepoint",
		SharingFilesStrategy: "NO_SHARING", FormatType: formatType, PostCheckpointAction: "NONE"}}
}

// NewCheckpointProperties are the properties of a periodic checkpoint
// retained on cancellation and failure.
func NewCheckpointProperties() *CheckpointProperties {
	return &CheckpointProperties{DiscardSubsumed: true, DiscardFinished: true, DiscardCancelled: true,
		DiscardFailed: true, DiscardSuspended: true,
		Type: SnapshotType{Name: "Checkpoint", SharingFilesStrategy: "FORWARD_BACKWARD"}}
}
