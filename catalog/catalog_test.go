package catalog_test

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/fsnap/fsnap/catalog"
	"github.com/fsnap/fsnap/internal/testservers"
	"github.com/fsnap/fsnap/store"
)

// stores gives a fresh root URL in every kind of store the tests run on.
func stores(t *testing.T, all bool) map[string]func(t *testing.T) string {
	m := map[string]func(t *testing.T) string{
		"file": func(t *testing.T) string { return filepath.Join(t.TempDir(), "root") },
		"mem":  func(t *testing.T) string { return memRoot(strings.ReplaceAll(t.Name(), "/", "-")) },
		"s3": func(t *testing.T) string {
			return bucketPath(t, testservers.Shared(t, testservers.S3).NewBucket(t), "root")
		},
	}
	if all {
		for _, k := range []testservers.Kind{testservers.GCS, testservers.Azure} {
			m[string(k)] = func(t *testing.T) string { return bucketPath(t, testservers.Shared(t, k).NewBucket(t), "root") }
		}
	}
	return m
}

// bucketPath puts p into a bucket URL's path, keeping its query.
func bucketPath(t testing.TB, bucketURL, p string) string {
	u, err := url.Parse(bucketURL)
	if err != nil {
		t.Fatal(err)
	}
	u.Path = "/" + p
	return u.String()
}

func put(t testing.TB, l *store.Location, rel string, size int) {
	t.Helper()
	key, err := l.Key(rel)
	if err != nil {
		t.Fatal(err)
	}
	if err := l.Bucket.WriteAll(context.Background(), key, make([]byte, size), nil); err != nil {
		t.Fatal(l.Wrap(key, err))
	}
}

