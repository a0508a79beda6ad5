package main

import (
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/fsnap/fsnap/fixtures"

	"github.com/fsnap/fsnap/catalog"
)

func decodeLs(t *testing.T, s string) catalog.Listing {
	t.Helper()
	var r catalog.Listing
	if err := json.Unmarshal([]byte(s), &r); err != nil {
		t.Fatalf("%v in %q", err, s)
	}
	if r.Schema != "fsnap.ls/v1" {
		t.Fatalf("schema %q", r.Schema)
	}
	return r
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
