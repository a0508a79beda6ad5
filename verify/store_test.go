package verify

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/fsnap/fsnap/fixtures"
	"github.com/fsnap/fsnap/internal/corpus"
	"github.com/fsnap/fsnap/internal/testservers"
	snapsrc "github.com/fsnap/fsnap/snapshot/source"
	"github.com/fsnap/fsnap/store"
)

// under returns the store URL of a folder in the bucket a URL names.
func under(bucketURL, dir string) string {
	base, query, _ := strings.Cut(bucketURL, "?")
	u := base + "/" + dir
	if query != "" {
		u += "?" + query
	}
	return u
}

// TestFixturesInMinIO writes generated snapshots into a real S3 server
// (MinIO) and verifies them by URL: presence and size of every object, and
// shared files found by their absolute s3:// paths in the same bucket.
func TestFixturesInMinIO(t *testing.T) {
	ctx := context.Background()
	srv := testservers.Shared(t, testservers.S3)
	bucket := srv.NewBucket(t)
	l := testservers.Open(t, bucket)
	flinkRoot := "s3://" + l.Name
	for _, kind := range []fixtures.Kind{fixtures.CanonicalSavepoint, fixtures.IncrementalCheckpoint, fixtures.ChangelogCheckpoint} {
		s, err := fixtures.Generate(fixtures.Spec{Kind: kind, Version: 6, RootURI: flinkRoot, Seed: 7})
		if err != nil {
			t.Fatal(err)
		}
		if err := s.Write(ctx, l); err != nil {
			t.Fatal(err)
		}
		ref := under(bucket, s.Dir)
		r := checkRef(t, ref, Options{Level: LevelFiles})
		if want := expectFixture(s); !sameCodes(r.CodeCounts(), want) || r.Checked.Files != len(s.Files) {
			t.Errorf("%s in MinIO: findings %v (files %d), want %v (files %d)", kind, r.CodeCounts(), r.Checked.Files, want, len(s.Files))
		}
		for _, f := range r.Findings {
			if strings.Contains(f.File, "fsnaptest") || !strings.HasPrefix(r.Snapshot, "s3://") {
				t.Errorf("report leaks or misnames: %s / %s", r.Snapshot, f.File)
			}
		}
		if kind != fixtures.IncrementalCheckpoint {
			continue
		}
		// A shared SST deleted from the bucket is missing; nothing else.
		var shared string
		for _, f := range s.Files {
			if strings.HasPrefix(f.Key, "shared/") {
				shared = f.Key
				break
			}
		}
		if err := l.Bucket.Delete(ctx, shared); err != nil {
			t.Fatal(err)
		}
		r = checkRef(t, ref, Options{Level: LevelFiles})
		got := r.CodeCounts()
		want := expectFixture(s)
		want[FileMissing] = 1
		if !sameCodes(got, want) {
			t.Errorf("after deleting %s: %v, want %v", shared, got, want)
		}
		for _, f := range r.Findings {
			if f.Code == FileMissing && f.File != flinkRoot+"/"+shared {
				t.Errorf("file-missing names %s, want %s", f.File, flinkRoot+"/"+shared)
			}
		}
	}
}

// TestCorpusDeepInStores uploads corpus snapshots (compressed and
// uncompressed key groups, RocksDB native files) to every test server and
// verifies them deep through ranged reads: the report equals the local one.
func TestCorpusDeepInStores(t *testing.T) {
	corpus.Require(t)
	ctx := context.Background()
	for _, kind := range testservers.Kinds {
		t.Run(string(kind), func(t *testing.T) {
			bucket := testservers.Shared(t, kind).NewBucket(t)
			l, err := store.Open(ctx, bucket)
			if err != nil {
				t.Fatal(err)
			}
			defer l.Close()
			for _, name := range []string{baseSnappy, baseFiles, baseRocks} {
				dir := corpus.Find(t, name).Dir
				ents, err := os.ReadDir(dir)
				if err != nil {
					t.Fatal(err)
				}
				for _, e := range ents {
					b, err := os.ReadFile(filepath.Join(dir, e.Name()))
					if err != nil {
						t.Fatal(err)
					}
					if err := l.Bucket.WriteAll(ctx, name+"/"+e.Name(), b, nil); err != nil {
						t.Fatal(err)
					}
				}
				local := checkRef(t, dir, Options{Level: LevelDeep})
				remote := checkRef(t, under(bucket, name), Options{Level: LevelDeep})
				lc, rc := local.Checked, remote.Checked
				if !sameCodes(local.CodeCounts(), remote.CodeCounts()) || lc != rc || rc.StreamsWalked == 0 {
					t.Errorf("%s: remote %v %+v, local %v %+v", name, remote.CodeCounts(), rc, local.CodeCounts(), lc)
				}
			}
		})
	}
}

// TestStoreFailsMidCheck: the S3 server dies after _metadata was read; every
// file is then a store-error (not file-missing: nothing says the files are
// gone), which the CLI turns into exit code 3.
func TestStoreFailsMidCheck(t *testing.T) {
	ctx := context.Background()
	srv := testservers.Start(t, testservers.S3)
	bucket := srv.NewBucket(t)
	l := testservers.Open(t, bucket)
	s, err := fixtures.Generate(fixtures.Spec{Kind: fixtures.CanonicalSavepoint, Version: 6, RootURI: "s3://" + l.Name, Operators: 1, Parallelism: 2})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Write(ctx, l); err != nil {
		t.Fatal(err)
	}
	snap, ref, err := snapsrc.Load(ctx, under(bucket, s.Dir))
	if err != nil {
		t.Fatal(err)
	}
	defer ref.Close()
	srv.Kill()
	start := time.Now()
	r, err := Check(ctx, snap, ref, Options{Level: LevelFiles})
	if err != nil {
		t.Fatal(err)
	}
	if got := r.CodeCounts(); len(got) != 1 || got[StoreError] != len(s.Files) {
		t.Errorf("findings %v, want %d store-error", got, len(s.Files))
	}
	t.Logf("%d store errors in %v: %s", r.Counts.Error, time.Since(start), r.Findings[0].Message)
}
