package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/fsnap/fsnap/internal/corpus"
	"github.com/fsnap/fsnap/internal/rocks"

	"github.com/fsnap/fsnap/migrate"
)

func corpusSnapshot(t *testing.T, name string) string {
	t.Helper()
	for _, e := range corpus.Require(t) {
		if e.Name == name {
			return e.Dir
		}
	}
	t.Fatalf("no corpus snapshot %s", name)
	return ""
}

func TestToCanonicalCommand(t *testing.T) {
	src := corpusSnapshot(t, "new-stateful-udf-migration-itcase-flink2.3-hashmap-checkpoint")
	dst := filepath.Join(t.TempDir(), "sp")
	code, out, errs := fsnap(t, "migrate", "to-canonical", "--progress", "none", src, dst)
	if code != exitOK || !strings.Contains(out, "canonical savepoint "+dst) || !strings.Contains(out, "14 heap streams re-encoded") {
		t.Fatalf("exit %d\n%s%s", code, out, errs)
	}
	code, out, _ = fsnap(t, "verify", "--deep", "--require", "relocatable", dst)
	if code != exitOK {
		t.Errorf("verify --deep of the result: exit %d\n%s", code, out)
	}
	code, out, _ = fsnap(t, "inspect", "-o", "json", dst)
	if code != exitOK || !strings.Contains(out, `"format_type": "CANONICAL"`) {
		t.Errorf("inspect of the result: exit %d\n%s", code, out)
	}

	// Into the same place again: refused, nothing touched.
	code, _, errs = fsnap(t, "migrate", "to-canonical", "--progress", "none", src, dst)
	if code != exitInput || !strings.Contains(errs, "destination is not empty") {
		t.Errorf("second run: exit %d, %s", code, errs)
	}

	for _, tc := range []struct {
		args []string
		code int
		want string
	}{
		{[]string{"migrate", "to-canonical", src}, exitUsage, "want SRC DST"},
		{[]string{"migrate", "to-canonical", "--compression", "zstd", src, dst}, exitUsage, "unknown compression"},
		{[]string{"migrate", "to-canonical", "--progress", "fancy", src, dst}, exitUsage, "unknown --progress"},
		{[]string{"migrate", "to-canonical", "--help"}, exitOK, "--compression"},
		{[]string{"migrate"}, exitUsage, "to-canonical"},
	} {
		code, out, errs := fsnap(t, tc.args...)
		if code != tc.code || !strings.Contains(out+errs, tc.want) {
			t.Errorf("fsnap %v: exit %d, want %d; output does not contain %q:\n%s%s", tc.args, code, tc.code, tc.want, out, errs)
		}
	}
}

func TestToCanonicalCommandJSON(t *testing.T) {
	if !rocks.Available {
		t.Skip(rocks.ErrUnavailable)
	}
	src := corpusSnapshot(t, "new-stateful-udf-migration-itcase-flink2.3-rocksdb-savepoint-native")
	dst := filepath.Join(t.TempDir(), "sp")
	tmp := t.TempDir()
	code, out, errs := fsnap(t, "migrate", "to-canonical", "-o", "json", "--progress", "plain", "--tmp", tmp, "--parallel", "3", "--compression", "snappy", src, dst)
	if code != exitOK {
		t.Fatalf("exit %d\n%s", code, errs)
	}
	var r migrate.CanonicalDocument
	if err := json.Unmarshal([]byte(out), &r); err != nil {
		t.Fatal(err)
	}
	if r.Schema != "fsnap.to-canonical/v1" || r.FromRocksDB != 14 || r.Entries != 32 || r.SourceKind != "native-savepoint" || r.FilesWritten != 17 {
		t.Errorf("%+v", r)
	}
	if ents, _ := os.ReadDir(tmp); len(ents) != 0 {
		t.Errorf("scratch left behind: %d entries", len(ents))
	}
}
