package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/fsnap/fsnap/fixtures"
	"github.com/fsnap/fsnap/internal/corpus"
	"github.com/fsnap/fsnap/internal/rocks"
)

// verifyDoc is the part of the fsnap.verify/v1 document the tests read.
type verifyDoc struct {
	Schema      string `json:"schema"`
	Level       string `json:"level"`
	Relocatable bool   `json:"relocatable"`
	Counts      struct {
		Error, Warning, Info int
	} `json:"counts"`
	Checked struct {
		Files         int   `json:"files"`
		StreamsWalked int   `json:"streams_walked"`
		Entries       int64 `json:"entries"`
	} `json:"checked"`
	Findings []struct {
		Severity string `json:"severity"`
		Code     string `json:"code"`
		Operator string `json:"operator"`
		Subtask  *int32 `json:"subtask"`
		File     string `json:"file"`
		Relocate string `json:"relocate"`
	} `json:"findings"`
}

func verifyJSON(t *testing.T, wantExit int, args ...string) verifyDoc {
	t.Helper()
	code, out, errs := fsnap(t, append([]string{"verify", "-o", "json"}, args...)...)
	if code != wantExit {
		t.Fatalf("fsnap verify %v: exit %d, want %d; stderr %s", args, code, wantExit, errs)
	}
	var d verifyDoc
	if err := json.Unmarshal([]byte(out), &d); err != nil {
		t.Fatalf("%v: %s", err, out)
	}
	if d.Schema != "fsnap.verify/v1" {
		t.Fatalf("schema %q", d.Schema)
	}
	return d
}

func TestVerifyCorpusClean(t *testing.T) {
	e := corpus.Find(t, "new-stateful-udf-migration-itcase-flink1.19-rocksdb-savepoint")
	code, out, errs := fsnap(t, "verify", "--deep", e.Dir)
	if code != exitOK || !strings.Contains(out, "relocatable  yes") || !strings.Contains(out, "0 errors, 0 warnings, 2 info") ||
		!strings.Contains(out, "16 streams walked") {
		t.Errorf("exit %d\n%s%s", code, out, errs)
	}
	d := verifyJSON(t, exitOK, "--deep", "--require", "relocatable", e.Dir+"/_metadata")
	if d.Level != "deep" || !d.Relocatable || d.Counts.Info != 2 || d.Checked.StreamsWalked != 16 || d.Checked.Entries != 40 {
		t.Errorf("%+v", d)
	}
	// The two infos fail the run only when asked to.
	verifyJSON(t, exitFindings, "--fail-on", "info", e.Dir)
}

func TestVerifyMissingFile(t *testing.T) {
	dir := corpus.Copy(t, "new-stateful-broadcast-udf-migration-itcase-flink2.3-rocksdb-savepoint")
	ents, _ := os.ReadDir(dir)
	var victim string
	for _, e := range ents {
		if e.Name() != "_metadata" {
			victim = e.Name()
			break
		}
	}
	os.Remove(filepath.Join(dir, victim))
	d := verifyJSON(t, exitFindings, "--quick", dir)
	if d.Counts.Error != 1 || len(d.Findings) != 1 || d.Findings[0].Code != "file-missing" ||
		d.Findings[0].File != filepath.Join(dir, victim) || d.Findings[0].Operator == "" || d.Findings[0].Subtask == nil {
		t.Errorf("%+v", d)
	}
	code, out, _ := fsnap(t, "verify", dir)
	if code != exitFindings || !strings.Contains(out, "ERROR   file-missing") || !strings.Contains(out, victim) {
		t.Errorf("exit %d\n%s", code, out)
	}
}

func TestVerifyRequireRelocatable(t *testing.T) {
	root := t.TempDir()
	s, err := fixtures.WriteDir(context.Background(), root, fixtures.Spec{Kind: fixtures.IncrementalCheckpoint, Version: 6})
	if err != nil {
		t.Fatal(err)
	}
	dir := filepath.Join(root, s.Dir)
	d := verifyJSON(t, exitOK, "--quick", dir) // warnings and an info only
	if d.Relocatable || d.Counts.Error != 0 || d.Counts.Warning != 24 || d.Findings[0].Code != "not-relocatable-shared" ||
		!strings.Contains(d.Findings[0].Relocate, "fsnap migrate relocate copies it into the snapshot directory") {
		t.Errorf("%+v", d)
	}
	d = verifyJSON(t, exitFindings, "--quick", "--require", "relocatable", dir)
	if d.Counts.Error != 24 || d.Findings[0].Severity != "error" {
		t.Errorf("--require relocatable: %+v", d.Counts)
	}
	verifyJSON(t, exitFindings, "--quick", "--fail-on", "warning", dir)
}

