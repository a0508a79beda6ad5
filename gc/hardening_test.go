package gc_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/fsnap/fsnap/gc"
	"github.com/fsnap/fsnap/store"
)

// uuidName is a file name as Flink gives them.
func uuidName(i int) string { return fmt.Sprintf("%08x-0000-4000-8000-%012x", i, i) }

// sharedFiles writes n old files in dir/job/shared and returns their paths.
func sharedFiles(t *testing.T, dir string, n int) []string {
	t.Helper()
	files := map[string]time.Duration{}
	var paths []string
	for i := range n {
		name := "job/shared/" + uuidName(i)
		files[name] = 3 * time.Hour
		paths = append(paths, filepath.Join(dir, name))
	}
	tree(t, dir, files)
	return paths
}

func mustExist(t *testing.T, paths ...string) {
	t.Helper()
	for _, p := range paths {
		if _, err := os.Stat(p); err != nil {
			t.Errorf("%s: %v", p, err)
		}
	}
}

// TestGCSymlinkedCheckpoint (issue 20, item 1): an incremental chk-7 moved
// to another disk and linked back uses 24 shared SSTs; gc refuses the root
// (naming the link) instead of planning to delete them, and applies nothing.
func TestGCSymlinkedCheckpoint(t *testing.T) {
	base := t.TempDir()
	dir, disk2 := filepath.Join(base, "ckpt"), filepath.Join(base, "disk2")
	ssts := sharedFiles(t, dir, 24)
	checkpoint(t, dir, 6, 3*time.Hour, "x")
	tree(t, dir, map[string]time.Duration{"job/chk-6/x": 3 * time.Hour})
	checkpoint(t, disk2, 7, 3*time.Hour, ssts...)
	if err := os.Symlink(filepath.Join(disk2, "job", "chk-7"), filepath.Join(dir, "job", "chk-7")); err != nil {
		t.Fatal(err)
	}
	root := openRoot(t, dir)
	defer root.Close()
	ctx := context.Background()
	p, err := gc.PlanGC(ctx, root, gc.Options{})
	if !errors.Is(err, store.ErrLink) || !strings.Contains(err.Error(), filepath.Join(dir, "job", "chk-7")) {
		t.Fatalf("plan: %v (%d to delete), want the link refused by name", err, planned(p))
	}
	// A plan made before the link appeared is not applied either.
	os.Remove(filepath.Join(dir, "job", "chk-7"))
	old, err := gc.PlanGC(ctx, root, gc.Options{})
	if err != nil || len(old.Delete) != 24 {
		t.Fatalf("plan without the link: %v, %d to delete", err, planned(old))
	}
	os.Symlink(filepath.Join(disk2, "job", "chk-7"), filepath.Join(dir, "job", "chk-7"))
	if _, err := gc.Apply(ctx, root, old, gc.ApplyOptions{}); !errors.Is(err, store.ErrLink) {
		t.Errorf("apply: %v, want ErrLink", err)
	}
	mustExist(t, ssts...)
}

func planned(p *gc.Plan) int {
	if p == nil {
		return 0
	}
	return len(p.Delete)
}

// TestDeleteSymlinkedSnapshot (issue 20, item 2): deleting ROOT/<job>/chk-5
// where chk-5 is a link plans under ROOT (not under the link target's
// parent) and is refused there; the other job's snapshot that references
// the file by its ROOT path and the folder outside the root are untouched.
func TestDeleteSymlinkedSnapshot(t *testing.T) {
	base := t.TempDir()
	dir, disk2 := filepath.Join(base, "ckpt"), filepath.Join(base, "disk2")
	job := "0123456789abcdef0123456789abcdef"
	target := filepath.Join(disk2, job, "chk-5")
	var outside []string
	files := map[string]time.Duration{}
	for i := range 45 {
		files[filepath.Join(job, "chk-5", uuidName(i))] = 3 * time.Hour
		outside = append(outside, filepath.Join(target, uuidName(i)))
	}
	tree(t, disk2, files)
	// chk-5's _metadata references its files by their ROOT path.
	checkpointAt(t, filepath.Join(disk2, job, "chk-5"), 5, strings.ReplaceAll(strings.Join(outside, "\n"), disk2, dir))
	os.MkdirAll(filepath.Join(dir, job), 0o755)
	if err := os.Symlink(target, filepath.Join(dir, job, "chk-5")); err != nil {
		t.Fatal(err)
	}
	// The other job's snapshot uses one of them by its ROOT path.
	other := filepath.Join(dir, "fedcba9876543210fedcba9876543210")
	checkpointAt(t, filepath.Join(other, "chk-9"), 9, filepath.Join(dir, job, "chk-5", uuidName(0)))

	ctx := context.Background()
	ref := filepath.Join(dir, job, "chk-5")
	sr, err := store.OpenSnapshot(ctx, ref)
	if err != nil {
		t.Fatal(err)
	}
	defer sr.Close()
	if got := gc.DeleteRoot(ref, sr); got != dir {
		t.Errorf("default root %s, want %s (not the link target's parent)", got, dir)
	}
	root := openRoot(t, gc.DeleteRoot(ref, sr))
	defer root.Close()
	name, ok := gc.NameUnder(root, sr)
	if !ok || name != job+"/chk-5" {
		t.Fatalf("name under the root: %q, %v", name, ok)
	}
	if _, err := gc.PlanDelete(ctx, root, name, gc.Options{Force: true}); !errors.Is(err, store.ErrLink) {
		t.Errorf("plan: %v, want the link refused", err)
	}
	mustExist(t, outside...)
}

