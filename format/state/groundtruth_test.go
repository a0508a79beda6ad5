package state_test

import (
	"bytes"
	"fmt"
	"math"
	"reflect"
	"sort"
	"strings"
	"testing"

	"github.com/fsnap/fsnap/format"
	"github.com/fsnap/fsnap/format/state"
	"github.com/fsnap/fsnap/format/state/avro"
	"github.com/fsnap/fsnap/format/value"
)

// decodedState is what one state of one operator holds across subtasks.
type decodedState struct {
	kind    string
	classes []string // serializer snapshot classes (value, namespace)
	entries []value.Decoded
}

// corpusByName groups corpus streams by snapshot directory.
func corpusByName(t *testing.T) map[string][]*streamRef {
	t.Helper()
	out := map[string][]*streamRef{}
	for _, s := range corpusStreams(t) {
		out[s.snap.Name] = append(out[s.snap.Name], s)
	}
	return out
}

func isOp(op *format.OperatorState, uid string) bool {
	return op.UID == uid || op.ID == format.OperatorIDFromUID(uid)
}

// keyedStates decodes every managed keyed stream of the operator with the
// given uid and returns its states by name.
func keyedStates(t *testing.T, streams []*streamRef, uid string) map[string]*decodedState {
	return keyedStatesWhere(t, streams, func(op *format.OperatorState) bool { return isOp(op, uid) })
}

func keyedStatesWhere(t *testing.T, streams []*streamRef, match func(*format.OperatorState) bool) map[string]*decodedState {
	t.Helper()
	out := map[string]*decodedState{}
	for _, s := range streams {
		if s.kind != "managedKeyed" || !match(s.op) {
			continue
		}
		ks, err := state.OpenKeyed(bytes.NewReader(s.data), int64(len(s.data)), state.KeyGroupsOf(s.keyed),
			state.KeyedOptions{Name: s.String(), MaxParallelism: s.op.MaxParallelism})
		if err != nil {
			t.Fatalf("%s: %v", s, err)
		}
		decs := make([]*value.StateDecoder, len(ks.Header.States))
		for i, m := range ks.Header.States {
			if out[m.Name] == nil {
				ds := &decodedState{kind: m.Kind()}
				for _, ns := range m.Serializers {
					ds.classes = append(ds.classes, ns.Snapshot.Class)
				}
				out[m.Name] = ds
			}
			if decs[i], err = value.ForState(ks, i); err != nil {
				t.Fatalf("%s: %v", s, err)
			}
		}
		it := ks.Iter()
		for it.Next() {
			e := it.Entry()
			d, err := decs[e.State].Decode(e)
			if err != nil {
				t.Fatalf("%s: key group %d: %v", s, e.KeyGroup, err)
			}
			name := ks.Header.States[e.State].Name
			out[name].entries = append(out[name].entries, d)
		}
		if err := it.Err(); err != nil {
			t.Fatalf("%v", err)
		}
	}
	return out
}

// operatorStates decodes the managed operator state of the operator with
// the given uid: per state name, per subtask, the decoded elements (list
// states) or map entries (broadcast states).
func operatorStates(t *testing.T, streams []*streamRef, uid string) map[string][][]any {
	return operatorStatesWhere(t, streams, func(op *format.OperatorState) bool { return isOp(op, uid) })
}

