package migrate

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/fsnap/fsnap/format"
	"github.com/fsnap/fsnap/format/state"
	"github.com/fsnap/fsnap/internal/corpus"
	"github.com/fsnap/fsnap/internal/rocks"
	"github.com/fsnap/fsnap/snapshot/source"
	"github.com/fsnap/fsnap/store"
	"github.com/fsnap/fsnap/verify"
)

// keyedEntry is one entry of a keyed stream, as compared between Flink's
// canonical savepoint and a converted snapshot.
type keyedEntry struct {
	op, state string
	kg        int32
	key       string // composite key after the prefix (timers: the element)
	value     string
}

func (e keyedEntry) String() string {
	return fmt.Sprintf("%s %s kg %d key %x value %x", e.op, e.state, e.kg, e.key, e.value)
}

// keyedView is what a snapshot's keyed state holds.
type keyedView struct {
	headers map[string][]byte // "op/subtask" → header bytes
	counts  map[string]int    // "op/subtask" → entries
	entries []keyedEntry
	streams int
}

func loadMeta(t testing.TB, dir string) *format.Metadata {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(dir, "_metadata"))
	if err != nil {
		t.Fatal(err)
	}
	m, err := format.ParseMetadata(b)
	if err != nil {
		t.Fatalf("%s: %v", dir, err)
	}
	return m
}

func streamBytes(t testing.TB, dir string, h format.StreamHandle) []byte {
	t.Helper()
	switch h := h.(type) {
	case *format.ByteStreamHandle:
		return h.Data
	case *format.RelativeFileHandle:
		b, err := os.ReadFile(filepath.Join(dir, h.RelativePath))
		if err != nil {
			t.Fatal(err)
		}
		if int64(len(b)) != h.Size {
			t.Errorf("%s: %d bytes, handle says %d", h.RelativePath, len(b), h.Size)
		}
		return b
	}
	t.Fatalf("%s: stream handle %T is neither inline nor relative", dir, h)
	return nil
}

// readKeyed walks every managed keyed stream of a snapshot whose keyed
// state is in Flink streams (unified or heap layout) to its end.
func readKeyed(t testing.TB, dir string) *keyedView {
	t.Helper()
	m := loadMeta(t, dir)
	v := &keyedView{headers: map[string][]byte{}, counts: map[string]int{}}
	for _, op := range m.Operators {
		for _, st := range op.Subtasks {
			if st.ManagedKeyedState == nil {
				continue
			}
			h, ok := st.ManagedKeyedState.(*format.KeyGroupsHandle)
			if !ok {
				t.Fatalf("%s: operator %s subtask %d: keyed handle %T", dir, op.ID, st.Index, st.ManagedKeyedState)
			}
			b := streamBytes(t, dir, h.Delegate)
			ks, err := state.OpenKeyed(bytes.NewReader(b), int64(len(b)), state.KeyGroupsOf(h),
				state.KeyedOptions{Name: dir, MaxParallelism: op.MaxParallelism})
			if err != nil {
				t.Fatal(err)
			}
			v.streams++
			where := fmt.Sprintf("%s/%d", op.ID, st.Index)
			v.headers[where] = ks.Header.Raw
			it := ks.Iter()
			for it.Next() {
				v.counts[where]++
				e := it.Entry()
				key := e.Composite
				if key == nil { // heap layout
					key = append(append([]byte{}, e.Key...), e.Namespace...)
				}
				v.entries = append(v.entries, keyedEntry{op: op.ID.String(), state: ks.Header.States[e.State].Name,
					kg: e.KeyGroup, key: string(key), value: string(e.Value)})
			}
			if err := it.Err(); err != nil {
				t.Fatal(err)
			}
		}
	}
	return v
}

// sortEntries orders entries; processing-time timers lose their timestamp
// (the 8 bytes before key and namespace), which differs between runs.
func sortEntries(es []keyedEntry) []keyedEntry {
	out := make([]keyedEntry, len(es))
	for i, e := range es {
		if strings.HasPrefix(e.state, "_timer_state/processing_") && len(e.key) >= 8 {
			e.key = "<time>" + e.key[8:]
		}
		out[i] = e
	}
	sort.Slice(out, func(i, j int) bool { return out[i].String() < out[j].String() })
	return out
}

