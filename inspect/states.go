package inspect

import (
	"context"
	"errors"
	"fmt"
	"runtime"
	"slices"
	"sort"
	"sync"

	"github.com/fsnap/fsnap/format"
	"github.com/fsnap/fsnap/format/state"
	"github.com/fsnap/fsnap/snapshot"
	"github.com/fsnap/fsnap/snapshot/source"
)

// StateInfo is one state an operator holds, merged over its subtasks.
type StateInfo struct {
	Name string `json:"name"`
	// Type is VALUE, LIST, MAP, REDUCING, AGGREGATING, PRIORITY_QUEUE
	// (timers) for keyed state; SPLIT_DISTRIBUTE, UNION or BROADCAST for
	// operator state.
	Type        string           `json:"type"`
	Slot        string           `json:"slot"`
	Serializers []SerializerInfo `json:"serializers"`
	// Subtasks is how many subtasks' headers name the state.
	Subtasks int `json:"subtasks"`
	// Entries and Bytes are set when the streams were walked (--states):
	// entries (keyed), elements (list) or map entries (broadcast), and
	// their serialized bytes.
	Entries *int64 `json:"entries,omitempty"`
	Bytes   *int64 `json:"bytes,omitempty"`
}

// SerializerInfo is a serializer snapshot, as a tree.
type SerializerInfo struct {
	Role    string           `json:"role,omitempty"` // VALUE_SERIALIZER, NAMESPACE_SERIALIZER, KEY_SERIALIZER; "" when nested
	Class   string           `json:"class"`
	Short   string           `json:"short"`
	Version int32            `json:"version"`
	Nested  []SerializerInfo `json:"nested,omitempty"`
	// Params are the snapshot's named string parameters (typeClass,
	// pojoClass, caseClass, schema, fieldName, registeredClass, …),
	// repeated ones joined by commas.
	Params map[string]string `json:"params,omitempty"`
	// Opaque: fsnap skipped the payload (a class it does not decode, where
	// framing gave its extent). DerivedFrom: the Java serializer class the
	// snapshot was derived from (headers of Flink ≤ 1.6).
	Opaque      bool   `json:"opaque,omitempty"`
	DerivedFrom string `json:"derived_from,omitempty"`
}

// KeyGroupInfo is a key group's entries and bytes (--states).
type KeyGroupInfo struct {
	KeyGroup int32 `json:"key_group"`
	Entries  int64 `json:"entries"`
	Bytes    int64 `json:"bytes"`
}

// Skew compares the largest subtask and key group with the median.
type Skew struct {
	LargestSubtask       int32   `json:"largest_subtask"`
	LargestSubtaskBytes  int64   `json:"largest_subtask_bytes"`
	MedianSubtaskBytes   int64   `json:"median_subtask_bytes"`
	SubtaskRatio         float64 `json:"subtask_ratio"`
	LargestKeyGroup      int32   `json:"largest_key_group"`
	LargestKeyGroupBytes int64   `json:"largest_key_group_bytes"`
	MedianKeyGroupBytes  int64   `json:"median_key_group_bytes"`
	KeyGroupRatio        float64 `json:"key_group_ratio"`
}

// StatesOptions say how much of the state files to read.
type StatesOptions struct {
	// Walk reads every keyed and operator stream to count entries and bytes
	// per state and key group; otherwise only headers are read.
	Walk bool
	// Parallel is how many streams are read at once.
	Parallel int
}

// OperatorStates is what reading one operator's state files found; Build
// puts it into the report.
type OperatorStates struct {
	states    []StateInfo
	keyGroups []KeyGroupInfo // walked keyed streams, non-empty groups
	skew      *Skew
	notes     []string
	headers   headerVersions
	key       *SerializerInfo // the keyed state's key serializer
	layouts   []state.Layout  // of the keyed streams opened
}

type headerVersions struct{ keyed, operator []int32 }