// TestInspectRocksDBText: inspect --rocksdb renders the instances, column
// families and SSTs of a native RocksDB savepoint.
func TestInspectRocksDBText(t *testing.T) {
	if !rocks.Available {
		t.Skip(rocks.ErrUnavailable)
	}
	dir := corpus.Find(t, "new-stateful-udf-migration-itcase-flink2.3-rocksdb-savepoint-native").Dir
	code, out, errs := fsnap(t, "inspect", "--rocksdb", dir)
	if code != exitOK {
		t.Fatalf("exit %d: %s", code, errs)
	}
	// By default one row per state summed over the instances (ground truth
	// §1: four keys in state-name across the job's three keyed subtasks).
	rollup := regexp.MustCompile(`(?m)^CheckpointingKeyedStateFlatMap1\s+state-name\s+VALUE\s+3\s+4\s`)
	for _, s := range []string{"14 instances", "INSTANCES"} {
		if !strings.Contains(out, s) {
			t.Errorf("text lacks %q:\n%s", s, out)
		}
	}
	if !rollup.MatchString(out) || strings.Contains(out, "000014.sst") {
		t.Errorf("want the per-state rollup and no SST list without --all:\n%s", out)
	}
	_, out, _ = fsnap(t, "inspect", "--rocksdb", "--all", dir)
	for _, s := range []string{"COLUMN FAMILY", "_timer_state/processing_timer", "000014.sst"} {
		if !strings.Contains(out, s) {
			t.Errorf("--all text lacks %q:\n%s", s, out)
		}
	}
}

// TestVerifySelfContainedRoot: an incremental checkpoint of a root is never
// relocatable alone, but is self-contained in its root; checked against a
// narrower root it names the files outside.
func TestVerifySelfContainedRoot(t *testing.T) {
	dir, h := localHistory(t, fixtures.HistorySpec{Seed: 4, Version: 6, Flat: true, Rounds: 6, Retain: 2, SSTs: 3})
	var chk string
	for _, s := range h.Snapshots {
		if s.Root == 0 && s.Kind == fixtures.IncrementalCheckpoint {
			chk = filepath.Join(dir, s.Dir)
		}
	}
	if chk == "" {
		t.Fatal("no incremental checkpoint generated")
	}
	// --quick: the files (a generated history's state bytes are random).
	if code, _, _ := fsnap(t, "verify", "--quick", "--require", "relocatable", chk); code != exitFindings {
		t.Errorf("relocatable: exit %d, want %d (shared files)", code, exitFindings)
	}
	code, out, errs := fsnap(t, "verify", "--quick", "--require", "self-contained="+dir, chk)
	if code != exitOK || !strings.Contains(out, "self-contained yes: every file lies under "+dir) || !strings.Contains(out, "relocatable  no: ") {
		t.Errorf("self-contained in its root: exit %d\n%s%s", code, out, errs)
	}
	// It is still not relocatable: the requirement replaces the check, not
	// the verdict.
	var r struct {
		Relocatable bool `json:"relocatable"`
		PinnedFiles int  `json:"pinned_files"`
	}
	_, out, _ = fsnap(t, "verify", "--quick", "--require", "self-contained="+dir, "-o", "json", chk)
	if err := json.Unmarshal([]byte(out), &r); err != nil || r.Relocatable || r.PinnedFiles == 0 {
		t.Errorf("self-contained in its root: relocatable %v, %d pinned files (%v)", r.Relocatable, r.PinnedFiles, err)
	}
	code, out, _ = fsnap(t, "verify", "--quick", "--require", "self-contained="+chk, "-o", "json", chk)
	if code != exitFindings || !strings.Contains(out, `"file-outside-root"`) || !strings.Contains(out, "shared") {
		t.Errorf("self-contained in its own folder: exit %d\n%s", code, out)
	}
	// A root beside it: the files named relative to the snapshot
	// directory are outside too, and one finding says so.
	other := t.TempDir()
	os.WriteFile(filepath.Join(other, "x"), []byte("x"), 0o644)
	code, out, _ = fsnap(t, "verify", "--quick", "--require", "self-contained="+other, chk)
	if code != exitFindings || !strings.Contains(out, "the snapshot directory "+chk+" lies outside "+other) {
		t.Errorf("self-contained in another folder: exit %d\n%s", code, out)
	}
	if code, _, errs := fsnap(t, "verify", "--require", "self-contained="+filepath.Join(other, "nothing"), chk); code != exitUsage || !strings.Contains(errs, "nothing is stored there") {
		t.Errorf("an empty root: exit %d, %s", code, errs)
	}
}