func operatorStatesWhere(t *testing.T, streams []*streamRef, match func(*format.OperatorState) bool) map[string][][]any {
	t.Helper()
	out := map[string][][]any{}
	for _, s := range streams {
		if s.kind != "managedOperator" || !match(s.op) {
			continue
		}
		os, err := state.OpenOperator(bytes.NewReader(s.data), int64(len(s.data)), s.opState.States, s.String())
		if err != nil {
			t.Fatalf("%s: %v", s, err)
		}
		var keyDec, valDec []value.Decoder
		for _, ref := range os.States {
			kd, _ := value.For(ref.Meta.Serializer(state.KeySerializerKey))
			vd, err := value.For(ref.Meta.Serializer(state.ValueSerializerKey))
			if err != nil {
				t.Fatalf("%s: state %q: %v", s, ref.Meta.Name, err)
			}
			keyDec, valDec = append(keyDec, kd), append(valDec, vd)
		}
		per := map[string][]any{}
		for _, ref := range os.States {
			per[ref.Meta.Name] = []any{}
		}
		it := os.Iter()
		for it.Next() {
			e := it.Element()
			name := os.States[e.State].Meta.Name
			v, n, err := valDec[e.State].Decode(e.Value)
			if err != nil || n != len(e.Value) {
				t.Fatalf("%s: state %q element %d: %v (%d of %d bytes)", s, name, e.Index, err, n, len(e.Value))
			}
			if e.Key != nil {
				k, _, err := keyDec[e.State].Decode(e.Key)
				if err != nil {
					t.Fatalf("%s: state %q key %d: %v", s, name, e.Index, err)
				}
				v = value.MapEntry{Key: k, Value: v}
			}
			per[name] = append(per[name], v)
		}
		if err := it.Err(); err != nil {
			t.Fatal(err)
		}
		for name, els := range per {
			out[name] = append(out[name], els)
		}
	}
	return out
}

// families returns the snapshot names with the given prefix, sorted.
func families(byName map[string][]*streamRef, prefix string) []string {
	var out []string
	for n := range byName {
		if strings.HasPrefix(n, prefix) {
			out = append(out, n)
		}
	}
	sort.Strings(out)
	return out
}

func javaString(v any) string {
	if j, ok := v.(value.Java); ok {
		if s, ok := j.Value.(string); ok {
			return s
		}
	}
	return fmt.Sprintf("<%v>", v)
}

var dragons = []string{"Here be dragons!", "Here be more dragons!", "Here be the mostest dragons!", "Here be yet more dragons!"} // sorted

func sortedStrings(vs []any) []string {
	var out []string
	for _, v := range vs {
		s, ok := v.(string)
		if !ok {
			s = fmt.Sprintf("<%T %v>", v, v)
		}
		out = append(out, s)
	}
	sort.Strings(out)
	return out
}

func flatten(per [][]any) []any {
	var out []any
	for _, p := range per {
		out = append(out, p...)
	}
	return out
}

// TestGroundTruthStatefulUDF checks family 1 (corpus-ground-truth.md §1) in
// every version and backend whose keyed state is in Flink streams: the
// flat maps' state-name holds k → k, the timely operators' state-name holds
// k → k in namespace k with 4 event-time and 4 processing-time timers, and
// both sources hold the four dragon strings.
func TestGroundTruthStatefulUDF(t *testing.T) {
	byName := corpusByName(t)
	snaps := families(byName, "new-stateful-udf-migration-itcase-")
	checkedKeyed := 0
	for _, name := range snaps {
		streams := byName[name]
		native, changelog := false, false
		for _, s := range streams {
			native = native || s.kind == "rocksdbMeta"
			changelog = changelog || s.kind == "changelog"
		}
		for _, src := range []string{"CheckpointingSource1", "CheckpointingSource2"} {
			got := sortedStrings(flatten(operatorStates(t, streams, src)["source-state"]))
			if !reflect.DeepEqual(got, dragons) {
				t.Errorf("%s %s source-state = %q", name, src, got)
			}
		}
		if native || changelog {
			continue // RocksDB native SST files (issue 8); changelog deltas (not decoded)
		}
		checkedKeyed++
		for i := 1; i <= 2; i++ {
			fm := keyedStates(t, streams, fmt.Sprintf("CheckpointingKeyedStateFlatMap%d", i))
			checkKV(t, name, fmt.Sprintf("flatMap%d state-name", i), fm["state-name"], func(k int64) any { return value.Void{} })
			tm := keyedStates(t, streams, fmt.Sprintf("CheckpointingTimelyStatefulOperator%d", i))
			checkKV(t, name, fmt.Sprintf("timely%d state-name", i), tm["state-name"], func(k int64) any { return k })
			if tm["_timer_state/event_timer"] == nil {
				// Flink ≤ 1.9 RocksDB savepoints: heap timers in raw keyed state.
				legacyTimers(t, name, streams, fmt.Sprintf("CheckpointingTimelyStatefulOperator%d", i), tm)
			}
			for _, kind := range []string{"event", "processing"} {
				ts := tm["_timer_state/"+kind+"_timer"]
				if ts == nil || ts.kind != "PRIORITY_QUEUE" || len(ts.entries) != 4 {
					t.Errorf("%s timely%d %s timers: %+v", name, i, kind, ts)
					continue
				}
				seen := map[int64]bool{}
				for _, e := range ts.entries {
					tm, ok := e.Value.(value.Timer)
					if !ok {
						t.Errorf("%s: timer decodes to %T", name, e.Value)
						continue
					}
					k := tm.Key.(value.Tuple)[0].(int64)
					if tm.Namespace != k {
						t.Errorf("%s: %s timer for key %d has namespace %v", name, kind, k, tm.Namespace)
					}
					if kind == "event" && tm.Timestamp != math.MinInt64+10 {
						t.Errorf("%s: event timer at %d, want watermark (Long.MIN_VALUE) + 10", name, tm.Timestamp)
					}
					if kind == "processing" && tm.Timestamp < 1_500_000_000_000 {
						t.Errorf("%s: processing timer at %d, want a wall-clock time", name, tm.Timestamp)
					}
					seen[k] = true
				}
				if len(seen) != 4 {
					t.Errorf("%s: %s timers for keys %v", name, kind, seen)
				}
			}
		}
	}
	t.Logf("%d snapshots, %d with keyed state in Flink streams", len(snaps), checkedKeyed)
	if len(snaps) != 76 || checkedKeyed < 52 { // 1.4, 1.6 and 1.8 – 2.3
		t.Errorf("found %d snapshots (want 76), %d with Flink keyed streams", len(snaps), checkedKeyed)
	}
}

