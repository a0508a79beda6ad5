package main

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/fsnap/fsnap/fixtures"
	"github.com/fsnap/fsnap/format"
	"github.com/fsnap/fsnap/gc"
	"github.com/fsnap/fsnap/internal/testservers"
)

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
	code, out, errs = fsnap(t, append(append([]string{"delete", "--apply", "--min-age", "1h"}, extra...), snap)...)
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
	if code != exitInput || !strings.Contains(errs, "newest complete checkpoint of a job that is writing") {
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
