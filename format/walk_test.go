package format

import (
	"fmt"
	"strings"
	"testing"
)

// TestWalk visits a tree with every kind of nesting: the nodes come in file
// order with their slot, role and description, and replacing a stream
// through the node rewrites the tree.
func TestWalk(t *testing.T) {
	inc := &IncrementalHandle{Type: 11, MetaStateHandle: &FileHandle{Path: "/x/meta"},
		SharedState:  []NamedHandle{{LocalPath: "000010.sst", Handle: &FileHandle{Path: "/x/shared/a"}}},
		PrivateState: []NamedHandle{{LocalPath: "CURRENT", Handle: &ByteStreamHandle{Name: "c"}}}}
	changes := &ChangelogBytesHandle{}
	clog := &ChangelogHandle{Materialized: []KeyedStateHandle{inc, nil}, NonMaterialized: []KeyedStateHandle{changes,
		&ChangelogFileHandle{Handles: []OffsetHandle{{Handle: &FileHandle{Path: "/x/dstl"}}}}}}
	op := &OperatorStateHandle{Delegate: &RelativeFileHandle{RelativePath: "op"}}
	m := &Metadata{Operators: []OperatorState{{
		Coordinator: &ByteStreamHandle{Name: "coord"},
		Subtasks: []SubtaskState{
			{Index: 0, Finished: true},
			{Index: 3, ManagedOperatorState: op, ManagedKeyedState: clog,
				RawKeyedState: &KeyGroupsHandle{Delegate: &KeyGroupsHandle{Delegate: &FileHandle{Path: "/x/raw"}}}},
		},
	}}}
	var got []string
	for n := range m.Walk() {
		what := fmt.Sprintf("%T", n.Keyed)
		if n.Stream != nil {
			what = fmt.Sprintf("%T", n.Handle())
		}
		got = append(got, fmt.Sprintf("%d %s %s %s", n.Subtask, n.Slot, what, strings.TrimPrefix(n.Where(m), "operator 00000000000000000000000000000000 ")))
	}
	want := []string{
		"-1 coordinator *format.ByteStreamHandle coordinator",
		"1 managed-operator *format.RelativeFileHandle subtask 3 managed operator state",
		"1 managed-keyed *format.ChangelogHandle subtask 3 managed keyed state",
		"1 managed-keyed *format.IncrementalHandle subtask 3 managed keyed state materialized",
		"1 managed-keyed *format.FileHandle subtask 3 managed keyed state materialized meta",
		"1 managed-keyed *format.FileHandle subtask 3 managed keyed state materialized shared 000010.sst",
		"1 managed-keyed *format.ByteStreamHandle subtask 3 managed keyed state materialized private CURRENT",
		"1 managed-keyed *format.ChangelogBytesHandle subtask 3 managed keyed state changelog",
		"1 managed-keyed *format.ChangelogFileHandle subtask 3 managed keyed state changelog",
		"1 managed-keyed *format.FileHandle subtask 3 managed keyed state changelog",
		"1 raw-keyed *format.KeyGroupsHandle subtask 3 raw keyed state",
		"1 raw-keyed *format.FileHandle subtask 3 raw keyed state",
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Fatalf("walk:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	for n := range m.Walk() {
		if n.Owner == op {
			*n.Stream = &ByteStreamHandle{Name: "new"}
		}
	}
	if h, ok := op.Delegate.(*ByteStreamHandle); !ok || h.Name != "new" {
		t.Errorf("delegate after rewrite: %#v", op.Delegate)
	}
	// Stopping early stops.
	count := 0
	for range m.Walk() {
		if count++; count == 3 {
			break
		}
	}
	if count != 3 {
		t.Errorf("visited %d after break", count)
	}
}

// TestIncrementalFiles checks the order, the shared flag and that the
// pointers are the list's entries, and that a break stops the walk.
func TestIncrementalFiles(t *testing.T) {
	h := &IncrementalHandle{
		SharedState:  []NamedHandle{{LocalPath: "000010.sst"}, {LocalPath: "000011.sst"}},
		PrivateState: []NamedHandle{{LocalPath: "CURRENT"}, {LocalPath: "MANIFEST-000005"}},
	}
	var got []string
	for f, shared := range h.Files() {
		got = append(got, fmt.Sprintf("%s:%v", f.LocalPath, shared))
		f.LocalPath += "!"
	}
	if want := "[000010.sst:true 000011.sst:true CURRENT:false MANIFEST-000005:false]"; fmt.Sprint(got) != want {
		t.Errorf("files %v, want %s", got, want)
	}
	if h.SharedState[1].LocalPath != "000011.sst!" || h.PrivateState[0].LocalPath != "CURRENT!" {
		t.Errorf("the yielded pointers are not the lists' entries: %+v %+v", h.SharedState, h.PrivateState)
	}
	n := 0
	for range h.Files() {
		if n++; n == 3 {
			break
		}
	}
	if n != 3 {
		t.Errorf("break after 3 ran %d", n)
	}
	for f := range (&IncrementalHandle{}).Files() {
		t.Errorf("an empty handle yields %+v", f)
	}
}
