package main

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/fsnap/fsnap/fixtures"

	"github.com/fsnap/fsnap/catalog"
)

const latestJob = "0123456789abcdef0123456789abcdef"

// latestRoot writes <job>/chk-1 (3 h old), <job>/chk-2 (2 h), a savepoint
// (1 h), an incomplete <job>/chk-3 (10 min) and a corrupt <job>/chk-4 (5 min).
func latestRoot(t *testing.T) (string, string) {
	root := filepath.Join(t.TempDir(), "ckpt")
	ctx := context.Background()
	now := time.Now()
	write := func(dir string, spec fixtures.Spec, age time.Duration) string {
		spec.RootURI = "file:" + dir
		s, err := fixtures.Generate(spec)
		if err != nil {
			t.Fatal(err)
		}
		if err := s.Write(ctx, fixtures.Dir(dir)); err != nil {
			t.Fatal(err)
		}
		at := now.Add(-age)
		os.Chtimes(filepath.Join(dir, s.MetadataKey()), at, at)
		return filepath.Join(dir, s.Dir)
	}
	write(filepath.Join(root, latestJob), fixtures.Spec{Kind: fixtures.IncrementalCheckpoint, CheckpointID: 1}, 3*time.Hour)
	write(filepath.Join(root, latestJob), fixtures.Spec{Kind: fixtures.IncrementalCheckpoint, CheckpointID: 2}, 2*time.Hour)
	sp := write(root, fixtures.Spec{Kind: fixtures.CanonicalSavepoint, CheckpointID: 7}, time.Hour)
	os.MkdirAll(filepath.Join(root, latestJob, "chk-3"), 0o755)
	os.WriteFile(filepath.Join(root, latestJob, "chk-3", "part"), []byte("x"), 0o644)
	os.MkdirAll(filepath.Join(root, latestJob, "chk-4"), 0o755)
	os.WriteFile(filepath.Join(root, latestJob, "chk-4", "_metadata"), []byte("not a snapshot"), 0o644)
	at := now.Add(-5 * time.Minute)
	os.Chtimes(filepath.Join(root, latestJob, "chk-4", "_metadata"), at, at)
	return root, sp
}

func TestLatest(t *testing.T) {
	root, sp := latestRoot(t)
	code, out, errs := fsnap(t, "latest", root)
	if code != 0 || strings.TrimSpace(out) != sp {
		t.Errorf("latest: exit %d, %q, want %q (%s)", code, out, sp, errs)
	}
	if !strings.Contains(errs, "skipping "+latestJob+"/chk-4") {
		t.Errorf("the corrupt newer checkpoint is not reported: %q", errs)
	}
	chk2 := filepath.Join(root, latestJob, "chk-2")
	for _, args := range [][]string{{"--type", "checkpoint"}, {"--job", latestJob}} {
		code, out, _ := fsnap(t, append(append([]string{"latest"}, args...), root)...)
		if code != 0 || strings.TrimSpace(out) != chk2 {
			t.Errorf("latest %v: exit %d, %q, want %q", args, code, out, chk2)
		}
	}
	code, out, _ = fsnap(t, "latest", "-o", "json", "--type", "checkpoint", root)
	var s catalog.Listed
	if err := json.Unmarshal([]byte(out), &s); err != nil || code != 0 {
		t.Fatalf("json: %v %q", err, out)
	}
	if s.Name != latestJob+"/chk-2" || s.Kind != "incremental-checkpoint" || *s.CheckpointID != 2 || !s.Complete {
		t.Errorf("json entry %+v", s)
	}
	// One latestJob's folder as the root.
	code, out, _ = fsnap(t, "latest", filepath.Join(root, latestJob))
	if code != 0 || strings.TrimSpace(out) != chk2 {
		t.Errorf("latest of the latestJob folder: %q", out)
	}
}

func TestLatestNone(t *testing.T) {
	root, _ := latestRoot(t)
	for _, args := range [][]string{{t.TempDir()}, {"--job", "nosuch", root}} {
		code, out, errs := fsnap(t, append([]string{"latest"}, args...)...)
		if code != exitFindings || out != "" || !strings.Contains(errs, "no complete snapshot") {
			t.Errorf("%v: exit %d, stdout %q, stderr %q", args, code, out, errs)
		}
	}
	if code, _, _ := fsnap(t, "latest", "--type", "both", root); code != exitUsage {
		t.Errorf("bad --type: exit %d", code)
	}
}
