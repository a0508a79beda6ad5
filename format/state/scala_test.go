package state_test

import (
	"bytes"
	"fmt"
	"reflect"
	"strings"
	"testing"

	"github.com/fsnap/fsnap/format"
	"github.com/fsnap/fsnap/format/state"
	"github.com/fsnap/fsnap/format/value"
)

// TestGroundTruthScala checks section 12: the Scala API job's eleven keyed
// states with their Scala and Kryo serializer snapshots, and every value
// the job wrote (StatefulJobSavepointMigrationITCase.scala, flatMap of key
// k: case class (k, 2k), Try of (k, 5k), Right(3k), enumOneState THREE).
func TestGroundTruthScala(t *testing.T) {
	const name = "stateful-scala-udf-migration-itcase-flink1.14-hashmap-savepoint"
	streams := corpusByName(t)[name]
	if len(streams) == 0 {
		t.Fatalf("%s is not in the corpus", name)
	}
	cc := func(s string, n int64) value.CaseClass {
		return value.CaseClass{Class: "org.apache.flink.api.scala.migration.CustomCaseClass", Fields: []any{s, n}}
	}
	want := map[string]struct {
		class string
		value func(k int64) any // nil: no entries
	}{
		"caseClassState": {"ScalaCaseClassSerializerSnapshot", func(k int64) any { return cc(fmt.Sprint(k), 2*k) }},
		"caseClassWithNestingState": {"ScalaCaseClassSerializerSnapshot", func(k int64) any {
			return value.CaseClass{Class: "org.apache.flink.api.scala.migration.CustomCaseClassWithNesting", Fields: []any{k, cc(fmt.Sprint(k), 2*k)}}
		}},
		"collectionState":  {"TraversableSerializerSnapshot", func(k int64) any { return value.List{cc(fmt.Sprint(k), 2*k)} }},
		"tryState":         {"ScalaTrySerializerSnapshot", func(k int64) any { return value.Try{Value: cc(fmt.Sprint(k), 5*k)} }},
		"tryFailureState":  {"ScalaTrySerializerSnapshot", nil}, // checked below
		"optionState":      {"ScalaOptionSerializerSnapshot", func(k int64) any { return value.Option{Some: true, Value: cc(fmt.Sprint(k), 2*k)} }},
		"optionNoneState":  {"ScalaOptionSerializerSnapshot", func(int64) any { return value.Option{} }},
		"eitherLeftState":  {"ScalaEitherSerializerSnapshot", func(k int64) any { return value.Either{Left: true, Value: cc(fmt.Sprint(k), 2*k)} }},
		"eitherRightState": {"ScalaEitherSerializerSnapshot", func(k int64) any { return value.Either{Value: fmt.Sprint(3 * k)} }},
		"enumOneState":     {"ScalaEnumSerializerSnapshot", func(int64) any { return value.Enum{Name: "THREE", ID: 2} }},
		"enumThreeState":   {"ScalaEnumSerializerSnapshot", nil}, // the job never sets it
	}
	seen := map[string]map[int64]bool{}
	for _, s := range streams {
		if s.kind != "managedKeyed" {
			continue
		}
		ks, err := state.OpenKeyed(bytes.NewReader(s.data), int64(len(s.data)), state.KeyGroupsOf(s.keyed),
			state.KeyedOptions{Name: s.String(), MaxParallelism: s.op.MaxParallelism})
		if err != nil {
			t.Fatal(err)
		}
		key := ks.Header.KeySerializer
		if key.Class != state.KryoSnapshotClass || key.Str("typeClass") != "java.lang.Object" {
			t.Errorf("%s: key serializer %s of %q, want Kryo of java.lang.Object", s, key.Class, key.Str("typeClass"))
		}
		if regs := kryoRegistrations(key); !reflect.DeepEqual(regs, []string{"java.lang.Object", "org.apache.avro.generic.GenericData$Array"}) {
			t.Errorf("%s: Kryo registrations %q", s, regs)
		}
		if len(ks.Header.States) != len(want) {
			t.Errorf("%s: %d states, want %d", s, len(ks.Header.States), len(want))
		}
		for _, m := range ks.Header.States {
			w, ok := want[m.Name]
			if !ok || !strings.HasSuffix(m.Serializer(state.ValueSerializerKey).Class, "."+w.class) || m.Kind() != "VALUE" {
				t.Errorf("%s: state %q %s with %s", s, m.Name, m.Kind(), m.Serializer(state.ValueSerializerKey).Class)
			}
		}
		it := ks.Iter()
		for it.Next() {
			e := it.Entry()
			m := &ks.Header.States[e.State]
			dec, err := value.ForState(ks, e.State)
			if err != nil {
				t.Fatalf("%s %s: %v", s, m.Name, err)
			}
			d, err := dec.Decode(e)
			if err != nil {
				t.Fatalf("%s %s: %v", s, m.Name, err)
			}
			// Keys are Kryo-written Longs: class id 9, zig-zag varint.
			kb := d.Key.(value.Kryo).Bytes
			if len(kb) != 2 || kb[0] != 9 {
				t.Fatalf("%s %s: key %x", s, m.Name, kb)
			}
			k := int64(kb[1] / 2)
			if seen[m.Name] == nil {
				seen[m.Name] = map[int64]bool{}
			}
			seen[m.Name][k] = true
			switch w := want[m.Name]; {
			case m.Name == "tryFailureState":
				f, ok := d.Value.(value.Try)
				if kr, _ := f.Value.(value.Kryo); !ok || !f.Failure || kr.Class != "java.lang.Throwable" || !bytes.Contains(kr.Bytes, []byte("java.lang.RuntimeException")) {
					t.Errorf("%s key %d: tryFailureState = %s", s, k, value.Format(d.Value))
				}
			case w.value == nil:
				t.Errorf("%s: %s has an entry", s, m.Name)
			case !reflect.DeepEqual(d.Value, w.value(k)):
				t.Errorf("%s key %d: %s = %s, want %s", s, k, m.Name, value.Format(d.Value), value.Format(w.value(k)))
			}
		}
		if err := it.Err(); err != nil {
			t.Fatal(err)
		}
	}
	for n, w := range want {
		if (w.value != nil || n == "tryFailureState") && len(seen[n]) != 4 {
			t.Errorf("%s: keys %v, want 0 – 3", n, seen[n])
		}
	}
	src := operatorStatesWhere(t, streams, func(*format.OperatorState) bool { return true })["sourceState"]
	if len(src) != 1 || len(src[0]) != 1 {
		t.Errorf("sourceState = %v", src)
	}
}

// kryoRegistrations lists the registered classes of a KryoSerializerSnapshot.
func kryoRegistrations(s *state.Snapshot) []string {
	var out []string
	for _, p := range s.Parts {
		if p.Name == "registrationName" {
			out = append(out, p.Str)
		}
	}
	return out
}
