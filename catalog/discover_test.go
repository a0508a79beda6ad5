package catalog_test

import (
	"context"
	"io"
	"maps"
	"slices"
	"sort"
	"strings"
	"testing"

	"github.com/fsnap/fsnap/catalog"
	"github.com/fsnap/fsnap/fixtures"
	"github.com/fsnap/fsnap/format"
	"github.com/fsnap/fsnap/gc"
	"github.com/fsnap/fsnap/internal/testservers"
	"github.com/fsnap/fsnap/store"
)

// prefixed writes a generated history's objects under a folder of a root.
type prefixed struct {
	l   *store.Location
	dir string
}

func (p prefixed) WriteObject(ctx context.Context, key string, write func(io.Writer) error) error {
	return p.l.WriteObject(ctx, p.dir+"/"+key, write)
}

// TestDiscoverBucket (issue 18): scanned from the top of a bucket at the
// default depth, discovery finds every snapshot of three jobs under
// checkpoints/<job>/, the savepoints beside them (checkpoints/savepoints/,
// savepoints/) and a job writing with Flink's entropy injection
// (s3.entropy.key in BUCKET/_entropy_/checkpoints: data files under
// BUCKET/<random>/checkpoints/<job>/, _metadata under
// BUCKET/checkpoints/<job>/chk-N/). The entropy data folders are counted
// with their snapshots, an in-flight entropy checkpoint is one incomplete
// snapshot, gc deletes nothing a snapshot references, and a scan too
// shallow to see the data folders makes gc refuse.
func TestDiscoverBucket(t *testing.T) {
	ctx := context.Background()
	for name, mk := range stores(t, false) {
		t.Run(name, func(t *testing.T) {
			bucket := testservers.Open(t, mk(t))
			abs := func(rel string) string {
				p, err := bucket.FlinkPathOf(bucket.Prefix + rel)
				if err != nil {
					t.Fatal(err)
				}
				return p
			}
			// Three jobs, savepoints in checkpoints/savepoints/.
			spec := fixtures.HistorySpec{Seed: 18, Version: 6, Jobs: 3, Rounds: 6, Retain: 2, Savepoints: 2,
				FailRate: 0.2, InFlight: true, RootURI: abs("checkpoints")}
			h, err := fixtures.GenerateHistory(spec)
			if err != nil {
				t.Fatal(err)
			}
			for _, recent := range []bool{false, true} {
				if err := h.Write(ctx, []fixtures.Writer{prefixed{bucket, "checkpoints"}}, recent); err != nil {
					t.Fatal(err)
				}
			}
			want := map[string]bool{} // snapshot name -> complete
			for _, o := range h.Objects {
				if o.Place == fixtures.PlaceMetadata || o.Place == fixtures.PlaceIncomplete {
					want["checkpoints/"+strings.TrimSuffix(o.Folder, "/")] = o.Place == fixtures.PlaceMetadata
				}
			}
			// A savepoint target beside the checkpoints.
			sp, err := fixtures.Generate(fixtures.Spec{Kind: fixtures.CanonicalSavepoint, Operators: 1, Parallelism: 1})
			if err != nil {
				t.Fatal(err)
			}
			if err := sp.Write(ctx, prefixed{bucket, "savepoints"}); err != nil {
				t.Fatal(err)
			}
			want["savepoints/"+sp.Dir] = true
			// The entropy job: chk-7 complete (two exclusive files in two
			// entropy folders, a shared file in a third), chk-8 in flight.
			const job = "0123456789abcdef0123456789abcdef"
			data := []string{"a1B2/checkpoints/" + job + "/chk-7/2f0c1d4e-0000-4000-8000-000000000001",
				"Zz09/checkpoints/" + job + "/chk-7/2f0c1d4e-0000-4000-8000-000000000002",
				"q7Rt/checkpoints/" + job + "/shared/2f0c1d4e-0000-4000-8000-000000000003"}
			var handles []format.StreamHandle
			for i, rel := range data {
				put(t, bucket, rel, 10+i)
				handles = append(handles, &format.FileHandle{Path: abs(rel), Size: int64(10 + i)})
			}
			putBytes(t, bucket, "checkpoints/"+job+"/chk-7/_metadata", metadata(t, 7, handles...))
			put(t, bucket, "a1B2/checkpoints/"+job+"/chk-8/2f0c1d4e-0000-4000-8000-000000000004", 5)
			want["checkpoints/"+job+"/chk-7"] = true
			want["checkpoints/"+job+"/chk-8"] = false
			if len(want) < 12 {
				t.Fatalf("only %d snapshots generated", len(want))
			}

			c, err := catalog.Scan(ctx, bucket, catalog.Options{Areas: true, Keep: true})
			if err != nil {
				t.Fatal(err)
			}
			got := map[string]bool{}
			for _, f := range c.Snapshots() {
				got[f.Name] = f.Complete
			}
			if !maps.Equal(got, want) {
				t.Errorf("snapshots found:\n%v\nwant:\n%v", sortedKeys(got), sortedKeys(want))
			}
			if c.Deeper != 0 || c.Depth != catalog.DefaultMaxDepth {
				t.Errorf("depth %d, %d folders not looked into: %q", c.Depth, c.Deeper, c.DeeperNames)
			}
			var entropy []string
			for _, f := range c.Folders {
				if f.IsEntropyData() {
					entropy = append(entropy, f.Name+" of "+f.Of+" job "+f.Job)
				}
			}
			wantEntropy := []string{
				"Zz09/checkpoints/" + job + "/chk-7 of checkpoints/" + job + "/chk-7 job checkpoints/" + job,
				"a1B2/checkpoints/" + job + "/chk-7 of checkpoints/" + job + "/chk-7 job checkpoints/" + job,
				"a1B2/checkpoints/" + job + "/chk-8 of checkpoints/" + job + "/chk-8 job checkpoints/" + job,
				"q7Rt/checkpoints/" + job + "/shared of checkpoints/" + job + "/shared job checkpoints/" + job,
			}
			if !slices.Equal(entropy, wantEntropy) {
				t.Errorf("entropy data folders:\n%s\nwant:\n%s", strings.Join(entropy, "\n"), strings.Join(wantEntropy, "\n"))
			}
			if s := c.Scanned(); !strings.Contains(s, "--max-depth 6") || !strings.Contains(s, "4 entropy-injected data folder(s)") {
				t.Errorf("scanned: %s", s)
			}

			// The listing counts the data folders' objects with chk-7's.
			l := catalog.List(ctx, bucket, c, catalog.ListOptions{})
			for _, s := range l.Snapshots {
				if s.Name == "checkpoints/"+job+"/chk-7" && (s.Objects != 3 || s.Bytes != 10+11+int64(len(metadata(t, 7, handles...)))) {
					t.Errorf("chk-7 listed with %d objects, %d bytes", s.Objects, s.Bytes)
				}
			}

			// gc honours every reference: nothing chk-7 or the history's
			// snapshots reference is deleted, nothing referenced is missing.
			plan, err := gc.PlanGC(ctx, bucket, gc.Options{MinAge: -1})
			if err != nil {
				t.Fatal(err)
			}
			referenced := map[string]bool{}
			for id := range h.Referenced() {
				referenced["checkpoints/"+id.Key] = true
			}
			for _, rel := range data {
				referenced[rel] = true
			}
			for _, o := range plan.Delete {
				if rel := strings.TrimPrefix(o.Key, bucket.Prefix); referenced[rel] {
					t.Errorf("gc deletes referenced %s", rel)
				}
			}
			if len(plan.Refused) != 0 {
				t.Errorf("refused: %q", plan.Refused)
			}
			if plan.MaxDepth != catalog.DefaultMaxDepth || !strings.Contains(plan.Scanned, "--max-depth 6") {
				t.Errorf("plan depth %d, scanned %q", plan.MaxDepth, plan.Scanned)
			}
			g, err := gc.Analyse(ctx, bucket, gc.Options{})
			if err != nil {
				t.Fatal(err)
			}
			for _, n := range g.Nodes {
				if n.Missing != 0 {
					t.Errorf("%s: %d referenced files missing", n.Name, n.Missing)
				}
			}

			// Three deep, the entropy data folders (four deep) are not
			// looked into: gc must not apply a plan blind to them.
			plan, err = gc.PlanGC(ctx, bucket, gc.Options{MinAge: -1, MaxDepth: 3})
			if err != nil {
				t.Fatal(err)
			}
			if plan.MaxDepth != 3 || !slices.ContainsFunc(plan.Refused, func(r string) bool { return strings.Contains(r, "3 deep") && strings.Contains(r, "--max-depth 4") }) {
				t.Errorf("depth 3: max depth %d, refused %q", plan.MaxDepth, plan.Refused)
			}
		})
	}
}

