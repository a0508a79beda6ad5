//go:build cgo && !norocksdb

package rocks_test

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"testing"

	"github.com/fsnap/fsnap/format"
	"github.com/fsnap/fsnap/format/state"
	"github.com/fsnap/fsnap/internal/corpus"
	"github.com/fsnap/fsnap/internal/rocks"
)

type kv struct{ k, v string }

func scan(t *testing.T, db *rocks.DB, cf string) []kv {
	t.Helper()
	it, err := db.NewIterator(cf)
	if err != nil {
		t.Fatal(err)
	}
	defer it.Close()
	var out []kv
	for it.SeekToFirst(); it.Valid(); it.Next() {
		out = append(out, kv{string(it.Key()), string(it.Value())})
	}
	if err := it.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

// TestWriteCheckpointReopen writes overwrites, tombstones and merge operands
// spread over several flushed SSTs, checkpoints the instance and reads the
// checkpoint back read-only: RocksDB's LSM semantics must resolve them.
func TestWriteCheckpointReopen(t *testing.T) {
	tmp := t.TempDir()
	db, err := rocks.Create(filepath.Join(tmp, "db"), []string{"list", "value"}, rocks.CreateOptions{DisableAutoCompactions: true})
	if err != nil {
		t.Fatal(err)
	}
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	must(db.Merge(1, []byte("a"), []byte("1")))
	must(db.Put(2, []byte("x"), []byte("old")))
	must(db.Put(2, []byte("y"), []byte("gone")))
	must(db.Flush())
	must(db.Merge(1, []byte("a"), []byte("2")))
	must(db.Merge(1, []byte("b"), []byte("")))
	must(db.Merge(1, []byte("b"), []byte("z")))
	must(db.Put(2, []byte("x"), []byte("new")))
	must(db.Delete(2, []byte("y")))
	must(db.Flush())
	must(db.Merge(1, []byte("a"), []byte("3")))
	cp := filepath.Join(tmp, "cp")
	must(db.Checkpoint(cp))
	if n := len(db.Files()); n < 5 {
		t.Errorf("%d live SSTs, want at least 5 (nothing compacted)", n)
	}
	must(db.Close())

	ro, err := rocks.OpenReadOnly(cp)
	if err != nil {
		t.Fatal(err)
	}
	defer ro.Close()
	if got, want := fmt.Sprint(ro.ColumnFamilies()), "[default list value]"; got != want {
		t.Errorf("column families %s, want %s", got, want)
	}
	if got, want := fmt.Sprint(scan(t, ro, "list")), "[{a 1,2,3} {b ,z}]"; got != want {
		t.Errorf("list: %s, want %s", got, want)
	}
	if got, want := fmt.Sprint(scan(t, ro, "value")), "[{x new}]"; got != want {
		t.Errorf("value: %s, want %s", got, want)
	}
	if _, err := ro.NewIterator("nope"); err == nil {
		t.Error("iterator over a missing column family: no error")
	}
	if err := ro.Put(1, []byte("k"), nil); err == nil {
		t.Error("Put on a read-only instance: no error")
	}
	it, _ := ro.NewIterator("list")
	it.Seek([]byte("b"))
	if !it.Valid() || string(it.Key()) != "b" {
		t.Error("Seek(b) did not land on b")
	}
	// Close closes the forgotten iterator.
}

func TestCreateRefusesNonEmptyDir(t *testing.T) {
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "f"), nil, 0o644)
	if _, err := rocks.Create(dir, nil, rocks.CreateOptions{}); err == nil {
		t.Fatal("no error")
	}
}

func TestOpenGarbage(t *testing.T) {
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "CURRENT"), []byte("MANIFEST-000009\n"), 0o644)
	if _, err := rocks.OpenReadOnly(dir); err == nil {
		t.Fatal("no error for a missing MANIFEST")
	}
}