// checkpointAt writes a version 6 _metadata in dir whose one operator
// references the newline-separated absolute paths.
func checkpointAt(t *testing.T, dir string, id int64, paths string) {
	t.Helper()
	tmp := t.TempDir()
	checkpoint(t, tmp, id, 3*time.Hour, strings.Split(paths, "\n")...)
	b, err := os.ReadFile(filepath.Join(tmp, "job", fmt.Sprintf("chk-%d", id), "_metadata"))
	if err != nil {
		t.Fatal(err)
	}
	os.MkdirAll(dir, 0o755)
	p := filepath.Join(dir, "_metadata")
	os.WriteFile(p, b, 0o644)
	at := time.Now().Add(-3 * time.Hour)
	os.Chtimes(p, at, at)
}

// TestGCRefusesNonCheckpointRoot (issue 20, item 3): a folder holding no
// snapshot, whose files sit in folders named shared/, chk-1/, taskowned/,
// savepoint-notes/, is refused (naming why) unless forced; so are files
// Flink would not have named so.
func TestGCRefusesNonCheckpointRoot(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "home")
	user := map[string]time.Duration{
		"shared/budget.xlsx":          48 * time.Hour,
		"projects/shared/plan.md":     48 * time.Hour,
		"chk-1/notes.txt":             48 * time.Hour,
		"taskowned/todo.txt":          48 * time.Hour,
		"savepoint-notes/meeting.txt": 48 * time.Hour,
	}
	tree(t, dir, user)
	root := openRoot(t, dir)
	defer root.Close()
	ctx := context.Background()
	p := mustPlanGC(t, root, gc.Options{})
	if len(p.Refused) == 0 || !strings.Contains(p.Refused[0], "no complete snapshot") {
		t.Errorf("refused %q", p.Refused)
	}
	if _, err := gc.Apply(ctx, root, p, gc.ApplyOptions{}); !errors.Is(err, gc.ErrRefused) {
		t.Errorf("apply: %v, want ErrRefused", err)
	}
	for name := range user {
		mustExist(t, filepath.Join(dir, name))
	}
	// Forced, it does what it was told.
	opt := gc.Options{Force: true}
	res, err := gc.Apply(ctx, root, p, gc.ApplyOptions{Options: opt})
	if err != nil || res.Deleted != 5 {
		t.Errorf("forced: %+v, %v", res, err)
	}

	// A checkpoint root with a snapshot, but a file that is not Flink's.
	dir = filepath.Join(t.TempDir(), "ckpt")
	tree(t, dir, map[string]time.Duration{
		"job/shared/" + uuidName(1):   3 * time.Hour,
		"job/shared/README":           3 * time.Hour,
		"other/shared/" + uuidName(2): 3 * time.Hour,
		"job/chk-4/" + uuidName(3):    3 * time.Hour,
	})
	checkpoint(t, dir, 4, 3*time.Hour, uuidName(3))
	root2 := openRoot(t, dir)
	defer root2.Close()
	p = mustPlanGC(t, root2, gc.Options{})
	all := strings.Join(p.Refused, "\n")
	if len(p.Refused) != 1 || !strings.Contains(all, filepath.Join(dir, "job/shared/README")) {
		t.Errorf("refused:\n%s", all)
	}
	if _, err := gc.Apply(ctx, root2, p, gc.ApplyOptions{}); !errors.Is(err, gc.ErrRefused) {
		t.Errorf("apply: %v, want ErrRefused", err)
	}
	mustExist(t, filepath.Join(dir, "job/shared/README"))
}