// checkRelocatable checks what fsnap verify --deep checks of a converted
// savepoint: every stream handle is inline or a relative file of the
// directory with the recorded size, keyed streams are unified with decoding
// headers and walk to their end, operator streams walk to their end.
func checkRelocatable(t *testing.T, dir string) {
	t.Helper()
	// fsnap verify --deep --require relocatable passes.
	snap, ref, err := source.Load(context.Background(), dir)
	if err != nil {
		t.Fatal(err)
	}
	rep, err := verify.Check(context.Background(), snap, ref, verify.Options{Level: verify.LevelDeep, RequireRelocatable: true})
	ref.Close()
	if err != nil {
		t.Fatal(err)
	}
	if rep.Fails(verify.Warning) {
		for _, f := range rep.Findings {
			t.Errorf("verify --deep: %+v", f)
		}
	}
	m := loadMeta(t, dir)
	if m.Version >= 4 {
		p := m.Properties
		if p == nil || !p.Type.Savepoint || p.Type.FormatType != "CANONICAL" {
			t.Errorf("%s: properties %+v, want a CANONICAL savepoint", dir, p)
		}
	}
	for _, op := range m.Operators {
		for _, st := range op.Subtasks {
			if h := st.ManagedKeyedState; h != nil {
				kh, ok := h.(*format.KeyGroupsHandle)
				if !ok || kh.Type != format.SavepointKeyGroupsHandle {
					t.Errorf("%s: operator %s subtask %d: managed keyed handle %v, want SAVEPOINT_KEY_GROUPS", dir, op.ID, st.Index, h.KeyedType())
					continue
				}
				b := streamBytes(t, dir, kh.Delegate)
				ks, err := state.OpenKeyed(bytes.NewReader(b), int64(len(b)), state.KeyGroupsOf(kh), state.KeyedOptions{Name: dir, MaxParallelism: op.MaxParallelism})
				if err != nil {
					t.Fatal(err)
				}
				if ks.Layout != state.LayoutUnified {
					t.Errorf("%s: operator %s subtask %d: layout %v", dir, op.ID, st.Index, ks.Layout)
				}
				it := ks.Iter()
				for it.Next() {
				}
				if err := it.Err(); err != nil {
					t.Error(err)
				}
			}
			for _, oh := range []*format.OperatorStateHandle{st.ManagedOperatorState, st.RawOperatorState} {
				if oh == nil {
					continue
				}
				b := streamBytes(t, dir, oh.Delegate)
				os, err := state.OpenOperator(bytes.NewReader(b), int64(len(b)), oh.States, dir)
				if err != nil {
					t.Fatal(err)
				}
				it := os.Iter()
				for it.Next() {
				}
				if err := it.Err(); err != nil {
					t.Error(err)
				}
			}
			if kh, ok := st.RawKeyedState.(*format.KeyGroupsHandle); ok {
				streamBytes(t, dir, kh.Delegate)
			}
		}
	}
}

// triples lists, per family, version and backend, Flink's canonical
// savepoint and the native savepoint and checkpoint beside it.
func triples(t *testing.T) (out [][3]corpus.Entry) {
	byName := map[string]corpus.Entry{}
	for _, e := range corpus.Require(t) {
		byName[e.Name] = e
	}
	for name, e := range byName {
		base, ok := strings.CutSuffix(name, "-savepoint")
		if !ok || e.Flink == "unknown" || (strings.HasPrefix(e.Flink, "1.") && e.Flink < "1.15" && len(e.Flink) == 4) {
			continue
		}
		n, ok1 := byName[base+"-savepoint-native"]
		c, ok2 := byName[base+"-checkpoint"]
		if ok1 && ok2 {
			out = append(out, [3]corpus.Entry{e, n, c})
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i][0].Name < out[j][0].Name })
	return out
}

