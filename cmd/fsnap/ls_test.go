package main

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/fsnap/fsnap/catalog"
	"github.com/fsnap/fsnap/fixtures"
)

func decodeLs(t *testing.T, s string) catalog.Listing {
	return *decodeDoc[catalog.Listing](t, s, "fsnap.ls/v1")
}

// folderTruth sums the history's snapshot folders of root 0.
type folderTruth struct {
	complete bool
	kind     fixtures.Kind
	id       int64
	objects  int
	bytes    int64
}

func foldersOf(h *fixtures.History) map[string]*folderTruth {
	out := map[string]*folderTruth{}
	for _, o := range h.Objects {
		if o.Root != 0 || o.Folder == "" {
			continue
		}
		name := strings.TrimSuffix(o.Folder, "/")
		if out[name] == nil {
			out[name] = &folderTruth{}
		}
		out[name].objects++
		out[name].bytes += o.Size
	}
	for _, s := range h.Snapshots {
		if f := out[strings.TrimSuffix(s.Dir, "/")]; s.Root == 0 && f != nil {
			f.complete, f.kind, f.id = true, s.Kind, s.CheckpointID
		}
	}
	return out
}

func checkLs(t *testing.T, root string, h *fixtures.History) {
	t.Helper()
	code, out, errs := fsnap(t, "ls", "-o", "json", root)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errs)
	}
	r := decodeLs(t, out)
	truth := foldersOf(h)
	if r.Total != len(truth) || r.Count != len(truth) || r.Truncated {
		t.Fatalf("listed %d of %d, history has %d snapshot folders", r.Count, r.Total, len(truth))
	}
	for i, s := range r.Snapshots {
		f := truth[s.Name]
		if f == nil {
			t.Fatalf("%s is not a snapshot folder of the history", s.Name)
		}
		got := fmt.Sprintf("complete=%v objects=%d bytes=%d", s.Complete, s.Objects, s.Bytes)
		want := fmt.Sprintf("complete=%v objects=%d bytes=%d", f.complete, f.objects, f.bytes)
		if f.complete {
			got += fmt.Sprintf(" kind=%s id=%d", s.Kind, *s.CheckpointID)
			want += fmt.Sprintf(" kind=%s id=%d", f.kind, f.id)
		}
		if got != want || s.Error != "" {
			t.Errorf("%s: %s, want %s (%s)", s.Name, got, want, s.Error)
		}
		if i > 0 && s.Time.After(r.Snapshots[i-1].Time) {
			t.Errorf("%s listed after an older snapshot", s.Name)
		}
	}
}

func TestLsLocal(t *testing.T) {
	dir, h := localHistory(t, busy)
	checkLs(t, dir, h)

	code, out, _ := fsnap(t, "ls", "--limit", "3", "-o", "json", dir)
	r := decodeLs(t, out)
	if code != 0 || r.Count != 3 || !r.Truncated || r.Total != len(foldersOf(h)) {
		t.Errorf("--limit 3: count %d total %d truncated %v", r.Count, r.Total, r.Truncated)
	}
	_, out, _ = fsnap(t, "ls", "--complete", "--no-metadata", "-o", "json", dir)
	r = decodeLs(t, out)
	for _, s := range r.Snapshots {
		if !s.Complete || s.Kind != "" {
			t.Errorf("--complete --no-metadata: %+v", s)
		}
	}
	if r.Count == 0 || !slices.Contains(r.Unmanaged, "README-0.txt") {
		t.Errorf("%d complete snapshots; unmanaged %q", r.Count, r.Unmanaged)
	}
	code, out, _ = fsnap(t, "ls", dir)
	if code != 0 || !strings.Contains(out, "NAME") || !strings.Contains(out, "incremental-checkpoint") ||
		!strings.Contains(out, "incomplete (no _metadata)") || !strings.Contains(out, fmt.Sprintf("%d snapshots under %s", len(foldersOf(h)), dir)) {
		t.Errorf("text output:\n%s", out)
	}
	// A checkpoint whose _metadata does not parse is complete (Flink wrote
	// it to the end) but unreadable, and the summary says so.
	if err := os.MkdirAll(filepath.Join(dir, "job-bad", "chk-1"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "job-bad", "chk-1", "_metadata"), []byte("not flink"), 0o644); err != nil {
		t.Fatal(err)
	}
	code, out, _ = fsnap(t, "ls", dir)
	if code != 0 || !strings.Contains(out, "unreadable: ") || !strings.Contains(out, "complete (1 with an unreadable _metadata), ") {
		t.Errorf("text output with an unreadable checkpoint:\n%s", out)
	}
	for _, args := range [][]string{{"ls"}, {"ls", "--limit", "-1", dir}, {"ls", "-o", "yaml", dir}} {
		if code, _, _ := fsnap(t, args...); code != exitUsage {
			t.Errorf("%v: exit %d", args, code)
		}
	}
}

