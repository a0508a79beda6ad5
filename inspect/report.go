// Package inspect turns a snapshot model into reports: the stable JSON
// document of `fsnap inspect -o json` (schema fsnap.inspect/v1) and its
// human rendering.
package inspect

import (
	"slices"
	"sort"
	"sync"

	"github.com/fsnap/fsnap/format"
	"github.com/fsnap/fsnap/format/state"
	"github.com/fsnap/fsnap/snapshot"
)

// Schema names the JSON document's version. Fields are only ever added.
const Schema = "fsnap.inspect/v1"

// Report is the document `fsnap inspect -o json` prints.
type Report struct {
	Schema       string         `json:"schema"`
	Snapshot     string         `json:"snapshot"`
	Metadata     MetadataInfo   `json:"metadata"`
	CheckpointID int64          `json:"checkpoint_id"`
	Kind         KindInfo       `json:"kind"`
	Backend      BackendInfo    `json:"state_backend"`
	Flink        FlinkRange     `json:"flink"`
	Properties   *Properties    `json:"properties"`
	MasterStates []MasterState  `json:"master_states"`
	Totals       Totals         `json:"totals"`
	Operators    []OperatorInfo `json:"operators"`
	// Files is present with --files.
	Files []FileInfo `json:"files,omitempty"`
	// RocksDB is present with --rocksdb.
	RocksDB *RocksDBReport `json:"rocksdb,omitempty"`
	// StateHeaders are the distinct state stream header versions found
	// (absent with --metadata-only): what a Flink release must read.
	StateHeaders *HeaderVersions `json:"state_headers,omitempty"`
}

// HeaderVersions are KeyedBackendSerializationProxy and
// OperatorBackendSerializationProxy versions.
type HeaderVersions struct {
	Keyed    []int32 `json:"keyed"`
	Operator []int32 `json:"operator"`
}

type MetadataInfo struct {
	Path    string `json:"path"`
	Bytes   int64  `json:"bytes"`
	Version int32  `json:"version"`
}

type KindInfo struct {
	Kind                 string   `json:"kind"`
	Source               string   `json:"source"`
	Alternatives         []string `json:"alternatives,omitempty"`
	Reason               string   `json:"reason"`
	TypeName             string   `json:"type_name,omitempty"`
	SharingFilesStrategy string   `json:"sharing_files_strategy,omitempty"`
	FormatType           string   `json:"format_type,omitempty"`
}

// BackendInfo names the state backend the keyed state comes from, as far
// as the handles (and, when read, the streams' layout) tell.
type BackendInfo struct {
	// Name is rocksdb, hashmap, changelog, canonical (any backend: the
	// savepoint format is backend-independent), "hashmap or rocksdb" when
	// only the stream layout would tell, or none.
	Name   string `json:"name"`
	Reason string `json:"reason"`
}

type FlinkRange struct {
	Range    string   `json:"range"`
	Min      string   `json:"min"`
	Max      string   `json:"max"`
	Open     bool     `json:"open"`
	Evidence []string `json:"evidence"`
}

// Properties are the CheckpointProperties flags (version 4+, not null).
type Properties struct {
	Forced           bool `json:"forced"`
	Unclaimed        bool `json:"unclaimed"`
	DiscardSubsumed  bool `json:"discard_subsumed"`
	DiscardFinished  bool `json:"discard_finished"`
	DiscardCancelled bool `json:"discard_cancelled"`
	DiscardFailed    bool `json:"discard_failed"`
	DiscardSuspended bool `json:"discard_suspended"`
}

type MasterState struct {
	Name    string `json:"name"`
	Version int32  `json:"version"`
	Bytes   int    `json:"bytes"`
}

type Totals struct {
	Operators     int   `json:"operators"`
	Subtasks      int   `json:"subtasks"`
	StateBytes    int64 `json:"state_bytes"`
	Files         int   `json:"files"`
	FileBytes     int64 `json:"file_bytes"`
	InlineStreams int   `json:"inline_streams"`
	InlineBytes   int64 `json:"inline_bytes"`
}

