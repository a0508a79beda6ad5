package main

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/fsnap/fsnap/internal/corpus"
)

// fsnap runs the CLI in-process and returns exit code, stdout and stderr.
func fsnap(t *testing.T, args ...string) (int, string, string) {
	t.Helper()
	var out, errb bytes.Buffer
	code := run(context.Background(), args, &env{stdout: &out, stderr: &errb})
	return code, out.String(), errb.String()
}

// decodeDoc decodes the JSON document s, which must name schema.
func decodeDoc[T any](t *testing.T, s, schema string) *T {
	t.Helper()
	var head struct {
		Schema string `json:"schema"`
	}
	var v T
	if err := json.Unmarshal([]byte(s), &head); err != nil {
		t.Fatalf("%v in %q", err, s)
	}
	if head.Schema != schema {
		t.Fatalf("schema %q, want %s", head.Schema, schema)
	}
	if err := json.Unmarshal([]byte(s), &v); err != nil {
		t.Fatalf("%v in %q", err, s)
	}
	return &v
}

// gone lists the keys of before that are not in after (both sorted).
func gone(before, after []string) []string {
	var out []string
	for _, k := range before {
		if _, ok := slices.BinarySearch(after, k); !ok {
			out = append(out, k)
		}
	}
	return out
}

func TestExitCodes(t *testing.T) {
	bad := filepath.Join(t.TempDir(), "snap")
	os.MkdirAll(bad, 0o755)
	os.WriteFile(filepath.Join(bad, "_metadata"), []byte("\x49\x60\x67\x2d\x00\x00\x00\x06\x00\x00"), 0o644)
	for _, tc := range []struct {
		args []string
		code int
		want string // in stdout or stderr
	}{
		{[]string{}, exitUsage, "Commands:"},
		{[]string{"nosuch"}, exitUsage, "unknown command"},
		{[]string{"inspect"}, exitUsage, "usage: fsnap inspect"},
		{[]string{"inspect", "--nosuch", "x"}, exitUsage, "unknown flag"},
		{[]string{"inspect", "-o", "yaml", bad}, exitUsage, "unknown output format"},
		{[]string{"inspect", "--table", "states", bad}, exitUsage, "--table goes with -o csv"},
		{[]string{"dump", "--limit", "-1", bad}, exitUsage, "--limit -1"},
		{[]string{"inspect", bad}, exitInput, "_metadata offset 8 (0x8): truncated"},
		{[]string{"inspect", filepath.Join(bad, "missing")}, exitInput, "no such snapshot"},
		{[]string{"--version"}, exitOK, "fsnap "},
		{[]string{"verify"}, exitUsage, "usage: fsnap verify"},
		{[]string{"verify", "--fail-on", "fatal", bad}, exitUsage, "unknown severity"},
		{[]string{"verify", "--require", "fast", bad}, exitUsage, "want relocatable or self-contained=ROOT"},
		{[]string{"verify", "--deep", "--quick", bad}, exitUsage, "exclude each other"},
		{[]string{"verify", "-o", "yaml", bad}, exitUsage, "unknown output format"},
		{[]string{"verify", bad}, exitInput, "_metadata offset 8 (0x8): truncated"},
		{[]string{"verify", filepath.Join(bad, "missing")}, exitInput, "no such snapshot"},
		{[]string{"help", "verify"}, exitOK, "fsnap.verify/v1"},
		{[]string{"help", "inspect"}, exitOK, "Exit codes: see 'fsnap help'"},
		{[]string{"help"}, exitOK, "130  interrupted"},
		{[]string{"help", "migrate", "relocate"}, exitOK, "Usage: fsnap migrate relocate"},
		{[]string{"migrate", "relocate", "--help"}, exitOK, "Usage: fsnap migrate relocate"},
		{[]string{"help", "migrate"}, exitOK, "to-canonical"},
		{[]string{"migrate"}, exitUsage, "want a subcommand: relocate, to-canonical"},
		{[]string{"migrate", "relocat"}, exitUsage, `did you mean "relocate"?`},
		{[]string{"inspcet"}, exitUsage, `did you mean "inspect"?`},
		{[]string{"help", "gcc"}, exitUsage, `did you mean "gc"?`},
		{[]string{"inspect", "ftp://host/x"}, exitUsage, "unsupported scheme"},
		{[]string{"migrate", "relocate", "--from-list", filepath.Join(bad, "nosuch")}, exitUsage, "--from-list"},
	} {
		code, out, errs := fsnap(t, tc.args...)
		if code != tc.code || !strings.Contains(out+errs, tc.want) {
			t.Errorf("fsnap %v: exit %d, want %d; output %q does not contain %q", tc.args, code, tc.code, out+errs, tc.want)
		}
	}
}

// TestInterrupted: a command stopped by Ctrl-C (its context cancelled)
// exits 130 and says that running it again resumes.
func TestInterrupted(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	var out, errb bytes.Buffer
	src := filepath.Join(t.TempDir(), "src")
	if code := run(context.Background(), []string{"fixture", src}, &env{stdout: &out, stderr: &errb}); code != exitOK {
		t.Fatalf("fixture: exit %d: %s", code, errb.String())
	}
	snap := strings.TrimSpace(out.String())
	errb.Reset()
	code := run(ctx, []string{"migrate", "relocate", snap, filepath.Join(t.TempDir(), "dst")}, &env{stdout: &out, stderr: &errb})
	if code != exitInterrupted || !strings.Contains(errb.String(), "running the same command again resumes") {
		t.Errorf("exit %d, stderr %q; want %d and a line saying a re-run resumes", code, errb.String(), exitInterrupted)
	}
}