func TestLsMem(t *testing.T) {
	root := "mem://cmd-ls/ckpt"
	spec := busy
	spec.RootURI = root
	h, err := fixtures.GenerateHistory(spec)
	if err != nil {
		t.Fatal(err)
	}
	writeTo(t, root, h)
	checkLs(t, root, h)
}

func TestLsMinIO(t *testing.T) {
	root, h := s3History(t, busy)
	checkLs(t, root, h)
}

const latestJob = "0123456789abcdef0123456789abcdef"

// latestRoot writes <job>/chk-1 (3 h old), <job>/chk-2 (2 h), a savepoint
// (1 h), an incomplete <job>/chk-3 (10 min) and a corrupt <job>/chk-4 (5 min).
func latestRoot(t *testing.T) (string, string) {
	root := filepath.Join(t.TempDir(), "ckpt")
	ctx := context.Background()
	now := time.Now()
	write := func(dir string, spec fixtures.Spec, age time.Duration) string {
		spec.RootURI = "file:" + dir
		s, err := fixtures.Generate(spec)
		if err != nil {
			t.Fatal(err)
		}
		if err := s.Write(ctx, fixtures.Dir(dir)); err != nil {
			t.Fatal(err)
		}
		at := now.Add(-age)
		os.Chtimes(filepath.Join(dir, s.MetadataKey()), at, at)
		return filepath.Join(dir, s.Dir)
	}
	write(filepath.Join(root, latestJob), fixtures.Spec{Kind: fixtures.IncrementalCheckpoint, CheckpointID: 1}, 3*time.Hour)
	write(filepath.Join(root, latestJob), fixtures.Spec{Kind: fixtures.IncrementalCheckpoint, CheckpointID: 2}, 2*time.Hour)
	sp := write(root, fixtures.Spec{Kind: fixtures.CanonicalSavepoint, CheckpointID: 7}, time.Hour)
	os.MkdirAll(filepath.Join(root, latestJob, "chk-3"), 0o755)
	os.WriteFile(filepath.Join(root, latestJob, "chk-3", "part"), []byte("x"), 0o644)
	os.MkdirAll(filepath.Join(root, latestJob, "chk-4"), 0o755)
	os.WriteFile(filepath.Join(root, latestJob, "chk-4", "_metadata"), []byte("not a snapshot"), 0o644)
	at := now.Add(-5 * time.Minute)
	os.Chtimes(filepath.Join(root, latestJob, "chk-4", "_metadata"), at, at)
	return root, sp
}

func TestLatest(t *testing.T) {
	root, sp := latestRoot(t)
	code, out, errs := fsnap(t, "latest", root)
	if code != 0 || strings.TrimSpace(out) != sp {
		t.Errorf("latest: exit %d, %q, want %q (%s)", code, out, sp, errs)
	}
	if !strings.Contains(errs, "skipping "+latestJob+"/chk-4") {
		t.Errorf("the corrupt newer checkpoint is not reported: %q", errs)
	}
	chk2 := filepath.Join(root, latestJob, "chk-2")
	for _, args := range [][]string{{"--type", "checkpoint"}, {"--job", latestJob}} {
		code, out, _ := fsnap(t, append(append([]string{"latest"}, args...), root)...)
		if code != 0 || strings.TrimSpace(out) != chk2 {
			t.Errorf("latest %v: exit %d, %q, want %q", args, code, out, chk2)
		}
	}
	// The document names its schema (issue 20, item 12).
	code, out, _ = fsnap(t, "latest", "-o", "json", "--type", "checkpoint", root)
	if code != 0 {
		t.Fatalf("json: exit %d", code)
	}
	s := decodeDoc[catalog.Listed](t, out, catalog.ListSchema)
	if s.Name != latestJob+"/chk-2" || s.Kind != "incremental-checkpoint" || *s.CheckpointID != 2 || !s.Complete {
		t.Errorf("json entry %+v", s)
	}
	// One latestJob's folder as the root.
	code, out, _ = fsnap(t, "latest", filepath.Join(root, latestJob))
	if code != 0 || strings.TrimSpace(out) != chk2 {
		t.Errorf("latest of the latestJob folder: %q", out)
	}
}

func TestLatestNone(t *testing.T) {
	root, _ := latestRoot(t)
	for _, args := range [][]string{{t.TempDir()}, {"--job", "nosuch", root}} {
		code, out, errs := fsnap(t, append([]string{"latest"}, args...)...)
		if code != exitFindings || out != "" || !strings.Contains(errs, "no complete snapshot") {
			t.Errorf("%v: exit %d, stdout %q, stderr %q", args, code, out, errs)
		}
	}
	if code, _, _ := fsnap(t, "latest", "--type", "both", root); code != exitUsage {
		t.Errorf("bad --type: exit %d", code)
	}
}

