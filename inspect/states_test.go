package inspect

import (
	"context"
	"reflect"
	"strings"
	"testing"

	"github.com/fsnap/fsnap/format"
	"github.com/fsnap/fsnap/internal/corpus"
	"github.com/fsnap/fsnap/snapshot"
	"github.com/fsnap/fsnap/snapshot/source"
)

func walk(t *testing.T, e corpus.Entry) (*snapshot.Snapshot, []OperatorStates) {
	t.Helper()
	ctx := context.Background()
	s, src, err := source.Load(ctx, e.Dir)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(src.Close)
	return s, ReadStates(ctx, s, src, StatesOptions{Walk: true, Parallel: 4})
}

// stateOf finds operator uid's state name in the walked states.
func stateOf(s *snapshot.Snapshot, states []OperatorStates, uid, name string) *StateInfo {
	id := format.OperatorIDFromUID(uid)
	for i, op := range s.Operators {
		if op.State.ID != id {
			continue
		}
		for j := range states[i].states {
			if states[i].states[j].Name == name {
				return &states[i].states[j]
			}
		}
	}
	return nil
}

// Ground truth §1: state-name holds 4 keys per flat map and timely operator,
// each timer service 4 event-time and 4 processing-time timers, each source
// 4 strings; every version and backend whose streams Flink wrote itself.
func TestStatesOfStatefulUDFFamily(t *testing.T) {
	n := 0
	for _, e := range corpus.Require(t) {
		if !strings.HasPrefix(e.Name, "new-stateful-udf-") {
			continue
		}
		if e.Name == "new-stateful-udf-migration-itcase-flink1.17-hashmap-checkpoint" {
			// A changelog checkpoint whose keyed state is all in
			// non-materialized changes, which fsnap does not decode.
			s, states := walk(t, e)
			if st := stateOf(s, states, "CheckpointingSource1", "source-state"); st == nil || *st.Entries != 4 {
				t.Errorf("%s: source-state %+v", e.Name, st)
			}
			n++
			continue
		}
		s, states := walk(t, e)
		native := false
		for _, op := range s.Operators {
			for _, st := range op.State.Subtasks {
				if _, ok := st.ManagedKeyedState.(*format.IncrementalHandle); ok {
					native = true
				}
			}
		}
		for _, c := range []struct {
			uid, state, typ string
			entries         int64
			keyed           bool
		}{
			{"CheckpointingKeyedStateFlatMap1", "state-name", "VALUE", 4, true},
			{"CheckpointingKeyedStateFlatMap2", "state-name", "VALUE", 4, true},
			{"CheckpointingTimelyStatefulOperator1", "state-name", "VALUE", 4, true},
			{"CheckpointingTimelyStatefulOperator1", "_timer_state/event_timer", "PRIORITY_QUEUE", 4, true},
			{"CheckpointingTimelyStatefulOperator1", "_timer_state/processing_timer", "PRIORITY_QUEUE", 4, true},
			{"CheckpointingTimelyStatefulOperator2", "_timer_state/event_timer", "PRIORITY_QUEUE", 4, true},
			{"CheckpointingSource1", "source-state", "SPLIT_DISTRIBUTE", 4, false},
			{"CheckpointingSource2", "source-state", "UNION", 4, false},
		} {
			st := stateOf(s, states, c.uid, c.state)
			if st == nil {
				// RocksDB timers in heap timer configurations, and states of
				// Flink 1.8-1.9 savepoints, are named differently; the
				// value states and sources are always there.
				if c.typ != "PRIORITY_QUEUE" {
					t.Errorf("%s: %s has no state %q", e.Name, c.uid, c.state)
				}
				continue
			}
			if st.Type != c.typ {
				t.Errorf("%s: %s %s type %s, want %s", e.Name, c.uid, c.state, st.Type, c.typ)
			}
			if c.keyed && native {
				continue // native RocksDB state is not walked here (--rocksdb)
			}
			if st.Entries == nil || *st.Entries != c.entries {
				t.Errorf("%s: %s %s has %v entries, want %d", e.Name, c.uid, c.state, deref(st.Entries), c.entries)
			}
		}
		n++
	}
	if n != 76 { // 1.4, 1.6 and 1.8 – 2.3
		t.Errorf("walked %d snapshots of the family, want 76", n)
	}
}

