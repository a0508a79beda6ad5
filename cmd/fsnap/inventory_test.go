package main

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/fsnap/fsnap/fixtures"
	"github.com/fsnap/fsnap/internal/corpus"
	"github.com/fsnap/fsnap/internal/testservers"
)

// readRows reads every JSON-lines part of a table.
func readRows(t *testing.T, dir, table string) []map[string]any {
	t.Helper()
	parts, _ := filepath.Glob(filepath.Join(dir, table, "*.jsonl"))
	var out []map[string]any
	for _, p := range parts {
		b, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		for _, l := range strings.Split(strings.TrimSpace(string(b)), "\n") {
			if l == "" {
				continue
			}
			var m map[string]any
			if err := json.Unmarshal([]byte(l), &m); err != nil {
				t.Fatal(err)
			}
			out = append(out, m)
		}
	}
	return out
}

func rowKeys(rows []map[string]any, cols ...string) []string {
	var out []string
	for _, r := range rows {
		var k []string
		for _, c := range cols {
			k = append(k, fmt.Sprint(r[c]))
		}
		out = append(out, strings.Join(k, "|"))
	}
	sort.Strings(out)
	return out
}

// TestInventoryCorpusShards: the corpus inventoried whole and in three
// shards: every snapshot and file once, the shards' union equal to the
// whole; DuckDB reads the Parquet form with the same counts.
func TestInventoryCorpusShards(t *testing.T) {
	root := filepath.Join(corpus.Root(), "flink")
	entries := corpus.Require(t)
	whole := t.TempDir()
	if code, _, errs := fsnap(t, "inventory", "-o", "jsonl", "--states", "--out", whole, root); code != exitOK {
		t.Fatalf("exit %d: %s", code, errs)
	}
	sharded := t.TempDir()
	for i := 0; i < 3; i++ {
		if code, _, errs := fsnap(t, "inventory", "-o", "jsonl", "--states", "--shard", fmt.Sprintf("%d/3", i), "--out", sharded, root); code != exitOK {
			t.Fatalf("shard %d: exit %d: %s", i, code, errs)
		}
	}
	keys := map[string][]string{"snapshots": {"snapshot"}, "operators": {"snapshot", "operator_id"},
		"states": {"snapshot", "operator_id", "slot", "state"}, "files": {"location", "users"}}
	for table, cols := range keys {
		a, b := rowKeys(readRows(t, whole, table), cols...), rowKeys(readRows(t, sharded, table), cols...)
		if fmt.Sprint(a) != fmt.Sprint(b) {
			t.Errorf("%s: %d rows whole, %d in the shards, or they differ", table, len(a), len(b))
		}
		for i := 1; i < len(b); i++ {
			if b[i] == b[i-1] {
				t.Errorf("%s: row %s twice", table, b[i])
			}
		}
	}
	if n := len(readRows(t, whole, "snapshots")); n != len(entries) {
		t.Errorf("%d snapshot rows, the corpus has %d", n, len(entries))
	}
	if n := len(readRows(t, whole, "files")); n != 3253 {
		t.Errorf("%d file rows, want the 3253 files verify checks", n)
	}
	pq := t.TempDir()
	if code, _, errs := fsnap(t, "inventory", "--out", pq, root); code != exitOK {
		t.Fatalf("parquet: exit %d: %s", code, errs)
	}
	rows := testservers.DuckDB(t, fmt.Sprintf(`select count(*) as n, count(distinct kind) as kinds from '%s/snapshots/*.parquet'`, pq))
	if fmt.Sprint(rows) != fmt.Sprintf("[map[kinds:5 n:%d]]", len(entries)) {
		t.Errorf("DuckDB: %v", rows)
	}
}

