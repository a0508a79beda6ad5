package main

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/fsnap/fsnap/fixtures"
	"github.com/fsnap/fsnap/format"
	"github.com/fsnap/fsnap/gc"
	"github.com/fsnap/fsnap/internal/testservers"
	"github.com/fsnap/fsnap/store"
)

// busy is a history with every case: shared SSTs, subsumption, leaks,
// failed and in-flight checkpoints, savepoints, LEGACY restores.
var busy = fixtures.HistorySpec{Jobs: 2, Rounds: 12, Retain: 2, Subtasks: 2, SSTs: 3, Churn: 0.3,
	FailRate: 0.25, LeakRate: 0.25, Recent: 2, InFlight: true, Savepoints: 3, Restores: 2, Strays: 3}

// localHistory writes a history under a new local directory, with the
// objects of old rounds dated two hours back and recent ones now.
func localHistory(t *testing.T, spec fixtures.HistorySpec) (string, *fixtures.History) {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "ckpt")
	spec.RootURI = "file:" + dir
	h, err := fixtures.GenerateHistory(spec)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	for _, recent := range []bool{false, true} {
		if err := h.Write(ctx, []fixtures.Writer{fixtures.Dir(dir)}, recent); err != nil {
			t.Fatal(err)
		}
	}
	old := time.Now().Add(-2 * time.Hour)
	for _, o := range h.Objects {
		if !o.Recent {
			if err := os.Chtimes(filepath.Join(dir, o.Key), old, old); err != nil {
				t.Fatal(err)
			}
		}
	}
	return dir, h
}

// s3History writes a history (no recent objects) into a new MinIO bucket
// and returns the root URL.
func s3History(t *testing.T, spec fixtures.HistorySpec) (string, *fixtures.History) {
	t.Helper()
	return serverHistory(t, testservers.S3, spec)
}

// existing lists the keys (relative to the root) stored under a root.
func existing(t *testing.T, ref string) []string {
	t.Helper()
	l, err := store.Open(context.Background(), ref)
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	var out []string
	for o, err := range l.List(context.Background(), l.Prefix, "") {
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, strings.TrimPrefix(o.Key, l.Prefix))
	}
	return out
}

// referenced lists the root's objects that complete snapshots reference.
func referenced(h *fixtures.History) []string {
	var out []string
	for id := range h.Referenced() {
		if id.Root == 0 {
			out = append(out, id.Key)
		}
	}
	slices.Sort(out)
	return out
}

// orphansByTruth lists what gc must delete with the given minimum-age
// semantics (old: only objects of old rounds, outside recent folders).
func orphansByTruth(h *fixtures.History, respectAge bool) []string {
	ref := h.Referenced()
	recentFolder := map[string]bool{}
	for _, o := range h.Objects {
		if o.Recent && o.Folder != "" {
			recentFolder[o.Folder] = true
		}
	}
	var out []string
	for _, o := range h.Objects {
		switch {
		case o.Root != 0 || ref[o.ObjectID]:
		case o.Place == fixtures.PlaceStray || o.Place == fixtures.PlaceMetadata:
		case respectAge && (o.Recent || (o.Place == fixtures.PlaceIncomplete && recentFolder[o.Folder])):
		default:
			out = append(out, o.Key)
		}
	}
	slices.Sort(out)
	return out
}

func planKeys(t *testing.T, p *gc.Plan, rootPrefix string) []string {
	t.Helper()
	var out []string
	for _, o := range p.Delete {
		out = append(out, strings.TrimPrefix(o.Key, rootPrefix))
	}
	slices.Sort(out)
	return out
}

func rootPrefix(t *testing.T, ref string) string {
	l, err := store.Open(context.Background(), ref)
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Prefix
}

func decodePlan(t *testing.T, s string) *gc.Plan {
	return decodeDoc[gc.Plan](t, s, "fsnap.gc-plan/v1")
}