// Ground truth §2: every BrProcess subtask holds the whole broadcast maps.
func TestStatesOfBroadcastFamily(t *testing.T) {
	for _, e := range corpus.Require(t) {
		if !strings.HasPrefix(e.Name, "new-stateful-broadcast-udf-") {
			continue
		}
		s, states := walk(t, e)
		for _, c := range []struct {
			uid, state string
		}{{"BrProcess1", "broadcast-state-1"}, {"BrProcess1", "broadcast-state-2"}, {"BrProcess2", "broadcast-state-3"}} {
			st := stateOf(s, states, c.uid, c.state)
			if st == nil {
				t.Errorf("%s: %s has no %s", e.Name, c.uid, c.state)
				continue
			}
			if st.Type != "BROADCAST" || st.Subtasks != 4 || st.Entries == nil || *st.Entries != 16 {
				t.Errorf("%s: %s %s: type %s in %d subtasks with %v entries; want BROADCAST, 4 subtasks × 4 entries",
					e.Name, c.uid, c.state, st.Type, st.Subtasks, deref(st.Entries))
			}
		}
	}
}

func deref(p *int64) any {
	if p == nil {
		return nil
	}
	return *p
}

// Header versions narrow the Flink range: a 1.19 savepoint's operator
// header (version 6) rules out 1.16 and 1.17.
func TestHeadersNarrowFlinkRange(t *testing.T) {
	e := corpus.Find(t, "new-stateful-udf-migration-itcase-flink1.19-rocksdb-savepoint")
	s, states := walk(t, e)
	r := Build(s, Options{States: states})
	if r.Flink.Range != "1.18–1.20" {
		t.Errorf("range %s (%v), want 1.18–1.20", r.Flink.Range, r.Flink.Evidence)
	}
}

// TestBackendMatchesCorpus: the backend named from handles and stream
// layouts is the one the corpus manifest records, for every checkpoint and
// native savepoint with keyed state written by a known backend.
func TestBackendMatchesCorpus(t *testing.T) {
	n := 0
	for _, e := range corpus.Require(t) {
		if (e.Kind != "checkpoint" && e.Kind != "native-savepoint") || (e.Backend != "hashmap" && e.Backend != "rocksdb") {
			continue
		}
		ctx := context.Background()
		s, src, err := source.Load(ctx, e.Dir)
		if err != nil {
			t.Fatal(err)
		}
		r := Build(s, Options{States: ReadStates(ctx, s, src, StatesOptions{Parallel: 4})})
		src.Close()
		switch got := r.Backend.Name; {
		case got == "none", got == "changelog", s.Kind.Kind == snapshot.CanonicalSavepoint:
			// no keyed state; a changelog checkpoint; savepoints named native
			// that hold the canonical format (1.15 runs of the migration test)
		case got != e.Backend:
			t.Errorf("%s: backend %q (%s), manifest says %s", e.Name, got, r.Backend.Reason, e.Backend)
		default:
			n++
		}
	}
	if n < 60 {
		t.Errorf("only %d snapshots compared", n)
	}
}

// TestReadStatesSplit: ReadStates split into runs of operators (as for a
// large snapshot) finds what it finds in one run, on every corpus snapshot,
// headers only and walked.
func TestReadStatesSplit(t *testing.T) {
	ctx := context.Background()
	defer func(n int) { splitMin = n }(splitMin)
	split := 0
	for _, e := range corpus.Require(t) {
		s, src, err := source.Load(ctx, e.Dir)
		if err != nil {
			t.Fatalf("%s: %v", e.Name, err)
		}
		for _, walk := range []bool{false, true} {
			opt := StatesOptions{Walk: walk, Parallel: 4}
			splitMin = 1 << 30
			whole := ReadStates(ctx, s, src, opt)
			splitMin = 1
			parts := ReadStates(ctx, s, src, opt)
			if !reflect.DeepEqual(whole, parts) {
				t.Errorf("%s (walk %v): split runs differ", e.Name, walk)
			}
			if len(s.Operators) > 1 {
				split++
			}
		}
		src.Close()
	}
	if split == 0 {
		t.Error("no snapshot had operators to split")
	}
}
