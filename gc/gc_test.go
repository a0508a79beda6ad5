package gc_test

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/fsnap/fsnap/format"
	"github.com/fsnap/fsnap/gc"
	"github.com/fsnap/fsnap/store"
)

// tree writes files under dir with the given ages.
func tree(t *testing.T, dir string, files map[string]time.Duration) {
	t.Helper()
	now := time.Now()
	for name, age := range files {
		p := filepath.Join(dir, name)
		os.MkdirAll(filepath.Dir(p), 0o755)
		if err := os.WriteFile(p, []byte(name), 0o644); err != nil {
			t.Fatal(err)
		}
		at := now.Add(-age)
		os.Chtimes(p, at, at)
	}
}

// checkpoint writes dir/job/chk-N/_metadata referencing the given paths
// (absolute, or relative names in the folder), aged age.
func checkpoint(t *testing.T, dir string, id int64, age time.Duration, paths ...string) {
	t.Helper()
	op := format.OperatorState{ID: format.OperatorIDFromUID("op"), Parallelism: int32(len(paths)), MaxParallelism: 128}
	for i, p := range paths {
		var h format.StreamHandle = &format.RelativeFileHandle{RelativePath: p, Size: int64(len(p))}
		if strings.HasPrefix(p, "/") {
			h = &format.FileHandle{Path: "file:" + p, Size: 1}
		}
		op.Subtasks = append(op.Subtasks, format.SubtaskState{Index: int32(i),
			ManagedOperatorState: &format.OperatorStateHandle{Delegate: h,
				States: []format.NamedOperatorState{{Name: "s", Offsets: []int64{0}}}}})
	}
	b, err := format.AppendMetadata(nil, &format.Metadata{Version: 6, CheckpointID: id,
		Properties: format.NewCheckpointProperties(), Operators: []format.OperatorState{op}})
	if err != nil {
		t.Fatal(err)
	}
	p := filepath.Join(dir, "job", "chk-"+strconv.FormatInt(id, 10), "_metadata")
	os.MkdirAll(filepath.Dir(p), 0o755)
	os.WriteFile(p, b, 0o644)
	at := time.Now().Add(-age)
	os.Chtimes(p, at, at)
}

func openRoot(t *testing.T, dir string) *store.Location {
	l, err := store.Open(context.Background(), dir)
	if err != nil {
		t.Fatal(err)
	}
	return l
}

func reasons(p []gc.Object, prefix string) map[string]string {
	out := map[string]string{}
	for _, o := range p {
		out[strings.TrimPrefix(o.Key, prefix)] = o.Reason
	}
	return out
}

// TestPlanGCCases: each kind of orphan, each guard.
func TestPlanGCCases(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "ckpt")
	h := 3 * time.Hour
	tree(t, dir, map[string]time.Duration{
		"job/shared/used":                 h,
		"job/shared/old":                  h,
		"job/shared/young":                time.Minute,
		"job/taskowned/old":               h,
		"job/chk-5/a":                     h,
		"job/chk-5/stale":                 h,
		"job/chk-6/x":                     h, // failed long ago
		"job/chk-7/x":                     h, // in flight: one object is recent
		"job/chk-7/y":                     time.Minute,
		"savepoint-ab12cd-0123456789ab/z": h, // failed savepoint
		"job/dstl/d":                      h, // unmanaged
		"README":                          h,
	})
	checkpoint(t, dir, 5, h, "a", filepath.Join(dir, "job/shared/used"), "/elsewhere/x")
	root := openRoot(t, dir)
	defer root.Close()
	p, err := gc.PlanGC(context.Background(), root, gc.Options{})
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]string{
		"job/shared/old":                  gc.ReasonUnreferencedShared,
		"job/taskowned/old":               gc.ReasonUnreferencedTaskOwned,
		"job/chk-5/stale":                 gc.ReasonUnreferencedInFolder,
		"job/chk-6/x":                     gc.ReasonIncompleteCheckpoint,
		"savepoint-ab12cd-0123456789ab/z": gc.ReasonIncompleteSavepoint,
	}
	if got := reasons(p.Delete, root.Prefix); !equalMaps(got, want) {
		t.Errorf("delete %v\nwant %v", got, want)
	}
	wantKeep := map[string]string{
		"job/shared/young": gc.ReasonTooYoung,
		"job/chk-7/x":      gc.ReasonFolderTooYoung,
		"job/chk-7/y":      gc.ReasonTooYoung,
	}
	if got := reasons(p.Keep, root.Prefix); !equalMaps(got, wantKeep) {
		t.Errorf("keep %v\nwant %v", got, wantKeep)
	}
	if len(p.External) != 1 || p.External[0].Path != "file:/elsewhere/x" || p.External[0].Reason != "outside-root" ||
		!slices.Equal(p.External[0].Users, []string{"job/chk-5"}) {
		t.Errorf("external %+v", p.External)
	}
	if p.Totals.DeleteObjects != 5 || p.Totals.KeepObjects != 3 || p.Snapshots != 1 {
		t.Errorf("totals %+v, snapshots %d", p.Totals, p.Snapshots)
	}

	// No minimum age: everything unreferenced goes, the in-flight folder too.
	p, err = gc.PlanGC(context.Background(), root, gc.Options{MinAge: -1})
	if err != nil {
		t.Fatal(err)
	}
	if len(p.Delete) != 8 || len(p.Keep) != 0 {
		t.Errorf("min age 0: %d to delete, %d kept", len(p.Delete), len(p.Keep))
	}
}