// TestGCDryRunByDefault: gc without --apply, with and without --plan,
// deletes nothing and plans exactly the old orphans.
func TestGCDryRunByDefault(t *testing.T) {
	dir, h := localHistory(t, busy)
	before := existing(t, dir)
	planFile := filepath.Join(t.TempDir(), "plan.json")
	code, out, errs := fsnap(t, "gc", "--plan", planFile, dir)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errs)
	}
	for _, want := range []string{"DELETE", "unreferenced-shared", "Dry run: nothing deleted", "younger-than-min-age"} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
	code, out, _ = fsnap(t, "gc", "-o", "json", dir)
	if code != 0 {
		t.Fatal(code)
	}
	p := decodePlan(t, out)
	if got, want := planKeys(t, p, rootPrefix(t, dir)), orphansByTruth(h, true); !slices.Equal(got, want) || len(want) == 0 {
		t.Errorf("planned %d objects, want %d:\n%q\n%q", len(got), len(want), got, want)
	}
	if p.Command != "gc" || p.MinAgeSeconds != 3600 || p.Snapshots != len(h.Snapshots) || p.Totals.DeleteObjects != len(p.Delete) {
		t.Errorf("plan header %+v", p)
	}
	filePlan, err := os.ReadFile(planFile)
	if err != nil {
		t.Fatal(err)
	}
	if fp := decodePlan(t, string(filePlan)); len(fp.Delete) != len(p.Delete) {
		t.Errorf("plan file has %d objects, stdout plan %d", len(fp.Delete), len(p.Delete))
	}
	if after := existing(t, dir); !slices.Equal(before, after) {
		t.Errorf("a dry run changed the root: %d objects before, %d after", len(before), len(after))
	}
}

// TestGCApplyPlanFile applies a written plan: exactly its objects go,
// everything referenced and everything recent stays, every deletion is
// logged.
func TestGCApplyPlanFile(t *testing.T) {
	dir, h := localHistory(t, busy)
	planFile := filepath.Join(t.TempDir(), "plan.json")
	logFile := filepath.Join(t.TempDir(), "gc.log")
	if code, _, errs := fsnap(t, "gc", "--plan", planFile, dir); code != 0 {
		t.Fatal(errs)
	}
	before := existing(t, dir)
	code, out, errs := fsnap(t, "gc", "-v", "--apply", "--plan", planFile, "--log", logFile, dir)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errs)
	}
	want := orphansByTruth(h, true)
	after := existing(t, dir)
	if deleted := gone(before, after); !slices.Equal(deleted, want) {
		t.Errorf("deleted\n%q\nwant\n%q", deleted, want)
	}
	for _, k := range referenced(h) {
		if _, ok := slices.BinarySearch(before, k); !ok {
			continue // referenced but missing in the history itself
		}
		if _, ok := slices.BinarySearch(after, k); !ok {
			t.Errorf("referenced %s was deleted", k)
		}
	}
	if n := strings.Count(out, "\ndeleted ") + btoi(strings.HasPrefix(out, "deleted ")); n != len(want) {
		t.Errorf("%d deletions printed, want %d", n, len(want))
	}
	log, _ := os.ReadFile(logFile)
	lines := strings.Split(strings.TrimSpace(string(log)), "\n")
	if len(lines) != len(want) {
		t.Fatalf("%d log lines, want %d", len(lines), len(want))
	}
	var ev gc.Event
	if err := json.Unmarshal([]byte(lines[0]), &ev); err != nil || ev.Action != "deleted" || ev.Key == "" || ev.Reason == "" {
		t.Errorf("log line %q: %v", lines[0], err)
	}
	// A second run finds nothing old to delete.
	code, out, _ = fsnap(t, "gc", "-o", "json", dir)
	if p := decodePlan(t, out); code != 0 || len(p.Delete) != 0 {
		t.Errorf("after apply, gc plans %d objects", len(p.Delete))
	}
}

func btoi(b bool) int {
	if b {
		return 1
	}
	return 0
}

