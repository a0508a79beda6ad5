package verify

import (
	"context"
	"os"
	"strings"
	"testing"

	"github.com/fsnap/fsnap/internal/corpus"
	"github.com/fsnap/fsnap/internal/rocks"
	snapsrc "github.com/fsnap/fsnap/snapshot/source"
)

// TestDeepRocksDBBlockChecksums (issue 20, item 9): a flipped byte inside
// an SST's data (the footer intact, so the headers level passes) and a
// flipped MANIFEST are found by a deep check, which opens the instance.
func TestDeepRocksDBBlockChecksums(t *testing.T) {
	if !rocks.Available {
		t.Skip("a build without RocksDB")
	}
	const name = "new-stateful-udf-migration-itcase-flink1.17-rocksdb-checkpoint"
	for _, role := range []string{".sst", "MANIFEST-"} {
		t.Run(strings.Trim(role, ".-"), func(t *testing.T) {
			dir := corpus.Copy(t, name)
			if r := checkRef(t, dir, Options{Level: LevelDeep}); r.Counts.Error != 0 {
				t.Fatalf("the intact copy has errors: %+v", r.Findings)
			}
			s, sr, err := snapsrc.Load(context.Background(), dir)
			if err != nil {
				t.Fatal(err)
			}
			sr.Close()
			var victim string
			var size int64
			for _, f := range s.Files {
				for _, u := range s.Users(f) {
					if strings.Contains(u.Role, role) && f.Size > size && f.Relative != "" {
						victim, size = dir+"/"+f.Relative, f.Size
					}
				}
			}
			if victim == "" {
				t.Fatalf("no %s file", role)
			}
			b, err := os.ReadFile(victim)
			if err != nil {
				t.Fatal(err)
			}
			at := len(b) / 3 // a data block: neither the footer nor the header
			if role != ".sst" {
				at = len(b) / 2
			}
			b[at] ^= 0x10
			os.WriteFile(victim, b, 0o644)
			r := checkRef(t, dir, Options{Level: LevelDeep, Tmp: t.TempDir()})
			if r.CodeCounts()[RocksDBInstanceCorrupt] == 0 {
				t.Errorf("flipped byte %d of %s (%s) not found: %+v", at, victim, role, r.Findings)
			}
		})
	}
}
