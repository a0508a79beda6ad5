package main

import (
	"context"
	"encoding/json"
	"net/url"
	"os"
	"path"
	"path/filepath"
	"strings"
	"testing"

	"github.com/fsnap/fsnap/fixtures"
	"github.com/fsnap/fsnap/internal/corpus"
	"github.com/fsnap/fsnap/internal/rocks"
	"github.com/fsnap/fsnap/internal/testservers"
	"github.com/fsnap/fsnap/migrate"
	"github.com/fsnap/fsnap/store"
)

// inspectJSONWithoutPaths is `fsnap inspect -o json --files` of ref with
// the fields that name places removed.
func inspectJSONWithoutPaths(t *testing.T, ref string) string {
	t.Helper()
	code, out, errs := fsnap(t, "inspect", "-o", "json", "--files", ref)
	if code != exitOK {
		t.Fatalf("inspect %s: exit %d: %s", ref, code, errs)
	}
	var m map[string]any
	if err := json.Unmarshal([]byte(out), &m); err != nil {
		t.Fatal(err)
	}
	delete(m, "snapshot")
	delete(m["metadata"].(map[string]any), "path")
	for _, f := range m["files"].([]any) {
		delete(f.(map[string]any), "path")
	}
	b, _ := json.Marshal(m)
	return string(b)
}

func TestMigrateRelocateCLI(t *testing.T) {
	e := corpus.Find(t, "new-stateful-udf-migration-itcase-flink1.17-rocksdb-checkpoint")
	dst := filepath.Join(t.TempDir(), "chk")

	code, out, errs := fsnap(t, "migrate", "relocate", "--dry-run", e.Dir, dst)
	if code != exitOK || !strings.Contains(out, "plan ") || !strings.Contains(out, " kept") {
		t.Fatalf("dry run: exit %d\n%s\n%s", code, out, errs)
	}
	if _, err := os.Stat(dst); !os.IsNotExist(err) {
		t.Fatal("a dry run wrote the destination")
	}

	code, out, errs = fsnap(t, "migrate", "relocate", "-o", "json", "--transfers", "3", e.Dir, dst)
	if code != exitOK {
		t.Fatalf("exit %d\n%s\n%s", code, out, errs)
	}
	var sum struct {
		Schema    string
		Snapshots []struct {
			Status string
			Files  int
			Copied int
			Bytes  int64
		}
		Totals struct{ Relocated, Failed int }
	}
	if err := json.Unmarshal([]byte(out), &sum); err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	if sum.Schema != "fsnap.relocate/v1" || len(sum.Snapshots) != 1 || sum.Snapshots[0].Status != "relocated" ||
		sum.Snapshots[0].Files != e.Files-1 || sum.Snapshots[0].Copied != e.Files-1 {
		t.Fatalf("summary %+v", sum)
	}
	if a, b := inspectJSONWithoutPaths(t, e.Dir), inspectJSONWithoutPaths(t, dst); a != b {
		t.Fatalf("inspect -o json differs beyond paths:\n%s\n%s", a, b)
	}
	code, out, _ = fsnap(t, "migrate", "relocate", e.Dir, dst)
	if code != exitOK || !strings.HasPrefix(out, "already-relocated") {
		t.Errorf("re-run: exit %d: %s", code, out)
	}
	code, _, _ = fsnap(t, "verify", "--require", "relocatable", dst)
	if code != exitOK {
		t.Errorf("verify --require relocatable: exit %d", code)
	}
}