// legacyTimers decodes the timer services in the raw keyed state of the
// operator into states named like the managed timer states.
func legacyTimers(t *testing.T, name string, streams []*streamRef, uid string, into map[string]*decodedState) {
	t.Helper()
	for _, s := range streams {
		if s.kind != "rawKeyed" || !isOp(s.op, uid) {
			continue
		}
		for i, off := range s.keyed.Offsets {
			svcs, _, err := state.ReadTimerServices(s.data[off:], off)
			if err != nil {
				t.Fatalf("%s: key group %d: %v", s, s.keyed.Range.Start+int32(i), err)
			}
			for _, svc := range svcs {
				kd, err := value.For(svc.KeySerializer)
				if err != nil {
					t.Fatal(err)
				}
				nd, err := value.For(svc.NamespaceSerializer)
				if err != nil {
					t.Fatal(err)
				}
				for kind, list := range map[string][]state.LegacyTimer{"event": svc.EventTimers, "processing": svc.ProcessingTimers} {
					st := "_timer_state/" + kind + "_" + svc.Name
					if into[st] == nil {
						into[st] = &decodedState{kind: "PRIORITY_QUEUE"}
					}
					for _, lt := range list {
						k, _, err := kd.Decode(lt.Key)
						if err != nil {
							t.Fatal(err)
						}
						ns, _, err := nd.Decode(lt.Namespace)
						if err != nil {
							t.Fatal(err)
						}
						into[st].entries = append(into[st].entries, value.Decoded{Value: value.Timer{Timestamp: lt.Timestamp, Key: k, Namespace: ns}})
					}
				}
			}
		}
	}
}

// checkKV asserts a ValueState<Long> holding k → k for keys 0..3 (Tuple1
// keys), with the namespace ns(k).
func checkKV(t *testing.T, snap, what string, ds *decodedState, ns func(int64) any) {
	t.Helper()
	if ds == nil || ds.kind != "VALUE" {
		t.Errorf("%s %s: missing or not a VALUE state: %+v", snap, what, ds)
		return
	}
	got := map[int64]int64{}
	for _, e := range ds.entries {
		k := e.Key.(value.Tuple)[0].(int64)
		if e.Namespace != ns(k) {
			t.Errorf("%s %s: key %d in namespace %v", snap, what, k, e.Namespace)
		}
		got[k] = e.Value.(int64)
	}
	want := map[int64]int64{0: 0, 1: 1, 2: 2, 3: 3}
	if !reflect.DeepEqual(got, want) || len(ds.entries) != 4 {
		t.Errorf("%s %s = %v (%d entries), want k → k for 0..3", snap, what, got, len(ds.entries))
	}
}

