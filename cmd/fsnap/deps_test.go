package main

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/fsnap/fsnap/catalog"
	"github.com/fsnap/fsnap/fixtures"
)

func decodeDeps(t *testing.T, s string) catalog.Deps {
	return *decodeDoc[catalog.Deps](t, s, "fsnap.deps/v1")
}

// legacyHistory finds a busy history in which a checkpoint of root 0 uses
// files of a savepoint folder (a LEGACY restore) and, with a second root,
// one of root 1 uses files of root 0.
func legacyHistory(t *testing.T, also string) fixtures.HistorySpec {
	for seed := uint64(1); seed < 500; seed++ {
		spec := busy
		spec.Seed, spec.RootURI, spec.AlsoURI = seed, "file:/x", also
		h, err := fixtures.GenerateHistory(spec)
		if err != nil {
			t.Fatal(err)
		}
		legacy := false
		for _, s := range h.Snapshots {
			for _, r := range s.Refs {
				if s.Root == 0 && r.Root == 0 && strings.HasPrefix(r.Key, "savepoints/") && !strings.HasPrefix(r.Key, s.Dir) {
					legacy = true
				}
			}
		}
		if legacy && (also == "" || len(onlyFromOther(h)) > 0) {
			return spec
		}
	}
	t.Fatal("no history with a LEGACY dependency")
	return fixtures.HistorySpec{}
}

func TestDeps(t *testing.T) {
	spec := legacyHistory(t, "")
	dir, h := localHistory(t, spec)
	code, out, errs := fsnap(t, "deps", "-o", "json", dir)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errs)
	}
	d := decodeDeps(t, out)
	if len(d.Snapshots) != len(h.Snapshots) || d.Unreliable {
		t.Fatalf("%d snapshots, history has %d", len(d.Snapshots), len(h.Snapshots))
	}
	prefix := rootPrefix(t, dir)
	users := map[string][]string{} // file -> snapshot names, from the JSON
	for _, f := range d.Files {
		for _, u := range f.Users {
			users[strings.TrimPrefix(f.Key, prefix)] = append(users[strings.TrimPrefix(f.Key, prefix)], d.Snapshots[u].Name)
		}
	}
	want := map[string][]string{}
	deps := 0
	for _, s := range h.Snapshots {
		for _, r := range s.Refs {
			if !slices.Contains(want[r.Key], strings.TrimSuffix(s.Dir, "/")) && r.Root == 0 {
				want[r.Key] = append(want[r.Key], strings.TrimSuffix(s.Dir, "/"))
			}
		}
	}
	for k := range want {
		slices.Sort(want[k])
		slices.Sort(users[k])
		if !slices.Equal(want[k], users[k]) {
			t.Errorf("users of %s: %q, want %q", k, users[k], want[k])
		}
	}
	if len(users) != len(want) {
		t.Errorf("%d referenced files, want %d", len(users), len(want))
	}
	for _, s := range d.Snapshots {
		deps += len(s.DependsOn)
		for _, id := range s.DependsOn {
			if !strings.HasPrefix(d.Snapshots[id].Name, "savepoints/") {
				t.Errorf("%s depends on %s", s.Name, d.Snapshots[id].Name)
			}
		}
		if s.OwnedObjects == 0 || s.OwnedBytes == 0 { // its _metadata at least
			t.Errorf("%s owns nothing", s.Name)
		}
	}
	if deps == 0 {
		t.Error("no dependency on a savepoint folder found")
	}
	var orphans []string
	for _, o := range d.Orphans {
		orphans = append(orphans, strings.TrimPrefix(o.Key, prefix))
	}
	if w := orphansByTruth(h, false); !slices.Equal(orphans, w) {
		t.Errorf("orphans\n%q\nwant\n%q", orphans, w)
	}
	if d.Totals.Orphans != len(d.Orphans) || d.Totals.Snapshots != len(d.Snapshots) || d.Totals.Files != len(d.Files) {
		t.Errorf("totals %+v", d.Totals)
	}

	code, out, _ = fsnap(t, "deps", dir)
	for _, w := range []string{"SNAPSHOT", "OWNS (FREED BY DELETE)", "savepoints/", "ORPHANS", fmt.Sprintf("%d orphan objects", len(orphans))} {
		if code != 0 || !strings.Contains(out, w) {
			t.Errorf("text output lacks %q:\n%s", w, out)
		}
	}
	code, out, _ = fsnap(t, "deps", "-o", "dot", dir)
	if code != 0 || !strings.HasPrefix(out, "digraph fsnap {") || !strings.HasSuffix(out, "}\n") ||
		strings.Count(out, "shape=folder") == 0 || !strings.Contains(out, "color=red") {
		t.Errorf("dot output:\n%s", out)
	}
	if n := strings.Count(out, "\n  s") - strings.Count(out, " -> "); n != len(d.Snapshots) {
		t.Errorf("dot has %d snapshot nodes, want %d", n, len(d.Snapshots))
	}
	if dot, err := exec.LookPath("dot"); err == nil { // Graphviz, when installed
		cmd := exec.Command(dot, "-Tsvg", "-o", os.DevNull)
		cmd.Stdin = strings.NewReader(out)
		if msg, err := cmd.CombinedOutput(); err != nil {
			t.Errorf("Graphviz rejects the output: %v %s", err, msg)
		}
	}
	if code, _, _ := fsnap(t, "deps", "-o", "yaml", dir); code != exitUsage {
		t.Errorf("-o yaml: exit %d", code)
	}
}