// TestGCApplyRechecks: between planning and applying a checkpoint
// completes that references a planned orphan, and the plan file is
// tampered with to add a referenced file and a file outside the root:
// apply skips all three.
func TestGCApplyRechecks(t *testing.T) {
	dir, h := localHistory(t, busy)
	planFile := filepath.Join(t.TempDir(), "plan.json")
	if code, _, errs := fsnap(t, "gc", "--plan", planFile, dir); code != 0 {
		t.Fatal(errs)
	}
	b, _ := os.ReadFile(planFile)
	p := decodePlan(t, string(b))
	prefix := rootPrefix(t, dir)
	var orphan gc.Object
	for _, o := range p.Delete {
		if o.Reason == gc.ReasonUnreferencedShared {
			orphan = o
			break
		}
	}
	if orphan.Key == "" {
		t.Fatal("no shared orphan planned")
	}
	// A new checkpoint in a new job folder now references the orphan.
	m := &format.Metadata{Version: 6, CheckpointID: 99, Properties: format.NewCheckpointProperties(),
		Operators: []format.OperatorState{{ID: format.OperatorIDFromUID("late"), Parallelism: 1, MaxParallelism: 128,
			Subtasks: []format.SubtaskState{{ManagedOperatorState: &format.OperatorStateHandle{
				States:   []format.NamedOperatorState{{Name: "s", Offsets: []int64{0}}},
				Delegate: &format.FileHandle{Path: "file:/" + orphan.Key, Size: orphan.Size}}}}}}}
	mb, err := format.AppendMetadata(nil, m)
	if err != nil {
		t.Fatal(err)
	}
	os.MkdirAll(filepath.Join(dir, "late", "chk-99"), 0o755)
	os.WriteFile(filepath.Join(dir, "late", "chk-99", "_metadata"), mb, 0o644)
	// Tampering: a referenced file, and a file outside the root.
	ref := referenced(h)
	outside := filepath.Join(t.TempDir(), "precious")
	os.WriteFile(outside, []byte("x"), 0o644)
	fi, _ := os.Stat(outside)
	p.Delete = append(p.Delete,
		gc.Object{Key: prefix + ref[0], Size: 1, Reason: gc.ReasonUnreferencedShared},
		gc.Object{Key: strings.TrimPrefix(outside, "/"), Size: 1, Modified: fi.ModTime(), Reason: gc.ReasonUnreferencedShared})
	tb, _ := json.Marshal(p)
	os.WriteFile(planFile, tb, 0o644)

	code, out, errs := fsnap(t, "gc", "--apply", "--plan", planFile, dir)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errs)
	}
	for _, k := range []string{orphan.Key, prefix + ref[0], strings.TrimPrefix(outside, "/")} {
		if _, err := os.Stat("/" + k); err != nil {
			t.Errorf("%s deleted despite the re-check: %v", k, err)
		}
	}
	if !strings.Contains(out, "now referenced by late/chk-99") {
		t.Errorf("no skip reason for the newly referenced orphan:\n%s", out)
	}
	if got := strings.Count(out, "skipped "); got != 3 {
		t.Errorf("%d skipped, want 3:\n%s", got, out)
	}
}

func TestGCGuards(t *testing.T) {
	dir, _ := localHistory(t, busy)
	before := existing(t, dir)
	code, _, errs := fsnap(t, "gc", "--apply", "--max-delete", "1", dir)
	if code != exitFindings || !strings.Contains(errs, "--max-delete is 1; nothing deleted") {
		t.Errorf("max-delete: exit %d, %s", code, errs)
	}
	if after := existing(t, dir); !slices.Equal(before, after) {
		t.Error("--max-delete refused but objects were deleted")
	}
	// An unreadable _metadata stops gc.
	bad := filepath.Join(dir, "zzz", "chk-1")
	os.MkdirAll(bad, 0o755)
	os.WriteFile(filepath.Join(bad, "_metadata"), []byte("\x49\x60\x67\x2d\x00\x00\x00\x06\x00"), 0o644)
	code, _, errs = fsnap(t, "gc", "--apply", "--min-age", "0", dir)
	if code != exitInput || !strings.Contains(errs, "zzz/chk-1/_metadata") || !strings.Contains(errs, "cannot tell what is referenced") {
		t.Errorf("unreadable: exit %d, %s", code, errs)
	}
	if after := existing(t, dir); len(after) != len(before)+1 {
		t.Errorf("gc deleted with an unreadable snapshot: %d objects, want %d", len(after), len(before)+1)
	}
	for _, args := range [][]string{{"gc"}, {"gc", "--min-age", "-1h", dir}, {"gc", "-o", "yaml", dir}} {
		if code, _, _ := fsnap(t, args...); code != exitUsage {
			t.Errorf("%v: exit %d, want %d", args, code, exitUsage)
		}
	}
}