// TestVerifySummaryCountsMissing (issue 20, item 12): with a file missing,
// the summary does not say that every file is present with its size.
func TestVerifySummaryCountsMissing(t *testing.T) {
	code, out, errs := fsnap(t, "fixture", "--kind", "canonical-savepoint", t.TempDir())
	if code != 0 {
		t.Fatal(errs)
	}
	snap := strings.TrimSpace(out)
	ents, _ := os.ReadDir(snap)
	for _, e := range ents {
		if e.Name() != "_metadata" {
			os.Remove(filepath.Join(snap, e.Name()))
			break
		}
	}
	code, out, _ = fsnap(t, "verify", snap)
	if code != exitFindings || !strings.Contains(out, "file-missing") {
		t.Fatalf("exit %d:\n%s", code, out)
	}
	if !strings.Contains(out, "present with their sizes, 1 NOT (see below)") {
		t.Errorf("summary:\n%s", out)
	}
}

// TestInspectRocksDBCorruptionExit3 (issue 20, item 9): inspect --rocksdb
// that prints a RocksDB "Corruption" exits 3, and verify --deep fails.
func TestInspectRocksDBCorruptionExit3(t *testing.T) {
	if !rocks.Available {
		t.Skip("a build without RocksDB")
	}
	dir := corpus.Copy(t, "new-stateful-udf-migration-itcase-flink1.17-rocksdb-checkpoint")
	if code, _, errs := fsnap(t, "inspect", "--rocksdb", dir); code != 0 {
		t.Fatalf("intact: exit %d: %s", code, errs)
	}
	// Flip a byte a third into the largest SST (block-based table magic
	// at its end), leaving its footer intact.
	var victim []byte
	var name string
	ents, _ := os.ReadDir(dir)
	for _, e := range ents {
		b, _ := os.ReadFile(filepath.Join(dir, e.Name()))
		if len(b) > len(victim) && bytes.HasSuffix(b, []byte{0xf7, 0xcf, 0xf4, 0x85, 0xb7, 0x41, 0xe2, 0x88}) {
			victim, name = b, e.Name()
		}
	}
	victim[len(victim)/3] ^= 0x10
	os.WriteFile(filepath.Join(dir, name), victim, 0o644)
	code, out, errs := fsnap(t, "inspect", "--rocksdb", dir)
	if code != exitInput || !strings.Contains(out+errs, "could not be read") {
		t.Errorf("corrupt: exit %d:\n%s%s", code, out, errs)
	}
	if code, out, _ := fsnap(t, "verify", "--deep", dir); code != exitFindings || !strings.Contains(out, "rocksdb-instance-corrupt") {
		t.Errorf("verify --deep: exit %d:\n%s", code, out)
	}
}