type OperatorInfo struct {
	ID string `json:"id"`
	// UID and Name are stored in version 5+ files only.
	UID               string     `json:"uid,omitempty"`
	Name              string     `json:"name,omitempty"`
	Parallelism       int32      `json:"parallelism"`
	MaxParallelism    int32      `json:"max_parallelism"`
	SubtasksWithState int        `json:"subtasks_with_state"`
	FinishedSubtasks  int        `json:"finished_subtasks"`
	FullyFinished     bool       `json:"fully_finished"`
	Bytes             StateBytes `json:"bytes"`
	Files             int        `json:"files"`
	// Handles lists the handle types in use, e.g. "managed-keyed:SAVEPOINT_KEY_GROUPS".
	Handles []string `json:"handles"`
	// States are read from the state files' headers (absent with
	// --metadata-only); entries and bytes come with --states.
	States []StateInfo `json:"states,omitempty"`
	// KeySerializer is the keyed state's key serializer, from the headers.
	KeySerializer *SerializerInfo `json:"key_serializer,omitempty"`
	// KeyGroups and Skew come with --states, for walked keyed streams.
	KeyGroups []KeyGroupInfo `json:"key_groups,omitempty"`
	Skew      *Skew          `json:"skew,omitempty"`
	// Notes say what could not be read (a missing file, an unknown
	// serializer) and what needs another flag.
	Notes []string `json:"notes,omitempty"`
}

type StateBytes struct {
	ManagedKeyed    int64 `json:"managed_keyed"`
	RawKeyed        int64 `json:"raw_keyed"`
	ManagedOperator int64 `json:"managed_operator"`
	RawOperator     int64 `json:"raw_operator"`
	Channel         int64 `json:"channel"`
	Coordinator     int64 `json:"coordinator"`
	Total           int64 `json:"total"`
}

type FileInfo struct {
	Path       string `json:"path,omitempty"`
	Relative   string `json:"relative,omitempty"`
	InlineName string `json:"inline_name,omitempty"`
	Bytes      int64  `json:"bytes"`
	Scope      string `json:"scope"`
	Unsafe     string `json:"unsafe,omitempty"`
	Users      []User `json:"users"`
}

type User struct {
	Operator string `json:"operator"` // operator id
	UID      string `json:"uid,omitempty"`
	Subtask  int32  `json:"subtask"` // -1 for coordinator state
	Slot     string `json:"slot"`
	Role     string `json:"role"`
}

// Options select optional parts of the report.
type Options struct {
	Files bool
	// States is what ReadStates found, one entry per operator; nil when the
	// state files were not read.
	States []OperatorStates
	// NoOperators leaves Report.Operators empty, for a caller that makes
	// the rows one at a time with Operator (a report of a million
	// operators is a third of a gigabyte).
	NoOperators bool
}

