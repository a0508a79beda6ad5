package verify

import (
	"encoding/json"
	"fmt"
	"sort"
	"strings"
)

// Schema names the JSON document of `fsnap verify -o json`. Fields are only
// ever added.
const Schema = "fsnap.verify/v1"

// Severity says how bad a finding is.
type Severity int

const (
	Info    Severity = 1 // worth knowing; nothing is wrong
	Warning Severity = 2 // a restore may work, but not everywhere or not as expected
	Error   Severity = 3 // a restore fails or loses state
)

var severityNames = map[Severity]string{Info: "info", Warning: "warning", Error: "error"}

func (s Severity) String() string { return enumName(s, severityNames, "Severity") }

// ParseSeverity parses "error", "warning" or "info".
func ParseSeverity(s string) (Severity, error) {
	for v, name := range severityNames {
		if strings.EqualFold(s, name) {
			return v, nil
		}
	}
	return 0, fmt.Errorf("unknown severity %q (want error, warning or info)", s)
}

// enumName is the name of an enum value from its table, or TYPE(n).
func enumName[T ~int](v T, names map[T]string, typ string) string {
	name, ok := names[v]
	if !ok {
		name = fmt.Sprintf("%s(%d)", typ, int(v))
	}
	return name
}

func (s Severity) MarshalJSON() ([]byte, error) { return json.Marshal(s.String()) }

func (s *Severity) UnmarshalJSON(b []byte) error {
	var str string
	if err := json.Unmarshal(b, &str); err != nil {
		return err
	}
	v, err := ParseSeverity(str)
	*s = v
	return err
}

// Code is a finding's stable identifier; scripts may match on it. The table
// in the package documentation lists every code.
type Code string

// Finding codes. Keep the package documentation's table in step.
const (
	// Presence and size.
	FileMissing     Code = "file-missing"
	FileTruncated   Code = "file-truncated"
	FileSizeDiffers Code = "file-size-mismatch"
	FileNotChecked  Code = "file-not-checked"
	StoreError      Code = "store-error"

	// Relocatability.
	NotRelocatableAbsolute    Code = "not-relocatable-absolute-path"
	NotRelocatableEntropy     Code = "not-relocatable-entropy-path"
	NotRelocatableShared      Code = "not-relocatable-shared"
	NotRelocatableTaskOwned   Code = "not-relocatable-task-owned"
	NotRelocatableChangelog   Code = "not-relocatable-changelog"
	NotRelocatableFileMerging Code = "not-relocatable-file-merging"

	// Path safety.
	UnsafeRelativePath Code = "unsafe-relative-path"
	FileOutsideRoot    Code = "file-outside-root"
	UnsafeAbsolutePath Code = "unsafe-absolute-path"

	// Key groups.
	KeyGroupsGap           Code = "key-groups-gap"
	KeyGroupsOverlap       Code = "key-groups-overlap"
	KeyGroupsOutOfRange    Code = "key-groups-out-of-range"
	KeyedSubtaskNoState    Code = "keyed-subtask-without-state"
	KeyGroupOffsetOutside  Code = "key-group-offset-out-of-file"
	KeyGroupOffsetsOrder   Code = "key-group-offsets-not-increasing"
	KeyGroupOffsetInHeader Code = "key-group-offset-in-header"
	KeyGroupExtent         Code = "key-group-extent-mismatch"
	KeyInWrongGroup        Code = "key-in-wrong-key-group"
	OperatorOffsetOutside  Code = "operator-offset-out-of-file"

	// Consistency.
	ParallelismExceedsMax  Code = "parallelism-exceeds-max"
	ParallelismInvalid     Code = "parallelism-invalid"
	MaxParallelismInvalid  Code = "max-parallelism-invalid"
	DuplicateOperator      Code = "duplicate-operator"
	OperatorUIDMismatch    Code = "operator-uid-mismatch"
	SubtaskIndexOutOfRange Code = "subtask-index-out-of-range"
	DuplicateSubtask       Code = "duplicate-subtask"
	OperatorFinished       Code = "operator-finished"
	SavepointChannelState  Code = "savepoint-channel-state"
	OperatorPartlyFinished Code = "operator-partially-finished"

	// State streams.
	HeaderUnreadable       Code = "header-unreadable"
	HeaderUnknownClass     Code = "unsupported-serializer"
	HeaderUnsupported      Code = "unsupported-header-version"
	OperatorStatesMismatch Code = "operator-states-mismatch"
	StreamCorrupt          Code = "stream-corrupt"
	StreamNotWalkable      Code = "unsupported-value-format"
	StreamReadError        Code = "stream-read-error"
	SnappyChecksum         Code = "snappy-checksum"
	SnappyCorrupt          Code = "snappy-corrupt"
	RawKeyedTimersCorrupt  Code = "raw-keyed-timers-corrupt"
	TimersUnsupported      Code = "unsupported-timer-format"
	RocksDBFilesIncomplete Code = "rocksdb-files-incomplete"
	RocksDBCurrentMismatch Code = "rocksdb-current-mismatch"
	RocksDBSSTCorrupt      Code = "rocksdb-sst-corrupt"
	RocksDBInstanceCorrupt Code = "rocksdb-instance-corrupt"
	RocksDBNotOpened       Code = "rocksdb-not-opened"
)

