package migrate

import (
	"context"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/fsnap/fsnap/fixtures"
	"github.com/fsnap/fsnap/snapshot"
)

// relocHistory writes a checkpoint root: three retained incremental
// checkpoints of one job sharing their shared/ files (the same seed gives
// the same SST names), plus a savepoint and an incomplete checkpoint.
func relocHistory(t *testing.T) (root, job string) {
	t.Helper()
	ctx := context.Background()
	root = t.TempDir()
	job = filepath.Join(root, "0f3a6b1c9d2e4f5a8b7c6d5e4f3a2b1c")
	for id := int64(1); id <= 3; id++ {
		if _, err := fixtures.WriteDir(ctx, job, fixtures.Spec{Kind: fixtures.IncrementalCheckpoint, Seed: 30, CheckpointID: id}); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := fixtures.WriteDir(ctx, filepath.Join(root, "savepoints"), fixtures.Spec{Kind: fixtures.CanonicalSavepoint, Seed: 31}); err != nil {
		t.Fatal(err)
	}
	os.MkdirAll(filepath.Join(job, "chk-4"), 0o755)
	os.WriteFile(filepath.Join(job, "chk-4", "partial"), []byte("x"), 0o644)
	return root, job
}

func TestFindSnapshotsAndShards(t *testing.T) {
	root, job := relocHistory(t)
	pairs, err := FindSnapshots(context.Background(), root, "s3://bucket/new?endpoint=http://h:9000")
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, p := range pairs {
		got = append(got, strings.TrimPrefix(p.Src, root+"/")+" "+p.Dst)
	}
	jobID := filepath.Base(job)
	ents, _ := os.ReadDir(filepath.Join(root, "savepoints"))
	want := []string{
		jobID + "/chk-1 s3://bucket/new/" + jobID + "/chk-1?endpoint=http://h:9000",
		jobID + "/chk-2 s3://bucket/new/" + jobID + "/chk-2?endpoint=http://h:9000",
		jobID + "/chk-3 s3://bucket/new/" + jobID + "/chk-3?endpoint=http://h:9000",
		"savepoints/" + ents[0].Name() + " s3://bucket/new/savepoints/" + ents[0].Name() + "?endpoint=http://h:9000",
	}
	if !slices.Equal(got, want) {
		t.Fatalf("found\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	// Shards split any list without overlap or loss.
	var many []RelocatePair
	for i := range 100 {
		many = append(many, RelocatePair{Src: "s3://b/job/chk-" + string(rune('a'+i%26)) + strings.Repeat("x", i)})
	}
	seen := map[string]int{}
	for i := range 3 {
		part := ShardPairs(many, i, 3)
		if len(part) < 15 {
			t.Errorf("shard %d/3 has only %d of 100", i, len(part))
		}
		for _, p := range part {
			seen[p.Src]++
		}
	}
	if len(seen) != 100 {
		t.Errorf("shards cover %d of 100", len(seen))
	}
	for s, n := range seen {
		if n != 1 {
			t.Errorf("%s in %d shards", s, n)
		}
	}
	for _, bad := range []string{"3/3", "-1/2", "1", "a/b", "0/0"} {
		if _, _, err := ParseShard(bad); err == nil {
			t.Errorf("ParseShard(%q) accepted", bad)
		}
	}
	if i, n, err := ParseShard("2/5"); err != nil || i != 2 || n != 5 {
		t.Errorf("ParseShard(2/5) = %d, %d, %v", i, n, err)
	}
	pl, err := ReadPairs(strings.NewReader("# comment\n\n/a/chk-1  s3://b/x/chk-1\n\t/a/chk-2\ts3://b/x/chk-2\n"))
	if err != nil || len(pl) != 2 || pl[1].Dst != "s3://b/x/chk-2" {
		t.Errorf("ReadPairs: %v %v", pl, err)
	}
	if _, err := ReadPairs(strings.NewReader("only-one\n")); err == nil || !strings.Contains(err.Error(), "line 1") {
		t.Errorf("ReadPairs accepted a line without DST: %v", err)
	}
}

func TestRelocateRootSelfContained(t *testing.T) {
	ctx := context.Background()
	root, _ := relocHistory(t)
	dstRoot := t.TempDir()
	pairs, err := FindSnapshots(ctx, root, dstRoot)
	if err != nil {
		t.Fatal(err)
	}
	sum := RelocateAll(ctx, pairs, BulkOptions{})
	if sum.Totals.Relocated != 4 || sum.Totals.Failed != 0 {
		t.Fatalf("totals %+v", sum.Totals)
	}
	for _, p := range pairs {
		assertSelfContained(t, p.Dst)
		assertSameState(t, p.Src, p.Dst)
		assertSameStreams(t, p.Src, p.Dst)
	}
	// Re-running the whole root is cheap: nothing is copied or read again.
	again := RelocateAll(ctx, pairs, BulkOptions{})
	if again.Totals.AlreadyRelocated != 4 || again.Totals.Copied != 0 {
		t.Fatalf("re-run totals %+v", again.Totals)
	}
}

func TestRelocateRootMapped(t *testing.T) {
	ctx := context.Background()
	root, job := relocHistory(t)
	dstRoot := t.TempDir()
	m, err := ParseMap("file:" + root + "=file:" + dstRoot)
	if err != nil {
		t.Fatal(err)
	}
	pairs, err := FindSnapshots(ctx, root, dstRoot)
	if err != nil {
		t.Fatal(err)
	}
	sum := RelocateAll(ctx, pairs, BulkOptions{RelocateOptions: RelocateOptions{Maps: []PrefixMap{m}}})
	if sum.Totals.Failed != 0 {
		t.Fatalf("%+v", sum.Snapshots)
	}
	// Every distinct file was written once, shared ones included.
	distinct := map[string]bool{}
	for _, p := range pairs {
		plan, err := PlanRelocation(ctx, p.Src, p.Dst, RelocateOptions{Maps: []PrefixMap{m}})
		if err != nil {
			t.Fatal(err)
		}
		for _, f := range plan.Files {
			distinct[f.To] = true
		}
		plan.Close()
	}
	if got := sum.Totals.Copied; got != len(distinct) {
		t.Errorf("%d copies for %d distinct files", got, len(distinct))
	}
	newJob := filepath.Join(dstRoot, filepath.Base(job))
	relocSameFiles(t, filepath.Join(job, "shared"), filepath.Join(newJob, "shared"))
	s := relocLoad(t, filepath.Join(newJob, "chk-3"))
	n := 0
	for _, f := range s.Files {
		if f.Scope == snapshot.ScopeShared {
			n++
			if !strings.HasPrefix(f.Path, "file:"+newJob+"/shared/") {
				t.Errorf("%s not mapped", f.Path)
			}
		}
	}
	if n == 0 {
		t.Error("no shared files in the mapped checkpoint")
	}
	for _, p := range pairs {
		assertSameStreams(t, p.Src, p.Dst)
	}
}

func TestJoinRef(t *testing.T) {
	for _, c := range [][3]string{
		{"/data/ckpt", "job/chk-1", "/data/ckpt/job/chk-1"},
		{"file:/data/ckpt", "chk-1", "file:/data/ckpt/chk-1"},
		{"s3://b?endpoint=http://h:9000&use_path_style=true", "p/chk-1", "s3://b/p/chk-1?endpoint=http://h:9000&use_path_style=true"},
		{"gs://b/root/", "chk-1", "gs://b/root/chk-1"},
		{"mem://x/y", "", "mem://x/y"},
	} {
		if got := must(joinRef(c[0], c[1])); got != c[2] {
			t.Errorf("joinRef(%q, %q) = %q, want %q", c[0], c[1], got, c[2])
		}
	}
}