// job is one stream to read. (Kept small: a large checkpoint has one per
// subtask, hundreds of thousands.)
type job struct {
	op      int32
	subtask int32
	keyed   *format.KeyGroupsHandle     // unified or heap keyed stream
	native  *format.IncrementalHandle   // RocksDB native: header only
	opState *format.OperatorStateHandle // operator state
	// changelog marks non-materialized changelog changes, which are not read.
	changelog bool
}

func (j *job) slot() snapshot.Slot {
	if j.opState != nil {
		return snapshot.SlotManagedOperator
	}
	return snapshot.SlotManagedKeyed
}

// result is what reading one stream found.
type result struct {
	keyedHeader *state.KeyedHeader
	layout      state.Layout
	opHeader    *state.OperatorHeader
	keyedSizes  *state.KeyedSizes
	opSizes     []state.OperatorStateSize
	err         error
}

// ReadStates reads the state headers (and with Walk the streams) of every
// operator of s. Errors of single streams are notes, not failures: inspect
// shows what it can; verify judges.
func ReadStates(ctx context.Context, s *snapshot.Snapshot, src *source.Source, opt StatesOptions) []OperatorStates {
	out := make([]OperatorStates, len(s.Operators))
	// A large snapshot's operators are split into a run per core, each
	// with its share of the parallel reads: finding the distinct streams
	// and merging the results is per handle, and a 100 MB _metadata holds
	// a million of them.
	parts := 1
	if len(s.Operators) >= splitMin {
		parts = max(1, min(runtime.GOMAXPROCS(0), opt.Parallel))
	}
	if parts == 1 {
		readStates(ctx, s, src, opt, 0, len(s.Operators), out)
		return out
	}
	opt.Parallel = max(1, opt.Parallel/parts)
	var wg sync.WaitGroup
	for p := range parts {
		lo, hi := p*len(s.Operators)/parts, (p+1)*len(s.Operators)/parts
		wg.Go(func() { readStates(ctx, s, src, opt, lo, hi, out) })
	}
	wg.Wait()
	return out
}

// splitMin is the operator count from which ReadStates splits the work (a
// variable for the tests).
var splitMin = 1024

// readStates reads the states of operators lo to hi (exclusive) into out.
func readStates(ctx context.Context, s *snapshot.Snapshot, src *source.Source, opt StatesOptions, lo, hi int, out []OperatorStates) {
	n := 0
	for _, op := range s.Operators[lo:hi] {
		n += len(op.State.Subtasks)
	}
	jobs := make([]job, 0, n)
	for i := lo; i < hi; i++ {
		op := s.Operators[i]
		for j := range op.State.Subtasks {
			st := &op.State.Subtasks[j]
			if st.Finished {
				continue
			}
			if st.ManagedOperatorState != nil {
				jobs = append(jobs, job{op: int32(i), subtask: st.Index, opState: st.ManagedOperatorState})
			}
			if st.ManagedKeyedState != nil {
				jobs = appendKeyedJobs(jobs, int32(i), st.Index, st.ManagedKeyedState)
			}
		}
	}
	// Headers are read once per distinct stream: many handles may name the
	// same stream (a rescaled or repeated job), and a 100 MB _metadata
	// holds hundreds of thousands of handles over a few files.
	results := make([]*result, len(jobs)) // shared by the jobs of one stream
	var distinct []int
	seen := map[streamKey]int{}
	for i, j := range jobs {
		k, ok := j.streamKey(s, opt.Walk)
		if f, dup := seen[k]; ok && dup && sameGroups(jobs[f].keyed, j.keyed) {
			results[i] = results[f]
			continue
		} else if ok && !dup {
			seen[k] = i
		}
		results[i] = &result{}
		distinct = append(distinct, i)
	}
	work := make(chan int)
	var wg sync.WaitGroup
	for range min(max(opt.Parallel, 1), len(distinct)) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range work {
				*results[i] = readJob(ctx, s, src, jobs[i], opt.Walk)
			}
		}()
	}
	for _, i := range distinct {
		work <- i
	}
	close(work)
	wg.Wait()
	mergeResults(s, jobs, results, opt.Walk, out)
}

