package state_test

import (
	"bytes"
	"errors"
	"github.com/fsnap/fsnap/format/state"
	"sort"
	"testing"
)

// headerOf parses the header of a corpus stream and returns its length and
// the snapshot classes it names.
func headerOf(t *testing.T, s *streamRef) (raw []byte, enc []byte, classes []string, err error) {
	t.Helper()
	add := func(sn *state.Snapshot) { classes = append(classes, sn.Classes()...) }
	switch s.kind {
	case "managedKeyed", "rocksdbMeta":
		h, err := state.ReadKeyedHeader(s.data, 0)
		if err != nil {
			return nil, nil, nil, err
		}
		add(h.KeySerializer)
		for _, st := range h.States {
			for _, ns := range st.Serializers {
				add(ns.Snapshot)
			}
		}
		enc, err := h.Append(nil)
		return h.Raw, enc, classes, err
	case "managedOperator":
		h, err := state.ReadOperatorHeader(s.data, 0)
		if err != nil {
			return nil, nil, nil, err
		}
		for _, st := range append(append([]state.StateMeta{}, h.OperatorStates...), h.BroadcastStates...) {
			for _, ns := range st.Serializers {
				add(ns.Snapshot)
			}
		}
		enc, err := h.Append(nil)
		return h.Raw, enc, classes, err
	}
	return nil, nil, nil, errors.New("no header")
}

// TestCorpusHeaders parses the header of every keyed stream, RocksDB meta
// state handle and operator stream of the corpus, checks that it ends
// exactly where the metadata says the data begins, that encoding it gives
// the same bytes, and that every serializer snapshot class it names is one
// this package knows by name.
func TestCorpusHeaders(t *testing.T) {
	found := map[string]int{}
	n := 0
	for _, s := range corpusStreams(t) {
		if s.kind != "managedKeyed" && s.kind != "managedOperator" && s.kind != "rocksdbMeta" {
			continue
		}
		if s.data == nil {
			t.Errorf("%s: file missing", s)
			continue
		}
		raw, enc, classes, err := headerOf(t, s)
		if err != nil {
			t.Errorf("%s: %v", s, err)
			continue
		}
		n++
		for _, c := range classes {
			found[c]++
		}
		if !bytes.Equal(raw, enc) {
			t.Errorf("%s: header of %d bytes encodes to %d different bytes", s, len(raw), len(enc))
		}
		if want := dataStart(s); want >= 0 && int64(len(raw)) != want {
			t.Errorf("%s: header ends at %d, data starts at %d", s, len(raw), want)
		}
	}
	var names []string
	for c := range found {
		names = append(names, c)
		if !state.IsKnownClass(c) {
			t.Errorf("snapshot class %s (found %d times) is not in the class table", c, found[c])
		}
	}
	sort.Strings(names)
	t.Logf("%d headers, %d distinct snapshot classes: %v", n, len(names), names)
	if n < 2000 || len(names) < 35 {
		t.Errorf("only %d headers and %d classes: corpus walk is incomplete", n, len(names))
	}
}

// dataStart is where a stream's data begins according to the metadata: the
// first key-group offset (keyed), the stream end (RocksDB meta handle), the
// first element offset (operator; after the Snappy stream identifier when
// compressed). -1 when the metadata does not say.
func dataStart(s *streamRef) int64 {
	switch {
	case s.inc != nil:
		return int64(len(s.data))
	case s.keyed != nil:
		min := int64(-1)
		for _, o := range s.keyed.Offsets {
			if o > 0 && (min < 0 || o < min) {
				min = o
			}
		}
		return min
	case s.opState != nil:
		min := int64(-1)
		for _, st := range s.opState.States {
			for _, o := range st.Offsets {
				if min < 0 || o < min {
					min = o
				}
			}
		}
		if min > 0 && len(s.data) >= 4 && s.data[4] == 1 && s.data[3] == 6 {
			min -= int64(10)
		}
		return min
	}
	return -1
}

// TestConstructorsMatchCorpus rebuilds corpus serializer snapshots with the
// constructors writers use and checks the bytes are Flink's.
func TestConstructorsMatchCorpus(t *testing.T) {
	classes := map[string]int{}
	for _, s := range corpusStreams(t) {
		var snaps []*state.Snapshot
		var metas []state.StateMeta
		switch s.kind {
		case "managedKeyed", "rocksdbMeta":
			h, err := state.ReadKeyedHeader(s.data, 0)
			if err != nil {
				t.Fatal(err)
			}
			snaps, metas = append(snaps, h.KeySerializer), h.States
		case "managedOperator":
			h, err := state.ReadOperatorHeader(s.data, 0)
			if err != nil {
				t.Fatal(err)
			}
			metas = append(append(metas, h.OperatorStates...), h.BroadcastStates...)
		default:
			continue
		}
		for _, m := range metas {
			for _, ns := range m.Serializers {
				snaps = append(snaps, ns.Snapshot)
			}
		}
		for _, sn := range snaps {
			r := rebuild(sn)
			if r == nil || sn.ProxyVersion != 2 {
				continue
			}
			a, _ := sn.AppendTopLevel(nil)
			b, err := r.AppendTopLevel(nil)
			if err != nil || !bytes.Equal(a, b) {
				t.Errorf("%s: rebuilt %s differs: %v", s, sn, err)
			}
			classes[sn.ShortClass()]++
		}
	}
	t.Logf("rebuilt: %v", classes)
	for _, c := range []string{"LongSerializer", "TupleSerializer", "TimerSerializer", "ListSerializer", "MapSerializer", "StringSerializer", "VoidNamespaceSerializer"} {
		if classes[c] == 0 {
			t.Errorf("no corpus snapshot of %s rebuilt", c)
		}
	}
}
