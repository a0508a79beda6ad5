package catalog_test

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/fsnap/fsnap/catalog"
	"github.com/fsnap/fsnap/fixtures"
	"github.com/fsnap/fsnap/format"
	"github.com/fsnap/fsnap/internal/testservers"
	"github.com/fsnap/fsnap/snapshot"
	"github.com/fsnap/fsnap/store"
)

// metadata encodes a checkpoint whose source operator has one subtask per
// handle.
func metadata(t testing.TB, id int64, handles ...format.StreamHandle) []byte {
	t.Helper()
	op := format.OperatorState{ID: format.OperatorIDFromUID("src"), UID: "src", Name: "Source",
		Parallelism: int32(len(handles)), MaxParallelism: 128}
	for i, h := range handles {
		op.Subtasks = append(op.Subtasks, format.SubtaskState{Index: int32(i),
			ManagedOperatorState: &format.OperatorStateHandle{Delegate: h,
				States: []format.NamedOperatorState{{Name: "s", Offsets: []int64{0}}}}})
	}
	m := &format.Metadata{Version: 6, CheckpointID: id, Operators: []format.OperatorState{op},
		Properties: format.NewCheckpointProperties()}
	b, err := format.AppendMetadata(nil, m)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func putBytes(t testing.TB, l *store.Location, rel string, b []byte) {
	t.Helper()
	key, _ := l.Key(rel)
	if err := l.Bucket.WriteAll(context.Background(), key, b, nil); err != nil {
		t.Fatal(err)
	}
}

// handBuilt writes a small root with known answers on a mem:// bucket and
// returns the root and the base URI of its absolute paths.
func handBuilt(t *testing.T) (*store.Location, string) {
	bucket := fmt.Sprintf("catalog-hand-%d", memSeq.Add(1))
	base := "mem://" + bucket + "/root"
	root := testservers.Open(t, base)
	abs := func(rel string, size int64) format.StreamHandle {
		return &format.FileHandle{Path: base + "/" + rel, Size: size}
	}
	relf := func(name string, size int64) format.StreamHandle {
		return &format.RelativeFileHandle{RelativePath: name, Size: size}
	}
	files := map[string]int{"job/shared/A": 10, "job/shared/B": 20, "job/shared/C": 30, "job/chk-1/x": 5,
		"job/chk-2/y": 6, "job/chk-2/stale": 2, "savepoints/savepoint-1/p": 40, "job2/shared/D": 50,
		"job/shared/O": 1, "job/chk-3/z": 3}
	for k, n := range files {
		put(t, root, k, n)
	}
	putBytes(t, root, "job/chk-1/_metadata", metadata(t, 1, abs("job/shared/A", 10), abs("job/shared/B", 20), relf("x", 5)))
	putBytes(t, root, "job/chk-2/_metadata", metadata(t, 2, abs("job/shared/B", 20), abs("job/shared/C", 30), relf("y", 6)))
	putBytes(t, root, "savepoints/savepoint-1/_metadata", metadata(t, 4, relf("p", 40)))
	putBytes(t, root, "job2/chk-5/_metadata", metadata(t, 5, abs("savepoints/savepoint-1/p", 40), abs("job2/shared/D", 50),
		&format.FileHandle{Path: "s3://other/e", Size: 70}, &format.FileHandle{Path: "mem://" + bucket + "/elsewhere/f", Size: 80},
		&format.FileHandle{Path: "hdfs://nn/h", Size: 90}, abs("job2/shared/missing", 9)))
	return root, base
}

func TestGraphHandBuilt(t *testing.T) {
	root, _ := handBuilt(t)
	c, g := graphOf(t, root)
	meta := map[string]int64{}
	for _, f := range c.Folders {
		meta[f.Name] = f.MetadataSize
	}
	type want struct {
		files             string
		shared, owned     int64
		ownedObjects      int
		deps              string
		external, missing int
		referenced        int64
	}
	wants := map[string]want{
		"job/chk-1": {"job/chk-1/x job/shared/A job/shared/B", 20, meta["job/chk-1"] + 15, 3, "", 0, 0, 35},
		"job/chk-2": {"job/chk-2/y job/shared/B job/shared/C", 20, meta["job/chk-2"] + 38, 4, "", 0, 0, 56},
		"job2/chk-5": {"job2/shared/D job2/shared/missing savepoints/savepoint-1/p", 40, meta["job2/chk-5"] + 50, 2,
			"savepoints/savepoint-1", 3, 1, 40 + 50 + 9 + 70 + 80 + 90},
		"savepoints/savepoint-1": {"savepoints/savepoint-1/p", 40, meta["savepoints/savepoint-1"], 1, "", 0, 0, 40},
	}
	if len(g.Nodes) != len(wants) {
		t.Fatalf("%d nodes, want %d", len(g.Nodes), len(wants))
	}
	for _, n := range g.Nodes {
		w, ok := wants[n.Name]
		if !ok {
			t.Errorf("unexpected node %s", n.Name)
			continue
		}
		var files, deps []string
		for _, fi := range n.Files {
			files = append(files, strings.TrimPrefix(g.Files[fi].Key, root.Prefix))
		}
		for _, d := range n.DependsOn {
			deps = append(deps, g.Nodes[d].Name)
		}
		got := want{strings.Join(files, " "), n.SharedBytes, n.OwnedBytes, n.OwnedObjects, strings.Join(deps, " "),
			len(n.External), n.Missing, n.ReferencedBytes}
		if got != w {
			t.Errorf("%s:\n got %+v\nwant %+v", n.Name, got, w)
		}
	}
	var orphans []string
	for _, fi := range g.Orphans() {
		orphans = append(orphans, strings.TrimPrefix(g.Files[fi].Key, root.Prefix))
	}
	if w := []string{"job/chk-2/stale", "job/chk-3/z", "job/shared/O"}; !slices.Equal(orphans, w) {
		t.Errorf("orphans %q, want %q", orphans, w)
	}
	var ext []string
	for _, e := range g.External {
		ext = append(ext, e.Reason+" "+e.Path)
	}
	if w := []string{"unsupported-store hdfs://nn/h", "outside-root " + "mem://" + root.Name + "/elsewhere/f", "other-bucket s3://other/e"}; !slices.Equal(ext, sortedBy(w)) {
		t.Errorf("external %q, want %q", ext, sortedBy(w))
	}
	b := g.FileIndex(root.Prefix + "job/shared/B")
	if b < 0 || len(g.Users(b)) != 2 || g.Files[b].Refs != 2 {
		t.Errorf("users of B: %v", g.Users(b))
	}
}

// sortedBy sorts "reason path" strings by path, as Graph.External is.
func sortedBy(s []string) []string {
	s = slices.Clone(s)
	slices.SortFunc(s, func(a, b string) int {
		_, pa, _ := strings.Cut(a, " ")
		_, pb, _ := strings.Cut(b, " ")
		return strings.Compare(pa, pb)
	})
	return s
}

// TestGraphAlsoRoot: a job under another root restored from a savepoint of
// this root protects the savepoint's files.
func TestGraphAlsoRoot(t *testing.T) {
	root, base := handBuilt(t)
	other := testservers.Open(t, memRoot("other"))
	putBytes(t, other, "jobX/chk-7/_metadata", metadata(t, 7, &format.FileHandle{Path: base + "/job/shared/O", Size: 1}))
	ctx := context.Background()
	c, _ := catalog.Scan(ctx, root, catalog.Options{Areas: true, Keep: true})
	oc, _ := catalog.Scan(ctx, other, catalog.Options{})
	g, err := catalog.Build(ctx, c, []*catalog.Catalog{oc, c}, catalog.BuildOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if len(g.Nodes) != 5 { // the root given again as --also is not counted twice
		t.Fatalf("%d nodes, want 5", len(g.Nodes))
	}
	for _, fi := range g.Orphans() {
		if strings.HasSuffix(g.Files[fi].Key, "job/shared/O") {
			t.Error("a file referenced from another root is an orphan")
		}
	}
	last := g.Nodes[len(g.Nodes)-1]
	if last.InRoot || !strings.HasSuffix(last.Name, "jobX/chk-7") || len(last.Files) != 1 {
		t.Errorf("other root's node: %+v", last)
	}
}

// TestGraphUnreadable: a corrupt _metadata makes orphans and frees unknown.
func TestGraphUnreadable(t *testing.T) {
	root, _ := handBuilt(t)
	putBytes(t, root, "job/chk-4/_metadata", []byte("\x49\x60\x67\x2d\x00\x00\x00\x06\x00"))
	ctx := context.Background()
	c, _ := catalog.Scan(ctx, root, catalog.Options{Areas: true, Keep: true})
	g, err := catalog.Build(ctx, c, nil, catalog.BuildOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if len(g.Unreadable) != 1 || !strings.Contains(g.Unreadable[0].Err.Error(), "job/chk-4/_metadata") {
		t.Fatalf("unreadable: %v", g.Unreadable)
	}
	if g.Orphans() != nil || g.Frees(g.Nodes[0]) != nil {
		t.Error("orphans or frees computed despite an unreadable snapshot")
	}
}

// TestGraphParsed: Build hands every readable snapshot's parsed _metadata
// to Parsed, with its node's index; not the unreadable one.
func TestGraphParsed(t *testing.T) {
	root, _ := handBuilt(t)
	putBytes(t, root, "job/chk-4/_metadata", []byte("\x49\x60\x67\x2d\x00\x00\x00\x06\x00"))
	ctx := context.Background()
	c, _ := catalog.Scan(ctx, root, catalog.Options{Areas: true, Keep: true})
	var mu sync.Mutex
	got := map[int]*snapshot.Snapshot{}
	g, err := catalog.Build(ctx, c, nil, catalog.BuildOptions{Parallel: 3, Parsed: func(i int, n *catalog.Node, s *snapshot.Snapshot) {
		mu.Lock()
		defer mu.Unlock()
		got[i] = s
	}})
	if err != nil {
		t.Fatal(err)
	}
	readable := 0
	for i, n := range g.Nodes {
		s := got[i]
		switch {
		case n.Err != nil && s != nil:
			t.Errorf("%s: unreadable, yet parsed", n.Name)
		case n.Err == nil && (s == nil || s.Metadata.CheckpointID != n.CheckpointID):
			t.Errorf("%s (checkpoint %d): parsed %v", n.Name, n.CheckpointID, s)
		case n.Err == nil:
			readable++
		}
	}
	if len(got) != readable || readable != len(g.Nodes)-1 {
		t.Errorf("%d parsed, %d readable of %d nodes", len(got), readable, len(g.Nodes))
	}
}

// TestGraphVanishedMetadata: a _metadata deleted between listing and
// reading is reported as a changed root.
func TestGraphVanishedMetadata(t *testing.T) {
	root, _ := handBuilt(t)
	ctx := context.Background()
	c, _ := catalog.Scan(ctx, root, catalog.Options{Areas: true, Keep: true})
	key, _ := root.Key("job/chk-1/_metadata")
	root.Bucket.Delete(ctx, key)
	if _, err := catalog.Build(ctx, c, nil, catalog.BuildOptions{}); !errors.Is(err, catalog.ErrChanged) {
		t.Errorf("err %v, want ErrChanged", err)
	}
}

// TestGraphMatchesHistories checks the graph against the generator's
// ground truth on many histories: every snapshot's references and every
// orphan.
func TestGraphMatchesHistories(t *testing.T) {
	ctx := context.Background()
	for seed := uint64(1); seed <= 40; seed++ {
		rootURL, alsoURL := memRoot("hist"), memRoot("hist-also")
		spec := fixtures.HistorySpec{Seed: seed, RootURI: rootURL, AlsoURI: alsoURL, Flat: seed%4 == 0,
			Jobs: 1 + int(seed%3), Rounds: 15, Retain: 1 + int(seed%3), Subtasks: 2, SSTs: 3, Churn: 0.3,
			FailRate: 0.2, LeakRate: 0.2, Recent: 2, InFlight: true, Savepoints: 2, Restores: 2, Strays: 3}
		root, also := testservers.Open(t, rootURL), testservers.Open(t, alsoURL)
		h := writeHistory(t, spec, root, also)
		c, err := catalog.Scan(ctx, root, catalog.Options{Areas: true, Keep: true})
		if err != nil {
			t.Fatal(err)
		}
		ac, err := catalog.Scan(ctx, also, catalog.Options{})
		if err != nil {
			t.Fatal(err)
		}
		g, err := catalog.Build(ctx, c, []*catalog.Catalog{ac}, catalog.BuildOptions{})
		if err != nil {
			t.Fatal(err)
		}
		if len(g.Nodes) != len(h.Snapshots) || len(g.Unreadable) != 0 {
			t.Fatalf("seed %d: %d nodes (%d unreadable), history has %d snapshots", seed, len(g.Nodes), len(g.Unreadable), len(h.Snapshots))
		}
		byName := map[string]*catalog.Node{}
		for _, n := range g.Nodes {
			byName[strings.TrimSuffix(n.Folder.Dir, "/")+fmt.Sprint(n.InRoot)] = n
		}
		for _, s := range h.Snapshots {
			l := []*store.Location{root, also}[s.Root]
			n := byName[l.Prefix+strings.TrimSuffix(s.Dir, "/")+fmt.Sprint(s.Root == 0)]
			if n == nil {
				t.Fatalf("seed %d: snapshot %d:%s not in the graph", seed, s.Root, s.Dir)
			}
			var want, got []string
			for _, r := range s.Refs {
				if r.Root == 0 {
					want = append(want, root.Prefix+r.Key)
				}
			}
			for _, fi := range n.Files {
				got = append(got, g.Files[fi].Key)
			}
			slices.Sort(want)
			want = slices.Compact(want)
			if !slices.Equal(got, want) {
				t.Fatalf("seed %d: %s references\n%q\nwant\n%q", seed, n.Name, got, want)
			}
			if n.CheckpointID != s.CheckpointID {
				t.Errorf("seed %d: %s: id %d, want %d", seed, n.Name, n.CheckpointID, s.CheckpointID)
			}
		}
		ref := h.Referenced()
		var want, got []string
		for _, o := range h.Objects {
			if o.Root == 0 && !ref[o.ObjectID] && o.Place != fixtures.PlaceStray && o.Place != fixtures.PlaceMetadata {
				want = append(want, root.Prefix+o.Key)
			}
		}
		for _, fi := range g.Orphans() {
			got = append(got, g.Files[fi].Key)
		}
		slices.Sort(want)
		if !slices.Equal(got, want) {
			t.Fatalf("seed %d: orphans\n%q\nwant\n%q", seed, got, want)
		}
	}
}

// TestGraphAzureAccounts: Azure paths name a container and a storage
// account. A path in the root's container in another account (or one the
// root does not know) is taken as the root's object at that key when one
// is stored, and listed as unconfirmed; otherwise it is external.
func TestGraphAzureAccounts(t *testing.T) {
	root := testservers.Open(t, bucketPath(t, testservers.Shared(t, testservers.Azure).NewBucket(t), "root"))
	wasbs := func(container, account, rel string, size int64) format.StreamHandle {
		return &format.FileHandle{Path: "wasbs://" + container + "@" + account + ".blob.core.windows.net/root/" + rel, Size: size}
	}
	for _, k := range []string{"job/shared/A", "job/shared/B", "job/shared/O"} {
		put(t, root, k, 1)
	}
	const other = "otheraccount"
	putBytes(t, root, "job/chk-1/_metadata", metadata(t, 1,
		wasbs(root.Name, testservers.AzureAccount, "job/shared/A", 1),
		wasbs(root.Name, other, "job/shared/B", 1),
		wasbs(root.Name, other, "job/shared/gone", 1),
		wasbs("elsewhere", testservers.AzureAccount, "job/shared/O", 1)))
	_, g := graphOf(t, root)
	var files, ext, orphans []string
	for _, fi := range g.Nodes[0].Files {
		files = append(files, strings.TrimPrefix(g.Files[fi].Key, root.Prefix))
	}
	for _, e := range g.External {
		ext = append(ext, e.Reason+" "+e.Path)
	}
	for _, fi := range g.Orphans() {
		orphans = append(orphans, strings.TrimPrefix(g.Files[fi].Key, root.Prefix))
	}
	wantExt := sortedBy([]string{
		"other-bucket wasbs://" + root.Name + "@" + other + ".blob.core.windows.net/root/job/shared/gone",
		"other-bucket wasbs://elsewhere@" + testservers.AzureAccount + ".blob.core.windows.net/root/job/shared/O"})
	wantUnconfirmed := []string{"wasbs://" + root.Name + "@" + other + ".blob.core.windows.net/root/job/shared/B"}
	if got := strings.Join(files, " "); got != "job/shared/A job/shared/B" {
		t.Errorf("files %s", got)
	}
	if !slices.Equal(ext, wantExt) || !slices.Equal(g.Unconfirmed, wantUnconfirmed) {
		t.Errorf("external %q\nwant %q\nunconfirmed %q\nwant %q", ext, wantExt, g.Unconfirmed, wantUnconfirmed)
	}
	if !slices.Equal(orphans, []string{"job/shared/O"}) {
		t.Errorf("orphans %q", orphans)
	}
}