// streamKey names the bytes a job reads and what else its header read
// depends on.
type streamKey struct {
	stream snapshot.Stream
	maxPar int32
	groups uint64 // hash of a keyed stream's key-group offsets
}

func groupsHash(h *format.KeyGroupsHandle) uint64 {
	x := uint64(14695981039346656037) ^ uint64(h.Range.Start)
	for _, o := range h.Offsets {
		x = (x ^ uint64(o)) * 1099511628211
	}
	return x
}

// sameGroups tells equal key-group offsets apart from a hash collision.
func sameGroups(a, b *format.KeyGroupsHandle) bool {
	return a == nil && b == nil || a != nil && b != nil && a.Range.Start == b.Range.Start && slices.Equal(a.Offsets, b.Offsets)
}

// streamKey is the key of the stream a header-only job reads; ok is false
// when the job's result depends on more than the stream (a walk follows the
// handle's key-group offsets).
func (j job) streamKey(s *snapshot.Snapshot, walk bool) (k streamKey, ok bool) {
	var h format.StreamHandle
	switch {
	case j.native != nil:
		h = j.native.MetaStateHandle
	case walk || j.changelog:
		return k, false
	case j.keyed != nil:
		// The key groups' offsets bound the header and show the layout.
		h, k.maxPar, k.groups = j.keyed.Delegate, s.Operators[j.op].State.MaxParallelism, groupsHash(j.keyed)
	case j.opState != nil:
		h = j.opState.Delegate
	}
	k.stream = s.StreamOf(h)
	return k, k.stream.File != nil || k.stream.Inline != nil
}

func appendKeyedJobs(jobs []job, op, sub int32, h format.KeyedStateHandle) []job {
	switch h := h.(type) {
	case *format.KeyGroupsHandle:
		return append(jobs, job{op: op, subtask: sub, keyed: h})
	case *format.IncrementalHandle:
		return append(jobs, job{op: op, subtask: sub, native: h})
	case *format.ChangelogHandle:
		for _, m := range h.Materialized {
			if m != nil {
				jobs = appendKeyedJobs(jobs, op, sub, m)
			}
		}
		if len(h.NonMaterialized) > 0 {
			jobs = append(jobs, job{op: op, subtask: sub, changelog: true})
		}
	}
	return jobs
}

// maxHeaderBytes bounds a RocksDB meta state handle read into memory.
const maxHeaderBytes = 64 << 20

func readJob(ctx context.Context, s *snapshot.Snapshot, src *source.Source, j job, walk bool) result {
	var r result
	op := s.Operators[j.op].State
	switch {
	case j.changelog:
		r.err = errors.New("changelog changes not yet materialized are not read (their format is not specified)")
	case j.native != nil:
		meta, err := src.ReadAll(ctx, j.native.MetaStateHandle, maxHeaderBytes)
		if err != nil {
			r.err = err
			return r
		}
		r.keyedHeader, r.err = state.ReadKeyedHeader(meta, 0)
	case j.keyed != nil:
		st, err := src.Open(ctx, j.keyed.Delegate)
		if err != nil {
			r.err = err
			return r
		}
		defer st.Close()
		ks, err := state.OpenKeyed(st, st.Size, state.KeyGroupsOf(j.keyed), state.KeyedOptions{Name: st.Name, MaxParallelism: op.MaxParallelism})
		if err != nil {
			r.err = err
			return r
		}
		r.keyedHeader, r.layout = ks.Header, ks.Layout
		if walk {
			r.keyedSizes, r.err = ks.Sizes()
		}
	case j.opState != nil:
		st, err := src.Open(ctx, j.opState.Delegate)
		if err != nil {
			r.err = err
			return r
		}
		defer st.Close()
		os, err := state.OpenOperator(st, st.Size, j.opState.States, st.Name)
		if err != nil {
			r.err = err
			return r
		}
		r.opHeader = os.Header
		if walk {
			r.opSizes, r.err = os.Sizes()
		}
	}
	return r
}

