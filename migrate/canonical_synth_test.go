package migrate

import (
	"bytes"
	"context"
	"encoding/binary"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/klauspost/compress/snappy"

	"github.com/fsnap/fsnap/format"
	"github.com/fsnap/fsnap/format/state"
)

func be32(v int32) []byte { return binary.BigEndian.AppendUint32(nil, uint32(v)) }
func be64(v int64) []byte { return binary.BigEndian.AppendUint64(nil, uint64(v)) }
func str(s string) []byte { return state.AppendStringValue(nil, s, false) }
func cat(parts ...[]byte) []byte {
	var out []byte
	for _, p := range parts {
		out = append(out, p...)
	}
	return out
}

// heapRun is one state's entries in one key group of a heap stream: each
// entry is namespace, key and value bytes (timers: the element).
type heapRun struct {
	id      int
	entries [][]byte
}

// heapStream encodes a heap-layout keyed stream (keyed-state.md §6).
func heapStream(t *testing.T, hd *state.KeyedHeader, groups [][]heapRun) ([]byte, []int64) {
	t.Helper()
	b, err := hd.Append(nil)
	if err != nil {
		t.Fatal(err)
	}
	var offsets []int64
	for kg, runs := range groups {
		offsets = append(offsets, int64(len(b)))
		b = append(b, be32(int32(kg))...)
		var blk []byte
		for _, r := range runs {
			blk = binary.BigEndian.AppendUint16(blk, uint16(r.id))
			blk = append(blk, be32(int32(len(r.entries)))...)
			for _, e := range r.entries {
				blk = append(blk, e...)
			}
		}
		if hd.Compressed {
			var z bytes.Buffer
			w := snappy.NewBufferedWriter(&z)
			w.Write(blk)
			w.Close()
			blk = z.Bytes()
		}
		b = append(b, blk...)
	}
	return b, offsets
}

// writeSnapshot writes a one-operator snapshot whose subtask 0 holds the
// given keyed handle over the file "state".
func writeSnapshot(t *testing.T, dir string, maxP int32, data []byte, offsets []int64) {
	t.Helper()
	os.MkdirAll(dir, 0o755)
	if err := os.WriteFile(filepath.Join(dir, "state"), data, 0o644); err != nil {
		t.Fatal(err)
	}
	h := &format.KeyGroupsHandle{Type: format.KeyGroupsHandleV2, Range: format.KeyGroupRange{Start: 0, Count: int32(len(offsets))},
		Offsets: offsets, Delegate: &format.RelativeFileHandle{RelativePath: "state", Size: int64(len(data))}, HandleID: "h"}
	m := &format.Metadata{Version: 6, CheckpointID: 7, Properties: format.NewCheckpointProperties(),
		Operators: []format.OperatorState{{ID: format.OperatorIDFromUID("op"), Parallelism: 1, MaxParallelism: maxP,
			Subtasks: []format.SubtaskState{{Index: 0, ManagedKeyedState: h}}}}}
	b, err := format.AppendMetadata(nil, m)
	if err != nil {
		t.Fatal(err)
	}
	os.WriteFile(filepath.Join(dir, "_metadata"), b, 0o644)
}

func synthHeader(compressed bool) *state.KeyedHeader {
	long, strS := state.SimpleSnapshot(state.LongSnapshotClass), state.SimpleSnapshot(state.StringSnapshotClass)
	void := state.SimpleSnapshot(state.VoidNamespaceSnapshotClass)
	return state.NewKeyedHeader(compressed, strS,
		state.KeyValueStateMeta("v", "VALUE", strS, long),
		state.KeyValueStateMeta("l", "LIST", void, state.ListSnapshot(long)),
		state.KeyValueStateMeta("m", "MAP", void, state.MapSnapshot(strS, long)),
		state.TimerStateMeta("_timer_state/event_t", state.TimerSnapshot(strS, void)))
}

// synthGroups are four key groups of every state kind (each key in the
// group Flink assigns it with max parallelism 4), states in an order
// other than by id, with an empty list and an empty map (no entries in a
// canonical savepoint) and a group without entries.
func synthGroups() [][]heapRun {
	void := []byte{0}
	return [][]heapRun{
		{ // key group 0
			{id: 2, entries: [][]byte{
				cat(void, str("d"), be32(2), str("x"), []byte{0}, be64(7), str("y"), []byte{1}),
				cat(void, str("f"), be32(0)),
			}},
			{id: 0, entries: [][]byte{cat(str("w1"), str("d"), be64(5))}},
			{id: 1, entries: [][]byte{
				cat(void, str("d"), be32(3), be64(1), be64(2), be64(3)),
				cat(void, str("e"), be32(0)),
			}},
			{id: 3, entries: [][]byte{cat(be64(100^-0x8000000000000000), str("d"), void)}},
		},
		{{id: 0}, {id: 1}, {id: 2}, {id: 3}}, // key group 1: nothing
		{{id: 1, entries: [][]byte{cat(void, str("h"), be32(1), be64(9))}}, {id: 0}, {id: 2}, {id: 3}},
		{{id: 2, entries: [][]byte{cat(void, str("g"), be32(1), str("k"), []byte{0}, be64(1))}}, {id: 0}, {id: 1}, {id: 3}},
	}
}

