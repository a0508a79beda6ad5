// Package outside holds the test that uses fsnap as another Go module
// does: only through its public packages.
package outside

import (
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
)

// program inspects, verifies and plans gc on a mem:// root, then relocates
// with transfer settings, all through public packages, and prints what it
// found as JSON. Fixture state files are random bytes: verify checks
// files, not headers.
const program = `package main

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"strings"

	"github.com/fsnap/fsnap/fixtures"
	"github.com/fsnap/fsnap/gc"
	"github.com/fsnap/fsnap/inspect"
	"github.com/fsnap/fsnap/migrate"
	"github.com/fsnap/fsnap/snapshot/source"
	"github.com/fsnap/fsnap/store"
	"github.com/fsnap/fsnap/verify"
)

func main() {
	if err := run(context.Background()); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
}

func run(ctx context.Context) error {
	root, err := store.Open(ctx, "mem://outside/checkpoints/job")
	if err != nil {
		return err
	}
	defer root.Close()
	uri, err := root.FlinkPathOf(strings.TrimSuffix(root.Prefix, "/"))
	if err != nil {
		return err
	}
	s, err := fixtures.Generate(fixtures.Spec{Kind: "incremental-checkpoint", Seed: 7, Operators: 2, Parallelism: 3, RootURI: strings.TrimSuffix(uri, "/")})
	if err != nil {
		return err
	}
	if err := s.Write(ctx, root); err != nil {
		return err
	}
	ref := root.NameOf(root.Prefix + s.Dir)

	snap, src, err := source.Load(ctx, ref)
	if err != nil {
		return err
	}
	defer src.Close()
	rep := inspect.Build(snap, inspect.Options{Files: true})
	vr, err := verify.Check(ctx, snap, src, verify.Options{Level: verify.LevelFiles})
	if err != nil {
		return err
	}
	plan, err := gc.PlanGC(ctx, root, gc.Options{MinAge: -1})
	if err != nil {
		return err
	}
	var last migrate.Progress
	rr, err := migrate.Relocate(ctx, ref, "mem://outside/moved/chk", migrate.RelocateOptions{
		Transfers: migrate.Transfers{Parallel: 4, Progress: func(p migrate.Progress) { last = p }}})
	if err != nil {
		return err
	}
	moved, msrc, err := source.Load(ctx, "mem://outside/moved/chk")
	if err != nil {
		return err
	}
	defer msrc.Close()
	mvr, err := verify.Check(ctx, moved, msrc, verify.Options{Level: verify.LevelFiles, RequireRelocatable: true})
	if err != nil {
		return err
	}
	return json.NewEncoder(os.Stdout).Encode(map[string]any{
		"kind": rep.Kind.Kind, "operators": len(rep.Operators), "files": len(rep.Files),
		"verify_errors": vr.Counts.Error, "gc_snapshots": plan.Snapshots, "gc_delete": plan.Totals.DeleteObjects,
		"relocated": rr.Status, "relocated_files": rr.Files, "progress_final": last.Final, "progress_files_done": last.FilesDone,
		"moved_errors": mvr.Counts.Error, "moved_relocatable": mvr.Relocatable,
	})
}
`

// TestOutsideModule builds and runs a program in a module of its own that
// requires fsnap by a replace directive: it compiles only if every
// signature it needs names public types.
func TestOutsideModule(t *testing.T) {
	if testing.Short() {
		t.Skip("builds a module")
	}
	_, file, _, _ := runtime.Caller(0)
	repo := filepath.Join(filepath.Dir(file), "..", "..")
	sum, err := os.ReadFile(filepath.Join(repo, "go.sum"))
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	gomod := "module example.com/outside\n\ngo 1.26.0\n\nrequire github.com/fsnap/fsnap v0.0.0\n\nreplace github.com/fsnap/fsnap => " + repo + "\n"
	for name, body := range map[string]string{"go.mod": gomod, "go.sum": string(sum), "main.go": program} {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	goCmd := filepath.Join(runtime.GOROOT(), "bin", "go")
	cmd := exec.Command(goCmd, "run", ".")
	cmd.Dir = dir
	// Offline: every module comes from the cache this module was built from.
	cmd.Env = append(os.Environ(), "GOFLAGS=-mod=mod", "GOPROXY=off", "GOWORK=off")
	var stderr strings.Builder
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("go run: %v\n%s", err, stderr.String())
	}
	var got struct {
		Kind              string `json:"kind"`
		Operators         int    `json:"operators"`
		Files             int    `json:"files"`
		VerifyErrors      int    `json:"verify_errors"`
		GCSnapshots       int    `json:"gc_snapshots"`
		GCDelete          int    `json:"gc_delete"`
		Relocated         string `json:"relocated"`
		RelocatedFiles    int    `json:"relocated_files"`
		ProgressFinal     bool   `json:"progress_final"`
		ProgressFilesDone int    `json:"progress_files_done"`
		MovedErrors       int    `json:"moved_errors"`
		MovedRelocatable  bool   `json:"moved_relocatable"`
	}
	if err := json.Unmarshal(out, &got); err != nil {
		t.Fatalf("%v: %s", err, out)
	}
	t.Logf("%s", out)
	if got.Kind != "incremental-checkpoint" || got.Operators != 3 || got.Files == 0 {
		t.Errorf("inspect: kind %q, %d operators, %d files; want incremental-checkpoint, 3 (2 stateful, 1 stateless), some files", got.Kind, got.Operators, got.Files)
	}
	if got.VerifyErrors != 0 || got.MovedErrors != 0 || !got.MovedRelocatable {
		t.Errorf("verify: %d errors before, %d after relocation, relocatable %v", got.VerifyErrors, got.MovedErrors, got.MovedRelocatable)
	}
	if got.GCSnapshots != 1 || got.GCDelete != 0 {
		t.Errorf("gc: %d snapshots honoured, %d objects to delete; want 1 and 0", got.GCSnapshots, got.GCDelete)
	}
	if got.Relocated != "relocated" || got.RelocatedFiles == 0 || !got.ProgressFinal || got.ProgressFilesDone != got.RelocatedFiles {
		t.Errorf("relocate: %s, %d files; progress final %v with %d files done", got.Relocated, got.RelocatedFiles, got.ProgressFinal, got.ProgressFilesDone)
	}
}

// TestModelWithoutStores: the snapshot model and format import no store
// and no cloud SDK, and format builds without cgo.
func TestModelWithoutStores(t *testing.T) {
	_, file, _, _ := runtime.Caller(0)
	repo := filepath.Join(filepath.Dir(file), "..", "..")
	goCmd := filepath.Join(runtime.GOROOT(), "bin", "go")
	cmd := exec.Command(goCmd, "list", "-deps", "./snapshot", "./format/...")
	cmd.Dir = repo
	out, err := cmd.Output()
	if err != nil {
		t.Fatal(err)
	}
	for _, dep := range strings.Fields(string(out)) {
		for _, bad := range []string{"gocloud.dev", "cloud.google.com", "github.com/aws", "github.com/Azure", "github.com/fsnap/fsnap/store"} {
			if strings.HasPrefix(dep, bad) {
				t.Errorf("the model depends on %s", dep)
			}
		}
	}
	build := exec.Command(goCmd, "build", "./format/...")
	build.Dir = repo
	build.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := build.CombinedOutput(); err != nil {
		t.Errorf("format without cgo: %v\n%s", err, out)
	}
}