func mergeResults(s *snapshot.Snapshot, jobs []job, results []*result, walk bool, out []OperatorStates) {
	// Per operator, made when a walk first needs them.
	type acc struct {
		subtaskBytes map[int32]int64
		groupBytes   map[int32]*KeyGroupInfo
	}
	accs := make([]*acc, len(s.Operators))
	accOf := func(op int) *acc {
		if accs[op] == nil {
			accs[op] = &acc{subtaskBytes: map[int32]int64{}, groupBytes: map[int32]*KeyGroupInfo{}}
		}
		return accs[op]
	}
	// One serializer tree per header state: operators reading the same
	// stream share it (documents are not changed after they are built).
	trees := map[*state.StateMeta][]SerializerInfo{}
	// measured: the stream is walked here (RocksDB native state needs
	// --rocksdb: its entries and bytes stay unknown, not zero).
	add := func(op int, slot snapshot.Slot, m *state.StateMeta, measured bool) *StateInfo {
		o := &out[op]
		// An operator holds a few states: a scan beats a map per operator.
		i := slices.IndexFunc(o.states, func(st StateInfo) bool { return st.Name == m.Name && st.Slot == string(slot) })
		if i < 0 {
			i = len(o.states)
			ser, ok := trees[m]
			if !ok {
				ser = serializers(m)
				trees[m] = ser
			}
			o.states = append(o.states, StateInfo{Name: m.Name, Type: m.Kind(), Slot: string(slot), Serializers: ser})
		}
		si := &o.states[i]
		if walk && measured && si.Entries == nil {
			si.Entries, si.Bytes = new(int64), new(int64)
		}
		si.Subtasks++
		return si
	}
	keys := map[*state.KeyedHeader]*SerializerInfo{}
	for ji, r := range results {
		j := jobs[ji]
		o := &out[j.op]
		if r.err != nil {
			o.notes = append(o.notes, fmt.Sprintf("subtask %d %s: %v", j.subtask, j.slot(), r.err))
		}
		if h := r.keyedHeader; h != nil {
			o.headers.keyed = appendUnique(o.headers.keyed, h.Version)
			if r.layout != 0 {
				o.layouts = appendUnique(o.layouts, r.layout)
			}
			if o.key == nil && h.KeySerializer != nil {
				k, ok := keys[h]
				if !ok {
					info := serializerInfo(h.KeySerializer)
					info.Role = state.KeySerializerKey
					k = &info
					keys[h] = k
				}
				o.key = k
			}
			if o.states == nil { // the stream's states are usually all of them
				o.states = make([]StateInfo, 0, len(h.States))
			}
			for i := range h.States {
				si := add(int(j.op), j.slot(), &h.States[i], j.native == nil)
				if r.keyedSizes != nil {
					e, b := r.keyedSizes.StateTotal(i)
					*si.Entries += e
					*si.Bytes += b
					accOf(int(j.op)).subtaskBytes[j.subtask] += b
				}
			}
			if j.native != nil && walk {
				o.notes = appendUnique(o.notes, "RocksDB native state: entries and bytes per state need --rocksdb")
			}
			if ks := r.keyedSizes; ks != nil {
				groups := accOf(int(j.op)).groupBytes
				for g := 0; g < ks.NumKeyGroups; g++ {
					e, b := ks.GroupTotal(g)
					if e == 0 {
						continue
					}
					kg := ks.FirstKeyGroup + int32(g)
					gi := groups[kg]
					if gi == nil {
						gi = &KeyGroupInfo{KeyGroup: kg}
						groups[kg] = gi
					}
					gi.Entries += e
					gi.Bytes += b
				}
			}
		}
		if h := r.opHeader; h != nil {
			o.headers.operator = appendUnique(o.headers.operator, h.Version)
			if o.states == nil {
				o.states = make([]StateInfo, 0, len(h.OperatorStates)+len(h.BroadcastStates))
			}
			for _, metas := range [][]state.StateMeta{h.OperatorStates, h.BroadcastStates} {
				for i := range metas {
					si := add(int(j.op), j.slot(), &metas[i], true)
					for _, sz := range r.opSizes {
						if sz.Name == metas[i].Name {
							*si.Entries += sz.Elements
							*si.Bytes += sz.Bytes
						}
					}
				}
			}
		}
	}
	if walk {
		for i, a := range accs {
			if a == nil {
				continue
			}
			for _, g := range a.groupBytes {
				out[i].keyGroups = append(out[i].keyGroups, *g)
			}
			sort.Slice(out[i].keyGroups, func(x, y int) bool { return out[i].keyGroups[x].KeyGroup < out[i].keyGroups[y].KeyGroup })
			out[i].skew = skewOf(a.subtaskBytes, out[i].keyGroups)
		}
	}
}