// Build makes the report of s.
func Build(s *snapshot.Snapshot, opt Options) *Report {
	var headers *HeaderVersions
	if opt.States != nil {
		headers = &HeaderVersions{Keyed: []int32{}, Operator: []int32{}}
		for _, st := range opt.States {
			for _, v := range st.headers.keyed {
				headers.Keyed = appendUnique(headers.Keyed, v)
			}
			for _, v := range st.headers.operator {
				headers.Operator = appendUnique(headers.Operator, v)
			}
		}
		slices.Sort(headers.Keyed)
		slices.Sort(headers.Operator)
		s.NarrowByHeaders(headers.Keyed, headers.Operator)
	}
	m := s.Metadata
	r := &Report{
		Schema:       Schema,
		Snapshot:     s.Dir,
		Metadata:     MetadataInfo{Path: s.Dir + "/" + format.MetadataFileName, Bytes: s.MetadataSize, Version: m.Version},
		StateHeaders: headers,
		CheckpointID: m.CheckpointID,
		Kind: KindInfo{Kind: string(s.Kind.Kind), Source: s.Kind.Source, Reason: s.Kind.Reason,
			TypeName: s.Kind.TypeName, SharingFilesStrategy: s.Kind.SharingFilesStrategy, FormatType: s.Kind.FormatType},
		Backend: backendOf(s, opt.States),
		Flink: FlinkRange{Range: s.Flink.String(), Min: s.Flink.Min.String(), Max: s.Flink.Max.String(),
			Open: s.Flink.Open, Evidence: s.Flink.Evidence},
		MasterStates: []MasterState{},
		Operators:    []OperatorInfo{},
	}
	if !opt.NoOperators {
		r.Operators = make([]OperatorInfo, 0, len(s.Operators))
	}
	for _, a := range s.Kind.Alternatives {
		r.Kind.Alternatives = append(r.Kind.Alternatives, string(a))
	}
	if p := m.Properties; p != nil && !p.Null {
		r.Properties = &Properties{Forced: p.Forced, Unclaimed: p.Unclaimed, DiscardSubsumed: p.DiscardSubsumed,
			DiscardFinished: p.DiscardFinished, DiscardCancelled: p.DiscardCancelled, DiscardFailed: p.DiscardFailed,
			DiscardSuspended: p.DiscardSuspended}
	}
	for _, ms := range m.MasterStates {
		r.MasterStates = append(r.MasterStates, MasterState{Name: ms.Name, Version: ms.Version, Bytes: len(ms.Payload)})
	}
	if !opt.NoOperators {
		for i := range s.Operators {
			r.Operators = append(r.Operators, Operator(s, opt, i))
		}
	}
	for _, op := range s.Operators {
		r.Totals.Subtasks += op.Subtasks
		r.Totals.StateBytes += op.Bytes.Total()
	}
	t := s.Totals()
	r.Totals.Operators = len(s.Operators)
	r.Totals.Files, r.Totals.FileBytes = t.Files, t.FileBytes
	r.Totals.InlineStreams, r.Totals.InlineBytes = t.Inline, t.InlineBytes
	if opt.Files {
		r.Files = []FileInfo{}
		for _, f := range s.Files {
			fi := FileInfo{Path: f.Path, Relative: f.Relative, InlineName: f.InlineName, Bytes: f.Size, Scope: string(f.Scope), Users: []User{}}
			if f.Unsafe != nil {
				fi.Unsafe = f.Unsafe.Error()
			}
			for _, u := range s.Users(f) {
				op := s.Operators[u.Operator]
				fi.Users = append(fi.Users, User{Operator: op.State.ID.String(), UID: op.UID, Subtask: u.Subtask, Slot: string(u.Slot), Role: u.Role})
			}
			r.Files = append(r.Files, fi)
		}
	}
	return r
}

// Operator is the report row of operator i of s, as Build makes it (with
// the opt given to Build).
func Operator(s *snapshot.Snapshot, opt Options, i int) OperatorInfo {
	op := &s.Operators[i]
	b := op.Bytes
	oi := OperatorInfo{
		ID: op.State.ID.String(), UID: op.UID, Name: op.Name,
		Parallelism: op.State.Parallelism, MaxParallelism: op.State.MaxParallelism,
		SubtasksWithState: op.Subtasks, FinishedSubtasks: op.Finished, FullyFinished: op.State.FullyFinished,
		Bytes: StateBytes{ManagedKeyed: b.ManagedKeyed, RawKeyed: b.RawKeyed, ManagedOperator: b.ManagedOperator,
			RawOperator: b.RawOperator, Channel: b.Channel, Coordinator: b.Coordinator, Total: b.Total()},
		Files:   op.Files,
		Handles: handleKinds(op.State),
	}
	if opt.States != nil {
		st := &opt.States[i]
		oi.States, oi.KeyGroups, oi.Skew, oi.Notes = st.states, st.keyGroups, st.skew, st.notes
		oi.KeySerializer = st.key
	}
	return oi
}