// TestGCMinIO, TestGCGCS and TestGCAzure plan and apply on each store.
func TestGCMinIO(t *testing.T) { gcServer(t, testservers.S3) }
func TestGCGCS(t *testing.T)   { gcServer(t, testservers.GCS) }
func TestGCAzure(t *testing.T) { gcServer(t, testservers.Azure) }

// gcServer plans (text and JSON) and applies gc on a test server: exactly
// the orphans are planned and deleted, every other object stays, and no
// output shows the server's secret.
func gcServer(t *testing.T, k testservers.Kind) {
	root, h := serverHistory(t, k, busy)
	code, text, errs := fsnap(t, "gc", "--min-age", "0", root)
	if code != 0 || !strings.Contains(text, "Dry run: nothing deleted") {
		t.Fatalf("exit %d: %s%s", code, text, errs)
	}
	code, out, errs := fsnap(t, "gc", "--min-age", "0", "-o", "json", root)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errs)
	}
	p := decodePlan(t, out)
	want := orphansByTruth(h, false)
	if got := planKeys(t, p, "ckpt/"); !slices.Equal(got, want) || len(want) == 0 {
		t.Fatalf("planned\n%q\nwant\n%q", got, want)
	}
	ext := map[string]bool{}
	for _, s := range h.Snapshots {
		for _, r := range s.Refs {
			if s.Root == 0 && r.Root < 0 {
				ext[r.Key] = true
			}
		}
	}
	if len(p.External) != len(ext) || len(p.Warnings) != 0 {
		t.Errorf("%d external references, want %d (%s); warnings %q", len(p.External), len(ext), fixtures.ExternalURI, p.Warnings)
	}
	noSecret(t, k, text, out, errs)
	code, out, errs = fsnap(t, "gc", "--min-age", "0", "--apply", "-o", "json", root)
	if code != 0 {
		t.Fatalf("apply: exit %d: %s", code, errs)
	}
	noSecret(t, k, out, errs)
	var res struct {
		Schema string
		Result gc.Result
	}
	json.Unmarshal([]byte(out), &res)
	if res.Schema != "fsnap.gc-result/v1" || res.Result.Deleted != len(want) {
		t.Errorf("result %+v, want %d deleted", res, len(want))
	}
	after := existing(t, root)
	var all []string
	for _, o := range h.Objects {
		all = append(all, o.Key)
	}
	slices.Sort(all)
	kept := slices.DeleteFunc(slices.Clone(all), func(k string) bool { _, gone := slices.BinarySearch(want, k); return gone })
	if !slices.Equal(after, kept) {
		t.Errorf("after apply %d objects, want %d", len(after), len(kept))
	}
	for _, k := range referenced(h) {
		if _, ok := slices.BinarySearch(after, k); !ok && slices.Contains(all, k) {
			t.Errorf("referenced %s was deleted", k)
		}
	}
}

// writeTo writes a history's objects of root 0 under a store URL.
func writeTo(t *testing.T, ref string, h *fixtures.History) {
	t.Helper()
	l, err := store.Open(context.Background(), ref)
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	for _, recent := range []bool{false, true} {
		if err := h.Write(context.Background(), []fixtures.Writer{l}, recent); err != nil {
			t.Fatal(err)
		}
	}
}

