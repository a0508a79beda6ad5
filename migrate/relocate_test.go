package migrate

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/fsnap/fsnap/fixtures"
	"github.com/fsnap/fsnap/format"
	"github.com/fsnap/fsnap/inspect"
	"github.com/fsnap/fsnap/internal/transfer"
	"github.com/fsnap/fsnap/snapshot"
	"github.com/fsnap/fsnap/snapshot/source"
	"github.com/fsnap/fsnap/verify"
)

// gen writes a fixture under a new temporary root and returns the root
// and the snapshot directory.
func relocGen(t *testing.T, spec fixtures.Spec) (root, dir string, s *fixtures.Snapshot) {
	t.Helper()
	root = t.TempDir()
	s, err := fixtures.WriteDir(context.Background(), root, spec)
	if err != nil {
		t.Fatal(err)
	}
	return root, filepath.Join(root, s.Dir), s
}

// assertSharedMapped checks that s has shared files and that every one is
// under root's shared/ folder.
func assertSharedMapped(t *testing.T, s *snapshot.Snapshot, root string) {
	t.Helper()
	shared := 0
	for _, f := range s.Files {
		if f.Scope == snapshot.ScopeShared {
			shared++
			if !strings.HasPrefix(f.Path, "file:"+root+"/shared/") {
				t.Errorf("shared file %s not mapped", f.Path)
			}
		}
	}
	if shared == 0 {
		t.Error("no shared files")
	}
}

func relocLoad(t *testing.T, ref string) *snapshot.Snapshot {
	t.Helper()
	s, sr, err := source.Load(context.Background(), ref)
	if err != nil {
		t.Fatalf("load %s: %v", ref, err)
	}
	sr.Close()
	return s
}

// reportJSON is inspect -o json --files of a snapshot, as a generic tree.
func relocReportJSON(t *testing.T, s *snapshot.Snapshot) map[string]any {
	t.Helper()
	b, err := json.Marshal(inspect.Build(s, inspect.Options{Files: true}))
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatal(err)
	}
	return m
}

// withoutPaths drops what legitimately differs between a snapshot and its
// relocated copy whose handles were all relative: where it is.
func relocWithoutPaths(m map[string]any) map[string]any {
	delete(m, "snapshot")
	delete(m["metadata"].(map[string]any), "path")
	if fs, ok := m["files"].([]any); ok {
		for _, f := range fs {
			delete(f.(map[string]any), "path")
		}
	}
	return m
}

// assertSameExceptPaths checks inspect's JSON of src and dst.
func assertSameExceptPaths(t *testing.T, src, dst string) {
	t.Helper()
	a := relocWithoutPaths(relocReportJSON(t, relocLoad(t, src)))
	b := relocWithoutPaths(relocReportJSON(t, relocLoad(t, dst)))
	ja, _ := json.MarshalIndent(a, "", " ")
	jb, _ := json.MarshalIndent(b, "", " ")
	if !bytes.Equal(ja, jb) {
		t.Fatalf("inspect -o json differs beyond paths:\nsrc: %.3000s\ndst: %.3000s", ja, jb)
	}
}

// assertSameState checks what a rewrite of absolute handles keeps: kind,
// Flink range, ids, operators, parallelism and state bytes per handleSlot.
func assertSameState(t *testing.T, src, dst string) {
	t.Helper()
	pick := func(m map[string]any) []byte {
		ops := []any{}
		for _, o := range m["operators"].([]any) {
			o := o.(map[string]any)
			ops = append(ops, []any{o["id"], o["uid"], o["name"], o["parallelism"], o["max_parallelism"],
				o["subtasks_with_state"], o["finished_subtasks"], o["bytes"]})
		}
		tot := m["totals"].(map[string]any)
		b, _ := json.Marshal([]any{m["checkpoint_id"], m["kind"], m["flink"], m["properties"], m["master_states"],
			tot["operators"], tot["subtasks"], tot["state_bytes"], tot["inline_streams"], tot["inline_bytes"], ops})
		return b
	}
	a, b := pick(relocReportJSON(t, relocLoad(t, src))), pick(relocReportJSON(t, relocLoad(t, dst)))
	if !bytes.Equal(a, b) {
		t.Fatalf("state differs:\nsrc: %s\ndst: %s", a, b)
	}
}