// TestInventoryMatchesDeps: on a generated history on MinIO, the files
// table's users are those of fsnap deps -o json.
func TestInventoryMatchesDeps(t *testing.T) {
	root, h := serverHistory(t, testservers.S3, fixtures.HistorySpec{Seed: 7, Version: 6, Jobs: 2, Rounds: 8, Retain: 3})
	// A checkpoint Flink did not finish: a state file, no _metadata.
	l := testservers.Open(t, root)
	job := ""
	for _, s := range h.Snapshots {
		if d := strings.TrimSuffix(s.Dir, "/"); s.Root == 0 && strings.HasPrefix(path.Base(d), "chk-") {
			job = path.Dir(d)
		}
	}
	if err := l.Bucket.WriteAll(context.Background(), l.Prefix+job+"/chk-999999/0c4d5d5e-4b8a-4a8e-9a55-1b2f1e3c4d5e", []byte("state"), nil); err != nil {
		t.Fatal(err)
	}
	code, out, errs := fsnap(t, "deps", "-o", "json", root)
	if code != exitOK {
		t.Fatalf("deps: %d %s", code, errs)
	}
	var deps struct {
		Snapshots []struct{ Name string }
		Files     []struct {
			Location string
			Users    []int
		}
	}
	if err := json.Unmarshal([]byte(out), &deps); err != nil {
		t.Fatal(err)
	}
	want := map[string]string{}
	for _, f := range deps.Files {
		var u []string
		for _, i := range f.Users {
			u = append(u, deps.Snapshots[i].Name)
		}
		sort.Strings(u)
		want[f.Location] = strings.Join(u, ",")
	}
	dir := t.TempDir()
	if code, _, errs := fsnap(t, "inventory", "-o", "jsonl", "--out", dir, root); code != exitOK {
		t.Fatalf("inventory: %d %s", code, errs)
	}
	got := map[string]string{}
	scopes := map[string]int{}
	for _, r := range readRows(t, dir, "files") {
		u, _ := r["users"].(string)
		got[fmt.Sprint(r["location"])] = u
		// The scope says where the file lies: a job's shared or taskowned
		// folder, or the folder of the one checkpoint that wrote it.
		folder, _ := r["folder"].(string)
		want := map[string]string{"shared": "shared", "taskowned": "task-owned"}[path.Base(folder)]
		if want == "" {
			want = "exclusive"
		}
		if r["scope"] != want {
			t.Errorf("%s in %q: scope %v, want %s", r["location"], folder, r["scope"], want)
		}
		scopes[want]++
	}
	if scopes["shared"] == 0 || scopes["exclusive"] == 0 {
		t.Errorf("scopes %v: want shared and exclusive files", scopes)
	}
	if len(want) == 0 || fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("files: inventory %d, deps %d, or their users differ", len(got), len(want))
	}
	// Complete snapshots are deps's; the folders without _metadata are
	// rows too, complete false, as ls lists them.
	code, out, errs = fsnap(t, "ls", "-o", "json", root)
	if code != exitOK {
		t.Fatalf("ls: %d %s", code, errs)
	}
	var ls struct {
		Snapshots []struct {
			Name     string
			Complete bool
		}
	}
	if err := json.Unmarshal([]byte(out), &ls); err != nil {
		t.Fatal(err)
	}
	var lsIncomplete []string
	for _, s := range ls.Snapshots {
		if !s.Complete {
			lsIncomplete = append(lsIncomplete, s.Name)
		}
	}
	sort.Strings(lsIncomplete)
	complete, incomplete := 0, []string{}
	for _, r := range readRows(t, dir, "snapshots") {
		if r["complete"] == true {
			complete++
		} else if _, ok := r["time"].(string); ok && r["complete"] == false && r["kind"] == nil {
			incomplete = append(incomplete, fmt.Sprint(r["snapshot"]))
		}
	}
	sort.Strings(incomplete)
	if complete != len(deps.Snapshots) || len(lsIncomplete) == 0 || fmt.Sprint(incomplete) != fmt.Sprint(lsIncomplete) {
		t.Errorf("snapshot rows: %d complete (deps lists %d), incomplete %v (ls lists %v)", complete, len(deps.Snapshots), incomplete, lsIncomplete)
	}
	// Without --states the reports come from the graph's reading of
	// _metadata; with it each snapshot is loaded again: the same rows.
	dir2 := t.TempDir()
	if code, _, errs := fsnap(t, "inventory", "--states", "-o", "jsonl", "--out", dir2, root); code != exitOK {
		t.Fatalf("inventory --states: %d %s", code, errs)
	}
	for _, table := range []string{"snapshots", "operators"} {
		a, b := readRows(t, dir, table), readRows(t, dir2, table)
		if len(a) < len(deps.Snapshots) || fmt.Sprint(a) != fmt.Sprint(b) {
			t.Errorf("%s: %d rows without --states, %d with, or they differ", table, len(a), len(b))
		}
	}
	// Three shards on the store: every row of the whole run once.
	sharded := t.TempDir()
	for i := range 3 {
		if code, _, errs := fsnap(t, "inventory", "-o", "jsonl", "--shard", fmt.Sprintf("%d/3", i), "--out", sharded, root); code != exitOK {
			t.Fatalf("shard %d: exit %d: %s", i, code, errs)
		}
	}
	for table, cols := range map[string][]string{"snapshots": {"snapshot", "complete"}, "operators": {"snapshot", "operator_id"}, "files": {"location", "scope", "users"}} {
		a, b := rowKeys(readRows(t, dir, table), cols...), rowKeys(readRows(t, sharded, table), cols...)
		if len(a) == 0 || fmt.Sprint(a) != fmt.Sprint(b) {
			t.Errorf("%s: %d rows whole, %d in the shards, or they differ", table, len(a), len(b))
		}
		for i := 1; i < len(b); i++ {
			if b[i] == b[i-1] {
				t.Errorf("%s: row %s twice", table, b[i])
			}
		}
	}
}