func equalMaps(a, b map[string]string) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if b[k] != v {
			return false
		}
	}
	return true
}

// TestApplyDeleteOrder: a delete plan whose file lists _metadata last is
// still applied _metadata first; a plan for another root is refused.
func TestApplyDeleteOrder(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "ckpt")
	h := 3 * time.Hour
	tree(t, dir, map[string]time.Duration{"job/chk-1/a": h, "job/chk-1/b": h, "job/shared/s": h})
	checkpoint(t, dir, 1, h, "a", "b", filepath.Join(dir, "job/shared/s"))
	checkpoint(t, dir, 2, h) // a newer checkpoint: chk-1 is not the newest
	root := openRoot(t, dir)
	defer root.Close()
	ctx := context.Background()
	p, err := gc.PlanDelete(ctx, root, "job/chk-1", gc.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if len(p.Delete) != 4 || p.Delete[0].Reason != gc.ReasonSnapshotMetadata {
		t.Fatalf("plan %+v", p.Delete)
	}
	slices.Reverse(p.Delete)
	other := openRoot(t, t.TempDir())
	if _, err := gc.Apply(ctx, other, p, gc.ApplyOptions{}); err == nil || !strings.Contains(err.Error(), "the plan is for root") {
		t.Errorf("another root: %v", err)
	}
	var order []string
	res, err := gc.Apply(ctx, root, p, gc.ApplyOptions{Log: func(e gc.Event) { order = append(order, e.Action+" "+e.Reason) }})
	if err != nil || res.Deleted != 4 {
		t.Fatalf("apply: %+v, %v", res, err)
	}
	if order[0] != "deleted "+gc.ReasonSnapshotMetadata {
		t.Errorf("first event %q", order[0])
	}
	if _, err := os.Stat(filepath.Join(dir, "job", "chk-1")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("emptied folder kept: %v", err)
	}
	if _, err := os.Stat(filepath.Join(dir, "job", "chk-2", "_metadata")); err != nil {
		t.Errorf("other checkpoint touched: %v", err)
	}
	// Applying the same plan again: the snapshot is gone, nothing happens.
	if _, err := gc.Apply(ctx, root, p, gc.ApplyOptions{}); err == nil {
		t.Error("applying a delete plan twice succeeded")
	}
}

// TestApplyUnreadableNow: a _metadata that became unreadable after
// planning stops the apply before any deletion.
func TestApplyUnreadableNow(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "ckpt")
	tree(t, dir, map[string]time.Duration{"job/shared/old": 3 * time.Hour})
	root := openRoot(t, dir)
	defer root.Close()
	ctx := context.Background()
	p, err := gc.PlanGC(ctx, root, gc.Options{})
	if err != nil || len(p.Delete) != 1 {
		t.Fatalf("plan %+v, %v", p, err)
	}
	tree(t, dir, map[string]time.Duration{"job/chk-3/_metadata": time.Hour})
	if _, err := gc.Apply(ctx, root, p, gc.ApplyOptions{}); !errors.Is(err, gc.ErrUnreadable) {
		t.Errorf("apply: %v, want ErrUnreadable", err)
	}
	if _, err := os.Stat(filepath.Join(dir, "job/shared/old")); err != nil {
		t.Errorf("deleted despite an unreadable snapshot: %v", err)
	}
}