// codeSeverity is every code's default severity.
var codeSeverity = map[Code]Severity{
	FileMissing: Error, FileTruncated: Error, FileSizeDiffers: Error, FileNotChecked: Warning, StoreError: Error,
	NotRelocatableAbsolute: Warning, NotRelocatableEntropy: Warning, NotRelocatableShared: Warning,
	NotRelocatableTaskOwned: Warning, NotRelocatableChangelog: Warning, NotRelocatableFileMerging: Warning,
	UnsafeRelativePath: Error, UnsafeAbsolutePath: Error, FileOutsideRoot: Error,
	KeyGroupsGap: Error, KeyGroupsOverlap: Error, KeyGroupsOutOfRange: Error, KeyedSubtaskNoState: Info,
	KeyGroupOffsetOutside: Error, KeyGroupOffsetsOrder: Error, KeyGroupOffsetInHeader: Error, KeyGroupExtent: Error, KeyInWrongGroup: Error,
	OperatorOffsetOutside: Error,
	ParallelismExceedsMax: Error, ParallelismInvalid: Error, MaxParallelismInvalid: Error, DuplicateOperator: Error,
	OperatorUIDMismatch: Warning, SubtaskIndexOutOfRange: Error, DuplicateSubtask: Error,
	OperatorFinished: Info, OperatorPartlyFinished: Info, SavepointChannelState: Error,
	RocksDBFilesIncomplete: Error, RocksDBCurrentMismatch: Error, RocksDBSSTCorrupt: Error,
	RocksDBInstanceCorrupt: Error, RocksDBNotOpened: Warning,
	OperatorStatesMismatch: Error, HeaderUnreadable: Error, HeaderUnknownClass: Warning, HeaderUnsupported: Warning,
	StreamCorrupt: Error, StreamNotWalkable: Warning, TimersUnsupported: Warning, SnappyChecksum: Error, SnappyCorrupt: Error,
	RawKeyedTimersCorrupt: Error, StreamReadError: Error,
}

// Codes lists every code with its default severity, for documentation and
// tests.
func Codes() map[Code]Severity {
	m := make(map[Code]Severity, len(codeSeverity))
	for c, s := range codeSeverity {
		m[c] = s
	}
	return m
}

// IsRelocatability reports whether c is one of the not-relocatable-* codes.
func (c Code) IsRelocatability() bool { return strings.HasPrefix(string(c), "not-relocatable-") }

// Finding is one problem or fact verify found, with what it concerns.
type Finding struct {
	Severity Severity `json:"severity"`
	Code     Code     `json:"code"`
	Message  string   `json:"message"`

	// Operator is the operator's id (32 hex digits); UID and Name are
	// added when the file stores them. Empty for snapshot-wide findings.
	Operator     string `json:"operator,omitempty"`
	OperatorUID  string `json:"operator_uid,omitempty"`
	OperatorName string `json:"operator_name,omitempty"`
	// Subtask is the subtask index; nil when the finding is not about one.
	Subtask *int32 `json:"subtask,omitempty"`
	// Slot is the place of the handle in the subtask (managed-keyed, ...).
	Slot string `json:"slot,omitempty"`
	// File is the file (as a path or URL), or "inline:<handle name>" for
	// bytes inside _metadata.
	File string `json:"file,omitempty"`
	// Users counts the handles that use File, when more than one.
	Users int `json:"users,omitempty"`
	// KeyGroup and Offset locate the finding inside a state stream.
	KeyGroup *int32 `json:"key_group,omitempty"`
	Offset   *int64 `json:"offset,omitempty"`
	// Relocate says what `fsnap migrate relocate` does about a
	// not-relocatable handle.
	Relocate string `json:"relocate,omitempty"`

	opIndex int // for ordering; -1 when not about an operator
}

