package main

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/apache/arrow/go/v15/arrow/array"
	"github.com/apache/arrow/go/v15/arrow/ipc"
	"github.com/fsnap/fsnap/format"
	"github.com/fsnap/fsnap/internal/corpus"
	"github.com/fsnap/fsnap/internal/rocks"
	"github.com/fsnap/fsnap/internal/testservers"
)

// TestDumpNativeRocksDB: a RocksDB native savepoint dumps (converted
// without a JVM) to the same rows as Flink's canonical savepoint of the
// same job and version, as DuckDB reads them.
func TestDumpNativeRocksDB(t *testing.T) {
	if !rocks.Available {
		t.Skip(rocks.ErrUnavailable)
	}
	const base = "new-stateful-udf-migration-itcase-flink1.20-rocksdb-"
	rows := map[string]string{}
	for _, kind := range []string{"savepoint", "savepoint-native"} {
		out := t.TempDir()
		code, _, errs := fsnap(t, "dump", "-o", "parquet", "--out", out, "--tmp", t.TempDir(), corpus.Find(t, base+kind).Dir)
		if code != exitOK {
			t.Fatalf("%s: exit %d: %s", kind, code, errs)
		}
		if kind == "savepoint-native" && !strings.Contains(errs, "converting it to a canonical savepoint") {
			t.Errorf("native dump did not say it converts: %s", errs)
		}
		var all []string
		for _, uid := range []string{"CheckpointingKeyedStateFlatMap1", "CheckpointingTimelyStatefulOperator2"} {
			f := filepath.Join(out, format.OperatorIDFromUID(uid).String(), "state-name.parquet")
			for _, r := range testservers.DuckDB(t, fmt.Sprintf(`select key_group, key.f0 as k, value from '%s' order by k`, f)) {
				all = append(all, fmt.Sprint(r))
			}
		}
		rows[kind] = strings.Join(all, "\n")
	}
	if rows["savepoint"] != rows["savepoint-native"] || strings.Count(rows["savepoint"], "\n") != 7 {
		t.Errorf("canonical:\n%s\nnative:\n%s", rows["savepoint"], rows["savepoint-native"])
	}
	if code, _, _ := fsnap(t, "dump", "-o", "parquet", corpus.Find(t, base+"savepoint").Dir); code != exitUsage {
		t.Errorf("-o parquet without --out: exit %d", code)
	}
}

// TestDumpCheckpoints: an unaligned RocksDB checkpoint dumps its state
// (the in-flight records, not state, are left out, saying so); a changelog
// checkpoint is refused naming the changelog backend, not RocksDB.
func TestDumpCheckpoints(t *testing.T) {
	if !rocks.Available {
		t.Skip(rocks.ErrUnavailable)
	}
	code, out, errs := fsnap(t, "dump", "--tmp", t.TempDir(), corpus.Find(t, "new-stateful-udf-migration-itcase-flink1.17-rocksdb-checkpoint").Dir)
	if code != exitOK || !strings.Contains(errs, "in-flight channel state") || !strings.Contains(out, `"state":"state-name"`) || !strings.Contains(out, "Here be dragons!") {
		t.Errorf("unaligned checkpoint: exit %d, %s\n%.300s", code, errs, out)
	}
	code, _, errs = fsnap(t, "dump", corpus.Find(t, "new-stateful-udf-migration-itcase-flink1.17-hashmap-checkpoint").Dir)
	if code != exitInput || !strings.Contains(errs, "changelog state backend") || strings.Contains(errs, "RocksDB") {
		t.Errorf("changelog checkpoint: exit %d, %s", code, errs)
	}
}

