package migrate

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/storage/azblob/blob"
	"github.com/Azure/azure-sdk-for-go/sdk/storage/azblob/container"

	"github.com/fsnap/fsnap/fixtures"
	"github.com/fsnap/fsnap/internal/corpus"
	"github.com/fsnap/fsnap/internal/testservers"
	"github.com/fsnap/fsnap/store"
)

// relocHop relocates every pair of one hop in one run, the way a bulk job
// does, and fails the test on any failed snapshot.
func relocHop(t *testing.T, pairs []RelocatePair, opts BulkOptions) *BulkSummary {
	t.Helper()
	sum := RelocateAll(context.Background(), pairs, opts)
	for _, r := range sum.Snapshots {
		if r.Status != Relocated {
			t.Fatalf("%s -> %s: %s: %s", r.Src, r.Dst, r.Status, r.Error)
		}
	}
	return sum
}

// TestRelocateCorpusThroughStores moves every corpus snapshot file -> S3
// (MinIO) -> GCS (fake-gcs-server) -> Azure (Azurite) -> file and checks
// that it comes back with the same state files and the same _metadata.
func TestRelocateCorpusThroughStores(t *testing.T) {
	entries := corpus.Require(t)
	urls := []string{}
	for _, k := range testservers.Kinds {
		urls = append(urls, testservers.Shared(t, k).NewBucket(t))
	}
	back := t.TempDir()
	hops := append([]string{""}, urls...)
	hops = append(hops, back)
	for h := 0; h+1 < len(hops); h++ {
		var pairs []RelocatePair
		for _, e := range entries {
			src := e.Dir
			if h > 0 {
				src = must(joinRef(hops[h], e.Name))
			}
			pairs = append(pairs, RelocatePair{Src: src, Dst: must(joinRef(hops[h+1], e.Name))})
		}
		start := time.Now()
		sum := relocHop(t, pairs, BulkOptions{Parallel: 16, RelocateOptions: RelocateOptions{Transfers: Transfers{Parallel: 32}}})
		t.Logf("hop %d (%s): %d snapshots, %d files, %d bytes in %.1fs", h+1, store.RedactURL(hops[h+1]),
			sum.Totals.Snapshots, sum.Totals.Files, sum.Totals.Bytes, time.Since(start).Seconds())
		if sum.Totals.Copied != sum.Totals.Files {
			t.Errorf("hop %d: %d of %d files streamed", h+1, sum.Totals.Copied, sum.Totals.Files)
		}
	}
	legacy := 0
	for _, e := range entries {
		got := filepath.Join(back, e.Name)
		relocSameFiles(t, e.Dir, got) // every state file and _metadata, byte for byte
		if ents, _ := os.ReadDir(got); len(ents) != e.Files {
			t.Errorf("%s: %d files came back, the corpus has %d", e.Name, len(ents), e.Files)
		}
		assertSameExceptPaths(t, e.Dir, got)
		if e.Name == "legacy-raw-state-heap-timers-rocks-db-1.12" {
			legacy++
		}
	}
	if legacy != 1 {
		t.Error("the corpus has no legacy-raw-state-heap-timers-rocks-db-1.12")
	}
}

func must(s string, err error) string {
	if err != nil {
		panic(err)
	}
	return s
}

