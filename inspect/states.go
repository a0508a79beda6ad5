package inspect

import (
	"context"
	"errors"
	"fmt"
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
}

type headerVersions struct{ keyed, operator []int32 }

// job is one stream to read.
type job struct {
	op      int
	subtask int32
	slot    snapshot.Slot
	keyed   *format.KeyGroupsHandle     // unified or heap keyed stream
	native  *format.IncrementalHandle   // RocksDB native: header only
	opState *format.OperatorStateHandle // operator state
	// changelog marks non-materialized changelog changes, which are not read.
	changelog bool
}

// result is what one job found.
type result struct {
	job
	keyedHeader *state.KeyedHeader
	opHeader    *state.OperatorHeader
	keyedSizes  *state.KeyedSizes
	opSizes     []state.OperatorStateSize
	err         error
}

// ReadStates reads the state headers (and with Walk the streams) of every
// operator of s. Errors of single streams are notes, not failures: inspect
// shows what it can; verify judges.
func ReadStates(ctx context.Context, s *snapshot.Snapshot, src *source.Source, opt StatesOptions) []OperatorStates {
	var jobs []job
	for i, op := range s.Operators {
		for j := range op.State.Subtasks {
			st := &op.State.Subtasks[j]
			if st.Finished {
				continue
			}
			if st.ManagedOperatorState != nil {
				jobs = append(jobs, job{op: i, subtask: st.Index, slot: snapshot.SlotManagedOperator, opState: st.ManagedOperatorState})
			}
			if st.ManagedKeyedState != nil {
				jobs = append(jobs, keyedJobs(i, st.Index, st.ManagedKeyedState)...)
			}
		}
	}
	results := make([]result, len(jobs))
	par := max(opt.Parallel, 1)
	sem := make(chan struct{}, par)
	var wg sync.WaitGroup
	for i := range jobs {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer func() { <-sem; wg.Done() }()
			results[i] = readJob(ctx, s, src, jobs[i], opt.Walk)
		}()
	}
	wg.Wait()
	return mergeResults(s, results, opt.Walk)
}

func keyedJobs(op int, sub int32, h format.KeyedStateHandle) []job {
	switch h := h.(type) {
	case *format.KeyGroupsHandle:
		return []job{{op: op, subtask: sub, slot: snapshot.SlotManagedKeyed, keyed: h}}
	case *format.IncrementalHandle:
		return []job{{op: op, subtask: sub, slot: snapshot.SlotManagedKeyed, native: h}}
	case *format.ChangelogHandle:
		var out []job
		for _, m := range h.Materialized {
			if m != nil {
				out = append(out, keyedJobs(op, sub, m)...)
			}
		}
		if len(h.NonMaterialized) > 0 {
			out = append(out, job{op: op, subtask: sub, slot: snapshot.SlotManagedKeyed, changelog: true})
		}
		return out
	}
	return nil
}

// maxHeaderBytes bounds a RocksDB meta state handle read into memory.
const maxHeaderBytes = 64 << 20

func readJob(ctx context.Context, s *snapshot.Snapshot, src *source.Source, j job, walk bool) result {
	r := result{job: j}
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
		r.keyedHeader = ks.Header
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

func mergeResults(s *snapshot.Snapshot, results []result, walk bool) []OperatorStates {
	out := make([]OperatorStates, len(s.Operators))
	type key struct{ slot, name string }
	index := make([]map[key]int, len(s.Operators))
	subtaskBytes := make([]map[int32]int64, len(s.Operators))
	groupBytes := make([]map[int32]*KeyGroupInfo, len(s.Operators))
	for i := range out {
		index[i] = map[key]int{}
		subtaskBytes[i] = map[int32]int64{}
		groupBytes[i] = map[int32]*KeyGroupInfo{}
	}
	add := func(op int, slot snapshot.Slot, m *state.StateMeta) *StateInfo {
		k := key{string(slot), m.Name}
		o := &out[op]
		i, ok := index[op][k]
		if !ok {
			i = len(o.states)
			index[op][k] = i
			o.states = append(o.states, StateInfo{Name: m.Name, Type: m.Kind(), Slot: string(slot), Serializers: serializers(m)})
			if walk {
				o.states[i].Entries, o.states[i].Bytes = new(int64), new(int64)
			}
		}
		o.states[i].Subtasks++
		return &o.states[i]
	}
	for _, r := range results {
		o := &out[r.op]
		if r.err != nil {
			o.notes = append(o.notes, fmt.Sprintf("subtask %d %s: %v", r.subtask, r.slot, r.err))
		}
		if h := r.keyedHeader; h != nil {
			o.headers.keyed = appendUnique(o.headers.keyed, h.Version)
			if o.key == nil && h.KeySerializer != nil {
				k := serializerInfo(h.KeySerializer)
				k.Role = state.KeySerializerKey
				o.key = &k
			}
			for i := range h.States {
				si := add(r.op, r.slot, &h.States[i])
				if r.keyedSizes != nil {
					e, b := r.keyedSizes.StateTotal(i)
					*si.Entries += e
					*si.Bytes += b
					subtaskBytes[r.op][r.subtask] += b
				}
			}
			if r.native != nil && walk {
				o.notes = appendUnique(o.notes, "RocksDB native state: entries and bytes per state need --rocksdb")
			}
			if ks := r.keyedSizes; ks != nil {
				for g := 0; g < ks.NumKeyGroups; g++ {
					e, b := ks.GroupTotal(g)
					if e == 0 {
						continue
					}
					kg := ks.FirstKeyGroup + int32(g)
					gi := groupBytes[r.op][kg]
					if gi == nil {
						gi = &KeyGroupInfo{KeyGroup: kg}
						groupBytes[r.op][kg] = gi
					}
					gi.Entries += e
					gi.Bytes += b
				}
			}
		}
		if h := r.opHeader; h != nil {
			o.headers.operator = appendUnique(o.headers.operator, h.Version)
			for _, metas := range [][]state.StateMeta{h.OperatorStates, h.BroadcastStates} {
				for i := range metas {
					si := add(r.op, r.slot, &metas[i])
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
		for i := range out {
			for _, g := range groupBytes[i] {
				out[i].keyGroups = append(out[i].keyGroups, *g)
			}
			sort.Slice(out[i].keyGroups, func(a, b int) bool { return out[i].keyGroups[a].KeyGroup < out[i].keyGroups[b].KeyGroup })
			out[i].skew = skewOf(subtaskBytes[i], out[i].keyGroups)
		}
	}
	return out
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