// TestGCRefusesBlindSpots (issue 18): gc does not apply a plan made blind
// to snapshots whose files it would delete: a savepoint kept inside a
// job's shared/ folder (its _metadata is never read, so its files look
// orphaned), and folders deeper than the scan looked.
func TestGCRefusesBlindSpots(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "ckpt")
	nested := "job/shared/backup/savepoint-1/" + uuidName(2)
	tree(t, dir, map[string]time.Duration{
		"job/chk-4/" + uuidName(3):  3 * time.Hour,
		"job/shared/" + uuidName(1): 3 * time.Hour,
		nested:                      3 * time.Hour,
		"job/shared/backup/savepoint-1/_metadata": 3 * time.Hour,
		"old/x/y/" + uuidName(4):                  3 * time.Hour,
	})
	checkpoint(t, dir, 4, 3*time.Hour, uuidName(3))
	root := openRoot(t, dir)
	defer root.Close()
	ctx := context.Background()
	p := mustPlanGC(t, root, gc.Options{})
	all := strings.Join(p.Refused, "\n")
	if len(p.Refused) != 1 || !strings.Contains(all, filepath.Join(dir, "job/shared")+" holds backup/savepoint-1/_metadata") {
		t.Errorf("refused:\n%s", all)
	}
	if _, err := gc.Apply(ctx, root, p, gc.ApplyOptions{}); !errors.Is(err, gc.ErrRefused) {
		t.Errorf("apply: %v, want ErrRefused", err)
	}
	mustExist(t, filepath.Join(dir, nested))

	// Two folders deep, old/x/ is not looked into.
	os.RemoveAll(filepath.Join(dir, "job/shared/backup"))
	p = mustPlanGC(t, root, gc.Options{MaxDepth: 2})
	all = strings.Join(p.Refused, "\n")
	if len(p.Refused) != 1 || !strings.Contains(all, "1 folder(s) 2 deep") || !strings.Contains(all, "old/x/") || !strings.Contains(all, "--max-depth 3") || p.MaxDepth != 2 {
		t.Errorf("depth 2: max depth %d, refused:\n%s", p.MaxDepth, all)
	}
	if _, err := gc.Apply(ctx, root, p, gc.ApplyOptions{Options: gc.Options{MaxDepth: 2}}); !errors.Is(err, gc.ErrRefused) {
		t.Errorf("apply at depth 2: %v, want ErrRefused", err)
	}
	mustExist(t, filepath.Join(dir, "job/shared", uuidName(1)))
	// At the default depth everything was looked into: the orphan goes.
	p = mustPlanGC(t, root, gc.Options{})
	if len(p.Refused) != 0 || len(p.Delete) != 1 || !strings.HasSuffix(p.Delete[0].Key, "job/shared/"+uuidName(1)) {
		t.Fatalf("default depth: refused %q, delete %+v", p.Refused, p.Delete)
	}
	if res, err := gc.Apply(ctx, root, p, gc.ApplyOptions{}); err != nil || res.Deleted != 1 {
		t.Errorf("apply: %+v, %v", res, err)
	}
}

// mustPlanGC plans gc of root or fails the test.
func mustPlanGC(t *testing.T, root *store.Location, opt gc.Options) *gc.Plan {
	t.Helper()
	p, err := gc.PlanGC(context.Background(), root, opt)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// TestGCCopiedRoot: a root copied file by file (cp, rclone) instead of
// relocated keeps _metadata naming the original's shared files, so its own
// copies look orphaned. gc refuses to delete them unless forced, names one,
// and leaves the original's own plan alone.
func TestGCCopiedRoot(t *testing.T) {
	base := t.TempDir()
	orig, copy := filepath.Join(base, "orig"), filepath.Join(base, "copy")
	ssts := sharedFiles(t, orig, 3)
	checkpoint(t, orig, 7, 3*time.Hour, ssts...)
	sharedFiles(t, copy, 3)
	checkpoint(t, copy, 7, 3*time.Hour, ssts...) // the copied _metadata: still the original's paths
	ctx := context.Background()
	for dir, refused := range map[string]bool{orig: false, copy: true} {
		root := openRoot(t, dir)
		p, err := gc.PlanGC(ctx, root, gc.Options{})
		if err != nil {
			t.Fatal(err)
		}
		said := strings.Join(p.Refused, "\n")
		if got := strings.Contains(said, "3 files to delete have the path") && strings.Contains(said, "looks copied"); got != refused {
			t.Errorf("%s: refused %q, want the copy refused: %v", dir, said, refused)
		}
		if refused {
			if len(p.Delete) != 3 {
				t.Errorf("copy: %d to delete, want its 3 shared copies", len(p.Delete))
			}
			if _, err := gc.Apply(ctx, root, p, gc.ApplyOptions{}); !errors.Is(err, gc.ErrRefused) {
				t.Errorf("copy: apply %v, want refused", err)
			}
			mustExist(t, filepath.Join(copy, "job", "shared", uuidName(0)))
		}
		root.Close()
	}
}