// TestGroundTruthBroadcast checks family 2: the three broadcast maps in
// every subtask, and the sources.
func TestGroundTruthBroadcast(t *testing.T) {
	byName := corpusByName(t)
	snaps := families(byName, "new-stateful-broadcast-udf-migration-itcase-")
	for _, name := range snaps {
		streams := byName[name]
		for _, src := range []string{"CheckpointingSource1", "CheckpointingSource2", "BrCheckpointingSource1", "BrCheckpointingSource2"} {
			got := sortedStrings(flatten(operatorStates(t, streams, src)["source-state"]))
			if !reflect.DeepEqual(got, dragons) {
				t.Errorf("%s %s source-state = %q", name, src, got)
			}
		}
		p1 := operatorStates(t, streams, "BrProcess1")
		p2 := operatorStates(t, streams, "BrProcess2")
		want := map[string]map[any]any{
			"broadcast-state-1": {int64(0): int64(0), int64(1): int64(1), int64(2): int64(2), int64(3): int64(3)},
			"broadcast-state-2": {"0": int64(0), "1": int64(1), "2": int64(2), "3": int64(3)},
			"broadcast-state-3": {int64(0): "0", int64(1): "1", int64(2): "2", int64(3): "3"},
		}
		for st, w := range want {
			per := p1[st]
			if st == "broadcast-state-3" {
				per = p2[st]
			}
			if len(per) != 4 {
				t.Errorf("%s %s: %d subtasks, want 4", name, st, len(per))
			}
			for i, els := range per {
				got := map[any]any{}
				for _, e := range els {
					me := e.(value.MapEntry)
					got[me.Key] = me.Value
				}
				if !reflect.DeepEqual(got, w) {
					t.Errorf("%s %s subtask %d = %v", name, st, i, got)
				}
			}
		}
	}
	if len(snaps) != 57 { // 1.5 and 1.8 – 2.3
		t.Errorf("found %d broadcast snapshots, want 57", len(snaps))
	}
}

// TestGroundTruthOperatorRestore checks family 3: complexKeyed's window
// state `values` (x → [x]) and the `_default_` lists of the maps of both
// jobs.
func TestGroundTruthOperatorRestore(t *testing.T) {
	byName := corpusByName(t)
	n := 0
	for _, name := range families(byName, "operatorstate__") {
		n++
		streams := byName[name]
		maps := []string{"first", "second", "third"}
		if strings.Contains(name, "complexKeyed") {
			maps = []string{"first", "second"}
			w := keyedStates(t, streams, "window")
			v := w["values"]
			if v == nil || v.kind != "LIST" {
				t.Errorf("%s: window state values: %+v", name, v)
			} else {
				got := map[int32][]any{}
				for _, e := range v.entries {
					k := e.Key.(value.Tuple)[0].(int32)
					got[k] = append(got[k], []any(e.Value.(value.List))...)
				}
				for x := int32(0); x < 10; x++ {
					if !reflect.DeepEqual(got[x], []any{x}) {
						t.Errorf("%s: values[%d] = %v, want [%d]", name, x, got[x], x)
					}
				}
				if len(got) != 10 {
					t.Errorf("%s: values has %d keys", name, len(got))
				}
			}
			for _, st := range []string{"window-contents", "count"} {
				if w[st] == nil || len(w[st].entries) != 0 {
					t.Errorf("%s: window state %s: %+v", name, st, w[st])
				}
			}
		}
		for _, m := range maps {
			per := operatorStates(t, streams, m)["_default_"]
			var got []string
			for _, els := range per {
				for _, e := range els {
					got = append(got, javaString(e))
				}
			}
			sort.Strings(got)
			want := []string{m + "0", m + "1", m + "2", m + "3"}
			if !reflect.DeepEqual(got, want) {
				t.Errorf("%s: %s _default_ = %q", name, m, got)
			}
		}
	}
	if n != 36 { // 1.3 and 1.8 – 2.3 of both jobs
		t.Errorf("found %d operatorstate snapshots, want 36", n)
	}
}