// The corpus snapshot legacy-raw-state-heap-timers-rocks-db-1.12 shows
// file:/tmp/junit… paths, but they are the names of inline byte-stream
// handles (the state bytes are inside _metadata): opaque names that Flink
// never opens. Relocation keeps them as they are and copies no file.
func TestRelocateInlineNamesAreNotPaths(t *testing.T) {
	e := corpus.Find(t, "legacy-raw-state-heap-timers-rocks-db-1.12")
	before := relocLoad(t, e.Dir)
	names := 0
	for _, f := range before.Files {
		if strings.HasPrefix(f.InlineName, "file:/tmp/junit") {
			names++
		}
	}
	if names != 5 {
		t.Fatalf("%d inline streams named by junit paths, the ground truth says 5", names)
	}
	dst := filepath.Join(t.TempDir(), "sp")
	r, err := Relocate(context.Background(), e.Dir, dst, RelocateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if r.Files != 0 || r.Rewritten != 0 || !r.SelfContained {
		t.Errorf("report %+v", r)
	}
	relocSameFiles(t, e.Dir, dst)
	assertSameExceptPaths(t, e.Dir, dst)
}

// TestRelocateServerSide copies within one store: the same bucket and,
// on S3 and GCS, another bucket of the same server.
func TestRelocateServerSide(t *testing.T) {
	ctx := context.Background()
	_, local, _ := relocGen(t, fixtures.Spec{Kind: fixtures.IncrementalCheckpoint, Seed: 20})
	for _, k := range testservers.Kinds {
		t.Run(string(k), func(t *testing.T) {
			srv := testservers.Shared(t, k)
			a, b := srv.NewBucket(t), srv.NewBucket(t)
			src := must(joinRef(a, "chk-42"))
			if _, err := Relocate(ctx, local, src, RelocateOptions{}); err != nil {
				t.Fatal(err)
			}
			targets := []string{must(joinRef(a, "moved/chk-42")), must(joinRef(b, "chk-42"))}
			for _, dst := range targets {
				r, err := Relocate(ctx, src, dst, RelocateOptions{})
				if err != nil {
					t.Fatal(err)
				}
				if r.ServerSide != r.Files || r.Files == 0 {
					t.Errorf("%s: %d of %d files server-side", store.RedactURL(dst), r.ServerSide, r.Files)
				}
				back := filepath.Join(t.TempDir(), "chk-42")
				if _, err := Relocate(ctx, dst, back, RelocateOptions{}); err != nil {
					t.Fatal(err)
				}
				assertSelfContained(t, back)
				assertSameStreams(t, local, back)
			}
		})
	}
}

// TestRelocateS3KilledMidCopy kills MinIO while files are being uploaded:
// the run fails with an error naming the store, no _metadata appears, and
// a re-run after the restart completes.
func TestRelocateS3KilledMidCopy(t *testing.T) {
	ctx := context.Background()
	srv := testservers.Start(t, testservers.S3)
	bucket := srv.NewBucket(t)
	_, src, _ := relocGen(t, fixtures.Spec{Kind: fixtures.CanonicalSavepoint, Seed: 21, Operators: 4, Parallelism: 16, StateBytes: 512 << 10})
	dst := must(joinRef(bucket, "sp"))
	var kill sync.Once
	// Kill the store once the progress feed says five files are done.
	tr := Transfers{Parallel: 4, ProgressEvery: time.Millisecond, Progress: func(p Progress) {
		if p.FilesDone >= 5 {
			kill.Do(srv.Kill)
		}
	}}
	r, err := Relocate(ctx, src, dst, RelocateOptions{Transfers: tr})
	if err == nil {
		t.Fatalf("relocation succeeded with the store killed: %+v", r)
	}
	msg := err.Error()
	if !strings.Contains(msg, "_metadata not written") || !strings.Contains(msg, "s3://") {
		t.Errorf("unclear error: %v", err)
	}
	if r.Status != FailedStatus || r.Failed == 0 || r.Copied == 0 {
		t.Errorf("report %+v", r)
	}
	srv.Restart(t)
	l, err := store.Open(ctx, dst)
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	if ok, err := l.Exists(ctx, l.Prefix+"_metadata"); ok || err != nil {
		t.Fatalf("_metadata at the destination after a failed run (%v)", err)
	}
	r2, err := Relocate(ctx, src, dst, RelocateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if r2.Status != Relocated || r2.Present < r.Copied || r2.Present+r2.Copied != r2.Files {
		t.Errorf("re-run: %+v (first run copied %d)", r2, r.Copied)
	}
	back := filepath.Join(t.TempDir(), "sp")
	if _, err := Relocate(ctx, dst, back, RelocateOptions{}); err != nil {
		t.Fatal(err)
	}
	relocSameFiles(t, src, back)
}

// TestRelocateWrongSourceChecksum gives one source blob a Content-MD5
// that does not match its bytes: the file is reported, not copied, and no
// _metadata is written; to a local directory (fsnap hashes the stream) and
// to S3 (the server checks the Content-MD5 fsnap sends).
func TestRelocateWrongSourceChecksum(t *testing.T) {
	ctx := context.Background()
	az := testservers.Shared(t, testservers.Azure).NewBucket(t)
	_, local, s := relocGen(t, fixtures.Spec{Kind: fixtures.CanonicalSavepoint, Seed: 22})
	src := must(joinRef(az, "sp"))
	if _, err := Relocate(ctx, local, src, RelocateOptions{}); err != nil {
		t.Fatal(err)
	}
	l, err := store.Open(ctx, src)
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	var cc *container.Client
	if !l.Bucket.As(&cc) {
		t.Fatal("no Azure container client")
	}
	victim := filepath.Base(s.Files[2].Key)
	wrong := make([]byte, 16)
	if _, err := cc.NewBlobClient(l.Prefix+victim).SetHTTPHeaders(ctx, blob.HTTPHeaders{BlobContentMD5: wrong}, nil); err != nil {
		t.Fatal(err)
	}
	for _, dst := range []string{filepath.Join(t.TempDir(), "sp"), must(joinRef(testservers.Shared(t, testservers.S3).NewBucket(t), "sp"))} {
		r, err := Relocate(ctx, src, dst, RelocateOptions{})
		var re *RelocateError
		if !errors.As(err, &re) {
			t.Fatalf("%s: want a relocation error, got %v", dst, err)
		}
		if len(r.Problems) != 1 || r.Problems[0].Problem != "checksum-mismatch" || !strings.Contains(r.Problems[0].Message, victim) {
			t.Fatalf("%s: problems %+v", dst, r.Problems)
		}
		d, err := store.Open(ctx, dst)
		if err != nil {
			t.Fatal(err)
		}
		for _, name := range []string{victim, "_metadata"} {
			if ok, err := d.Bucket.Exists(ctx, d.Prefix+name); ok || err != nil {
				t.Errorf("%s: %s written (%v)", dst, name, err)
			}
		}
		d.Close()
		if r.Copied != r.Files-1 {
			t.Errorf("%s: %d of %d good files copied", dst, r.Copied, r.Files-1)
		}
	}
}