func TestMigrateRelocateRootAndShards(t *testing.T) {
	root := t.TempDir()
	for _, kind := range []string{"incremental-checkpoint", "canonical-savepoint"} {
		if code, _, errs := fsnap(t, "fixture", "--kind", kind, root); code != exitOK {
			t.Fatal(errs)
		}
	}
	dstRoot := t.TempDir()
	// Two workers of an indexed job split the root between them.
	total := 0
	for _, shard := range []string{"0/2", "1/2"} {
		code, out, errs := fsnap(t, "migrate", "relocate", "--root", "--shard", shard, "-o", "json", root, dstRoot)
		if code != exitOK {
			t.Fatalf("shard %s: exit %d: %s%s", shard, code, out, errs)
		}
		var sum struct {
			Shard  string
			Totals struct{ Snapshots, Relocated int }
		}
		json.Unmarshal([]byte(out), &sum)
		if sum.Shard != shard || sum.Totals.Relocated != sum.Totals.Snapshots {
			t.Errorf("shard %s: %s", shard, out)
		}
		total += sum.Totals.Snapshots
	}
	if total != 2 {
		t.Fatalf("the shards relocated %d snapshots, want 2", total)
	}
	// The root moved as a whole: chk-42's shared files are in dstRoot/shared.
	if code, out, _ := fsnap(t, "verify", "--quick", "--require", "self-contained="+dstRoot, filepath.Join(dstRoot, "chk-42")); code != exitOK {
		t.Errorf("chk-42 not self-contained in its new root:\n%s", out)
	}
	if _, err := os.Stat(filepath.Join(dstRoot, "shared")); err != nil {
		t.Errorf("no shared folder in the new root: %v", err)
	}
	// Asked for, each snapshot gets its own copies instead.
	single := t.TempDir()
	if code, out, errs := fsnap(t, "migrate", "relocate", "--root", "--self-contained", root, single); code != exitOK {
		t.Fatalf("--self-contained: exit %d: %s%s", code, out, errs)
	}
	if code, out, _ := fsnap(t, "verify", "--quick", "--require", "relocatable", filepath.Join(single, "chk-42")); code != exitOK {
		t.Errorf("chk-42 not relocatable after --self-contained:\n%s", out)
	}
	// A list file, re-run: everything is already there.
	list := filepath.Join(t.TempDir(), "list")
	os.WriteFile(list, []byte("# src dst\n"+filepath.Join(root, "chk-42")+" "+filepath.Join(single, "chk-42")+"\n"), 0o644)
	code, out, errs := fsnap(t, "migrate", "relocate", "--from-list", list, "--progress", "json")
	if code != exitOK || !strings.Contains(out, "already-relocated") || !strings.Contains(out, "total: 1 snapshots") {
		t.Errorf("list re-run: exit %d\n%s\n%s", code, out, errs)
	}
}

func TestMigrateRelocateErrors(t *testing.T) {
	root := t.TempDir()
	code, out, errs := fsnap(t, "fixture", "--kind", "incremental-checkpoint", root)
	if code != exitOK {
		t.Fatal(errs)
	}
	src := strings.TrimSpace(out)
	shared, _ := filepath.Glob(filepath.Join(root, "shared", "*"))
	os.Remove(shared[0])
	dst := filepath.Join(t.TempDir(), "chk")
	code, _, errs = fsnap(t, "migrate", "relocate", src, dst)
	if code != exitInput || !strings.Contains(errs, shared[0]) || !strings.Contains(errs, "_metadata not written") {
		t.Errorf("missing file: exit %d: %s", code, errs)
	}
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"migrate"}, "want a subcommand"},
		{[]string{"migrate", "nosuch"}, `unknown command "migrate nosuch"`},
		{[]string{"migrate", "relocate", src}, "want SRC DST"},
		{[]string{"migrate", "relocate", "--map", "x", src, dst}, "OLDPREFIX=NEWPREFIX"},
		{[]string{"migrate", "relocate", "--shard", "2/2", src, dst}, "shard"},
		{[]string{"migrate", "relocate", "--progress", "loud", src, dst}, "--progress"},
		{[]string{"migrate", "relocate", "--nosuch", src, dst}, "unknown flag"},
	} {
		code, out, errs := fsnap(t, tc.args...)
		if code != exitUsage || !strings.Contains(out+errs, tc.want) {
			t.Errorf("fsnap %v: exit %d, output %q, want %q", tc.args, code, out+errs, tc.want)
		}
	}
	code, out, _ = fsnap(t, "migrate", "relocate", "--help")
	if code != exitOK || !strings.Contains(out, "--from-list") {
		t.Errorf("help: %d %s", code, out)
	}
}