// TestCorpusTriples converts, for every Flink version 1.15-2.3 of the
// corpus, the native savepoint and the checkpoint of the RocksDB and heap
// backends, and compares them with Flink's own canonical savepoint of the
// same job: per operator and subtask the same header bytes, and the same
// (operator, state, key group, key, namespace, value) entries; for
// processing-time timers (wall-clock timestamps of different runs) the
// same count, key group, key and namespace.
func TestCorpusTriples(t *testing.T) {
	ts := triples(t)
	if len(ts) != 36 {
		t.Fatalf("%d triples, want 36 (families 1, 2 and 4 of corpus-ground-truth.md, 1.15-2.3, two backends)", len(ts))
	}
	converted, rocksInstances, heapStreams := 0, 0, 0
	for _, tr := range ts {
		want := readKeyed(t, tr[0].Dir)
		wantSorted := sortEntries(want.entries)
		for _, src := range tr[1:] {
			t.Run(src.Name, func(t *testing.T) {
				out := filepath.Join(t.TempDir(), "out")
				// The unaligned checkpoint's channel state is left out (see
				// TestToCanonicalChannelState); keyed state is compared.
				res, err := ToCanonical(context.Background(), src.Dir, out, CanonicalOptions{Tmp: t.TempDir(), Parallel: 2, DropChannelState: true})
				if strings.Contains(src.Name, "flink1.17-hashmap-checkpoint") {
					// The changelog backend was on for this one: its state is
					// changelog changes without a materialized base.
					if err == nil || !strings.Contains(err.Error(), "changelog") {
						t.Fatalf("err = %v, want the changelog limitation", err)
					}
					if ents, _ := os.ReadDir(out); len(ents) != 0 {
						t.Errorf("failed conversion left %d files", len(ents))
					}
					return
				}
				if !rocks.Available && errors.Is(err, rocks.ErrUnavailable) {
					t.Skip(err) // a build without RocksDB converts heap snapshots only
				}
				if err != nil {
					t.Fatal(err)
				}
				converted++
				rocksInstances += res.FromRocksDB
				heapStreams += res.FromHeap
				checkRelocatable(t, out)
				got := readKeyed(t, out)
				srcHeaders := sourceHeaders(t, src.Dir)
				for k, h := range want.headers {
					g, ok := got.headers[k]
					if !ok {
						// Flink 1.16 writes no handle for an empty RocksDB
						// instance; its canonical savepoint has a header
						// and no entries. Both restore to nothing.
						if _, inSrc := srcHeaders[k]; inSrc || want.counts[k] != 0 {
							t.Errorf("operator/subtask %s: no keyed stream; Flink's canonical savepoint has %d entries", k, want.counts[k])
						}
						continue
					}
					// Byte 4 is the compression flag: it follows the
					// source (the runs that wrote the three snapshots of a
					// version did not all compress).
					if len(g) != len(h) || len(g) < 5 || !bytes.Equal(g[:4], h[:4]) || !bytes.Equal(g[5:], h[5:]) {
						t.Errorf("operator/subtask %s: header differs from Flink's canonical savepoint (%d vs %d bytes)", k, len(g), len(h))
					}
					if g[4] != srcHeaders[k][4] {
						t.Errorf("operator/subtask %s: compression flag %d, the source's is %d", k, g[4], srcHeaders[k][4])
					}
				}
				for k := range got.headers {
					if _, ok := want.headers[k]; !ok {
						t.Errorf("operator/subtask %s: keyed stream that Flink's canonical savepoint does not have", k)
					}
				}
				gotSorted := sortEntries(got.entries)
				if len(gotSorted) != len(wantSorted) {
					t.Errorf("%d entries, Flink's canonical savepoint has %d", len(gotSorted), len(wantSorted))
				}
				for i := 0; i < len(gotSorted) && i < len(wantSorted); i++ {
					if gotSorted[i] != wantSorted[i] {
						t.Errorf("entry %d: got %v\nwant %v", i, gotSorted[i], wantSorted[i])
						break
					}
				}
				if strings.Contains(src.Name, "-rocksdb-") {
					// Flink's RocksDB full snapshot writes key groups in
					// order, states by id, keys in RocksDB order: so do we.
					seq := func(es []keyedEntry) string {
						var b strings.Builder
						for _, e := range es {
							fmt.Fprintf(&b, "%s/%s/%d ", e.op, e.state, e.kg)
						}
						return b.String()
					}
					if seq(got.entries) != seq(want.entries) {
						t.Errorf("entries in another order than Flink's canonical savepoint")
					}
				}
				if res.Entries != int64(len(got.entries)) {
					t.Errorf("result counts %d entries, streams hold %d", res.Entries, len(got.entries))
				}
				checkCarried(t, src.Dir, out)
				// The properties trailer is the one Flink wrote for its
				// canonical savepoint, byte for byte, unless the savepoints
				// of the two runs differ in the forced flag, which the
				// conversion keeps (a checkpoint has none: forced).
				if wp := loadMeta(t, tr[0].Dir).Properties; wp != nil {
					gp := loadMeta(t, out).Properties
					sp := loadMeta(t, src.Dir).Properties
					switch {
					case gp == nil:
						t.Errorf("no properties")
					case sp.Type.Savepoint && gp.Forced != sp.Forced:
						t.Errorf("forced %v, the source's is %v", gp.Forced, sp.Forced)
					case sp.Type.Savepoint && sp.Forced == wp.Forced && !bytes.Equal(gp.Raw, wp.Raw):
						t.Errorf("properties trailer differs from Flink's canonical savepoint")
					case gp.Type != wp.Type || gp.DiscardSubsumed || gp.DiscardFinished || gp.DiscardCancelled || gp.DiscardFailed || gp.DiscardSuspended || gp.Unclaimed:
						t.Errorf("properties %+v, Flink's canonical savepoint has %+v", gp, wp)
					}
				}
			})
		}
	}
	t.Logf("%d triples: %d snapshots converted (%d RocksDB instances, %d heap streams)", len(ts), converted, rocksInstances, heapStreams)
	if rocks.Available && rocksInstances == 0 {
		t.Error("no RocksDB instance converted")
	}
}