// TestMaxDepth (issue 18): a checkpoint root two folders below the given
// one (BUCKET/checkpoints/<job>/chk-N) is found with --max-depth 3 and by
// default: the same snapshots ls finds from the root itself, and the same
// gc plan; with --max-depth 2 nothing, and the hint says how deep it
// looked.
func TestMaxDepth(t *testing.T) {
	bucket := t.TempDir()
	root := filepath.Join(bucket, "checkpoints")
	spec := fixtures.HistorySpec{Seed: 12, Version: 6, Jobs: 3, Rounds: 6, Retain: 2, Savepoints: 2, FailRate: 0.2, RootURI: "file:" + root}
	h, err := fixtures.GenerateHistory(spec)
	if err != nil {
		t.Fatal(err)
	}
	if err := h.Write(context.Background(), []fixtures.Writer{fixtures.Dir(root)}, false); err != nil {
		t.Fatal(err)
	}
	names := func(args ...string) []string {
		t.Helper()
		code, out, errs := fsnap(t, append([]string{"ls", "-o", "json"}, args...)...)
		if code != exitOK {
			t.Fatalf("ls %v: exit %d %s", args, code, errs)
		}
		var ls struct{ Snapshots []struct{ Location string } }
		if err := json.Unmarshal([]byte(out), &ls); err != nil {
			t.Fatal(err)
		}
		var got []string
		for _, s := range ls.Snapshots {
			got = append(got, s.Location)
		}
		sort.Strings(got)
		return got
	}
	want := names(root)
	if len(want) < 8 {
		t.Fatalf("only %d snapshots generated", len(want))
	}
	if got := names("--max-depth", "3", bucket); !slices.Equal(got, want) {
		t.Errorf("from the bucket, depth 3:\n%q\nwant\n%q", got, want)
	}
	if got := names(bucket); !slices.Equal(got, want) {
		t.Errorf("from the bucket, default depth:\n%q\nwant\n%q", got, want)
	}
	if got := names("--max-depth", "2", bucket); len(got) != 0 {
		t.Errorf("depth 2 found %q", got)
	}
	if _, out, _ := fsnap(t, "ls", "--max-depth", "2", bucket); !strings.Contains(out, "Nothing found") ||
		!strings.Contains(out, "up to 1 folder(s) below it (--max-depth 2") || !strings.Contains(out, "--max-depth 3 looks deeper") {
		t.Errorf("no hint:\n%s", out)
	}
	plan := func(args ...string) []string {
		t.Helper()
		code, out, errs := fsnap(t, append([]string{"gc", "--min-age", "0", "-o", "json"}, args...)...)
		if code != exitOK {
			t.Fatalf("gc %v: exit %d %s", args, code, errs)
		}
		var got []string
		for _, o := range decodePlan(t, out).Delete {
			got = append(got, o.Location)
		}
		sort.Strings(got)
		return got
	}
	if got, want := plan("--max-depth", "3", bucket), plan(root); !slices.Equal(got, want) || len(want) == 0 {
		t.Errorf("gc from the bucket plans %d deletions, from the root %d", len(got), len(want))
	}
}

// TestRootMissingOrEmpty (issue 18): ls, deps, gc, prune and inventory on
// a root that does not exist exit 3 naming it; on an empty root they exit
// 0 and say what they looked for and where.
func TestRootMissingOrEmpty(t *testing.T) {
	dir := t.TempDir()
	missing, empty := filepath.Join(dir, "nope"), filepath.Join(dir, "empty")
	if err := os.Mkdir(empty, 0o755); err != nil {
		t.Fatal(err)
	}
	cmds := map[string][]string{
		"ls":        {"ls"},
		"deps":      {"deps"},
		"gc":        {"gc"},
		"prune":     {"prune", "--keep-last", "1"},
		"inventory": {"inventory", "-o", "csv", "--out", filepath.Join(dir, "inv")},
	}
	for name, args := range cmds {
		code, out, errs := fsnap(t, append(slices.Clone(args), missing)...)
		if code != exitInput || !strings.Contains(errs, missing) {
			t.Errorf("%s of a missing root: exit %d, stderr %q, stdout %q", name, code, errs, out)
		}
		code, out, errs = fsnap(t, append(slices.Clone(args), empty)...)
		said := out + errs
		if code != exitOK || !strings.Contains(said, "looked for chk-N, savepoint-*") || !strings.Contains(said, "in "+empty+" and up to 5 folder(s) below it") {
			t.Errorf("%s of an empty root: exit %d, said:\n%s", name, code, said)
		}
	}
	if _, out, _ := fsnap(t, "ls", empty); !strings.Contains(out, "Nothing found: fsnap looked") {
		t.Errorf("ls of an empty root:\n%s", out)
	}
	// verify takes an empty folder for a snapshot that is not there.
	for _, p := range []string{missing, empty} {
		if code, _, errs := fsnap(t, "verify", p); code != exitInput || !strings.Contains(errs, p) {
			t.Errorf("verify %s: exit %d, %s", p, code, errs)
		}
	}
}