// TestCommandTables: ls, deps and inspect print inventory's tables with
// -o parquet, which DuckDB reads with the rows of their JSON documents.
func TestCommandTables(t *testing.T) {
	dir, _ := localHistory(t, fixtures.HistorySpec{Seed: 11, Version: 6, Jobs: 2, Rounds: 6, Retain: 2})
	pq := func(args ...string) string {
		t.Helper()
		code, out, errs := fsnap(t, append(args, "-o", "parquet")...)
		if code != exitOK {
			t.Fatalf("%v: exit %d: %s", args, code, errs)
		}
		f := filepath.Join(t.TempDir(), "t.parquet")
		if err := os.WriteFile(f, []byte(out), 0o644); err != nil {
			t.Fatal(err)
		}
		return f
	}
	doc := func(v any, args ...string) {
		t.Helper()
		code, out, errs := fsnap(t, append(args, "-o", "json")...)
		if code != exitOK {
			t.Fatalf("%v: exit %d: %s", args, code, errs)
		}
		if err := json.Unmarshal([]byte(out), v); err != nil {
			t.Fatal(err)
		}
	}

	var ls struct{ Snapshots []struct{ Complete bool } }
	doc(&ls, "ls", dir)
	complete := 0
	for _, s := range ls.Snapshots {
		if s.Complete {
			complete++
		}
	}
	got := testservers.DuckDB(t, fmt.Sprintf(`select count(*) as n, count(*) filter (where complete) as c from '%s'`, pq("ls", dir)))
	if fmt.Sprint(got) != fmt.Sprintf("[map[c:%d n:%d]]", complete, len(ls.Snapshots)) || complete == 0 {
		t.Errorf("ls: DuckDB %v, json %d snapshots (%d complete)", got, len(ls.Snapshots), complete)
	}

	var deps struct {
		Files   []struct{ Users []int }
		Orphans []struct{ Location string }
	}
	doc(&deps, "deps", dir)
	users := 0
	for _, f := range deps.Files {
		users += len(f.Users)
	}
	got = testservers.DuckDB(t, fmt.Sprintf(`select count(*) filter (where shared_by > 0) as files, count(*) filter (where shared_by = 0) as orphans,
		sum(shared_by) as users from '%s'`, pq("deps", dir)))
	if fmt.Sprint(got) != fmt.Sprintf("[map[files:%d orphans:%d users:%d]]", len(deps.Files), len(deps.Orphans), users) || len(deps.Orphans) == 0 {
		t.Errorf("deps: DuckDB %v, json %d files (%d users), %d orphans", got, len(deps.Files), users, len(deps.Orphans))
	}

	// The operator-state family: source, three mappers of 4 entries each (776+772+772 bytes), sink.
	snap := filepath.Join(corpus.Root(), "flink", "operatorstate__nonKeyed-flink2.3")
	corpus.Require(t)
	got = testservers.DuckDB(t, fmt.Sprintf(`select string_agg(uid || '=' || entries, ',' order by uid) as s from '%s' where entries > 0`,
		pq("inspect", "--states", "--table", "states", snap)))
	if fmt.Sprint(got) != "[map[s:first=4,second=4,third=4]]" {
		t.Errorf("inspect states: DuckDB %v", got)
	}
	got = testservers.DuckDB(t, fmt.Sprintf(`select count(*) as n, sum(managed_operator_bytes) as b from '%s'`, pq("inspect", snap)))
	if fmt.Sprint(got) != "[map[b:2320 n:5]]" {
		t.Errorf("inspect operators: DuckDB %v", got)
	}
}
