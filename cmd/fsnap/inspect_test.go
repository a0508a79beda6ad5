package main

import (
	"context"
	"fmt"
	"io"
	"reflect"
	"strings"
	"testing"

	"github.com/fsnap/fsnap/inspect"
	"github.com/fsnap/fsnap/internal/corpus"
	"github.com/fsnap/fsnap/snapshot/source"
)

// TestInspectTextLargestFirst: a report of many operators lists the 50
// largest, largest first, and counts the rest; --all lists every one.
func TestInspectTextLargestFirst(t *testing.T) {
	r := &inspect.Report{Totals: inspect.Totals{Operators: 120}}
	for i := range 120 {
		b := int64(i%7) * 1000 // ties: file order decides
		if i == 93 {
			b = 1 << 30
		}
		r.Operators = append(r.Operators, inspect.OperatorInfo{ID: fmt.Sprintf("%032x", i), UID: fmt.Sprintf("op-%d", i),
			Bytes: inspect.StateBytes{ManagedKeyed: b, Total: b}})
		r.Totals.StateBytes += b
	}
	var out strings.Builder
	if err := writeInspectText(&out, r, false); err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(out.String(), "\n")
	var rows []string
	for _, l := range lines {
		if strings.HasPrefix(l, "op-") {
			rows = append(rows, strings.Fields(l)[0])
		}
	}
	// 1 GiB first, then the 17 operators of 6000 bytes in file order, …
	if len(rows) != textRows || rows[0] != "op-93" || rows[1] != "op-6" || rows[2] != "op-13" {
		t.Errorf("rows %d, first %v", len(rows), rows[:3])
	}
	if !strings.Contains(out.String(), "… 70 more operators with") {
		t.Errorf("no count of the rest:\n%s", out.String())
	}
	out.Reset()
	writeInspectText(&out, r, true)
	if n := strings.Count(out.String(), "\nop-"); n != 120 || strings.Contains(out.String(), "more operators") {
		t.Errorf("--all: %d rows", n)
	}
}

// TestInspectNotesOnce: a note every RocksDB operator shares is printed
// once, naming them, not once per operator.
func TestInspectNotesOnce(t *testing.T) {
	dir := corpus.Find(t, "new-stateful-udf-migration-itcase-flink2.3-rocksdb-checkpoint").Dir
	code, out, errs := fsnap(t, "inspect", "--states", dir)
	if code != exitOK {
		t.Fatalf("exit %d: %s", code, errs)
	}
	if n := strings.Count(out, "entries and bytes per state need --rocksdb"); n != 1 {
		t.Errorf("the RocksDB note printed %d times:\n%s", n, out)
	}
	if !strings.Contains(out, "CheckpointingKeyedStateFlatMap1, ") || !strings.Contains(out, "(1 more)") {
		t.Errorf("the note does not name its four operators:\n%s", out)
	}
}

// TestReportJSONChunked: a report large enough to be encoded in parallel
// chunks prints exactly the bytes of the one-piece encoding, escaped
// strings included.
func TestReportJSONChunked(t *testing.T) {
	r := &inspect.Report{Schema: inspect.Schema, Snapshot: "s3://b/x?endpoint=http://h", MasterStates: []inspect.MasterState{},
		Files: []inspect.FileInfo{{Path: "/a", Scope: "exclusive", Users: []inspect.User{}}}}
	for i := range 3*jsonChunk + 17 {
		op := inspect.OperatorInfo{ID: fmt.Sprintf("%032x", i), Parallelism: int32(i), Handles: []string{"managed-keyed:X"}}
		if i%3 == 0 {
			entries := int64(i)
			op.UID, op.Notes = fmt.Sprintf("op-%d <&>", i), []string{"a note"}
			op.States = []inspect.StateInfo{{Name: "s", Type: "VALUE", Entries: &entries, Bytes: &entries,
				Serializers: []inspect.SerializerInfo{{Class: "c", Short: "C", Params: map[string]string{"k": "v"}}}}}
		}
		r.Operators = append(r.Operators, op)
	}
	var one, chunked strings.Builder
	if err := writeJSON(&one, r); err != nil {
		t.Fatal(err)
	}
	head := *r
	head.Operators = []inspect.OperatorInfo{}
	if err := writeReportRows(&chunked, &head, len(r.Operators), func(i int) inspect.OperatorInfo { return r.Operators[i] }); err != nil {
		t.Fatal(err)
	}
	sameBytes(t, "report", one.String(), chunked.String())
	if !strings.Contains(one.String(), fmt.Sprintf(`"id": "%032x"`, len(r.Operators)-1)) {
		t.Error("the last operator is missing")
	}
}

