package migrate

import (
	"bytes"
	"context"
	"fmt"
	"path/filepath"
	"testing"

	"github.com/fsnap/fsnap/fixtures"
	"github.com/fsnap/fsnap/format"
	"github.com/fsnap/fsnap/format/state"
	"github.com/fsnap/fsnap/internal/rocks"
)

// TestGeneratedRocksDB converts real RocksDB native snapshots written by
// fixtures.WriteRocksDB (overwrites, tombstones and unmerged merge operands
// in separate SSTs; 1- and 2-byte key-group prefixes; compressed headers;
// incremental checkpoints with SSTs in shared/ by absolute path) and
// compares every entry, in order, with the generator's model of the final
// state.
func TestGeneratedRocksDB(t *testing.T) {
	if !rocks.Available {
		t.Skip(rocks.ErrUnavailable)
	}
	for _, spec := range []fixtures.RocksDBSpec{
		{History: true, Keys: 2000},
		{History: true, Keys: 3000, MaxParallelism: 4096, Parallelism: 3, Compressed: true},
		{Kind: fixtures.IncrementalCheckpoint, Keys: 1500, Parallelism: 4, MaxParallelism: 200, Version: 4},
		{Kind: fixtures.Checkpoint, Keys: 50, Parallelism: 8, MaxParallelism: 8, NoSSTCompression: true, Version: 7},
	} {
		t.Run(fmt.Sprintf("%s-keys%d-maxp%d", spec.Kind, spec.Keys, spec.MaxParallelism), func(t *testing.T) {
			s, err := fixtures.WriteRocksDB(context.Background(), t.TempDir(), spec)
			if err != nil {
				t.Fatal(err)
			}
			out := filepath.Join(t.TempDir(), "out")
			res, err := ToCanonical(context.Background(), s.Dir, out, CanonicalOptions{Tmp: t.TempDir(), Parallel: 2})
			if err != nil {
				t.Fatal(err)
			}
			if res.Entries != s.Entries || res.FromRocksDB != len(s.Metadata.Operators[0].Subtasks) || res.OutsideRange != 0 {
				t.Errorf("result %+v, want %d entries from %d instances", res, s.Entries, len(s.Metadata.Operators[0].Subtasks))
			}
			checkRelocatable(t, out)
			m := loadMeta(t, out)
			want, _ := s.Header.Append(nil)
			var got []fixtures.ExpectedEntry
			for _, st := range m.Operators[0].Subtasks {
				kh := st.ManagedKeyedState.(*format.KeyGroupsHandle)
				b := streamBytes(t, out, kh.Delegate)
				ks, err := state.OpenKeyed(bytes.NewReader(b), int64(len(b)), state.KeyGroupsOf(kh), state.KeyedOptions{Name: "out", MaxParallelism: m.Operators[0].MaxParallelism})
				if err != nil {
					t.Fatal(err)
				}
				if !bytes.Equal(ks.Header.Raw, want) {
					t.Errorf("subtask %d: header is not the meta state handle's", st.Index)
				}
				it := ks.Iter()
				for it.Next() {
					e := it.Entry()
					got = append(got, fixtures.ExpectedEntry{Subtask: st.Index, KeyGroup: e.KeyGroup, State: e.State,
						Key: append([]byte{}, e.Composite...), Value: append([]byte{}, e.Value...)})
				}
				if err := it.Err(); err != nil {
					t.Fatal(err)
				}
			}
			if len(got) != len(s.Expected) {
				t.Fatalf("%d entries, want %d", len(got), len(s.Expected))
			}
			for i := range got {
				if fmt.Sprint(got[i]) != fmt.Sprint(s.Expected[i]) {
					t.Fatalf("entry %d: %+v\nwant %+v", i, got[i], s.Expected[i])
				}
			}
		})
	}
}