// deletable returns, by the history's ground truth, what deleting snapshot
// s frees with every other complete snapshot of root 0 honoured: its
// _metadata, the stored files only it references, the unreferenced rest
// of its folder.
func deletable(h *fixtures.History, s fixtures.HistorySnapshot) []string {
	others := map[fixtures.ObjectID]bool{}
	for _, o := range h.Snapshots {
		if o.Root == 0 && o.Dir != s.Dir {
			for _, r := range o.Refs {
				others[r.ObjectID] = true
			}
		}
	}
	mine := map[fixtures.ObjectID]bool{}
	for _, r := range s.Refs {
		mine[r.ObjectID] = true
	}
	var out []string
	for _, o := range h.Objects {
		switch {
		case o.Root != 0 || others[o.ObjectID]:
		case o.Key == s.Dir+"_metadata", mine[o.ObjectID]:
			out = append(out, o.Key)
		case strings.HasPrefix(o.Key, s.Dir):
			out = append(out, o.Key)
		}
	}
	slices.Sort(out)
	return out
}

// pick returns a complete checkpoint of root 0 that is not its job's
// newest (the job may be running) and shares files with another snapshot.
func pick(t *testing.T, h *fixtures.History) fixtures.HistorySnapshot {
	t.Helper()
	newest := map[string]int64{}
	for _, s := range h.Snapshots {
		if s.Root == 0 && s.Kind == fixtures.IncrementalCheckpoint {
			newest[s.Job] = max(newest[s.Job], s.CheckpointID)
		}
	}
	for _, s := range h.Snapshots {
		if s.Root == 0 && s.Kind == fixtures.IncrementalCheckpoint && s.CheckpointID < newest[s.Job] {
			return s
		}
	}
	t.Fatal("no suitable checkpoint in the history")
	return fixtures.HistorySnapshot{}
}

// deleteRoundTrip deletes snapshot s under root (dry run, then --apply),
// checks that exactly what only it uses goes, and returns every output.
func deleteRoundTrip(t *testing.T, root string, h *fixtures.History, s fixtures.HistorySnapshot, extra ...string) []string {
	t.Helper()
	prefix := rootPrefix(t, root)
	snap := strings.TrimSuffix(root, "/") + "/" + strings.TrimSuffix(s.Dir, "/")
	if strings.Contains(root, "?") { // a URL with parameters: the path goes before them
		i := strings.Index(root, "?")
		snap = root[:i] + "/" + strings.TrimSuffix(s.Dir, "/") + root[i:]
	}
	before := existing(t, root)
	args := append([]string{"delete", "-o", "json", "--min-age", "1h"}, extra...)
	code, out, errs := fsnap(t, append(args, snap)...)
	if code != 0 {
		t.Fatalf("dry run: exit %d: %s", code, errs)
	}
	outputs := []string{out, errs}
	p := decodePlan(t, out)
	want := deletable(h, s)
	if got := planKeys(t, p, prefix); !slices.Equal(got, want) {
		t.Fatalf("plan\n%q\nwant\n%q", got, want)
	}
	if p.Command != "delete" || p.Snapshot != strings.TrimSuffix(s.Dir, "/") || p.Delete[0].Reason != gc.ReasonSnapshotMetadata {
		t.Errorf("plan header %q %q, first %+v", p.Command, p.Snapshot, p.Delete[0])
	}
	if after := existing(t, root); !slices.Equal(before, after) {
		t.Fatal("the dry run deleted something")
	}
	code, out, errs = fsnap(t, append(append([]string{"delete", "-v", "--apply", "--min-age", "1h"}, extra...), snap)...)
	if code != 0 {
		t.Fatalf("--apply: exit %d: %s", code, errs)
	}
	outputs = append(outputs, out, errs)
	if first := strings.Index(out, "\ndeleted  "); first < 0 || !strings.HasPrefix(out[first+1:], "deleted  "+p.Delete[0].Location+" ") {
		t.Errorf("_metadata not deleted first:\n%s", out)
	}
	after := existing(t, root)
	if deleted := gone(before, after); !slices.Equal(deleted, want) {
		t.Errorf("deleted\n%q\nwant\n%q", deleted, want)
	}
	return outputs
}

func TestDeleteLocal(t *testing.T) {
	dir, h := localHistory(t, busy)
	deleteRoundTrip(t, dir, h, pick(t, h))
}

func TestDeleteMinIO(t *testing.T) { deleteServer(t, testservers.S3) }
func TestDeleteGCS(t *testing.T)   { deleteServer(t, testservers.GCS) }
func TestDeleteAzure(t *testing.T) { deleteServer(t, testservers.Azure) }