// TestOperatorJSON holds large reports (rows made by inspect.Operator while
// operatorJSON encodes them, the rest streamed around them; with --files
// once) to the library's bytes for the whole report on every corpus snapshot, with the state files read and
// walked (states, serializer trees of every kind, key groups, skew,
// notes).
func TestOperatorJSON(t *testing.T) {
	ctx := context.Background()
	seen := map[string]int{}
	bytes := 0
	for _, e := range corpus.Require(t) {
		s, src, err := source.Load(ctx, e.Dir)
		if err != nil {
			t.Fatalf("%s: %v", e.Name, err)
		}
		for _, walk := range []bool{false, true} {
			states := inspect.ReadStates(ctx, s, src, inspect.StatesOptions{Walk: walk, Parallel: 2})
			r := inspect.Build(s, inspect.Options{States: states, Files: walk})
			opt := inspect.Options{States: states, Files: walk, NoOperators: true}
			head := inspect.Build(s, opt)
			var one, chunked strings.Builder
			if err := writeJSON(&one, r); err != nil {
				t.Fatal(err)
			}
			if err := writeReportRows(&chunked, head, len(s.Operators), func(i int) inspect.OperatorInfo { return inspect.Operator(s, opt, i) }); err != nil {
				t.Fatal(err)
			}
			sameBytes(t, e.Name, one.String(), chunked.String())
			for _, k := range []string{`"skew"`, `"derived_from"`, `"opaque"`, `"params"`, `"key_groups"`, `"entries"`, `"notes"`, `\u003c`, `"users"`} {
				if strings.Contains(one.String(), k) {
					seen[k]++
				}
			}
			bytes += one.Len()
		}
		src.Close()
	}
	t.Logf("%d bytes compared; reports with: %v", bytes, seen)
	for _, k := range []string{`"skew"`, `"derived_from"`, `"params"`, `"key_groups"`, `"notes"`, `"users"`} {
		if seen[k] == 0 {
			t.Errorf("no report had %s: not compared", k)
		}
	}
}

// TestOperatorJSONFields: operatorJSON writes the fields of these types by
// hand; a field added to one of them must be added there too (and here).
func TestOperatorJSONFields(t *testing.T) {
	for _, c := range []struct {
		v    any
		tags string
	}{
		{inspect.OperatorInfo{}, "id uid,omitempty name,omitempty parallelism max_parallelism subtasks_with_state finished_subtasks fully_finished bytes files handles states,omitempty key_serializer,omitempty key_groups,omitempty skew,omitempty notes,omitempty"},
		{inspect.StateBytes{}, "managed_keyed raw_keyed managed_operator raw_operator channel coordinator total"},
		{inspect.StateInfo{}, "name type slot serializers subtasks entries,omitempty bytes,omitempty"},
		{inspect.KeyGroupInfo{}, "key_group entries bytes"},
	} {
		rt := reflect.TypeOf(c.v)
		var tags []string
		for i := range rt.NumField() {
			tags = append(tags, rt.Field(i).Tag.Get("json"))
		}
		if got := strings.Join(tags, " "); got != c.tags {
			t.Errorf("%s fields are %q; operatorJSON writes %q", rt.Name(), got, c.tags)
		}
	}
}

// TestSpliceWriter: the mark is found across writes of any size, the
// insert comes right after its '[', and everything else passes unchanged.
func TestSpliceWriter(t *testing.T) {
	doc := "{\n  \"a\": 1,\n  \"operators\": [],\n  \"files\": [\n    \"x\"\n  ]\n}\n"
	want := "{\n  \"a\": 1,\n  \"operators\": [INSERTED\n  ],\n  \"files\": [\n    \"x\"\n  ]\n}\n"
	for _, size := range []int{1, 2, 7, len(doc)} {
		var out strings.Builder
		sp := &spliceWriter{w: &out, mark: []byte("\n  \"operators\": []"), insert: func(w io.Writer) error {
			_, err := io.WriteString(w, "INSERTED")
			return err
		}}
		for i := 0; i < len(doc); i += size {
			if _, err := sp.Write([]byte(doc[i:min(i+size, len(doc))])); err != nil {
				t.Fatal(err)
			}
		}
		if err := sp.flush(); err != nil || !sp.done || out.String() != want {
			t.Errorf("writes of %d: %q (%v)", size, out.String(), err)
		}
	}
}

// sameBytes fails the test at the first byte where got differs from want,
// showing both around it.
func sameBytes(t *testing.T, name, want, got string) {
	t.Helper()
	if want == got {
		return
	}
	i := 0
	for i < min(len(want), len(got)) && want[i] == got[i] {
		i++
	}
	t.Fatalf("%s: differ at byte %d of %d/%d: %q vs %q", name, i, len(want), len(got), want[max(i-60, 0):min(i+40, len(want))], got[max(i-60, 0):min(i+40, len(got))])
}