func TestToCanonicalCommand(t *testing.T) {
	src := corpus.Find(t, "new-stateful-udf-migration-itcase-flink2.3-hashmap-checkpoint").Dir
	dst := filepath.Join(t.TempDir(), "sp")
	code, out, errs := fsnap(t, "migrate", "to-canonical", "--progress", "none", src, dst)
	if code != exitOK || !strings.Contains(out, "canonical savepoint "+dst) || !strings.Contains(out, "14 heap streams re-encoded") {
		t.Fatalf("exit %d\n%s%s", code, out, errs)
	}
	code, out, _ = fsnap(t, "verify", "--deep", "--require", "relocatable", dst)
	if code != exitOK {
		t.Errorf("verify --deep of the result: exit %d\n%s", code, out)
	}
	code, out, _ = fsnap(t, "inspect", "-o", "json", dst)
	if code != exitOK || !strings.Contains(out, `"format_type": "CANONICAL"`) {
		t.Errorf("inspect of the result: exit %d\n%s", code, out)
	}

	// Into the same place again: refused, nothing touched.
	code, _, errs = fsnap(t, "migrate", "to-canonical", "--progress", "none", src, dst)
	if code != exitInput || !strings.Contains(errs, "destination is not empty") {
		t.Errorf("second run: exit %d, %s", code, errs)
	}

	for _, tc := range []struct {
		args []string
		code int
		want string
	}{
		{[]string{"migrate", "to-canonical", src}, exitUsage, "want SRC DST"},
		{[]string{"migrate", "to-canonical", "--compression", "zstd", src, dst}, exitUsage, "unknown compression"},
		{[]string{"migrate", "to-canonical", "--progress", "fancy", src, dst}, exitUsage, "unknown --progress"},
		{[]string{"migrate", "to-canonical", "--help"}, exitOK, "--compression"},
		{[]string{"migrate"}, exitUsage, "to-canonical"},
	} {
		code, out, errs := fsnap(t, tc.args...)
		if code != tc.code || !strings.Contains(out+errs, tc.want) {
			t.Errorf("fsnap %v: exit %d, want %d; output does not contain %q:\n%s%s", tc.args, code, tc.code, tc.want, out, errs)
		}
	}
}

func TestToCanonicalCommandJSON(t *testing.T) {
	if !rocks.Available {
		t.Skip(rocks.ErrUnavailable)
	}
	src := corpus.Find(t, "new-stateful-udf-migration-itcase-flink2.3-rocksdb-savepoint-native").Dir
	dst := filepath.Join(t.TempDir(), "sp")
	tmp := t.TempDir()
	code, out, errs := fsnap(t, "migrate", "to-canonical", "-o", "json", "--progress", "plain", "--tmp", tmp, "--parallel", "3", "--compression", "snappy", src, dst)
	if code != exitOK {
		t.Fatalf("exit %d\n%s", code, errs)
	}
	var r migrate.CanonicalDocument
	if err := json.Unmarshal([]byte(out), &r); err != nil {
		t.Fatal(err)
	}
	if r.Schema != "fsnap.to-canonical/v1" || r.FromRocksDB != 14 || r.Entries != 32 || r.SourceKind != "native-savepoint" || r.FilesWritten != 17 {
		t.Errorf("%+v", r)
	}
	if ents, _ := os.ReadDir(tmp); len(ents) != 0 {
		t.Errorf("scratch left behind: %d entries", len(ents))
	}
}

