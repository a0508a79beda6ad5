package inspect_test

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/fsnap/fsnap/fixtures"
	"github.com/fsnap/fsnap/inspect"
	"github.com/fsnap/fsnap/internal/corpus"
	"github.com/fsnap/fsnap/internal/rocks"
	"github.com/fsnap/fsnap/snapshot/source"
)

func rocksReport(t *testing.T, dir string) *inspect.RocksDBReport {
	t.Helper()
	s, src, err := source.Load(context.Background(), dir)
	if err != nil {
		t.Fatal(err)
	}
	defer src.Close()
	tmp := t.TempDir()
	r, err := inspect.RocksDB(context.Background(), s, src, inspect.RocksDBOptions{Tmp: tmp})
	if err != nil {
		t.Fatal(err)
	}
	if ents, _ := os.ReadDir(tmp); len(ents) != 0 {
		t.Errorf("scratch left behind: %d entries", len(ents))
	}
	return r
}

// TestRocksDBCorpus: Flink 2.3's native savepoint of the stateful UDF job
// (corpus-ground-truth.md §1: keys 0-3, p=4, max parallelism 4): 14
// instances; per operator the keys' state-name entries sum to 4; each timely
// operator subtask holds, in its one key group, as many event-time and
// processing-time timers as state-name entries, one SST per state.
func TestRocksDBCorpus(t *testing.T) {
	if !rocks.Available {
		t.Skip(rocks.ErrUnavailable)
	}
	var dir string
	for _, e := range corpus.Require(t) {
		if e.Name == "new-stateful-udf-migration-itcase-flink2.3-rocksdb-savepoint-native" {
			dir = e.Dir
		}
	}
	r := rocksReport(t, dir)
	if len(r.Instances) != 14 || r.Entries != 32 {
		t.Fatalf("%d instances with %d entries, want 14 and 32", len(r.Instances), r.Entries)
	}
	perOp := map[string]int64{}
	for _, in := range r.Instances {
		if in.Error != "" {
			t.Errorf("%s/%d: %s", in.Operator, in.Subtask, in.Error)
		}
		got := map[string]int64{}
		for _, cf := range in.ColumnFamilies {
			got[cf.Name] = cf.Entries
			if cf.Entries > 0 && (cf.FirstKeyGroup != in.Subtask || cf.LastKeyGroup != in.Subtask || cf.KeyGroupsPresent != 1 || cf.SSTEntries != uint64(cf.Entries)) {
				t.Errorf("%s/%d %s: %+v", in.UID, in.Subtask, cf.Name, cf)
			}
		}
		perOp[in.UID] += got["state-name"]
		if in.ColumnFamilies[len(in.ColumnFamilies)-1].Name != "default" || got["default"] != 0 {
			t.Errorf("%s/%d: families %+v", in.UID, in.Subtask, in.ColumnFamilies)
		}
		if !strings.HasPrefix(in.UID, "CheckpointingTimelyStatefulOperator") || in.Subtask == 0 {
			continue
		}
		n := got["state-name"]
		if n == 0 || got["_timer_state/event_timer"] != n || got["_timer_state/processing_timer"] != n || len(in.SSTs) != 3 {
			t.Errorf("%s/%d: column families %v, %d SSTs", in.UID, in.Subtask, got, len(in.SSTs))
		}
		for _, s := range in.SSTs {
			if !strings.HasSuffix(s.LocalName, ".sst") || !strings.HasPrefix(s.File, dir) || s.Bytes <= 0 || s.Entries != uint64(n) || s.SmallestKeyGroup != in.Subtask {
				t.Errorf("SST %+v", s)
			}
		}
	}
	for uid, n := range perOp {
		if n != 4 {
			t.Errorf("%s: %d state-name entries, want 4 (keys 0-3)", uid, n)
		}
	}
	if len(perOp) != 4 {
		t.Errorf("%d keyed operators, want 4", len(perOp))
	}
	if _, err := json.Marshal(r); err != nil {
		t.Fatal(err)
	}
}

// TestRocksDBGenerated: an instance with overwrites, tombstones and merge
// operands: live entries per state as the generator's model says, SSTs
// holding more (versions, tombstones, operands).
func TestRocksDBGenerated(t *testing.T) {
	if !rocks.Available {
		t.Skip(rocks.ErrUnavailable)
	}
	s, err := fixtures.WriteRocksDB(context.Background(), t.TempDir(), fixtures.RocksDBSpec{History: true, Keys: 400, Kind: fixtures.IncrementalCheckpoint})
	if err != nil {
		t.Fatal(err)
	}
	r := rocksReport(t, s.Dir)
	want := map[string]int64{}
	for _, e := range s.Expected {
		want[s.Header.States[e.State].Name]++
	}
	got := map[string]int64{}
	var live int64
	var stored uint64
	for _, in := range r.Instances {
		if in.Error != "" {
			t.Fatal(in.Error)
		}
		for _, cf := range in.ColumnFamilies {
			got[cf.Name] += cf.Entries
			if cf.OutsideRange != 0 {
				t.Errorf("%s: %d entries outside the range", cf.Name, cf.OutsideRange)
			}
			if cf.StateID >= 0 {
				live += cf.Entries
				stored += cf.SSTEntries
			}
		}
		for _, f := range in.SSTs {
			if !strings.Contains(f.File, string(filepath.Separator)+"shared"+string(filepath.Separator)) {
				t.Errorf("SST %s of an incremental checkpoint is not in shared/: %s", f.LocalName, f.File)
			}
		}
	}
	for k, v := range want {
		if got[k] != v {
			t.Errorf("%s: %d entries, want %d", k, got[k], v)
		}
	}
	if live != s.Entries || stored <= uint64(live) {
		t.Errorf("%d live entries (want %d), %d stored in SSTs (want more)", live, s.Entries, stored)
	}
}
