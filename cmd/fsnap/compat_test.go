package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/fsnap/fsnap/internal/corpus"
)

// TestCompatCLI: exit codes follow the verdict, the JSON names its schema,
// --job reads uid files, and usage mistakes exit 2.
func TestCompatCLI(t *testing.T) {
	snap := corpus.Find(t, "new-stateful-udf-migration-itcase-flink1.20-hashmap-savepoint").Dir
	code, out, errs := fsnap(t, "compat", "--to-flink", "2.0", "-o", "json", snap)
	var doc struct {
		Schema, Verdict string
	}
	if code != exitOK || json.Unmarshal([]byte(out), &doc) != nil || doc.Schema != "fsnap.compat/v1" || doc.Verdict != "restores" {
		t.Fatalf("compat 2.0: %d %q %s", code, errs, out)
	}
	jobFile := filepath.Join(t.TempDir(), "uids.txt")
	os.WriteFile(jobFile, []byte("CheckpointingSource1\nCheckpointingSource2\n"), 0o644)
	code, out, _ = fsnap(t, "compat", "--to-flink", "1.20", "--job", jobFile, snap)
	if code != exitFindings || !strings.Contains(out, "verdict    restores-dropping-state") || !strings.Contains(out, "allowNonRestoredState") {
		t.Errorf("dropping job: %d %s", code, out)
	}
	scala := corpus.Find(t, "stateful-scala-udf-migration-itcase-flink1.14-hashmap-savepoint").Dir
	if code, out, _ = fsnap(t, "compat", "--to-flink", "2.1", scala); code != exitFindings || !strings.Contains(out, "verdict    blocked") {
		t.Errorf("Scala on 2.1: %d %s", code, out)
	}
	if code, out, _ = fsnap(t, "compat", "--rules"); code != exitOK || !strings.Contains(out, "kryo-2-to-5") || !strings.Contains(out, "FLINK-29807") {
		t.Errorf("--rules: %d %s", code, out)
	}
	for _, bad := range [][]string{{"compat", snap}, {"compat", "--to-flink", "two", snap}, {"compat", "--to-flink", "2.0", "--state-backend", "memory", snap}} {
		if code, _, _ := fsnap(t, bad...); code != exitUsage {
			t.Errorf("%v: exit %d, want %d", bad, code, exitUsage)
		}
	}
}