// TestVerifyRoot (issue 18): verify of a checkpoint root checks every
// complete snapshot, one line each and a total; a shared file removed
// fails the snapshots using it, named.
func TestVerifyRoot(t *testing.T) {
	dir, h := localHistory(t, fixtures.HistorySpec{Seed: 5, Version: 6, Jobs: 2, Rounds: 6, Retain: 3, Savepoints: 1})
	code, out, _ := fsnap(t, "ls", "-o", "json", "--complete", dir)
	var ls struct{ Snapshots []struct{ Name string } }
	if err := json.Unmarshal([]byte(out), &ls); code != exitOK || err != nil || len(ls.Snapshots) < 4 {
		t.Fatalf("ls: exit %d, %v, %d snapshots", code, err, len(ls.Snapshots))
	}
	code, out, errs := fsnap(t, "verify", "--quick", "--require", "self-contained", dir)
	if code != exitOK || !strings.Contains(out, fmt.Sprintf("%d snapshots under %s: %d clean", len(ls.Snapshots), dir, len(ls.Snapshots))) {
		t.Fatalf("root: exit %d\n%s%s", code, out, errs)
	}
	// A shared file the newest checkpoint of a job uses, removed.
	var shared string
	for id := range h.Referenced() {
		if id.Root == 0 && strings.Contains(id.Key, "/shared/") {
			shared = id.Key
			break
		}
	}
	if shared == "" {
		t.Fatal("no referenced shared file generated")
	}
	if err := os.Remove(filepath.Join(dir, shared)); err != nil {
		t.Fatal(err)
	}
	code, out, _ = fsnap(t, "verify", "--quick", "-o", "json", dir)
	var r struct {
		Snapshots []struct {
			Name   string
			Report struct{ Findings []struct{ Code, File string } }
		}
		Totals struct{ Snapshots, Clean int }
	}
	if err := json.Unmarshal([]byte(out), &r); err != nil || code != exitFindings || r.Totals.Snapshots != len(ls.Snapshots) {
		t.Fatalf("exit %d, %v, totals %+v\n%.2000s", code, err, r.Totals, out)
	}
	named := 0
	for _, s := range r.Snapshots {
		for _, f := range s.Report.Findings {
			if f.Code == "file-missing" && strings.HasSuffix(f.File, shared) {
				named++
			}
		}
	}
	if named == 0 {
		t.Errorf("no snapshot names the missing %s", shared)
	}
	if code, _, errs := fsnap(t, "verify", "--require", "self-contained", filepath.Join(dir, ls.Snapshots[0].Name)); code != exitUsage {
		t.Errorf("bare self-contained on a snapshot: exit %d %s", code, errs)
	}
}

// TestFixtureVerifiesClean (issue 18 item 5): a default fixture's state
// streams are Flink streams, so verify and verify --deep find nothing and
// read every stream; with --random-state every keyed and operator stream
// is flagged.
func TestFixtureVerifiesClean(t *testing.T) {
	code, out, errs := fsnap(t, "fixture", t.TempDir())
	if code != exitOK {
		t.Fatalf("fixture: exit %d %s", code, errs)
	}
	snap := strings.TrimSpace(out)
	for _, level := range []string{"", "--deep"} {
		args := []string{"verify", "-o", "json", snap}
		if level == "--deep" {
			args = append(args, level)
		}
		code, out, errs := fsnap(t, args...)
		var r struct {
			Checked struct {
				Headers       int
				StreamsWalked int `json:"streams_walked"`
			}
			Findings []struct{ Code string }
		}
		if err := json.Unmarshal([]byte(out), &r); err != nil {
			t.Fatalf("%v: %v in %q (%s)", args, err, out, errs)
		}
		if code != exitOK || len(r.Findings) != 0 || r.Checked.Headers != 12 || (level == "--deep") != (r.Checked.StreamsWalked == 12) {
			t.Errorf("%v: exit %d, findings %v, %d headers, %d streams walked", args, code, r.Findings, r.Checked.Headers, r.Checked.StreamsWalked)
		}
	}
	code, out, errs = fsnap(t, "fixture", "--random-state", t.TempDir())
	if code != exitOK {
		t.Fatalf("fixture --random-state: exit %d %s", code, errs)
	}
	code, out, _ = fsnap(t, "verify", strings.TrimSpace(out))
	if code != exitFindings || strings.Count(out, "header-unreadable") != 12 {
		t.Errorf("random state: exit %d\n%s", code, out)
	}
	// A history's streams are Flink streams too: its only errors are the
	// shared files that leaked checkpoints lost (LeakRate).
	root := t.TempDir()
	if code, _, errs := fsnap(t, "fixture", "--history", "8", root); code != exitOK {
		t.Fatalf("fixture --history: exit %d %s", code, errs)
	}
	_, out, _ = fsnap(t, "verify", root)
	for _, line := range strings.Split(out, "\n") {
		f := strings.Fields(line)
		if len(f) < 6 || f[1] != "FAIL" {
			continue
		}
		for _, finding := range f[5:] {
			if !strings.HasPrefix(finding, "file-missing×") && !strings.HasPrefix(finding, "not-relocatable-") {
				t.Errorf("history snapshot fails for another reason than leaked files: %s", line)
			}
		}
	}
	if strings.Contains(out, "header-unreadable") || !strings.Contains(out, "10 snapshots under") ||
		!strings.Contains(out, "scan: looked for chk-N, savepoint-*, shared/ and taskowned/ folders in "+root) {
		t.Errorf("history:\n%s", out)
	}
}