// TestCorpusInstances opens every RocksDB instance of the corpus (Flink
// 1.16-2.3, FRocksDB 6.20 and 8.10) from a scratch copy with all column
// families, checks they are exactly "default" plus the states the meta
// state handle names, and that every key of every state family carries the
// key-group prefix of a group in the handle's range.
func TestCorpusInstances(t *testing.T) {
	n := 0
	for _, e := range corpus.Require(t) {
		b, err := os.ReadFile(filepath.Join(e.Dir, "_metadata"))
		if err != nil {
			t.Fatal(err)
		}
		m, err := format.ParseMetadata(b)
		if err != nil {
			t.Fatal(err)
		}
		for _, op := range m.Operators {
			for _, st := range op.Subtasks {
				h, ok := st.ManagedKeyedState.(*format.IncrementalHandle)
				if !ok {
					continue
				}
				n++
				meta, err := os.ReadFile(filepath.Join(e.Dir, h.MetaStateHandle.(*format.RelativeFileHandle).RelativePath))
				if err != nil {
					t.Fatal(err)
				}
				snap, err := state.ReadRocksDB(h, meta)
				if err != nil {
					t.Fatal(err)
				}
				dir := t.TempDir()
				for _, f := range snap.Files {
					src := filepath.Join(e.Dir, f.Handle.(*format.RelativeFileHandle).RelativePath)
					data, err := os.ReadFile(src)
					if err != nil {
						t.Fatal(err)
					}
					os.WriteFile(filepath.Join(dir, f.LocalPath), data, 0o644)
				}
				db, err := rocks.OpenReadOnly(dir)
				if err != nil {
					t.Fatalf("%s %s/%d: %v", e.Name, op.ID, st.Index, err)
				}
				got := db.ColumnFamilies()
				want := append([]string{"default"}, snap.ColumnFamilies...)
				sort.Strings(got)
				sort.Strings(want)
				if fmt.Sprint(got) != fmt.Sprint(want) {
					t.Errorf("%s %s/%d: column families %q, meta names %q", e.Name, op.ID, st.Index, got, want)
				}
				pb := state.PrefixBytes(op.MaxParallelism)
				for _, cf := range snap.ColumnFamilies {
					for _, p := range scan(t, db, cf) {
						k := []byte(p.k)
						kg := int32(k[0])
						if pb == 2 {
							kg = int32(k[0])<<8 | int32(k[1])
						}
						if !h.Range.Contains(kg) || bytes.Equal(k, nil) {
							t.Errorf("%s %s/%d %s: key %x outside key groups %v", e.Name, op.ID, st.Index, cf, k, h.Range)
						}
					}
				}
				db.Close()
			}
		}
	}
	if n != 342 {
		t.Errorf("%d RocksDB instances, want 342", n)
	}
}

// TestScannerMatchesIterator reads a column family with many entries, some
// larger than a batch, with the batching Scanner and with the Iterator.
func TestScannerMatchesIterator(t *testing.T) {
	tmp := t.TempDir()
	db, err := rocks.Create(filepath.Join(tmp, "db"), []string{"s"}, rocks.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 20000; i++ {
		v := bytes.Repeat([]byte{byte(i)}, i%97)
		if i%5000 == 7 {
			v = bytes.Repeat([]byte{1}, 700<<10) // larger than a batch
		}
		if err := db.Put(1, []byte(fmt.Sprintf("k%06d", i)), v); err != nil {
			t.Fatal(err)
		}
	}
	if err := db.Flush(); err != nil {
		t.Fatal(err)
	}
	want := scan(t, db, "s")
	sc, err := db.NewScanner("s")
	if err != nil {
		t.Fatal(err)
	}
	var got []kv
	for sc.SeekToFirst(); sc.Valid(); sc.Next() {
		got = append(got, kv{string(sc.Key()), string(sc.Value())})
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	if len(got) != 20000 || fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("scanner read %d entries differing from the iterator's %d", len(got), len(want))
	}
	sc.Seek([]byte("k019999"))
	if !sc.Valid() || string(sc.Key()) != "k019999" {
		t.Error("Seek")
	}
	sc.Next()
	if sc.Valid() {
		t.Error("entry after the last")
	}
	sc.Close()
	db.Close()
}