// Report is the result of Check and the document `fsnap verify -o json`
// prints.
type Report struct {
	Schema   string `json:"schema"`
	Snapshot string `json:"snapshot"`
	Kind     string `json:"kind"`
	// MetadataVersion is the _metadata format version.
	MetadataVersion int32 `json:"metadata_version"`
	// Level is what was checked: "files", "headers" or "deep".
	Level string `json:"level"`
	// Relocatable says every handle is inline or relative to the snapshot
	// directory, so the directory can be moved as it is; PinnedFiles
	// counts the files named by an absolute path that pin it.
	Relocatable bool `json:"relocatable"`
	PinnedFiles int  `json:"pinned_files"`
	// SelfContainedIn is the root every file had to lie under
	// (Options.SelfContainedIn), where the file-outside-root findings
	// replace the not-relocatable-* ones.
	SelfContainedIn string  `json:"self_contained_in,omitempty"`
	Checked         Checked `json:"checked"`
	// Counts are the findings per severity.
	Counts   Counts    `json:"counts"`
	Findings []Finding `json:"findings"`
}

// Checked says how much was checked.
type Checked struct {
	Operators int   `json:"operators"`
	Handles   int   `json:"handles"`    // stream handles (files and inline streams) reached from _metadata
	Files     int   `json:"files"`      // distinct files whose presence and size were checked
	FileBytes int64 `json:"file_bytes"` // their recorded sizes
	// FilesPresent counts the files found with their recorded sizes; the
	// others have a finding (missing, truncated, other size, store error).
	FilesPresent int `json:"files_present"`
	// Streams whose headers were decoded (keyed, operator, RocksDB meta).
	Headers int `json:"headers"`
	// Deep walks: streams read to their end, bytes and entries read.
	StreamsWalked int   `json:"streams_walked"`
	BytesWalked   int64 `json:"bytes_walked"`
	Entries       int64 `json:"entries"`
	// NotReadable counts streams whose format fsnap cannot check (raw
	// state written by user code, channel state, coordinator state).
	Opaque int `json:"opaque_streams"`
}

// Counts are findings per severity.
type Counts struct {
	Error   int `json:"error"`
	Warning int `json:"warning"`
	Info    int `json:"info"`
}

// Max is the highest severity found, 0 when there are no findings.
func (r *Report) Max() Severity {
	switch {
	case r.Counts.Error > 0:
		return Error
	case r.Counts.Warning > 0:
		return Warning
	case r.Counts.Info > 0:
		return Info
	}
	return 0
}

// Fails reports whether a finding at or above threshold exists.
func (r *Report) Fails(threshold Severity) bool { return r.Max() >= threshold && r.Max() != 0 }

// Has reports whether a finding with code c exists.
func (r *Report) Has(c Code) bool {
	for _, f := range r.Findings {
		if f.Code == c {
			return true
		}
	}
	return false
}

// CodeCounts counts findings per code.
func (r *Report) CodeCounts() map[Code]int {
	m := map[Code]int{}
	for _, f := range r.Findings {
		m[f.Code]++
	}
	return m
}

// finish sorts findings (most severe first, then by code, operator, subtask,
// file, key group) and counts them.
func (r *Report) finish() {
	sort.SliceStable(r.Findings, func(i, j int) bool {
		a, b := &r.Findings[i], &r.Findings[j]
		if a.Severity != b.Severity {
			return a.Severity > b.Severity
		}
		if a.Code != b.Code {
			return a.Code < b.Code
		}
		if a.opIndex != b.opIndex {
			return a.opIndex < b.opIndex
		}
		if sa, sb := sub(a.Subtask), sub(b.Subtask); sa != sb {
			return sa < sb
		}
		if a.File != b.File {
			return a.File < b.File
		}
		return sub(a.KeyGroup) < sub(b.KeyGroup)
	})
	r.Counts = Counts{}
	for _, f := range r.Findings {
		switch f.Severity {
		case Error:
			r.Counts.Error++
		case Warning:
			r.Counts.Warning++
		case Info:
			r.Counts.Info++
		}
	}
	if r.Findings == nil {
		r.Findings = []Finding{}
	}
}

func sub(p *int32) int64 {
	if p == nil {
		return -1
	}
	return int64(*p)
}

func i32p(v int32) *int32 { return &v }
func i64p(v int64) *int64 { return &v }