// TestRelocateRootKeepsSharing (issue 18): a root of 20 retained
// incremental checkpoints on MinIO moves as a whole to another bucket:
// the destination holds the source's distinct bytes (within 1 %), each
// shared file once, where --self-contained would hold many times more;
// every snapshot is self-contained in the new root, and one shared file
// removed there is named by verify.
func TestRelocateRootKeepsSharing(t *testing.T) {
	src, _ := serverHistory(t, testservers.S3, fixtures.HistorySpec{Seed: 21, Version: 6, Jobs: 1, Rounds: 20, Retain: 20,
		Subtasks: 2, SSTs: 6, Churn: 0.2, FileBytes: 8192})
	dst := testservers.Shared(t, testservers.S3).NewBucket(t)
	u, _ := url.Parse(dst)
	u.Path = "/moved"
	dst = u.String()
	referenced := func(root string) (files int, bytes int64) {
		t.Helper()
		code, out, errs := fsnap(t, "deps", "-o", "json", root)
		if code != exitOK {
			t.Fatalf("deps %s: exit %d: %s", root, code, errs)
		}
		var d struct {
			Files []struct {
				Location string
				Size     int64
			}
		}
		if err := json.Unmarshal([]byte(out), &d); err != nil {
			t.Fatal(err)
		}
		for _, f := range d.Files {
			if !strings.HasSuffix(f.Location, "/_metadata") {
				files++
				bytes += f.Size
			}
		}
		return files, bytes
	}
	srcFiles, srcBytes := referenced(src)
	type totals struct {
		Relocated, Failed int
		DistinctFiles     int   `json:"distinct_files"`
		DistinctBytes     int64 `json:"distinct_bytes"`
		SourceBytes       int64 `json:"source_bytes"`
	}
	relocate := func(args ...string) totals {
		t.Helper()
		code, out, errs := fsnap(t, append([]string{"migrate", "relocate", "--root", "-o", "json"}, args...)...)
		if code != exitOK {
			t.Fatalf("relocate %v: exit %d: %.2000s%s", args, code, out, errs)
		}
		var s struct{ Totals totals }
		if err := json.Unmarshal([]byte(out), &s); err != nil {
			t.Fatal(err)
		}
		return s.Totals
	}
	single := relocate("--dry-run", "--self-contained", src, dst)
	got := relocate(src, dst)
	if got.Relocated != 20 || got.Failed != 0 {
		t.Fatalf("totals %+v", got)
	}
	dstFiles, dstBytes := referenced(dst)
	if d := float64(dstBytes-srcBytes) / float64(srcBytes); d < -0.01 || d > 0.01 || dstFiles != srcFiles {
		t.Errorf("destination %d files %d bytes, source %d files %d bytes", dstFiles, dstBytes, srcFiles, srcBytes)
	}
	if got.DistinctBytes != got.SourceBytes || got.DistinctFiles < srcFiles {
		t.Errorf("totals count distinct objects: %+v", got)
	}
	if 2*single.DistinctBytes < 3*got.DistinctBytes {
		t.Errorf("self-contained would hold %d bytes, the mapped root %d: no sharing kept?", single.DistinctBytes, got.DistinctBytes)
	}
	code, out, errs := fsnap(t, "ls", "-o", "json", "--complete", dst)
	var ls struct {
		Snapshots []struct{ Name, Location string }
	}
	if json.Unmarshal([]byte(out), &ls); code != exitOK || len(ls.Snapshots) != 20 {
		t.Fatalf("ls %s: exit %d, %d snapshots %s", dst, code, len(ls.Snapshots), errs)
	}
	at := func(name string) string { // ls prints locations without the URL's parameters
		v := *u
		v.Path += "/" + name
		return v.String()
	}
	for _, s := range ls.Snapshots {
		if code, out, errs := fsnap(t, "verify", "--quick", "--require", "self-contained="+dst, at(s.Name)); code != exitOK {
			t.Fatalf("%s not self-contained in %s: exit %d\n%s%s", s.Location, dst, code, out, errs)
		}
	}
	newest := at(ls.Snapshots[0].Name)
	// One shared file gone: the newest checkpoint names it.
	code, out, _ = fsnap(t, "verify", "--quick", "-o", "json", newest)
	var v struct{ Findings []struct{ Code, File string } }
	json.Unmarshal([]byte(out), &v)
	var shared string
	for _, f := range v.Findings {
		if strings.Contains(f.File, "/shared/") {
			shared = f.File
			break
		}
	}
	if shared == "" {
		t.Fatalf("no shared file in %s's findings:\n%.2000s", newest, out)
	}
	l, err := store.Open(context.Background(), dst)
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	p, err := store.ParseFlinkPath(shared)
	if err != nil {
		t.Fatal(err)
	}
	key, ok := l.KeyOf(p)
	if !ok {
		t.Fatalf("%s is not in %s", shared, dst)
	}
	if err := l.Bucket.Delete(context.Background(), key); err != nil {
		t.Fatal(err)
	}
	code, out, _ = fsnap(t, "verify", "--quick", "--require", "self-contained="+dst, newest)
	if code != exitFindings || !strings.Contains(out, "file-missing") || !strings.Contains(out, path.Base(shared)) {
		t.Errorf("a missing shared file: exit %d\n%s", code, out)
	}
}