// sourceHeaders returns the keyed header bytes of a native snapshot: the
// meta state handles of RocksDB instances, the stream headers otherwise.
func sourceHeaders(t *testing.T, dir string) map[string][]byte {
	t.Helper()
	out := map[string][]byte{}
	for _, op := range loadMeta(t, dir).Operators {
		for _, st := range op.Subtasks {
			var b []byte
			switch h := st.ManagedKeyedState.(type) {
			case *format.IncrementalHandle:
				b = streamBytes(t, dir, h.MetaStateHandle)
			case *format.KeyGroupsHandle:
				b = streamBytes(t, dir, h.Delegate)
				hd, err := state.ReadKeyedHeader(b, 0)
				if err != nil {
					t.Fatal(err)
				}
				b = hd.Raw
			default:
				continue
			}
			out[fmt.Sprintf("%s/%d", op.ID, st.Index)] = b
		}
	}
	return out
}

// checkCarried checks that operator state is carried byte for byte.
func checkCarried(t *testing.T, srcDir, outDir string) {
	t.Helper()
	src, out := loadMeta(t, srcDir), loadMeta(t, outDir)
	if len(src.Operators) != len(out.Operators) {
		t.Fatalf("%d operators, source has %d", len(out.Operators), len(src.Operators))
	}
	for i := range src.Operators {
		so, oo := &src.Operators[i], &out.Operators[i]
		if so.ID != oo.ID || len(so.Subtasks) != len(oo.Subtasks) || so.MaxParallelism != oo.MaxParallelism {
			t.Fatalf("operator %d: %s/%d subtasks vs %s/%d", i, oo.ID, len(oo.Subtasks), so.ID, len(so.Subtasks))
		}
		for j := range so.Subtasks {
			ss, os := &so.Subtasks[j], &oo.Subtasks[j]
			for k, p := range [][2]*format.OperatorStateHandle{{ss.ManagedOperatorState, os.ManagedOperatorState}, {ss.RawOperatorState, os.RawOperatorState}} {
				if (p[0] == nil) != (p[1] == nil) {
					t.Errorf("operator %s subtask %d: operator state %d presence differs", so.ID, ss.Index, k)
					continue
				}
				if p[0] == nil {
					continue
				}
				if fmt.Sprint(p[0].States) != fmt.Sprint(p[1].States) || !bytes.Equal(streamBytes(t, srcDir, p[0].Delegate), streamBytes(t, outDir, p[1].Delegate)) {
					t.Errorf("operator %s subtask %d: operator state not carried unchanged", so.ID, ss.Index)
				}
			}
		}
	}
}