func sortedKeys(m map[string]bool) []string {
	var out []string
	for k, v := range m {
		if !v {
			k += " (incomplete)"
		}
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// TestListFromGraph: a listing made with the graph of the same scan takes
// kinds and ids from it, reading no _metadata again (they are deleted
// before listing here, and no snapshot says so), and equals the listing
// that reads them.
func TestListFromGraph(t *testing.T) {
	ctx := context.Background()
	root := testservers.Open(t, memRoot("list-graph"))
	spec := fixtures.HistorySpec{Seed: 4, Version: 6, RootURI: root.Display, Jobs: 2, Rounds: 8, Retain: 2, Savepoints: 2, FailRate: 0.2}
	writeHistory(t, spec, root)
	c, g := graphOf(t, root)
	read := catalog.List(ctx, root, c, catalog.ListOptions{})
	for _, f := range c.Snapshots() {
		if f.Complete {
			if err := root.Bucket.Delete(ctx, f.MetadataKey()); err != nil {
				t.Fatal(err)
			}
		}
	}
	fromGraph := catalog.List(ctx, root, c, catalog.ListOptions{Graph: g})
	if len(read.Snapshots) < 5 || !slices.EqualFunc(read.Snapshots, fromGraph.Snapshots, func(a, b catalog.Listed) bool {
		return a.Name == b.Name && a.Kind == b.Kind && a.Error == "" && b.Error == "" && *a.CheckpointID == *b.CheckpointID
	}) {
		t.Errorf("listing from the graph:\n%+v\nwant\n%+v", fromGraph.Snapshots, read.Snapshots)
	}
	kinds := 0
	for _, s := range fromGraph.Snapshots {
		if s.Kind != "" {
			kinds++
		}
	}
	if again := catalog.List(ctx, root, c, catalog.ListOptions{}); kinds < 4 || again.Snapshots[0].Error == "" {
		t.Errorf("%d kinds from the graph; reading again: %+v", kinds, again.Snapshots[0])
	}
}