// assertSelfContained checks through the model that every file of the
// snapshot at dir is inline or a relative file inside dir that exists
// with its recorded size.
func assertSelfContained(t *testing.T, dir string) {
	t.Helper()
	s := relocLoad(t, dir)
	files := 0
	for _, f := range s.Files {
		switch f.Scope {
		case snapshot.ScopeInline:
		case snapshot.ScopeExclusive:
			files++
			fi, err := os.Stat(filepath.Join(dir, f.Relative))
			if err != nil || fi.Size() != f.Size {
				t.Errorf("%s: %v (size %v, want %d)", f.Relative, err, fi, f.Size)
			}
		default:
			t.Errorf("%s: scope %s: not self-contained", f.Path, f.Scope)
		}
	}
	if files == 0 {
		t.Errorf("%s: no files at all (test data too small?)", dir)
	}
	assertVerifiesRelocatable(t, dir)
}

// assertVerifiesRelocatable runs fsnap verify --require relocatable (at
// the files level: fixture state files are random bytes) on ref.
func assertVerifiesRelocatable(t *testing.T, ref string) {
	t.Helper()
	ctx := context.Background()
	s, sr, err := source.Load(ctx, ref)
	if err != nil {
		t.Fatal(err)
	}
	defer sr.Close()
	vr, err := verify.Check(ctx, s, sr, verify.Options{Level: verify.LevelFiles, RequireRelocatable: true})
	if err != nil {
		t.Fatal(err)
	}
	if !vr.Relocatable || vr.Counts.Error > 0 {
		t.Errorf("%s: verify --require relocatable: relocatable=%v, %d errors: %+v", ref, vr.Relocatable, vr.Counts.Error, vr.Findings)
	}
}

// sameFiles checks that every file of dir a is in b with the same bytes.
func relocSameFiles(t *testing.T, a, b string) {
	t.Helper()
	ents, err := os.ReadDir(a)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range ents {
		x, _ := os.ReadFile(filepath.Join(a, e.Name()))
		y, err := os.ReadFile(filepath.Join(b, e.Name()))
		if err != nil || !bytes.Equal(x, y) {
			t.Errorf("%s: differs in %s (%v)", e.Name(), b, err)
		}
	}
}

func TestRelocateRelativeLocal(t *testing.T) {
	ctx := context.Background()
	_, src, _ := relocGen(t, fixtures.Spec{Kind: fixtures.CanonicalSavepoint, Seed: 3})
	dst := filepath.Join(t.TempDir(), "moved", "savepoint-x")
	r, err := Relocate(ctx, src, dst, RelocateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if r.Status != Relocated || r.Copied != r.Files || r.Files == 0 || r.Rewritten != 0 || !r.SelfContained {
		t.Fatalf("report %+v", r)
	}
	relocSameFiles(t, src, dst) // _metadata included: byte for byte
	assertSameExceptPaths(t, src, dst)
	assertSelfContained(t, dst)

	// A second run finds it done and copies nothing.
	r, err = Relocate(ctx, src, dst, RelocateOptions{})
	if err != nil || r.Status != AlreadyRelocated || r.Present != r.Files || r.Copied != 0 {
		t.Fatalf("re-run: %+v, %v", r, err)
	}

	// Into itself, inside itself or around itself: refused, nothing written.
	for dst, want := range map[string]string{
		src:                         "source and destination are the same directory",
		filepath.Join(src, "inner"): "the destination lies inside the source directory",
		filepath.Dir(src):           "the source lies inside the destination directory",
		src + "-beside/savepoint-x": "",
	} {
		_, err := Relocate(ctx, src, dst, RelocateOptions{})
		if want == "" && err != nil || want != "" && (err == nil || !strings.Contains(err.Error(), want)) {
			t.Errorf("to %s: %v, want %q", dst, err, want)
		}
	}
	if _, err := os.Stat(filepath.Join(src, "inner")); !os.IsNotExist(err) {
		t.Errorf("a refused relocation wrote into the source: %v", err)
	}
	if _, err := FindSnapshots(ctx, filepath.Dir(src), filepath.Join(filepath.Dir(src), "moved")); err == nil || !strings.Contains(err.Error(), "inside the source root") {
		t.Errorf("a root into itself: %v", err)
	}
}

func TestRelocateAbsoluteBecomesSelfContained(t *testing.T) {
	ctx := context.Background()
	cases := []struct {
		name    string
		spec    fixtures.Spec
		changes []HandleChange
	}{
		{"incremental-shared", fixtures.Spec{Kind: fixtures.IncrementalCheckpoint, Seed: 5, SharedFiles: 4}, []HandleChange{Kept, AbsoluteToRelative}},
		{"incremental-v7", fixtures.Spec{Version: 7, Kind: fixtures.IncrementalCheckpoint, Seed: 6}, []HandleChange{Kept, AbsoluteToRelative}},
		{"entropy-savepoint", fixtures.Spec{Kind: fixtures.CanonicalSavepoint, Seed: 7, Entropy: true}, []HandleChange{AbsoluteToRelative}},
		{"entropy-native", fixtures.Spec{Kind: fixtures.NativeSavepoint, Seed: 8, Entropy: true}, []HandleChange{AbsoluteToRelative}},
		{"changelog", fixtures.Spec{Kind: fixtures.ChangelogCheckpoint, Seed: 9}, []HandleChange{Kept, AbsoluteToRelative}},
		{"file-merging", fixtures.Spec{Kind: fixtures.Checkpoint, Seed: 10, FileMerging: true}, []HandleChange{Kept, SegmentToRelative}},
		{"unaligned-entropy", fixtures.Spec{Kind: fixtures.UnalignedCheckpoint, Seed: 11, Entropy: true}, []HandleChange{AbsoluteToRelative}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, src, _ := relocGen(t, c.spec)
			before := relocLoad(t, src)
			if isSelfContained(before) {
				t.Fatal("fixture has no absolute paths: the test would prove nothing")
			}
			dst := filepath.Join(t.TempDir(), "chk")
			r, err := Relocate(ctx, src, dst, RelocateOptions{})
			if err != nil {
				t.Fatal(err)
			}
			if !r.SelfContained || r.Rewritten == 0 || r.Status != Relocated {
				t.Fatalf("report %+v", r)
			}
			assertSelfContained(t, dst)
			assertSameState(t, src, dst)
			p, err := PlanRelocation(ctx, src, dst, RelocateOptions{})
			if err != nil {
				t.Fatal(err)
			}
			defer p.Close()
			var got []HandleChange
			for _, f := range p.Files {
				if !slices.Contains(got, f.Change) {
					got = append(got, f.Change)
				}
			}
			slices.Sort(got)
			want := slices.Clone(c.changes)
			slices.Sort(want)
			if !slices.Equal(got, want) {
				t.Errorf("changes %v, want %v", got, want)
			}
			if !p.Done {
				t.Error("plan after a finished run is not Done")
			}
			// The bytes behind every handle are the same: compare each
			// stream of the relocated snapshot with the original's.
			assertSameStreams(t, src, dst)
		})
	}
}