// backendOf tells the state backend from the keyed handles and, when the
// headers were read, the keyed streams' layout.
func backendOf(s *snapshot.Snapshot, states []OperatorStates) BackendInfo {
	n := func(ts ...format.KeyedHandleType) (c int) {
		for _, t := range ts {
			c += s.KeyedHandles[t]
		}
		return c
	}
	incremental := n(format.IncrementalHandleV1, format.IncrementalHandleV2)
	changelog := n(format.ChangelogHandleV1, format.ChangelogHandleV2)
	streams := n(format.KeyGroupsHandleV1, format.KeyGroupsHandleV2, format.SavepointKeyGroupsHandle)
	var heap, unified bool
	for _, st := range states {
		for _, l := range st.layouts {
			heap = heap || l == state.LayoutHeap
			unified = unified || l == state.LayoutUnified
		}
	}
	var b BackendInfo
	switch {
	case changelog > 0:
		b = BackendInfo{"changelog", "changelog state handles: the changelog state backend wraps another"}
		if incremental > 0 {
			b.Reason += " (rocksdb: its materialized state is incremental RocksDB)"
		}
	case incremental > 0:
		b = BackendInfo{"rocksdb", "RocksDB (incremental or native) state handles"}
	case streams == 0:
		b = BackendInfo{"none", "no keyed state"}
	case s.Kind.Kind == snapshot.CanonicalSavepoint:
		b = BackendInfo{"canonical", "a canonical savepoint: its format is the same for every backend"}
	case heap && !unified:
		b = BackendInfo{"hashmap", "the keyed streams have the heap backend's layout"}
	case unified && !heap:
		b = BackendInfo{"rocksdb", "the keyed streams have the key-value layout of RocksDB full snapshots"}
	case heap && unified:
		b = BackendInfo{"hashmap and rocksdb", "keyed streams of both layouts"}
	default:
		b = BackendInfo{"hashmap or rocksdb", "key-group stream handles; reading the streams' headers tells which"}
	}
	return b
}

// handleKinds lists "slot:TYPE" for every handle type an operator uses,
// sorted. The few distinct kinds are collected before any string is made
// (an operator may have thousands of subtasks), and the lists are shared:
// a snapshot of a million operators uses a handful of them.
func handleKinds(op *format.OperatorState) []string {
	var set kindSet
	if op.Coordinator != nil {
		set.add("coordinator", streamType(op.Coordinator))
	}
	for i := range op.Subtasks {
		st := &op.Subtasks[i]
		if st.ManagedOperatorState != nil {
			set.add("managed-operator", streamType(st.ManagedOperatorState.Delegate))
		}
		if st.RawOperatorState != nil {
			set.add("raw-operator", streamType(st.RawOperatorState.Delegate))
		}
		if st.ManagedKeyedState != nil {
			set.add("managed-keyed", st.ManagedKeyedState.KeyedType().String())
		}
		if st.RawKeyedState != nil {
			set.add("raw-keyed", st.RawKeyedState.KeyedType().String())
		}
		for _, c := range st.InputChannels() {
			set.add("input-channel", c.Type.String())
		}
		for _, c := range st.ResultSubpartitions() {
			set.add("result-subpartition", c.Type.String())
		}
	}
	if set.more == nil {
		if out, ok := kindLists.Load(set.few); ok {
			return out.([]string)
		}
	}
	out := make([]string, 0, set.few.n+len(set.more))
	for _, k := range append(set.few.k[:set.few.n:set.few.n], set.more...) {
		out = append(out, k.slot+":"+k.typ)
	}
	sort.Strings(out)
	if set.more == nil {
		kindLists.Store(set.few, out)
	}
	return out
}

// kindLists holds the sorted lists of handleKinds by their kinds (documents
// are not changed after they are built, so rows share them).
var kindLists sync.Map // fewKinds → []string

type handleKind struct{ slot, typ string }

// kindSet is a set of handle kinds: the first few in a comparable array
// (the cache's key), the rest (rare, and then not cached) in more.
type kindSet struct {
	few  fewKinds
	more []handleKind
}

type fewKinds struct {
	n int
	k [6]handleKind
}

func (s *kindSet) add(slot, typ string) {
	k := handleKind{slot, typ}
	if slices.Contains(s.few.k[:s.few.n], k) || slices.Contains(s.more, k) {
		return
	}
	if s.few.n < len(s.few.k) {
		s.few.k[s.few.n] = k
		s.few.n++
		return
	}
	s.more = append(s.more, k)
}

func streamType(h format.StreamHandle) string {
	if h == nil {
		return format.StreamNull.String()
	}
	return h.StreamType().String()
}