// TestCorpusHeapSavepoints converts every canonical savepoint of the
// corpus that Flink wrote in the heap layout (heap backends before 1.13)
// and compares it with Flink 1.13's canonical savepoint of the same job,
// which Flink's own HeapKeyValueStateIterator wrote in the unified layout:
// the same entries (window LIST state and timers among them), processing
// timers compared without their timestamps. The Avro state-evolution
// savepoints convert or fail clearly, leaving nothing behind.
func TestCorpusHeapSavepoints(t *testing.T) {
	byName := map[string]corpus.Entry{}
	for _, e := range corpus.Require(t) {
		byName[e.Name] = e
	}
	compared := 0
	for _, e := range corpus.Require(t) {
		if e.Kind != "canonical-savepoint" || !hasHeapStream(t, e.Dir) {
			continue
		}
		t.Run(e.Name, func(t *testing.T) {
			out := filepath.Join(t.TempDir(), "out")
			res, err := ToCanonical(context.Background(), e.Dir, out, CanonicalOptions{Tmp: t.TempDir(), Parallel: 2})
			if strings.Contains(e.Name, "state-evolution") {
				// Avro state: converted when format/state measures Avro
				// values, else a clear failure that leaves nothing.
				if err == nil {
					checkRelocatable(t, out)
					return
				}
				t.Logf("%v", err)
				if !strings.Contains(err.Error(), "key group") {
					t.Fatalf("err = %v, want one naming the key group", err)
				}
				if ents, _ := os.ReadDir(out); len(ents) != 0 {
					t.Errorf("failed conversion left %d files", len(ents))
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if res.FromHeap == 0 {
				t.Fatal("no heap stream converted")
			}
			checkRelocatable(t, out)
			checkCarried(t, e.Dir, out)
			i := strings.LastIndex(e.Name, "flink1.")
			ref, ok := byName[e.Name[:i]+"flink1.13"+e.Name[i+len(e.Flink)+5:]]
			if !ok {
				if e.Name != "type-serializer-snapshot-migration-itcase-flink1.3-savepoint" {
					t.Fatalf("no 1.13 savepoint of the same job")
				}
				return // the family's 1.13 savepoint is not in the corpus
			}
			want := readKeyed(t, ref.Dir).entries
			if legacy := readKeyed(t, out).headers; legacyTimers(legacy) {
				// Flink ≤ 1.4 kept timers in raw keyed state (carried as
				// they are); 1.13 keeps them as priority-queue states.
				want = withoutTimers(want)
			}
			want = sortEntries(want)
			got := sortEntries(readKeyed(t, out).entries)
			if len(got) != len(want) {
				t.Errorf("%d entries, Flink 1.13's canonical savepoint has %d", len(got), len(want))
			}
			for i := 0; i < len(got) && i < len(want); i++ {
				if got[i] != want[i] {
					t.Errorf("entry %d: got %v\nwant %v (%s)", i, got[i], want[i], ref.Name)
					break
				}
			}
			if strings.HasPrefix(e.Name, "operatorstate__complexKeyed") {
				// Window LIST state "values": key x → [x] for x = 0..9.
				n := 0
				for _, g := range got {
					if g.state == "values" {
						n++
					}
				}
				if n != 10 {
					t.Errorf("%d entries of LIST state values, want 10", n)
				}
			}
			compared++
		})
	}
	if compared != 17 { // 1.3 complexKeyed and nonKeyed, 1.4, 1.6 – 1.12
		t.Errorf("%d heap-layout savepoints compared with 1.13, want 17", compared)
	}
}

// legacyTimers reports whether the headers are Flink ≤ 1.4's, which wrote
// timers into raw keyed state (keyed proxy version 4 or less).
func legacyTimers(headers map[string][]byte) bool {
	for _, h := range headers {
		if len(h) >= 4 && binary.BigEndian.Uint32(h) <= state.KeyedVersionFlink14 {
			return true
		}
	}
	return false
}

func withoutTimers(es []keyedEntry) []keyedEntry {
	var out []keyedEntry
	for _, e := range es {
		if !strings.HasPrefix(e.state, "_timer_state/") {
			out = append(out, e)
		}
	}
	return out
}

func hasHeapStream(t *testing.T, dir string) bool {
	m := loadMeta(t, dir)
	for _, op := range m.Operators {
		for _, st := range op.Subtasks {
			h, ok := st.ManagedKeyedState.(*format.KeyGroupsHandle)
			if !ok || h.Delegate == nil {
				continue
			}
			b := streamBytes(t, dir, h.Delegate)
			ks, err := state.OpenKeyed(bytes.NewReader(b), int64(len(b)), state.KeyGroupsOf(h), state.KeyedOptions{Name: dir, MaxParallelism: op.MaxParallelism})
			if err == nil && ks.Layout == state.LayoutHeap {
				return true
			}
		}
	}
	return false
}

func TestToCanonicalRefusesNonEmptyDestination(t *testing.T) {
	entries := corpus.Require(t)
	var src string
	for _, e := range entries {
		if strings.HasSuffix(e.Name, "flink2.3-hashmap-savepoint-native") && strings.HasPrefix(e.Name, "new-stateful-udf") {
			src = e.Dir
		}
	}
	out := t.TempDir()
	os.WriteFile(filepath.Join(out, "keep"), []byte("x"), 0o644)
	_, err := ToCanonical(context.Background(), src, out, CanonicalOptions{Tmp: t.TempDir()})
	if !errors.Is(err, ErrDestinationNotEmpty) {
		t.Fatalf("err = %v", err)
	}
	if b, _ := os.ReadFile(filepath.Join(out, "keep")); string(b) != "x" {
		t.Error("existing file touched")
	}
}

// TestCompressionOption: Flink's 1.19 canonical savepoint of the RocksDB
// job was taken with snapshot compression on, its native savepoint without.
// Converting with Snappy gives Flink's header bytes exactly, and the same
// entries.
func TestCompressionOption(t *testing.T) {
	const base = "new-stateful-udf-migration-itcase-flink1.19-rocksdb-"
	if !rocks.Available {
		t.Skip(rocks.ErrUnavailable)
	}
	want := readKeyed(t, corpus.Find(t, base+"savepoint").Dir)
	out := filepath.Join(t.TempDir(), "out")
	if _, err := ToCanonical(context.Background(), corpus.Find(t, base+"savepoint-native").Dir, out, CanonicalOptions{Tmp: t.TempDir(), Compression: CompressionSnappy}); err != nil {
		t.Fatal(err)
	}
	got := readKeyed(t, out)
	for k, h := range want.headers {
		if h[4] != 1 || !bytes.Equal(got.headers[k], h) {
			t.Errorf("%s: header differs", k)
		}
	}
	if a, b := sortEntries(got.entries), sortEntries(want.entries); fmt.Sprint(a) != fmt.Sprint(b) {
		t.Errorf("entries differ")
	}
}

// TestCorruptSSTFailsCleanly damages one SST of a native savepoint: the
// conversion fails with RocksDB's checksum error, and neither the
// destination nor the scratch directory keeps anything.
func TestCorruptSSTFailsCleanly(t *testing.T) {
	if !rocks.Available {
		t.Skip(rocks.ErrUnavailable)
	}
	src := corpus.Copy(t, "new-stateful-udf-migration-itcase-flink2.3-rocksdb-savepoint-native")
	damaged := ""
	for _, op := range loadMeta(t, src).Operators {
		for _, st := range op.Subtasks {
			if h, ok := st.ManagedKeyedState.(*format.IncrementalHandle); ok && damaged == "" {
				for _, f := range h.PrivateState {
					if strings.HasSuffix(f.LocalPath, ".sst") {
						damaged = filepath.Join(src, f.Handle.(*format.RelativeFileHandle).RelativePath)
					}
				}
			}
		}
	}
	b, _ := os.ReadFile(damaged)
	for i := 10; i < 30; i++ {
		b[i] ^= 0xFF
	}
	os.WriteFile(damaged, b, 0o644)
	out, tmp := filepath.Join(t.TempDir(), "out"), t.TempDir()
	_, err := ToCanonical(context.Background(), src, out, CanonicalOptions{Tmp: tmp, Parallel: 3})
	if err == nil {
		t.Fatal("no error for a damaged SST")
	}
	t.Logf("error: %v", err)
	assertNothingLeft(t, out, tmp)
}

// TestCancelled: a cancelled conversion stops, removes what it wrote and
// its scratch space.
func TestCancelled(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	var once sync.Once
	// Cancel as soon as the progress feed reports work done.
	tr := Transfers{ProgressEvery: time.Microsecond, Progress: func(p Progress) {
		if p.BytesDone > 0 {
			once.Do(cancel)
		}
	}}
	out, tmp := filepath.Join(t.TempDir(), "out"), t.TempDir()
	_, err := ToCanonical(ctx, corpus.Find(t, "new-stateful-udf-migration-itcase-flink2.3-hashmap-checkpoint").Dir, out, CanonicalOptions{Tmp: tmp, Parallel: 1, Transfers: tr})
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("err = %v, want context.Canceled", err)
	}
	assertNothingLeft(t, out, tmp)
}

// TestRemoteSource converts from an object store (mem://): heap streams
// are read through range readers, RocksDB files downloaded into the scratch
// directory; the result equals the conversion from local files.
func TestRemoteSource(t *testing.T) {
	for _, name := range []string{
		"new-stateful-udf-migration-itcase-flink2.3-rocksdb-checkpoint",
		"new-stateful-udf-migration-itcase-flink2.3-hashmap-savepoint-native",
	} {
		t.Run(name, func(t *testing.T) {
			if strings.Contains(name, "rocksdb") && !rocks.Available {
				t.Skip(rocks.ErrUnavailable)
			}
			ctx := context.Background()
			dir := corpus.Find(t, name).Dir
			url := "mem://canonical-remote/" + name
			l, err := store.Open(ctx, url)
			if err != nil {
				t.Fatal(err)
			}
			ents, _ := os.ReadDir(dir)
			for _, e := range ents {
				b, _ := os.ReadFile(filepath.Join(dir, e.Name()))
				if err := l.Bucket.WriteAll(ctx, l.Prefix+e.Name(), b, nil); err != nil {
					t.Fatal(err)
				}
			}
			remote, local := filepath.Join(t.TempDir(), "remote"), filepath.Join(t.TempDir(), "local")
			if _, err := ToCanonical(ctx, url, remote, CanonicalOptions{Tmp: t.TempDir()}); err != nil {
				t.Fatal(err)
			}
			if _, err := ToCanonical(ctx, dir, local, CanonicalOptions{Tmp: t.TempDir()}); err != nil {
				t.Fatal(err)
			}
			a, b := readKeyed(t, remote), readKeyed(t, local)
			if fmt.Sprint(sortEntries(a.entries)) != fmt.Sprint(sortEntries(b.entries)) || len(a.entries) == 0 {
				t.Errorf("remote and local conversions differ (%d vs %d entries)", len(a.entries), len(b.entries))
			}
			// And into an object store.
			if _, err := ToCanonical(ctx, dir, "mem://canonical-remote-out/"+name, CanonicalOptions{Tmp: t.TempDir()}); err != nil {
				t.Fatal(err)
			}
			o, err := store.Open(ctx, "mem://canonical-remote-out/"+name)
			if err != nil {
				t.Fatal(err)
			}
			mb, err := o.ReadAll(ctx, o.Prefix+"_metadata", 1<<20)
			if err != nil {
				t.Fatal(err)
			}
			if m, err := format.ParseMetadata(mb); err != nil || m.Properties.Type.FormatType != "CANONICAL" {
				t.Errorf("metadata in the store: %v", err)
			}
		})
	}
}

// TestToCanonicalChannelState (issue 20, item 11): converting the unaligned
// 1.17 checkpoint is refused (its in-flight channel state cannot go into a
// savepoint); with DropChannelState it is left out, counted, and the
// result verifies without channel state.
func TestToCanonicalChannelState(t *testing.T) {
	ctx := context.Background()
	src := corpus.Find(t, "new-stateful-udf-migration-itcase-flink1.17-rocksdb-checkpoint").Dir
	dst := filepath.Join(t.TempDir(), "sp")
	if _, err := ToCanonical(ctx, src, dst, CanonicalOptions{}); !errors.Is(err, ErrChannelState) {
		t.Fatalf("want ErrChannelState, got %v", err)
	}
	if ents, _ := os.ReadDir(dst); len(ents) != 0 {
		t.Errorf("refused, yet %d files written", len(ents))
	}
	res, err := ToCanonical(ctx, src, dst, CanonicalOptions{DropChannelState: true})
	if err != nil {
		t.Fatal(err)
	}
	if res.DroppedChannelSubtasks == 0 || res.DroppedChannelBytes == 0 {
		t.Errorf("dropped %d subtasks, %d bytes", res.DroppedChannelSubtasks, res.DroppedChannelBytes)
	}
	s, sr, err := source.Load(ctx, dst)
	if err != nil {
		t.Fatal(err)
	}
	defer sr.Close()
	for _, op := range s.Metadata.Operators {
		for _, st := range op.Subtasks {
			if n, _ := st.ChannelStateSize(); n > 0 {
				t.Errorf("operator %s subtask %d still has channel state", op.ID, st.Index)
			}
		}
	}
	r, err := verify.Check(ctx, s, sr, verify.Options{Level: verify.LevelHeaders})
	if err != nil || r.CodeCounts()[verify.SavepointChannelState] != 0 || r.Counts.Error != 0 {
		t.Errorf("verify: %v, %+v", err, r.Findings)
	}
}

// assertNothingLeft checks that a failed conversion left nothing in its
// destination and scratch directories.
func assertNothingLeft(t *testing.T, out, tmp string) {
	t.Helper()
	if ents, _ := os.ReadDir(out); len(ents) != 0 {
		t.Errorf("destination holds %d files after the failure", len(ents))
	}
	if ents, _ := os.ReadDir(tmp); len(ents) != 0 {
		t.Errorf("scratch holds %d entries after the failure", len(ents))
	}
}

// TestToCanonicalInlineIntoNewFolder: a savepoint whose state is all inline
// converts into a folder that does not exist yet (its _metadata is then the
// only file, and made durable once written).
func TestToCanonicalInlineIntoNewFolder(t *testing.T) {
	src := corpus.Find(t, "new-stateful-udf-migration-itcase-flink1.14-rocksdb-savepoint").Dir
	out := filepath.Join(t.TempDir(), "new", "sp")
	res, err := ToCanonical(context.Background(), src, out, CanonicalOptions{Tmp: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	names, _ := filepath.Glob(filepath.Join(out, "*"))
	if res.FilesWritten != 1 || len(names) != 1 || filepath.Base(names[0]) != format.MetadataFileName {
		t.Errorf("wrote %d files: %v", res.FilesWritten, names)
	}
	if _, err := format.ReadMetadataFile(out); err != nil {
		t.Error(err)
	}
}