// TestGroundTruthTypeSerializer checks family 4: testState k → k with the
// custom snapshot and its payload, and the source's dragons.
func TestGroundTruthTypeSerializer(t *testing.T) {
	byName := corpusByName(t)
	n := 0
	for _, name := range families(byName, "type-serializer-snapshot-migration-itcase-") {
		streams := byName[name]
		all := operatorStatesWhere(t, streams, func(*format.OperatorState) bool { return true })
		if got := sortedStrings(flatten(all["source-state"])); !reflect.DeepEqual(got, dragons) {
			t.Errorf("%s source-state = %q", name, got)
		}
		native := false
		for _, s := range streams {
			native = native || s.kind == "rocksdbMeta"
			if s.kind == "rocksdbMeta" {
				h, err := state.ReadKeyedHeader(s.data, 0)
				if err != nil {
					t.Fatal(err)
				}
				checkTestSnapshot(t, name, h)
			}
		}
		if native {
			continue
		}
		for _, s := range streams {
			if s.kind != "managedKeyed" {
				continue
			}
			n++
			h, _ := state.ReadKeyedHeader(s.data, 0)
			checkTestSnapshot(t, name, h)
			ks := keyedStatesWhere(t, []*streamRef{s}, func(*format.OperatorState) bool { return true })
			checkKV(t, name, "testState", ks["testState"], func(int64) any { return value.Void{} })
		}
	}
	if n != 5 { // 1.3 and the heap savepoint and checkpoints of 1.16
		t.Errorf("checked %d keyed streams, want 5", n)
	}
}

func checkTestSnapshot(t *testing.T, name string, h *state.KeyedHeader) {
	t.Helper()
	for _, m := range h.States {
		if m.Name != "testState" {
			continue
		}
		s := m.Serializer(state.ValueSerializerKey)
		if s == nil || !strings.HasSuffix(s.Class, "TypeSerializerSnapshotMigrationITCase$TestSerializerSnapshot") || s.Version != 1 || s.Str("configPayload") != "configPayload" {
			t.Errorf("%s: testState serializer %+v", name, s)
		}
		return
	}
	t.Errorf("%s: no testState in header", name)
}

// avroField returns a field of a decoded Avro record.
func avroField(v any, name string) any {
	r, ok := v.(avro.Record)
	if !ok {
		return fmt.Sprintf("<not a record: %T>", v)
	}
	f, _ := r.Get(name)
	return f
}

// TestGroundTruthStateEvolution checks family 9: key 0 holds the Avro
// address, the tuple ("19", 19) and Left("255"), in the 1.6 (proxy
// version 5) and 1.7 savepoints.
func TestGroundTruthStateEvolution(t *testing.T) {
	byName := corpusByName(t)
	snaps := families(byName, "flink-end-to-end-tests__flink-state-evolution-test__savepoints__")
	for _, name := range snaps {
		ks := keyedStates(t, byName[name], "my-map")
		for st, want := range map[string]any{
			"tuple-state":  value.Tuple{"19", int32(19)},
			"either-state": value.Either{Left: true, Value: "255"},
		} {
			d := ks[st]
			if d == nil || len(d.entries) != 1 || !reflect.DeepEqual(d.entries[0].Value, want) || d.entries[0].Key != int32(0) {
				t.Errorf("%s %s = %+v", name, st, d)
			}
		}
		d := ks["test-state"]
		if d == nil || len(d.entries) != 1 {
			t.Errorf("%s test-state = %+v", name, d)
			continue
		}
		v := d.entries[0].Value
		for f, want := range map[string]any{"num": int32(555), "street": "555 W 42nd St", "city": "New York", "state": "NY", "zip": "10036"} {
			if got := avroField(v, f); got != want {
				t.Errorf("%s test-state.%s = %v, want %v", name, f, got, want)
			}
		}
	}
	if len(snaps) != 2 {
		t.Errorf("found %d snapshots, want 2", len(snaps))
	}
}