// TestScanLayouts scans a root holding every layout (a job folder's own
// checkpoints, job folders, savepoint targets) and unmanaged objects, on
// every store: the tree walk (file, S3, GCS, Azure) and the flat walk
// (mem) must agree.
func TestScanLayouts(t *testing.T) {
	objects := map[string]int{
		"chk-9/_metadata":      10,
		"chk-9/a":              5,
		"shared/s0":            7,
		"job1/chk-1/_metadata": 11,
		"job1/chk-1/f1":        100,
		"job1/chk-1/f2":        200,
		"job1/chk-2/partial":   3, // incomplete
		"job1/chk-10/sub/deep": 4, // incomplete, nested
		"job1/shared/s1":       50,
		"job1/shared/s2":       60,
		"job1/taskowned/t1":    70,
		"job1/dstl/d1":         1, // unmanaged folder
		"job1/notes.txt":       1, // unmanaged file
		"savepoint-abc123-0123456789ab/_metadata":     12,
		"savepoint-abc123-0123456789ab/x":             13,
		"sps/savepoint-def456-aaaaaaaaaaaa/_metadata": 14,
		"README":       2,
		"chk-x/y":      1, // not a checkpoint folder name
		"chk-1x/y":     1,
		"shared-not/z": 1,
		"a/b/c/d":      1,
	}
	want := []string{
		"chk-9 checkpoint job= id=9 complete=true objects=2 bytes=15",
		"job1/chk-1 checkpoint job=job1 id=1 complete=true objects=3 bytes=311",
		"job1/chk-10 checkpoint job=job1 id=10 complete=false objects=1 bytes=4",
		"job1/chk-2 checkpoint job=job1 id=2 complete=false objects=1 bytes=3",
		"job1/shared shared job=job1 id=-1 complete=false objects=2 bytes=110",
		"job1/taskowned taskowned job=job1 id=-1 complete=false objects=1 bytes=70",
		"savepoint-abc123-0123456789ab savepoint job= id=-1 complete=true objects=2 bytes=25",
		"shared shared job= id=-1 complete=false objects=1 bytes=7",
		"sps/savepoint-def456-aaaaaaaaaaaa savepoint job=sps id=-1 complete=true objects=1 bytes=14",
	}
	wantUnmanaged := []string{"README", "a/b/", "chk-1x/y", "chk-x/y", "job1/dstl/", "job1/notes.txt", "shared-not/z"}
	for name, mk := range stores(t, true) {
		t.Run(name, func(t *testing.T) {
			root := testservers.Open(t, mk(t))
			for k, n := range objects {
				put(t, root, k, n)
			}
			c, err := catalog.Scan(context.Background(), root, catalog.Options{Areas: true, Keep: true, MaxDepth: 2})
			if err != nil {
				t.Fatal(err)
			}
			// Two folders deep, a/b/ and job1/dstl/ are not looked into.
			if c.Depth != 2 || c.Deeper != 2 || !slices.Equal(c.DeeperNames, []string{"a/b/", "job1/dstl/"}) && !slices.Equal(c.DeeperNames, []string{"job1/dstl/", "a/b/"}) {
				t.Errorf("depth %d, %d deeper %q", c.Depth, c.Deeper, c.DeeperNames)
			}
			var got []string
			for _, f := range c.Folders {
				got = append(got, fmt.Sprintf("%s %s job=%s id=%d complete=%v objects=%d bytes=%d",
					f.Name, f.Kind, f.Job, f.CheckpointID, f.Complete, f.Objects, f.Bytes))
				if len(f.Entries) != f.Objects {
					t.Errorf("%s: %d entries kept for %d objects", f.Name, len(f.Entries), f.Objects)
				}
				if f.Newest.IsZero() {
					t.Errorf("%s: no time", f.Name)
				}
			}
			if !slices.Equal(got, want) {
				t.Errorf("folders:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
			}
			if !slices.Equal(c.Unmanaged, wantUnmanaged) {
				t.Errorf("unmanaged %q, want %q", c.Unmanaged, wantUnmanaged)
			}
			if f := c.Folder("job1/chk-10"); f == nil || f.Entries[0].Name != "sub/deep" {
				t.Errorf("nested entry: %+v", f)
			}
			if f := c.FolderOf(root.Prefix + "job1/shared/s2"); f == nil || f.Name != "job1/shared" {
				t.Errorf("FolderOf shared file: %+v", f)
			}
			if f := c.FolderOf(root.Prefix + "job1/dstl/d1"); f != nil {
				t.Errorf("FolderOf unmanaged file: %+v", f)
			}

			// Without Areas only snapshot folders are listed, and nothing
			// kept; at the default depth every folder is looked into.
			c, err = catalog.Scan(context.Background(), root, catalog.Options{})
			if err != nil {
				t.Fatal(err)
			}
			deep := []string{"README", "a/b/c/d", "chk-1x/y", "chk-x/y", "job1/dstl/d1", "job1/notes.txt", "shared-not/z"}
			if c.Depth != catalog.DefaultMaxDepth || c.Deeper != 0 || !slices.Equal(c.Unmanaged, deep) {
				t.Errorf("default depth: depth %d, %d deeper, unmanaged %q, want %q", c.Depth, c.Deeper, c.Unmanaged, deep)
			}
			if n := len(c.Snapshots()); n != len(c.Folders) || n != 6 {
				t.Errorf("snapshot-only scan: %d folders, %d snapshots, want 6", len(c.Folders), n)
			}
			for _, f := range c.Folders {
				if f.Entries != nil {
					t.Errorf("%s: entries kept without Keep", f.Name)
				}
			}
		})
	}
}

// TestScanEmptyAndMissingRoot: an empty root lists nothing; a local root
// that does not exist is ErrNoRoot (unless it may be missing, as gc's
// --also roots).
func TestScanEmptyAndMissingRoot(t *testing.T) {
	for name, mk := range stores(t, false) {
		t.Run(name, func(t *testing.T) {
			ref := mk(t)
			if name == "file" {
				_, err := catalog.Scan(context.Background(), testservers.Open(t, ref), catalog.Options{Areas: true})
				if !errors.Is(err, catalog.ErrNoRoot) || !strings.Contains(err.Error(), ref) {
					t.Errorf("missing root: %v", err)
				}
				if c, err := catalog.Scan(context.Background(), testservers.Open(t, ref), catalog.Options{MayBeMissing: true}); err != nil || len(c.Folders) != 0 {
					t.Errorf("missing root that may be missing: %v", err)
				}
				if err := os.MkdirAll(ref, 0o755); err != nil {
					t.Fatal(err)
				}
			}
			c, err := catalog.Scan(context.Background(), testservers.Open(t, ref), catalog.Options{Areas: true})
			if err != nil || len(c.Folders) != 0 || len(c.Unmanaged) != 0 {
				t.Errorf("empty root: %v, %+v", err, c)
			}
		})
	}
}

// TestScanManyFolders lists more folders and objects than one page holds.
func TestScanManyFolders(t *testing.T) {
	for name, mk := range stores(t, false) {
		t.Run(name, func(t *testing.T) {
			root := testservers.Open(t, mk(t))
			ctx := context.Background()
			jobs, chks, files := 3, 40, 30 // 3,600 files in 120 folders: pages of S3, GCS and Azure are 1,000
			if testing.Short() {
				chks = 12
			}
			var keys []string
			for j := range jobs {
				for c := range chks {
					for f := range files {
						keys = append(keys, fmt.Sprintf("job%d/chk-%d/f%03d", j, c, f))
					}
				}
			}
			errc := make(chan error, len(keys))
			sem := make(chan struct{}, 32)
			for _, k := range keys {
				sem <- struct{}{}
				go func() {
					defer func() { <-sem }()
					key, _ := root.Key(k)
					errc <- root.Bucket.WriteAll(ctx, key, []byte("x"), nil)
				}()
			}
			for range keys {
				if err := <-errc; err != nil {
					t.Fatal(err)
				}
			}
			c, err := catalog.Scan(ctx, root, catalog.Options{Parallel: 3})
			if err != nil {
				t.Fatal(err)
			}
			if len(c.Folders) != jobs*chks {
				t.Fatalf("%d folders, want %d", len(c.Folders), jobs*chks)
			}
			for _, f := range c.Folders {
				if f.Objects != files || f.Complete {
					t.Errorf("%s: %d objects, complete %v", f.Name, f.Objects, f.Complete)
				}
			}
		})
	}
}
