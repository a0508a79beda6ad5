package state_test

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/fsnap/fsnap/format/state"
)

func openKeyed(t *testing.T, s *streamRef) *state.KeyedStream {
	t.Helper()
	ks, err := state.OpenKeyed(bytes.NewReader(s.data), int64(len(s.data)), state.KeyGroupsOf(s.keyed),
		state.KeyedOptions{Name: s.String(), MaxParallelism: s.op.MaxParallelism})
	if err != nil {
		t.Fatalf("%s: %v", s, err)
	}
	return ks
}

// TestCorpusKeyedStreams walks every managed keyed stream of the corpus:
// offsets lie inside the file, the layout is sniffed, every entry is read
// and every composite key is split, and Sizes agrees with the walk.
func TestCorpusKeyedStreams(t *testing.T) {
	var streams, entries, unsplit int
	layouts := map[string]int{}
	for _, s := range corpusStreams(t) {
		if s.kind != "managedKeyed" {
			continue
		}
		for i, o := range s.keyed.Offsets {
			if o < 0 || o >= int64(len(s.data)) {
				t.Errorf("%s: key group %d offset %d outside the %d-byte file", s, s.keyed.Range.Start+int32(i), o, len(s.data))
			}
		}
		ks := openKeyed(t, s)
		layouts[fmt.Sprintf("%v/compressed=%v", ks.Layout, ks.Header.Compressed)]++
		it := ks.Iter()
		n := 0
		for it.Next() {
			n++
			if !it.Entry().Split {
				unsplit++
				t.Errorf("%s: entry of state %d not split: %v", s, it.Entry().State, ks.SplitError(it.Entry().State))
			}
		}
		if err := it.Err(); err != nil {
			t.Errorf("%v", err)
			continue
		}
		streams++
		entries += n
		sz, err := ks.Sizes()
		if err != nil {
			t.Fatalf("%s: sizes: %v", s, err)
		}
		var total, stored int64
		for g := 0; g < sz.NumKeyGroups; g++ {
			e, _ := sz.GroupTotal(g)
			total += e
			stored += sz.Stored[g]
		}
		if total != int64(n) {
			t.Errorf("%s: sizes count %d entries, the walk %d", s, total, n)
		}
		if want := int64(len(s.data) - len(ks.Header.Raw)); n > 0 && stored != want {
			t.Errorf("%s: key groups store %d bytes, the file holds %d after the header", s, stored, want)
		}
	}
	t.Logf("%d keyed streams walked (%v), %d entries", streams, layouts, entries)
	if streams != 1254 || entries < 2200 || unsplit > 0 {
		t.Errorf("walked %d streams, %d entries, %d unsplit", streams, entries, unsplit)
	}
}

// TestCorpusOperatorStreams walks every managed operator stream: every
// element's extent found by its serializer matches the metadata's offsets.
func TestCorpusOperatorStreams(t *testing.T) {
	var streams, elements int
	for _, s := range corpusStreams(t) {
		if s.kind != "managedOperator" {
			continue
		}
		os, err := state.OpenOperator(bytes.NewReader(s.data), int64(len(s.data)), s.opState.States, s.String())
		if err != nil {
			t.Errorf("%s: %v", s, err)
			continue
		}
		sizes, err := os.Sizes()
		if err != nil {
			t.Errorf("%v", err)
			continue
		}
		streams++
		for i, sz := range sizes {
			elements += int(sz.Elements)
			ref := os.States[i]
			if ref.Meta.Type != state.BroadcastState && int(sz.Elements) != len(ref.Offsets) {
				t.Errorf("%s: state %q: %d elements, %d offsets", s, sz.Name, sz.Elements, len(ref.Offsets))
			}
		}
	}
	t.Logf("%d operator streams, %d elements", streams, elements)
	if streams < 1200 || elements < 4000 {
		t.Errorf("walked %d streams, %d elements", streams, elements)
	}
}

// TestCorpusRocksDBNative lists the column families and files of every
// RocksDB native handle and checks the files are in the snapshot directory
// with the recorded sizes.
func TestCorpusRocksDBNative(t *testing.T) {
	n, files := 0, 0
	for _, s := range corpusStreams(t) {
		if s.kind != "rocksdbMeta" {
			continue
		}
		db, err := state.ReadRocksDB(s.inc, s.data)
		if err != nil {
			t.Errorf("%s: %v", s, err)
			continue
		}
		n++
		kinds := map[state.RocksDBFileKind]int{}
		for _, f := range db.Files {
			files++
			kinds[f.Kind]++
			name, data := resolve(t, s.snap.Dir, f.Handle)
			if data == nil {
				t.Errorf("%s: file %s (%s) missing", s, f.LocalPath, name)
			} else if int64(len(data)) != f.Handle.StateSize() {
				t.Errorf("%s: %s has %d bytes, handle says %d", s, f.LocalPath, len(data), f.Handle.StateSize())
			}
		}
		if kinds[state.RocksCurrent] != 1 || kinds[state.RocksManifest] != 1 || kinds[state.RocksOptions] != 1 {
			t.Errorf("%s: files %v", s, kinds)
		}
		if strings.HasPrefix(s.snap.Name, "new-stateful-udf") {
			// Family 1 keyed operators: flat maps hold state-name; timely
			// operators add their timer queues (a subtask that never saw
			// a key registers the timers only).
			allowed := map[string]bool{"state-name": true, "_timer_state/processing_timer": true, "_timer_state/event_timer": true}
			for _, cf := range db.ColumnFamilies {
				if !allowed[cf] {
					t.Errorf("%s: column family %q", s, cf)
				}
			}
			if len(db.ColumnFamilies) == 0 {
				t.Errorf("%s: no column families", s)
			}
		}
	}
	t.Logf("%d RocksDB native handles, %d files", n, files)
	if n < 300 {
		t.Errorf("only %d RocksDB native handles", n)
	}
}

// TestCorpusSnapshotDirs makes sure relative state files resolve.
func TestCorpusSnapshotDirs(t *testing.T) {
	for _, s := range corpusStreams(t) {
		if s.kind == "changelog" || strings.HasPrefix(s.name, "inline:") {
			continue
		}
		if _, err := os.Stat(filepath.Join(s.snap.Dir, s.name)); err != nil {
			t.Errorf("%s: %v", s, err)
		}
	}
}