// TestGroundTruthStateProcessingAPI checks family 8: table-state's five
// states for keys 0..9, table-state-avro's records and table-state-nulls'
// POJOs with null fields.
func TestGroundTruthStateProcessingAPI(t *testing.T) {
	byName := corpusByName(t)
	all := func(*format.OperatorState) bool { return true }
	pojo := func(v any) [2]any {
		p, ok := v.(value.Pojo)
		if !ok || len(p.Fields) != 2 {
			return [2]any{"<bad>", v}
		}
		var out [2]any
		for _, f := range p.Fields {
			switch f.Name {
			case "privateLong":
				out[0] = f.Value
			case "publicLong":
				out[1] = f.Value
			}
		}
		return out
	}
	p := "flink-libraries__flink-state-processing-api__"
	ts := keyedStatesWhere(t, byName[p+"table-state"], all)
	keys := map[int64]bool{}
	for _, e := range ts["KeyedPrimitiveValue"].entries {
		k := e.Key.(int64)
		keys[k] = true
		if e.Value != int64(1) {
			t.Errorf("KeyedPrimitiveValue[%d] = %v", k, e.Value)
		}
	}
	if len(keys) != 10 {
		t.Errorf("KeyedPrimitiveValue keys %v", keys)
	}
	for _, e := range ts["KeyedPrimitiveValueList"].entries {
		if k := e.Key.(int64); !reflect.DeepEqual(e.Value, value.List{k}) {
			t.Errorf("KeyedPrimitiveValueList[%d] = %v", k, e.Value)
		}
	}
	for _, e := range ts["KeyedPrimitiveValueMap"].entries {
		k := e.Key.(int64)
		if want := (value.Map{{Key: fmt.Sprint(k), Value: k}}); !reflect.DeepEqual(e.Value, want) {
			t.Errorf("KeyedPrimitiveValueMap[%d] = %v", k, e.Value)
		}
	}
	for _, e := range ts["KeyedPojoValue"].entries {
		if got := pojo(e.Value); got != [2]any{int64(1), int64(1)} {
			t.Errorf("KeyedPojoValue[%v] = %v", e.Key, got)
		}
	}
	for _, snap := range []string{"table-state", "table-state-avro"} {
		st := keyedStatesWhere(t, byName[p+snap], all)
		for _, name := range []string{"KeyedSpecificAvroValue", "KeyedGenericAvroValue"} {
			if st[name] == nil || len(st[name].entries) != 10 {
				t.Errorf("%s %s: %+v", snap, name, st[name])
				continue
			}
			for _, e := range st[name].entries {
				if got := avroField(e.Value, "longData"); got != int64(1) {
					t.Errorf("%s %s[%v].longData = %v", snap, name, e.Key, got)
				}
			}
		}
	}
	nulls := keyedStatesWhere(t, byName[p+"table-state-nulls"], all)["total"]
	want := map[int64][2]any{1: {int64(1), int64(1)}, 2: {nil, nil}, 3: {nil, nil}, 4: {int64(4), int64(4)}, 5: {int64(5), int64(5)}}
	got := map[int64][2]any{}
	for _, e := range nulls.entries {
		got[e.Key.(int64)] = pojo(e.Value)
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("table-state-nulls total = %v", got)
	}
}

// TestGroundTruthKafkaSource checks family 7: the reader state holds the
// 10 splits over 3 subtasks.
func TestGroundTruthKafkaSource(t *testing.T) {
	byName := corpusByName(t)
	snaps := families(byName, "kafka__kafka-source-savepoint__")
	for _, name := range snaps {
		per := operatorStates(t, byName[name], "kafka-source-operator-uid")["SourceReaderState"]
		n := 0
		for _, els := range per {
			n += len(els)
		}
		if len(per) != 3 || n != 10 {
			t.Errorf("%s: %d subtasks hold %d splits, want 3 and 10", name, len(per), n)
		}
	}
	if len(snaps) != 3 {
		t.Errorf("found %d kafka snapshots", len(snaps))
	}
}