func appendUnique[T comparable](s []T, v T) []T {
	if slices.Contains(s, v) {
		return s
	}
	return append(s, v)
}

func serializers(m *state.StateMeta) []SerializerInfo {
	out := make([]SerializerInfo, 0, len(m.Serializers))
	for _, ns := range m.Serializers {
		si := serializerInfo(ns.Snapshot)
		si.Role = ns.Key
		out = append(out, si)
	}
	return out
}

func serializerInfo(s *state.Snapshot) SerializerInfo {
	if s == nil {
		return SerializerInfo{Class: "null", Short: "null"}
	}
	si := SerializerInfo{Class: s.Class, Short: s.ShortClass(), Version: s.Version, Opaque: s.Opaque, DerivedFrom: s.Derived}
	var params func([]state.Part)
	params = func(ps []state.Part) {
		for _, p := range ps {
			switch p.Kind {
			case state.PartUTF, state.PartStringValue:
				if si.Params == nil {
					si.Params = map[string]string{}
				}
				if old, ok := si.Params[p.Name]; ok {
					si.Params[p.Name] = old + "," + p.Str
				} else {
					si.Params[p.Name] = p.Str
				}
			case state.PartFramed:
				params(p.Sub)
			}
		}
	}
	params(s.Parts)
	for _, n := range s.Nested() {
		si.Nested = append(si.Nested, serializerInfo(n))
	}
	return si
}

// skewOf compares the largest subtask and key group (by walked bytes) with
// the median; nil when nothing keyed was walked.
func skewOf(subtasks map[int32]int64, groups []KeyGroupInfo) *Skew {
	if len(subtasks) == 0 || len(groups) == 0 {
		return nil
	}
	sk := &Skew{}
	var sb []int64
	for idx, b := range subtasks {
		sb = append(sb, b)
		if b > sk.LargestSubtaskBytes || (b == sk.LargestSubtaskBytes && idx < sk.LargestSubtask) {
			sk.LargestSubtask, sk.LargestSubtaskBytes = idx, b
		}
	}
	sk.MedianSubtaskBytes = median(sb)
	var gb []int64
	for _, g := range groups {
		gb = append(gb, g.Bytes)
		if g.Bytes > sk.LargestKeyGroupBytes {
			sk.LargestKeyGroup, sk.LargestKeyGroupBytes = g.KeyGroup, g.Bytes
		}
	}
	sk.MedianKeyGroupBytes = median(gb)
	sk.SubtaskRatio = ratio(sk.LargestSubtaskBytes, sk.MedianSubtaskBytes)
	sk.KeyGroupRatio = ratio(sk.LargestKeyGroupBytes, sk.MedianKeyGroupBytes)
	return sk
}

func median(v []int64) int64 {
	slices.Sort(v)
	return v[len(v)/2]
}

func ratio(a, b int64) float64 {
	if b == 0 {
		return 0
	}
	return float64(a) / float64(b)
}

// Load builds the report of the snapshot at ref (a directory, _metadata
// file or URL) with its state headers read (streams walked with
// opt.Walk): what compat and diff decide on.
func Load(ctx context.Context, ref string, opt StatesOptions) (*Report, error) {
	s, src, err := source.Load(ctx, ref)
	if err != nil {
		return nil, err
	}
	defer src.Close()
	return Build(s, Options{States: ReadStates(ctx, s, src, opt)}), nil
}