// onlyFromOther lists the stored objects of root 0 that only snapshots of
// root 1 reference.
func onlyFromOther(h *fixtures.History) []string {
	mine, theirs := map[fixtures.ObjectID]bool{}, map[fixtures.ObjectID]bool{}
	for _, s := range h.Snapshots {
		for _, r := range s.Refs {
			if s.Root == 0 {
				mine[r.ObjectID] = true
			} else {
				theirs[r.ObjectID] = true
			}
		}
	}
	var out []string
	for _, o := range h.Objects {
		if o.Root == 0 && theirs[o.ObjectID] && !mine[o.ObjectID] {
			out = append(out, o.Key)
		}
	}
	return out
}

// TestDepsAlso: snapshots of another root that use this root's files make
// them non-orphans, and appear as nodes outside the root.
func TestDepsAlso(t *testing.T) {
	base := t.TempDir()
	root, other := filepath.Join(base, "ckpt"), filepath.Join(base, "other")
	spec := legacyHistory(t, "file:"+other)
	spec.RootURI = "file:" + root
	h, err := fixtures.GenerateHistory(spec)
	if err != nil {
		t.Fatal(err)
	}
	for _, recent := range []bool{false, true} {
		if err := h.Write(t.Context(), []fixtures.Writer{fixtures.Dir(root), fixtures.Dir(other)}, recent); err != nil {
			t.Fatal(err)
		}
	}
	_, out, _ := fsnap(t, "deps", "-o", "json", root)
	alone := decodeDeps(t, out)
	code, out, errs := fsnap(t, "deps", "-o", "json", "--also", other, root)
	if code != 0 {
		t.Fatal(errs)
	}
	d := decodeDeps(t, out)
	outside := 0
	for _, s := range d.Snapshots {
		if !s.InRoot {
			outside++
		}
	}
	fromOther := 0
	for _, s := range h.Snapshots {
		if s.Root == 1 {
			fromOther++
		}
	}
	if outside != fromOther || len(d.Also) != 1 {
		t.Errorf("%d snapshots from the other root, want %d", outside, fromOther)
	}
	protected := onlyFromOther(h)
	if len(protected) == 0 || len(d.Orphans) != len(alone.Orphans)-len(protected) {
		t.Errorf("--also: %d orphans, %d without it; %d files only the other root uses", len(d.Orphans), len(alone.Orphans), len(protected))
	}
	for _, o := range d.Orphans {
		if slices.Contains(protected, strings.TrimPrefix(o.Key, rootPrefix(t, root))) {
			t.Errorf("%s is used by the other root but listed as an orphan", o.Key)
		}
	}
}

func TestDepsMinIO(t *testing.T) {
	root, h := s3History(t, busy)
	code, out, errs := fsnap(t, "deps", "-o", "json", root)
	if code != 0 {
		t.Fatal(errs)
	}
	d := decodeDeps(t, out)
	var orphans []string
	for _, o := range d.Orphans {
		orphans = append(orphans, strings.TrimPrefix(o.Key, "ckpt/"))
	}
	if w := orphansByTruth(h, false); !slices.Equal(orphans, w) || len(d.Snapshots) != len(h.Snapshots) {
		t.Errorf("orphans\n%q\nwant\n%q", orphans, w)
	}
}