// TestDumpCompression: --compression zstd writes zstd pages; a codec
// Parquet does not offer, or --compression with another output, is a usage
// error.
func TestDumpCompression(t *testing.T) {
	dir := corpus.Find(t, "new-stateful-udf-migration-itcase-flink1.20-hashmap-savepoint").Dir
	out := t.TempDir()
	if code, _, errs := fsnap(t, "dump", "-o", "parquet", "--compression", "zstd", "--out", out, dir); code != exitOK {
		t.Fatalf("exit %d: %s", code, errs)
	}
	f := filepath.Join(out, format.OperatorIDFromUID("CheckpointingKeyedStateFlatMap1").String(), "state-name.parquet")
	if got := fmt.Sprint(testservers.DuckDB(t, fmt.Sprintf(`select distinct compression as c from parquet_metadata('%s')`, f))); got != "[map[c:ZSTD]]" {
		t.Errorf("pages: %s", got)
	}
	for _, args := range [][]string{
		{"dump", "-o", "parquet", "--compression", "lzo", "--out", t.TempDir(), dir},
		{"dump", "-o", "jsonl", "--compression", "zstd", dir},
		{"inventory", "-o", "csv", "--compression", "gzip", "--out", t.TempDir(), dir},
	} {
		if code, _, errs := fsnap(t, args...); code != exitUsage {
			t.Errorf("%v: exit %d: %s", args, code, errs)
		}
	}
}

// TestReportCommand: a snapshot's page and a root's page, to a file and to
// a store URL.
func TestReportCommand(t *testing.T) {
	out := filepath.Join(t.TempDir(), "r.html")
	snap := corpus.Find(t, "new-stateful-udf-migration-itcase-flink1.20-hashmap-savepoint").Dir
	code, _, errs := fsnap(t, "report", "--states", "--compat-to", "2.0", "--out", out, snap)
	b, _ := os.ReadFile(out)
	if code != exitOK || !strings.Contains(string(b), `id="treemap"`) || !strings.Contains(string(b), "Restore on Flink 2.0") {
		t.Fatalf("snapshot report: exit %d %s (%d bytes)", code, errs, len(b))
	}
	root := t.TempDir()
	if code, _, errs := fsnap(t, "fixture", "--kind", "incremental-checkpoint", root); code != exitOK {
		t.Fatalf("fixture: %d %s", code, errs)
	}
	if code, _, errs := fsnap(t, "report", "--out", "mem://report-cli/page.html", root); code != exitOK {
		t.Fatalf("root report: %d %s", code, errs)
	}
	if code, _, _ := fsnap(t, "report", snap); code != exitUsage {
		t.Errorf("without --out: exit %d", code)
	}
}

// TestDumpArrowFormats: -o arrow writes Arrow IPC files (magic at both
// ends, a footer indexing the batches) and -o arrows streams, holding the
// same records, as many rows as the Parquet dump of the same state.
func TestDumpArrowFormats(t *testing.T) {
	dir := corpus.Find(t, "new-stateful-udf-migration-itcase-flink1.20-hashmap-savepoint").Dir
	name := filepath.Join(format.OperatorIDFromUID("CheckpointingKeyedStateFlatMap1").String(), "state-name")
	files := map[string]string{}
	for _, o := range []string{"parquet", "arrow", "arrows"} {
		out := t.TempDir()
		if code, _, errs := fsnap(t, "dump", "-o", o, "--out", out, dir); code != exitOK {
			t.Fatalf("-o %s: exit %d: %s", o, code, errs)
		}
		files[o] = filepath.Join(out, name+"."+o)
	}
	b, err := os.ReadFile(files["arrow"])
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.HasPrefix(b, []byte("ARROW1")) || !bytes.HasSuffix(b, []byte("ARROW1")) {
		t.Fatalf("%s is not an Arrow IPC file (magic %q … %q)", files["arrow"], b[:min(8, len(b))], b[max(0, len(b)-6):])
	}
	fr, err := ipc.NewFileReader(bytes.NewReader(b))
	if err != nil {
		t.Fatal(err)
	}
	defer fr.Close()
	s, err := os.Open(files["arrows"])
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	sr, err := ipc.NewReader(s)
	if err != nil {
		t.Fatal(err)
	}
	defer sr.Release()
	rows := int64(0)
	for i := range fr.NumRecords() {
		rec, err := fr.Record(i)
		if err != nil {
			t.Fatal(err)
		}
		if !sr.Next() || !array.RecordEqual(rec, sr.Record()) {
			t.Fatalf("record batch %d differs between the file and the stream", i)
		}
		rows += rec.NumRows()
	}
	if sr.Next() {
		t.Error("the stream holds more batches than the file")
	}
	got := testservers.DuckDB(t, fmt.Sprintf(`select count(*) as n from '%s'`, files["parquet"]))
	if fmt.Sprint(got) != fmt.Sprintf("[map[n:%d]]", rows) || rows == 0 {
		t.Errorf("arrow %d rows, parquet %v", rows, got)
	}
}
