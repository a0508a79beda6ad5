package inspect_test

import (
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/fsnap/fsnap/inspect"
	"github.com/fsnap/fsnap/internal/corpus"
	"github.com/fsnap/fsnap/snapshot/source"
)

var update = flag.Bool("update", false, "rewrite the golden files under testdata/ from what the code produces now")

// goldenFamilies names one snapshot of each corpus family (the sections of
// corpus-ground-truth.md).
var goldenFamilies = map[string]string{
	"stateful-udf":        "new-stateful-udf-migration-itcase-flink2.3-rocksdb-savepoint-native",
	"broadcast-udf":       "new-stateful-broadcast-udf-migration-itcase-flink2.3-hashmap-savepoint",
	"operatorstate":       "operatorstate__complexKeyed-flink2.3",
	"type-serializer":     "type-serializer-snapshot-migration-itcase-flink1.16-rocksdb-checkpoint",
	"raw-state-timers":    "legacy-raw-state-heap-timers-rocks-db-1.12",
	"unified-sink":        "unified-sink-migration-test__savepoint-7bd90b-3a2cda6957cb",
	"kafka-source":        "kafka__kafka-source-savepoint__enum1-split0__savepoint-3c7c0a-07c49f841952",
	"state-processor-api": "flink-libraries__flink-state-processing-api__table-state-avro",
	"state-evolution-v2":  "flink-end-to-end-tests__flink-state-evolution-test__savepoints__1.7",
	"table-exec":          "table__stream-exec-sink_1__sink-bucketing_with-keys-and-count",
	"legacy-udf":          "new-stateful-udf-migration-itcase-flink1.4-savepoint",
	"scala-udf":           "stateful-scala-udf-migration-itcase-flink1.14-hashmap-savepoint",
}

// TestGoldenReports compares the fsnap.inspect/v1 document (with files) of
// each family's snapshot with testdata/<family>.json: a change of the
// schema or of what fsnap reads shows in review as a diff of those files.
// Regenerate them with go test ./inspect -run TestGoldenReports -update.
func TestGoldenReports(t *testing.T) {
	corpus.Require(t)
	root := corpus.Root()
	for family, name := range goldenFamilies {
		t.Run(family, func(t *testing.T) {
			e := corpus.Find(t, name)
			s, src, err := source.Load(context.Background(), e.Dir)
			if err != nil {
				t.Fatal(err)
			}
			src.Close()
			var b bytes.Buffer
			enc := json.NewEncoder(&b)
			enc.SetIndent("", "  ")
			if err := enc.Encode(inspect.Build(s, inspect.Options{Files: true})); err != nil {
				t.Fatal(err)
			}
			// The corpus may live anywhere: name it by a placeholder.
			got := strings.ReplaceAll(b.String(), root, "$FSNAP_CORPUS")
			file := filepath.Join("testdata", family+".json")
			if *update {
				if err := os.WriteFile(file, []byte(got), 0o644); err != nil {
					t.Fatal(err)
				}
				return
			}
			want, err := os.ReadFile(file)
			if err != nil {
				t.Fatalf("%v (run with -update to write it)", err)
			}
			if got != string(want) {
				t.Errorf("report of %s differs from %s (run with -update and review the diff):\n%s", name, file, firstDiff(string(want), got))
			}
		})
	}
}

// firstDiff shows the first differing line and its neighbours.
func firstDiff(want, got string) string {
	w, g := strings.Split(want, "\n"), strings.Split(got, "\n")
	for i := 0; i < max(len(w), len(g)); i++ {
		if i >= len(w) || i >= len(g) || w[i] != g[i] {
			lo, hi := max(0, i-2), i+3
			return "want:\n" + strings.Join(w[lo:min(hi, len(w))], "\n") + "\ngot:\n" + strings.Join(g[lo:min(hi, len(g))], "\n")
		}
	}
	return ""
}