// synthWant is what a canonical savepoint of synthGroups holds: composite
// keys with length suffixes where key and namespace are both strings,
// lists joined by ',', one entry per map key with its null flag.
func synthWant() []string {
	void := []byte{0}
	e := func(st string, kg int, key, val []byte) string { return fmt.Sprintf("%s %d %x %x", st, kg, key, val) }
	out := []string{
		e("v", 0, cat(str("d"), []byte{byte(len(str("d")))}, str("w1"), []byte{byte(len(str("w1")))}), be64(5)),
		e("l", 0, cat(str("d"), void), cat(be64(1), []byte(","), be64(2), []byte(","), be64(3))),
		e("m", 0, cat(str("d"), void, str("x")), cat([]byte{0}, be64(7))),
		e("m", 0, cat(str("d"), void, str("y")), []byte{1}),
		e("_timer_state/event_t", 0, cat(be64(100^-0x8000000000000000), str("d"), void), nil),
		e("l", 2, cat(str("h"), void), be64(9)),
		e("m", 3, cat(str("g"), void, str("k")), cat([]byte{0}, be64(1))),
	}
	sort.Strings(out)
	return out
}

func TestHeapToUnifiedEveryStateKind(t *testing.T) {
	for _, tc := range []struct {
		name       string
		compressed bool
		opt        Compression
		wantFlag   bool
	}{
		{"plain", false, CompressionKeep, false},
		{"snappy source", true, CompressionKeep, true},
		{"compress", false, CompressionSnappy, true},
		{"decompress", true, CompressionNone, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			hd := synthHeader(tc.compressed)
			data, offsets := heapStream(t, hd, synthGroups())
			writeSnapshot(t, filepath.Join(dir, "src"), 4, data, offsets)
			out := filepath.Join(dir, "out")
			res, err := ToCanonical(context.Background(), filepath.Join(dir, "src"), out, CanonicalOptions{Tmp: dir, Compression: tc.opt})
			if err != nil {
				t.Fatal(err)
			}
			if res.FromHeap != 1 || res.Entries != 7 {
				t.Errorf("FromHeap %d, Entries %d; want 1, 7", res.FromHeap, res.Entries)
			}
			checkRelocatable(t, out)
			m := loadMeta(t, out)
			kh := m.Operators[0].Subtasks[0].ManagedKeyedState.(*format.KeyGroupsHandle)
			if kh.Offsets[1] != 0 || kh.Offsets[0] == 0 || kh.Offsets[2] == 0 || kh.Offsets[3] == 0 {
				t.Errorf("offsets %v: want 0 exactly for the empty key group 1", kh.Offsets)
			}
			b := streamBytes(t, out, kh.Delegate)
			ks, err := state.OpenKeyed(bytes.NewReader(b), int64(len(b)), state.KeyGroupsOf(kh), state.KeyedOptions{Name: "out", MaxParallelism: 4})
			if err != nil {
				t.Fatal(err)
			}
			if ks.Header.Compressed != tc.wantFlag || (b[4] == 1) != tc.wantFlag {
				t.Errorf("compressed %v (byte %d), want %v", ks.Header.Compressed, b[4], tc.wantFlag)
			}
			if want, _ := synthHeader(tc.wantFlag).Append(nil); !bytes.Equal(ks.Header.Raw, want) {
				t.Errorf("header differs from the source's (compression flag aside)")
			}
			var got []string
			it := ks.Iter()
			for it.Next() {
				e := it.Entry()
				got = append(got, fmt.Sprintf("%s %d %x %x", ks.Header.States[e.State].Name, e.KeyGroup, e.Composite, e.Value))
			}
			if err := it.Err(); err != nil {
				t.Fatal(err)
			}
			sort.Strings(got)
			if want := synthWant(); strings.Join(got, "\n") != strings.Join(want, "\n") {
				t.Errorf("entries:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
			}
		})
	}
}

// TestHeapCorruptFailsCleanly: a list whose count promises more elements
// than it holds fails naming the file and key group, and leaves neither files in
// the destination nor scratch directories.
func TestHeapCorruptFailsCleanly(t *testing.T) {
	dir := t.TempDir()
	groups := synthGroups()
	groups[2][0].entries[0] = cat([]byte{0}, str("h"), be32(2), be64(9)) // 2 elements, 1 present
	data, offsets := heapStream(t, synthHeader(false), groups)
	writeSnapshot(t, filepath.Join(dir, "src"), 4, data, offsets)
	out, tmp := filepath.Join(dir, "out"), filepath.Join(dir, "tmp")
	os.Mkdir(tmp, 0o755)
	_, err := ToCanonical(context.Background(), filepath.Join(dir, "src"), out, CanonicalOptions{Tmp: tmp})
	if err == nil || !strings.Contains(err.Error(), "key group 2") || !strings.Contains(err.Error(), "src/state") {
		t.Fatalf("err = %v, want one naming the file and key group 2", err)
	}
	assertNothingLeft(t, out, tmp)
}

// TestHeapUnknownSerializer: a state whose serializer fsnap does not know
// fails naming the serializer class (Avro, known but not measurable, is
// covered by the corpus test).
func TestHeapUnknownSerializer(t *testing.T) {
	dir := t.TempDir()
	kryo := state.SimpleSnapshot("org.apache.flink.api.java.typeutils.runtime.kryo.KryoSerializerSnapshot")
	hd := state.NewKeyedHeader(false, state.SimpleSnapshot(state.LongSnapshotClass),
		state.KeyValueStateMeta("k", "VALUE", state.SimpleSnapshot(state.VoidNamespaceSnapshotClass), kryo))
	data, offsets := heapStream(t, hd, [][]heapRun{{{id: 0, entries: [][]byte{cat([]byte{0}, be64(1), []byte{1, 2, 3})}}}})
	writeSnapshot(t, filepath.Join(dir, "src"), 4, data, offsets)
	_, err := ToCanonical(context.Background(), filepath.Join(dir, "src"), filepath.Join(dir, "out"), CanonicalOptions{Tmp: dir})
	if err == nil || !strings.Contains(err.Error(), "KryoSerializer") {
		t.Fatalf("err = %v, want one naming the Kryo serializer", err)
	}
}
