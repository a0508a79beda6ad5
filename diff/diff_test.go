package diff_test

import (
	"context"
	"strings"
	"testing"

	"github.com/fsnap/fsnap/diff"
	"github.com/fsnap/fsnap/inspect"
	"github.com/fsnap/fsnap/internal/corpus"
)

func report(t *testing.T, name string) *inspect.Report {
	t.Helper()
	r, err := inspect.Load(context.Background(), corpus.Find(t, name).Dir, inspect.StatesOptions{Parallel: 4})
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// TestSameJobAcrossReleases: the stateful job of Flink 1.4 and of 1.20 have
// the same operators; their serializers differ only in snapshot form
// (legacy configs → snapshots), which restores as is; 1.20 keeps timers as
// states.
func TestSameJobAcrossReleases(t *testing.T) {
	r := diff.Compare(report(t, "new-stateful-udf-migration-itcase-flink1.4-savepoint"), report(t, "new-stateful-udf-migration-itcase-flink1.20-hashmap-savepoint"))
	if s := r.Summary; s.Added != 0 || s.Removed != 0 || s.Incompatible != 0 || s.Changed != 6 {
		t.Fatalf("summary %+v", s)
	}
	asIs, timers := 0, 0
	for _, o := range r.Operators {
		for _, st := range o.States {
			if st.Change == diff.Added && strings.HasPrefix(st.Name, "_timer_state/") {
				timers++
			}
			for _, c := range st.Serializers {
				if c.Evolution != diff.AsIs {
					t.Errorf("%s %s %s: %s", o.ID, st.Name, c.Path, c.Evolution)
				}
				asIs++
			}
		}
	}
	if asIs != 14 || timers != 4 {
		t.Errorf("%d as-is serializer changes (want 14), %d timer states added (want 4)", asIs, timers)
	}
}

// TestOtherJob: two jobs sharing only their sources' uids.
func TestOtherJob(t *testing.T) {
	r := diff.Compare(report(t, "new-stateful-udf-migration-itcase-flink1.20-hashmap-savepoint"), report(t, "new-stateful-broadcast-udf-migration-itcase-flink1.20-hashmap-savepoint"))
	if s := r.Summary; s.Added != 6 || s.Removed != 6 || s.Unchanged != 2 || s.BytesA != 15451 {
		t.Errorf("summary %+v", s)
	}
	for _, o := range r.Operators {
		if o.Change == diff.Removed && o.BytesA > 0 && (len(o.Notes) != 1 || !strings.Contains(o.Notes[0], "allowNonRestoredState")) {
			t.Errorf("removed %s: notes %q", o.ID, o.Notes)
		}
	}
}

func op(states ...inspect.StateInfo) inspect.OperatorInfo {
	return inspect.OperatorInfo{ID: "00000000000000000000000000000001", Parallelism: 2, MaxParallelism: 128, States: states}
}

func value(s inspect.SerializerInfo) inspect.StateInfo {
	s.Role = "VALUE_SERIALIZER"
	return inspect.StateInfo{Name: "v", Type: "VALUE", Serializers: []inspect.SerializerInfo{s}}
}

func ser(class string, params map[string]string, nested ...inspect.SerializerInfo) inspect.SerializerInfo {
	return inspect.SerializerInfo{Class: class, Short: class[strings.LastIndexAny(class, ".$")+1:], Params: params, Nested: nested}
}

// TestEvolutionRules: each serializer change gets Flink's verdict.
func TestEvolutionRules(t *testing.T) {
	long := ser("org.apache.flink.api.common.typeutils.base.LongSerializer$LongSerializerSnapshot", nil)
	str := ser("org.apache.flink.api.common.typeutils.base.StringSerializer$StringSerializerSnapshot", nil)
	pojo := "org.apache.flink.api.java.typeutils.runtime.PojoSerializerSnapshot"
	enum := "org.apache.flink.api.common.typeutils.base.EnumSerializer$EnumSerializerSnapshot"
	avro := "org.apache.flink.formats.avro.typeutils.AvroSerializerSnapshot"
	cases := []struct {
		name string
		a, b inspect.SerializerInfo
		want diff.Evolution
	}{
		{"pojo field added", ser(pojo, map[string]string{"pojoClass": "P", "fieldName": "a"}, long), ser(pojo, map[string]string{"pojoClass": "P", "fieldName": "a,b"}, long, str), diff.AfterMigration},
		{"pojo field type changed", ser(pojo, map[string]string{"pojoClass": "P", "fieldName": "a"}, long), ser(pojo, map[string]string{"pojoClass": "P", "fieldName": "a"}, str), diff.Incompatible},
		{"avro schema", ser(avro, map[string]string{"schema": `"long"`}), ser(avro, map[string]string{"schema": `["null","long"]`}), diff.AfterMigration},
		{"class", long, str, diff.Incompatible},
		{"enum appended", ser(enum, map[string]string{"constant": "A,B"}), ser(enum, map[string]string{"constant": "A,B,C"}), diff.AfterMigration},
		{"enum removed", ser(enum, map[string]string{"constant": "A,B"}), ser(enum, map[string]string{"constant": "A"}), diff.Incompatible},
	}
	for _, c := range cases {
		a := &inspect.Report{Operators: []inspect.OperatorInfo{op(value(c.a))}}
		b := &inspect.Report{Operators: []inspect.OperatorInfo{op(value(c.b))}}
		r := diff.Compare(a, b)
		got := r.Operators[0].States[0].Serializers
		if len(got) != 1 || got[0].Evolution != c.want {
			t.Errorf("%s: %+v, want one %s", c.name, got, c.want)
		}
	}
	a := &inspect.Report{Operators: []inspect.OperatorInfo{op(value(long))}}
	b := &inspect.Report{Operators: []inspect.OperatorInfo{op(value(long))}}
	a.Operators[0].Bytes.ManagedKeyed = 10
	b.Operators[0].MaxParallelism = 256
	if o := diff.Compare(a, b).Operators[0]; o.Change != diff.Changed || len(o.Notes) != 1 || !strings.Contains(o.Notes[0], "does not restore across a max parallelism change") {
		t.Errorf("max parallelism change: %+v", o)
	}
}