// deleteServer deletes a checkpoint on a test server: the dry run
// deletes nothing, --apply exactly what only it uses, the plan has no
// warning (every path of the history maps to the root), no output shows
// the server's secret.
func deleteServer(t *testing.T, k testservers.Kind) {
	root, h := serverHistory(t, k, busy)
	out := deleteRoundTrip(t, root, h, pick(t, h))
	if p := decodePlan(t, out[0]); len(p.Warnings) != 0 {
		t.Errorf("warnings %q", p.Warnings)
	}
	noSecret(t, k, out...)
}

// TestDeleteDefaultRoot: without --root a chk-N in a job-id folder is
// deleted with every job of the checkpoint root honoured.
func TestDeleteDefaultRoot(t *testing.T) {
	dir, h := localHistory(t, busy)
	s := pick(t, h)
	code, out, errs := fsnap(t, "delete", "-o", "json", filepath.Join(dir, s.Dir))
	if code != 0 {
		t.Fatal(errs)
	}
	if p := decodePlan(t, out); p.Root != dir || p.Snapshot != strings.TrimSuffix(s.Dir, "/") {
		t.Errorf("root %q snapshot %q, want %q and %q", p.Root, p.Snapshot, dir, s.Dir)
	}
}

// TestDeleteKeepsLegacyUsers deletes a savepoint whose files a job restored
// in LEGACY mode still uses: those files are kept, with their users.
func TestDeleteKeepsLegacyUsers(t *testing.T) {
	for seed := uint64(1); seed < 200; seed++ {
		spec := busy
		spec.Seed = seed
		dir, h := localHistory(t, spec)
		ref := h.Referenced()
		var sp *fixtures.HistorySnapshot
		var used []string
		for i, s := range h.Snapshots {
			if s.Root != 0 || s.Kind != fixtures.NativeSavepoint {
				continue
			}
			for _, o := range h.Snapshots {
				for _, r := range o.Refs {
					if o.Dir != s.Dir && o.Root == 0 && r.Root == 0 && strings.HasPrefix(r.Key, s.Dir) && ref[r.ObjectID] {
						used = append(used, r.Key)
					}
				}
			}
			if len(used) > 0 {
				sp = &h.Snapshots[i]
				break
			}
		}
		if sp == nil {
			continue
		}
		// The savepoint target alone does not show the restored job.
		code, out, _ := fsnap(t, "delete", filepath.Join(dir, sp.Dir))
		if code != 0 || !strings.Contains(out, "pass their checkpoint roots with --also") {
			t.Errorf("no warning about LEGACY users elsewhere:\n%s", out)
		}
		deleteRoundTrip(t, dir, h, *sp, "--root", dir)
		for _, k := range used {
			if _, err := os.Stat(filepath.Join(dir, k)); err != nil {
				t.Errorf("file of the savepoint used by a LEGACY job deleted: %v", err)
			}
		}
		// Its folder keeps the used files and is now incomplete.
		_, out, _ = fsnap(t, "ls", "-o", "json", dir)
		found := false
		for _, e := range decodeLs(t, out).Snapshots {
			if e.Name == strings.TrimSuffix(sp.Dir, "/") {
				found = true
				if e.Complete || e.Objects != len(slices.Compact(slices.Sorted(slices.Values(used)))) {
					t.Errorf("savepoint folder after delete: %+v, want incomplete with %d objects", e, len(used))
				}
			}
		}
		if !found {
			t.Error("savepoint folder with used files gone")
		}
		return
	}
	t.Fatal("no history with a savepoint used by a LEGACY restore")
}