func isSelfContained(s *snapshot.Snapshot) bool {
	for _, f := range s.Files {
		if f.Scope != snapshot.ScopeInline && f.Scope != snapshot.ScopeExclusive {
			return false
		}
	}
	return true
}

// assertSameStreams reads every stream handle of both snapshots (in the
// same order) and compares the bytes.
func assertSameStreams(t *testing.T, src, dst string) {
	t.Helper()
	a, b := relocLoad(t, src), relocLoad(t, dst)
	sa, sb := handleSlots(a.Metadata), handleSlots(b.Metadata)
	if len(sa) != len(sb) {
		t.Fatalf("%d stream handles, relocated %d", len(sa), len(sb))
	}
	for i := range sa {
		x, y := relocReadStream(t, src, *sa[i].h), relocReadStream(t, dst, *sb[i].h)
		if !bytes.Equal(x, y) {
			t.Fatalf("%s: stream differs after relocation (%d vs %d bytes)", sa[i].where, len(x), len(y))
		}
	}
}

func relocReadStream(t *testing.T, dir string, h format.StreamHandle) []byte {
	t.Helper()
	file := func(p string) []byte {
		p = strings.TrimPrefix(p, "file:")
		b, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	switch h := h.(type) {
	case *format.ByteStreamHandle:
		return h.Data
	case *format.RelativeFileHandle:
		return file(filepath.Join(dir, h.RelativePath))
	case *format.FileHandle:
		return file(h.Path)
	case *format.SegmentFileHandle:
		return file(h.Path)[h.StartPos : h.StartPos+h.Size]
	case *format.EmptySegmentFileHandle:
		return nil
	}
	t.Fatalf("unexpected handle %T", h)
	return nil
}

func TestRelocateVersion2PointsIntoDestination(t *testing.T) {
	ctx := context.Background()
	_, src, _ := relocGen(t, fixtures.Spec{Version: 2, Kind: fixtures.CanonicalSavepoint, Seed: 12})
	dst := filepath.Join(t.TempDir(), "sp")
	r, err := Relocate(ctx, src, dst, RelocateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if r.SelfContained || len(r.Warnings) == 0 {
		t.Errorf("version 2 result claimed self-contained: %+v", r)
	}
	s := relocLoad(t, dst)
	n := 0
	for _, f := range s.Files {
		if f.Scope == snapshot.ScopeInline {
			continue
		}
		n++
		if !strings.HasPrefix(f.Path, "file:"+dst+"/") {
			t.Errorf("%s does not point into %s", f.Path, dst)
		}
	}
	if n == 0 {
		t.Fatal("no files")
	}
	assertSameStreams(t, src, dst)
	assertSameState(t, src, dst)
}

func TestRelocateMissingAbsoluteFiles(t *testing.T) {
	ctx := context.Background()
	root, src, s := relocGen(t, fixtures.Spec{Kind: fixtures.IncrementalCheckpoint, Seed: 13, SharedFiles: 2})
	var gone []string
	for _, f := range s.Files {
		if strings.HasPrefix(f.Key, "shared/") && len(gone) < 3 {
			p := filepath.Join(root, f.Key)
			if err := os.Remove(p); err != nil {
				t.Fatal(err)
			}
			gone = append(gone, p)
		}
	}
	dst := filepath.Join(t.TempDir(), "chk")
	r, err := Relocate(ctx, src, dst, RelocateOptions{})
	var re *RelocateError
	if !errors.As(err, &re) || r.Status != FailedStatus {
		t.Fatalf("want a relocation error, got %v (%+v)", err, r)
	}
	for _, g := range gone {
		if !strings.Contains(err.Error(), g) {
			t.Errorf("error does not name %s:\n%v", g, err)
		}
	}
	missing := 0
	for _, p := range r.Problems {
		if p.Problem == "missing" {
			missing++
		}
	}
	if missing != len(gone) {
		t.Errorf("%d missing problems, want %d: %+v", missing, len(gone), r.Problems)
	}
	if _, err := os.Stat(filepath.Join(dst, "_metadata")); !os.IsNotExist(err) {
		t.Errorf("_metadata written despite missing files (%v)", err)
	}
	if ents, _ := os.ReadDir(dst); len(ents) != 0 {
		t.Errorf("%d files copied though the plan failed", len(ents))
	}
}

func TestRelocateSizeMismatch(t *testing.T) {
	ctx := context.Background()
	root, src, s := relocGen(t, fixtures.Spec{Kind: fixtures.CanonicalSavepoint, Seed: 14})
	victim := filepath.Join(root, s.Files[1].Key)
	if err := os.Truncate(victim, s.Files[1].Size-1); err != nil {
		t.Fatal(err)
	}
	dst := filepath.Join(t.TempDir(), "sp")
	r, err := Relocate(ctx, src, dst, RelocateOptions{})
	if err == nil || len(r.Problems) != 1 || r.Problems[0].Problem != "size-mismatch" || !strings.Contains(err.Error(), victim) {
		t.Fatalf("want one size mismatch naming %s, got %v / %+v", victim, err, r.Problems)
	}
	if _, err := os.Stat(filepath.Join(dst, "_metadata")); !os.IsNotExist(err) {
		t.Error("_metadata written")
	}
}

// relocInterrupted plans relocating an incremental checkpoint to a new
// directory and copies the first n files of the plan only, as an
// interrupted run does (no _metadata). The caller closes the plan.
func relocInterrupted(t *testing.T, n func(files int) int) (src, dst string, p *RelocatePlan) {
	t.Helper()
	ctx := context.Background()
	_, src, _ = relocGen(t, fixtures.Spec{Kind: fixtures.IncrementalCheckpoint, Seed: 15})
	dst = filepath.Join(t.TempDir(), "chk")
	p, err := PlanRelocation(ctx, src, dst, RelocateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	eng := transfer.New(transfer.Options{})
	for _, res := range eng.Copy(ctx, p.xfer[:n(len(p.xfer))]) {
		if res.Err != nil {
			t.Fatal(res.Err)
		}
	}
	return src, dst, p
}

func TestRelocateResumeAndConflicts(t *testing.T) {
	ctx := context.Background()
	// An interrupted run: copy some of the files, no _metadata.
	src, dst, p := relocInterrupted(t, func(n int) int { return n / 2 })
	half := p.xfer[:len(p.xfer)/2]
	p.Close()
	r, err := Relocate(ctx, src, dst, RelocateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if r.Present != len(half) || r.Copied != r.Files-len(half) {
		t.Fatalf("resume: %d present, %d copied of %d; want %d present", r.Present, r.Copied, r.Files, len(half))
	}
	assertSelfContained(t, dst)

	// A file at the destination with other content is a conflict, never
	// overwritten; _metadata is not rewritten either.
	dst2 := filepath.Join(t.TempDir(), "chk")
	if err := os.MkdirAll(dst2, 0o755); err != nil {
		t.Fatal(err)
	}
	victim := filepath.Join(dst2, filepath.Base(p.Files[0].To))
	orig, _ := os.ReadFile(p.Files[0].From)
	bad := bytes.Clone(orig)
	bad[0] ^= 1
	os.WriteFile(victim, bad, 0o644)
	r, err = Relocate(ctx, src, dst2, RelocateOptions{})
	if err == nil || len(r.Problems) != 1 || r.Problems[0].Problem != "conflict" {
		t.Fatalf("want a conflict, got %v %+v", err, r.Problems)
	}
	if got, _ := os.ReadFile(victim); !bytes.Equal(got, bad) {
		t.Error("conflicting file overwritten")
	}
	if _, err := os.Stat(filepath.Join(dst2, "_metadata")); !os.IsNotExist(err) {
		t.Error("_metadata written despite a conflict")
	}

	// Another snapshot's _metadata at the destination is never replaced.
	_, other, _ := relocGen(t, fixtures.Spec{Kind: fixtures.CanonicalSavepoint, Seed: 16})
	if _, err := Relocate(ctx, other, dst, RelocateOptions{}); err == nil || !strings.Contains(err.Error(), "different _metadata") {
		t.Fatalf("want a refusal, got %v", err)
	}
}

func TestRelocateMap(t *testing.T) {
	ctx := context.Background()
	root, src, s := relocGen(t, fixtures.Spec{Kind: fixtures.IncrementalCheckpoint, Seed: 17})
	newRoot := t.TempDir()
	dst := filepath.Join(newRoot, s.Dir)
	m, err := ParseMap("file:" + root + "=file:" + newRoot + "/")
	if err != nil {
		t.Fatal(err)
	}
	r, err := Relocate(ctx, src, dst, RelocateOptions{Maps: []PrefixMap{m}})
	if err != nil {
		t.Fatal(err)
	}
	if r.SelfContained {
		t.Error("a mapped checkpoint claims to be self-contained")
	}
	assertSharedMapped(t, relocLoad(t, dst), newRoot)
	assertSameStreams(t, src, dst)
	// Every shared file of the old root is now in the new one.
	relocSameFiles(t, filepath.Join(root, "shared"), filepath.Join(newRoot, "shared"))

	if _, err := ParseMap("nothing"); err == nil {
		t.Error("ParseMap accepted a map without =")
	}
	if got, ok := (PrefixMap{Old: "s3://b/job1", New: "gs://c/j"}).apply("s3://b/job10/x"); ok {
		t.Errorf("prefix matched inside a path element: %s", got)
	}
}

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
	assertSharedMapped(t, relocLoad(t, filepath.Join(newJob, "chk-3")), newJob)
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

// TestRelocateResumeLeavesNoTemps (issue 20, item 10): a run killed
// mid-copy leaves fileblob's "<name>.<hex>.tmp" files at the destination;
// the resumed run that completes removes them (and nothing else).
func TestRelocateResumeLeavesNoTemps(t *testing.T) {
	ctx := context.Background()
	// What a killed run leaves: some files copied, others half-written.
	src, dst, p := relocInterrupted(t, func(int) int { return 1 })
	os.MkdirAll(dst, 0o755)
	var temps []string
	for _, f := range p.xfer[1:3] {
		tmp := "/" + f.Dst.Key + ".187e2f3a9c0b1d2e.tmp"
		os.WriteFile(tmp, []byte("half"), 0o644)
		temps = append(temps, tmp)
	}
	temps = append(temps, filepath.Join(dst, "_metadata.187e2f3a9c0b1d2f.tmp"))
	os.WriteFile(temps[len(temps)-1], []byte("half"), 0o644)
	mine := filepath.Join(dst, "notes.1.tmp") // not a temporary file of ours
	os.WriteFile(mine, []byte("x"), 0o644)
	p.Close()
	if _, err := Relocate(ctx, src, dst, RelocateOptions{}); err != nil {
		t.Fatal(err)
	}
	for _, tmp := range temps {
		if _, err := os.Stat(tmp); !os.IsNotExist(err) {
			t.Errorf("%s left after the completed run", tmp)
		}
	}
	if _, err := os.Stat(mine); err != nil {
		t.Errorf("a file not ours removed: %v", err)
	}
}