func TestInspectVersion0Refused(t *testing.T) {
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "_metadata"), []byte("\x49\x60\x67\x2d\x00\x00\x00\x01rest"), 0o644)
	code, _, errs := fsnap(t, "inspect", dir)
	if code != exitInput || !strings.Contains(errs, "Flink 1.1 or 1.2") {
		t.Errorf("exit %d, stderr %q", code, errs)
	}
}

func TestInspectCorpusJSON(t *testing.T) {
	e := corpus.Find(t, "operatorstate__complexKeyed-flink2.3")
	code, out, errs := fsnap(t, "inspect", "-o", "json", "--files", e.Dir+"/_metadata")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errs)
	}
	var r struct {
		Schema string `json:"schema"`
		Kind   struct {
			Kind, Source string
		} `json:"kind"`
		Operators []struct {
			UID            string `json:"uid"`
			Parallelism    int    `json:"parallelism"`
			MaxParallelism int    `json:"max_parallelism"`
			Bytes          struct {
				ManagedKeyed    int64 `json:"managed_keyed"`
				ManagedOperator int64 `json:"managed_operator"`
			} `json:"bytes"`
		} `json:"operators"`
		Files []struct {
			Scope string `json:"scope"`
			Users []struct {
				Slot string `json:"slot"`
			} `json:"users"`
		} `json:"files"`
	}
	if err := json.Unmarshal([]byte(out), &r); err != nil {
		t.Fatal(err)
	}
	if r.Schema != "fsnap.inspect/v1" || r.Kind.Kind != "canonical-savepoint" || r.Kind.Source != "properties" {
		t.Errorf("schema %q kind %+v", r.Schema, r.Kind)
	}
	uids := map[string]bool{}
	for _, op := range r.Operators {
		uids[op.UID] = true
		if (op.UID == "window" && op.Bytes.ManagedKeyed == 0) || ((op.UID == "first" || op.UID == "second") && op.Bytes.ManagedOperator == 0) {
			t.Errorf("operator %s: bytes %+v", op.UID, op.Bytes)
		}
		if op.UID != "" && (op.Parallelism != 4 || op.MaxParallelism != 128) {
			t.Errorf("operator %s: %d/%d, want 4/128", op.UID, op.Parallelism, op.MaxParallelism)
		}
	}
	for _, u := range []string{"window", "first", "second"} {
		if !uids[u] {
			t.Errorf("no operator with uid %q", u)
		}
	}
	if len(r.Files) == 0 {
		t.Fatal("--files gave no files")
	}
	for _, f := range r.Files {
		// The operator-restore test jobs ran with the memory backend: inline.
		if f.Scope != "inline" || len(f.Users) != 1 {
			t.Errorf("file %+v: want inline with one user", f)
		}
	}
}

func TestFixtureThenInspect(t *testing.T) {
	root := t.TempDir()
	code, out, errs := fsnap(t, "fixture", "--kind", "incremental-checkpoint", "--version", "4", root)
	if code != 0 {
		t.Fatalf("fixture: exit %d: %s", code, errs)
	}
	dir := strings.TrimSpace(out)
	code, out, errs = fsnap(t, "inspect", "--files", dir)
	if code != 0 {
		t.Fatalf("inspect: exit %d: %s", code, errs)
	}
	// Version 4 stores no uids: the id is murmur3("fixture-keyed-0"). The
	// operator state header (version 5, up to 1.17) narrows _metadata
	// version 4's 1.16–1.20.
	for _, want := range []string{"incremental-checkpoint", "version 4", "ff243e1b4cb3c16c4408951b46998556", "shared", "1.16–1.17"} {
		if !strings.Contains(out, want) {
			t.Errorf("inspect output lacks %q:\n%s", want, out)
		}
	}
}

func TestRealStateFixtureThenInspectStates(t *testing.T) {
	code, out, errs := fsnap(t, "fixture", "--real-state", "2", "--snappy", t.TempDir())
	if code != 0 {
		t.Fatalf("fixture: exit %d: %s", code, errs)
	}
	code, out, errs = fsnap(t, "inspect", "--states", strings.TrimSpace(out))
	if code != 0 {
		t.Fatalf("inspect: exit %d: %s", code, errs)
	}
	for _, want := range []string{"canonical-savepoint", "fixture-keyed-process", "payload", "BytePrimitiveArraySerializer", "count", "LongSerializer", "skew"} {
		if !strings.Contains(out, want) {
			t.Errorf("inspect --states output lacks %q:\n%s", want, out)
		}
	}
	if strings.Contains(out, "note: ") {
		t.Errorf("a real-state fixture should read without notes:\n%s", out)
	}
}

// TestRefusedSchemeExit2: a store fsnap has no client for is a usage
// error (exit 2) whose message says what works instead.
func TestRefusedSchemeExit2(t *testing.T) {
	for _, args := range [][]string{
		{"inspect", "hdfs://namenode:8020/flink/savepoints/savepoint-1"},
		{"ls", "oss://bucket/flink/checkpoints"},
		{"migrate", "relocate", "viewfs://cluster/flink/chk-1", t.TempDir()},
	} {
		code, _, stderr := fsnap(t, args...)
		if code != exitUsage || !strings.Contains(stderr, "fsnap opens local paths, file:, s3://") {
			t.Errorf("%v: exit %d, stderr %q", args, code, stderr)
		}
	}
}