// TestDeleteGuards: the newest checkpoint of a writing job needs --force;
// incomplete folders, folders outside --root and bad flags are refused.
func TestDeleteGuards(t *testing.T) {
	dir, h := localHistory(t, busy)
	var newest fixtures.HistorySnapshot
	for _, s := range h.Snapshots {
		if s.Root == 0 && s.Kind == fixtures.IncrementalCheckpoint && s.CheckpointID > newest.CheckpointID {
			newest = s
		}
	}
	snap := filepath.Join(dir, newest.Dir)
	code, _, errs := fsnap(t, "delete", snap)
	if code != exitFindings || !strings.Contains(errs, "newest complete checkpoint of a job that is writing") {
		t.Errorf("active job: exit %d, %s", code, errs)
	}
	if code, _, errs := fsnap(t, "delete", "--force", snap); code != 0 {
		t.Errorf("--force: exit %d, %s", code, errs)
	}
	var incomplete string
	for _, o := range h.Objects {
		if o.Place == fixtures.PlaceIncomplete {
			incomplete = filepath.Join(dir, o.Folder)
			break
		}
	}
	if code, _, errs := fsnap(t, "delete", incomplete); code != exitInput || !strings.Contains(errs, "no _metadata") {
		t.Errorf("incomplete: exit %d, %s", code, errs)
	}
	// A file of another name is taken as a snapshot's metadata file, and
	// its folder is no snapshot folder: refused before the root (here one
	// holding a link, which a scan refuses) is scanned.
	odd := t.TempDir()
	if err := os.MkdirAll(filepath.Join(odd, "notes"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(odd, "notes", "todo.txt"), []byte("x"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(dir, filepath.Join(odd, "link")); err != nil {
		t.Fatal(err)
	}
	if code, _, errs := fsnap(t, "delete", "--apply", filepath.Join(odd, "notes", "todo.txt")); code != exitInput || !strings.Contains(errs, `no snapshot folder "notes"`) {
		t.Errorf("a file as the snapshot: exit %d, %s", code, errs)
	}
	if _, err := os.Stat(filepath.Join(odd, "notes", "todo.txt")); err != nil {
		t.Errorf("a file as the snapshot: %v", err)
	}
	other := t.TempDir()
	if code, _, errs := fsnap(t, "delete", "--root", other, snap); code != exitUsage || !strings.Contains(errs, "is not under the root") {
		t.Errorf("outside root: exit %d, %s", code, errs)
	}
	if code, _, _ := fsnap(t, "delete"); code != exitUsage {
		t.Errorf("no argument: exit %d", code)
	}
}

// TestDeleteScope: a snapshot that references files outside the root by
// absolute path: they are reported as external and kept.
func TestDeleteScope(t *testing.T) {
	base := t.TempDir()
	root := filepath.Join(base, "ckpt")
	outside := filepath.Join(base, "elsewhere", "sst")
	os.MkdirAll(filepath.Dir(outside), 0o755)
	os.WriteFile(outside, []byte("precious"), 0o644)
	inside := filepath.Join(root, "job", "shared", "mine")
	os.MkdirAll(filepath.Dir(inside), 0o755)
	os.WriteFile(inside, []byte("mine"), 0o644)
	m := &format.Metadata{Version: 6, CheckpointID: 3, Properties: format.NewCheckpointProperties(),
		Operators: []format.OperatorState{{ID: format.OperatorIDFromUID("x"), Parallelism: 2, MaxParallelism: 128,
			Subtasks: []format.SubtaskState{
				{Index: 0, ManagedOperatorState: &format.OperatorStateHandle{
					States: []format.NamedOperatorState{{Name: "s", Offsets: []int64{0}}}, Delegate: &format.FileHandle{Path: "file:" + outside, Size: 8}}},
				{Index: 1, ManagedOperatorState: &format.OperatorStateHandle{
					States: []format.NamedOperatorState{{Name: "s", Offsets: []int64{0}}}, Delegate: &format.FileHandle{Path: "file://" + inside, Size: 4}}},
			}}}}
	mb, err := format.AppendMetadata(nil, m)
	if err != nil {
		t.Fatal(err)
	}
	os.MkdirAll(filepath.Join(root, "job", "chk-3"), 0o755)
	os.WriteFile(filepath.Join(root, "job", "chk-3", "_metadata"), mb, 0o644)
	code, out, errs := fsnap(t, "delete", "--yes", "--force", filepath.Join(root, "job", "chk-3"))
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errs)
	}
	if !strings.Contains(out, "EXTERNAL") || !strings.Contains(out, "outside-root") {
		t.Errorf("external reference not reported:\n%s", out)
	}
	if _, err := os.Stat(outside); err != nil {
		t.Errorf("file outside the root deleted: %v", err)
	}
	if _, err := os.Stat(inside); err == nil {
		t.Error("the snapshot's own shared file was kept")
	}
	if _, err := os.Stat(filepath.Join(root, "job", "chk-3")); err == nil {
		t.Error("the emptied snapshot folder was kept")
	}
}

// TestApplyPlanKeepsItsMinAge: a plan made with --min-age 0 applies with
// that minimum age, not the flag's default of an hour (it used to skip
// every object as too young, exit 0).
func TestApplyPlanKeepsItsMinAge(t *testing.T) {
	dir, _ := localHistory(t, fixtures.HistorySpec{Seed: 9, Version: 6, Jobs: 1, Rounds: 8, Retain: 2, LeakRate: 0.5, Recent: 2})
	plan := filepath.Join(t.TempDir(), "p.json")
	if code, _, errs := fsnap(t, "gc", "--min-age", "0", "--plan", plan, dir); code != exitOK {
		t.Fatalf("plan: %d %s", code, errs)
	}
	b, _ := os.ReadFile(plan)
	var p struct{ Delete []struct{ Key string } }
	if err := json.Unmarshal(b, &p); err != nil || len(p.Delete) == 0 {
		t.Fatalf("plan with %d deletions (%v)", len(p.Delete), err)
	}
	code, out, errs := fsnap(t, "gc", "--apply", "--plan", plan, "-o", "json", dir)
	var res struct {
		Result struct{ Deleted, Skipped int }
	}
	json.Unmarshal([]byte(out), &res)
	if code != exitOK || res.Result.Deleted != len(p.Delete) || res.Result.Skipped != 0 {
		t.Errorf("apply: exit %d, %+v of %d planned: %s", code, res.Result, len(p.Delete), errs)
	}
}

// TestPlanSummaries (issue 18 item 6): a gc plan is summarised per folder
// and reason (the rows' objects sum to the plan's), -v lists every object;
// an applied plan prints no line per deletion unless -v.
func TestPlanSummaries(t *testing.T) {
	dir, _ := localHistory(t, fixtures.HistorySpec{Seed: 8, Version: 6, Jobs: 2, Rounds: 12, Retain: 2, FailRate: 0.3, LeakRate: 0.3})
	code, out, errs := fsnap(t, "gc", "--min-age", "0", "-o", "json", dir)
	if code != exitOK {
		t.Fatalf("gc: %d %s", code, errs)
	}
	plan := decodePlan(t, out)
	if len(plan.Delete) < 10 {
		t.Fatalf("only %d objects to delete generated", len(plan.Delete))
	}
	_, out, _ = fsnap(t, "gc", "--min-age", "0", dir)
	sum, rows := 0, 0
	inDelete := false
	for _, line := range strings.Split(out, "\n") {
		f := strings.Fields(line)
		switch {
		case line == "DELETE":
			inDelete = true
		case line == "":
			inDelete = false
		case inDelete && len(f) >= 4 && f[0] != "FOLDER":
			n, err := strconv.Atoi(f[1])
			if err != nil {
				t.Fatalf("row %q", line)
			}
			sum += n
			rows++
		}
	}
	if sum != len(plan.Delete) || rows >= len(plan.Delete) {
		t.Errorf("summary: %d rows of %d objects, the plan deletes %d\n%s", rows, sum, len(plan.Delete), out)
	}
	_, out, _ = fsnap(t, "gc", "-v", "--min-age", "0", dir)
	for _, o := range plan.Delete {
		if !strings.Contains(out, o.Location) {
			t.Fatalf("-v does not list %s", o.Location)
		}
	}
	code, out, errs = fsnap(t, "gc", "--apply", "--min-age", "0", dir)
	if code != exitOK || strings.Count(out, "\n") > 3 || !strings.Contains(out, fmt.Sprintf("%d objects deleted", len(plan.Delete))) {
		t.Errorf("apply: exit %d\n%s%s", code, out, errs)
	}
}
