package snapshot

import (
	"bytes"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/fsnap/fsnap/format"
	"github.com/fsnap/fsnap/internal/corpus"
)

func load(t *testing.T, e corpus.Entry) *Snapshot {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(e.Dir, format.MetadataFileName))
	if err != nil {
		t.Fatal(err)
	}
	s, err := Parse(e.Dir, b)
	if err != nil {
		t.Fatalf("%s: %v", e.Name, err)
	}
	return s
}

func isCheckpointKind(k Kind) bool {
	switch k {
	case AlignedCheckpoint, UnalignedCheckpoint, IncrementalCheckpoint, ChangelogCheckpoint:
		return true
	}
	return false
}

func TestCorpusKinds(t *testing.T) {
	for _, e := range corpus.Require(t) {
		s := load(t, e)
		want := Kind(e.Kind)
		if strings.HasPrefix(e.Name, "kafka__") {
			// The manifest says canonical, but these were taken with a NATIVE
			// stop-with-savepoint (ground truth §7) and the trailer says so.
			want = NativeSavepoint
		}
		switch {
		case e.Kind == "unknown":
			// nothing to compare with
		case e.MetadataVersion >= 4 && s.Kind.Source != "properties" && !strings.Contains(e.Name, "table-state"):
			t.Errorf("%s: version %d kind taken from %s, want from the properties", e.Name, e.MetadataVersion, s.Kind.Source)
		case want == AlignedCheckpoint && s.Kind.Source == "properties":
			if !isCheckpointKind(s.Kind.Kind) {
				t.Errorf("%s: kind %s, want a checkpoint kind", e.Name, s.Kind.Kind)
			}
		case !s.Kind.Matches(want):
			t.Errorf("%s: kind %s (alternatives %v, %s), want %s", e.Name, s.Kind.Kind, s.Kind.Alternatives, s.Kind.Source, want)
		}
		if e.MetadataVersion <= 3 && s.Kind.Source != "inferred" {
			t.Errorf("%s: version %d kind source %q, want inferred", e.Name, e.MetadataVersion, s.Kind.Source)
		}
		// The "1.12" of this name is the format it tests; it holds type-7
		// handles, which Flink 1.12 did not write (a 1.13 development build did).
		if e.Flink != "unknown" && e.Name != "legacy-raw-state-heap-timers-rocks-db-1.12" {
			r, err := ParseRelease(e.Flink)
			if err != nil {
				t.Fatal(err)
			}
			if r.Less(s.Flink.Min) || (!s.Flink.Open && s.Flink.Max.Less(r)) {
				t.Errorf("%s: written by %s, inferred range %s (%v)", e.Name, r, s.Flink, s.Flink.Evidence)
			}
		}
	}
}

// Particular kinds the corpus holds beyond the manifest's three.
func TestCorpusCheckpointSubkinds(t *testing.T) {
	for name, want := range map[string]Kind{
		"new-stateful-udf-migration-itcase-flink1.17-rocksdb-checkpoint": UnalignedCheckpoint,
		"new-stateful-udf-migration-itcase-flink1.17-hashmap-checkpoint": ChangelogCheckpoint,
		"new-stateful-udf-migration-itcase-flink2.3-rocksdb-checkpoint":  AlignedCheckpoint,
		"new-stateful-udf-migration-itcase-flink1.15-hashmap-checkpoint": AlignedCheckpoint,
	} {
		s := load(t, corpus.Find(t, name))
		if s.Kind.Kind != want {
			t.Errorf("%s: kind %s, want %s", name, s.Kind.Kind, want)
		}
	}
}

func TestCorpusRelativeFilesExistWithRecordedSize(t *testing.T) {
	checked := 0
	for _, e := range corpus.Require(t) {
		s := load(t, e)
		for _, f := range s.Files {
			switch f.Scope {
			case ScopeExclusive:
				if f.Unsafe != nil {
					t.Errorf("%s: unsafe relative path: %v", e.Name, f.Unsafe)
					continue
				}
				fi, err := os.Stat(f.Path)
				if err != nil {
					t.Errorf("%s: %v", e.Name, err)
					continue
				}
				if fi.Size() != f.Size {
					t.Errorf("%s: %s has %d bytes, handle says %d", e.Name, f.Relative, fi.Size(), f.Size)
				}
				checked++
			case ScopeInline:
			default:
				// Every corpus snapshot is self-contained (layout.md §5); the
				// file:/tmp/junit… names in the 1.12 legacy savepoint are names
				// of inline handles, not paths.
				t.Errorf("%s: %s file %s", e.Name, f.Scope, f.Path)
			}
		}
	}
	if checked < 1000 {
		t.Errorf("checked %d relative files; the corpus has thousands", checked)
	}
}

// expectOp is an operator the ground truth names by uid.
type expectOp struct {
	uid                 string
	parallelism, maxPar int32
	slot                string // the slot its state is in: managed-keyed or managed-operator
}

func TestCorpusFamiliesMatchGroundTruth(t *testing.T) {
	udf := []expectOp{
		{"CheckpointingSource1", 1, 4, "managed-operator"},
		{"CheckpointingSource2", 1, 4, "managed-operator"},
		{"CheckpointingKeyedStateFlatMap1", 4, 4, "managed-keyed"},
		{"CheckpointingKeyedStateFlatMap2", 4, 4, "managed-keyed"},
		{"CheckpointingTimelyStatefulOperator1", 4, 4, "managed-keyed"},
		{"CheckpointingTimelyStatefulOperator2", 4, 4, "managed-keyed"},
	}
	broadcast := []expectOp{
		{"CheckpointingSource1", 1, 4, "managed-operator"},
		{"CheckpointingSource2", 1, 4, "managed-operator"},
		{"BrCheckpointingSource1", 1, 4, "managed-operator"},
		{"BrCheckpointingSource2", 1, 4, "managed-operator"},
		{"BrProcess1", 4, 4, "managed-operator"},
		{"BrProcess2", 4, 4, "managed-operator"},
	}
	families := []struct {
		prefix    string
		operators int // total, with the ones that have no uid
		ops       []expectOp
	}{
		{"new-stateful-udf-migration-itcase-", 8, udf},
		{"new-stateful-broadcast-udf-migration-itcase-", 8, broadcast},
		{"operatorstate__complexKeyed-", 0, []expectOp{
			{"window", 4, 128, "managed-keyed"}, {"first", 4, 128, "managed-operator"}, {"second", 4, 128, "managed-operator"}}},
		{"operatorstate__nonKeyed-", 0, []expectOp{
			{"first", 4, 128, "managed-operator"}, {"second", 4, 128, "managed-operator"}, {"third", 4, 128, "managed-operator"}}},
		{"kafka__kafka-source-savepoint__", 2, []expectOp{{"kafka-source-operator-uid", 3, 128, "managed-operator"}}},
		{"flink-libraries__flink-state-processing-api__table-state-nulls", 0, []expectOp{{"keyed-state-process-uid-null", 1, 128, "managed-keyed"}}},
		{"flink-libraries__flink-state-processing-api__table-state-avro", 0, []expectOp{{"keyed-state-process-uid", 2, 128, "managed-keyed"}}},
		{"flink-end-to-end-tests__flink-state-evolution-test__", 2, []expectOp{{"my-map", 1, 128, "managed-keyed"}}},
		{"unified-sink-migration-test__", 4, []expectOp{{"1c4ec0f9-2d96-46e9-99ea-45e8c3df5202", 1, 128, "managed-operator"}}},
	}
	for _, fam := range families {
		n := 0
		for _, e := range corpus.Require(t) {
			if !strings.HasPrefix(e.Name, fam.prefix) {
				continue
			}
			n++
			s := load(t, e)
			if fam.operators > 0 && len(s.Operators) != fam.operators {
				t.Errorf("%s: %d operators, want %d", e.Name, len(s.Operators), fam.operators)
			}
			for _, want := range fam.ops {
				checkOperator(t, e, s, want)
			}
		}
		if n == 0 {
			t.Errorf("no corpus snapshot for family %s", fam.prefix)
		}
	}
}

func checkOperator(t *testing.T, e corpus.Entry, s *Snapshot, want expectOp) {
	t.Helper()
	id := format.OperatorIDFromUID(want.uid)
	i := slices.IndexFunc(s.Operators, func(o Operator) bool { return o.State.ID == id })
	if i < 0 {
		t.Errorf("%s: no operator with id %s = murmur3(%q)", e.Name, id, want.uid)
		return
	}
	op := s.Operators[i]
	if e.MetadataVersion >= 5 && op.UID != want.uid {
		t.Errorf("%s: operator %s stores uid %q, want %q", e.Name, id, op.UID, want.uid)
	}
	if op.State.Parallelism != want.parallelism || op.State.MaxParallelism != want.maxPar {
		t.Errorf("%s: %s has parallelism %d/%d, want %d/%d", e.Name, want.uid,
			op.State.Parallelism, op.State.MaxParallelism, want.parallelism, want.maxPar)
	}
	var slotBytes int64
	switch want.slot {
	case "managed-keyed":
		slotBytes = op.Bytes.ManagedKeyed
		if wantType := keyedTypeFor(e); wantType != 0 {
			for _, st := range op.State.Subtasks {
				if st.ManagedKeyedState != nil && st.ManagedKeyedState.KeyedType() != wantType {
					t.Errorf("%s: %s subtask %d keyed handle %v, want %v", e.Name, want.uid, st.Index, st.ManagedKeyedState.KeyedType(), wantType)
				}
			}
		}
	case "managed-operator":
		slotBytes = op.Bytes.ManagedOperator
	}
	if slotBytes == 0 {
		t.Errorf("%s: %s has no %s state", e.Name, want.uid, want.slot)
	}
}

// keyedTypeFor is the keyed handle type the ground truth implies for a
// migration-test snapshot (keyed-state.md §1, layout.md §4); 0 when not
// pinned down.
func keyedTypeFor(e corpus.Entry) format.KeyedHandleType {
	if !strings.HasPrefix(e.Name, "new-stateful-udf-") || e.Flink == "unknown" {
		return 0
	}
	r, _ := ParseRelease(e.Flink)
	native := e.Kind != "canonical-savepoint"
	switch {
	case !native && r.Less(Release{1, 13}):
		return format.KeyGroupsHandleV1
	case !native:
		return format.SavepointKeyGroupsHandle
	case e.Name == "new-stateful-udf-migration-itcase-flink1.17-hashmap-checkpoint":
		return format.ChangelogHandleV2
	case r == Release{1, 15} && e.Backend == "rocksdb" && e.Kind == "native-savepoint":
		return format.SavepointKeyGroupsHandle
	case r == Release{1, 15} || e.Backend == "hashmap":
		return format.KeyGroupsHandleV2
	}
	return format.IncrementalHandleV2
}

// TestRefsMatchUsers: on every corpus snapshot, each file's handle count
// and first user (kept while building) agree with the users Users lists by
// its own walk, and the counts add up to the stream handles walked.
func TestRefsMatchUsers(t *testing.T) {
	for _, e := range corpus.Require(t) {
		s := load(t, e)
		streams, refs := 0, 0
		for n := range s.Metadata.Walk() {
			if n.Stream != nil {
				if _, empty := (*n.Stream).(*format.EmptySegmentFileHandle); !empty {
					streams++
				}
			}
		}
		for _, f := range s.Files {
			us := s.Users(f)
			refs += f.Refs
			if len(us) != f.Refs || (f.Refs > 0 && us[0] != f.First) {
				t.Errorf("%s: %s%s: %d refs, first %+v; Users lists %d", e.Name, f.Path, f.InlineName, f.Refs, f.First, len(us))
			}
		}
		if refs != streams {
			t.Errorf("%s: %d refs over the files, %d stream handles walked", e.Name, refs, streams)
		}
	}
}

// TestCorpusPipelinedParse holds the model ParsePipelined builds while
// parsing to the one built after: the same for every corpus file,
// handed over one operator at a time, also when the bytes are released
// (overwritten here) after the parse, and the same errors for truncated
// bytes.
func TestCorpusPipelinedParse(t *testing.T) {
	defer func(m, b int) { pipelineMin, pipelineBatch = m, b }(pipelineMin, pipelineBatch)
	pipelineMin, pipelineBatch = 0, 1
	for _, e := range corpus.Require(t) {
		b, err := os.ReadFile(filepath.Join(e.Dir, format.MetadataFileName))
		if err != nil {
			t.Fatal(err)
		}
		m, err := format.ParseMetadata(b)
		if err != nil {
			t.Fatalf("%s: %v", e.Name, err)
		}
		want := FromMetadata(e.Dir, int64(len(b)), m)
		got, err := ParsePipelined(e.Dir, b, nil)
		if err != nil {
			t.Fatalf("%s: %v", e.Name, err)
		}
		if !reflect.DeepEqual(got, want) {
			t.Errorf("%s: the pipelined model differs", e.Name)
		}
		if got, err = parseReleasing(t, e.Dir, b); err != nil || !reflect.DeepEqual(got, want) {
			t.Errorf("%s: the model parsed to be released differs (%v)", e.Name, err)
		}
		if len(got.Operators) == 0 || len(got.Files) == 0 {
			continue
		}
		short := b[:len(b)*2/3]
		_, werr := format.ParseMetadata(short)
		if _, err := ParsePipelined(e.Dir, short, nil); err == nil || werr == nil || err.Error() != werr.Error() {
			t.Errorf("%s truncated: pipelined error %v, want %v", e.Name, err, werr)
		}
	}
}

// parseReleasing is ParsePipelined with release, on a copy of b that is
// overwritten as it is released and wholly once parsed: the model must not
// see it.
func parseReleasing(t *testing.T, dir string, b []byte) (*Snapshot, error) {
	c := bytes.Clone(b)
	done := 0
	s, err := ParsePipelined(dir, c, func(n int) {
		if n < done || n > len(c) {
			t.Fatalf("released %d bytes after %d, of %d", n, done, len(c))
		}
		done = n
		clear(c[:n])
	})
	for i := range c {
		c[i] = 0xEE
	}
	return s, err
}

// TestParseLargeCopies: Parse of a file of copyMin bytes or more (a corpus
// RocksDB checkpoint's operators repeated) copies its strings: with no
// inline state here, the model is the same after the bytes are
// overwritten, with one handle per repeated file.
func TestParseLargeCopies(t *testing.T) {
	e := corpus.Find(t, "new-stateful-udf-migration-itcase-flink2.3-rocksdb-checkpoint")
	orig, err := os.ReadFile(filepath.Join(e.Dir, format.MetadataFileName))
	if err != nil {
		t.Fatal(err)
	}
	m, err := format.ParseMetadata(orig)
	if err != nil {
		t.Fatal(err)
	}
	ops := m.Operators
	for i := range 2*copyMin/len(orig) + 1 {
		for _, op := range ops {
			op.ID[0], op.ID[1] = byte(i), byte(i>>8)
			m.Operators = append(m.Operators, op)
		}
	}
	b, err := format.AppendMetadata(nil, m)
	if err != nil {
		t.Fatal(err)
	}
	if len(b) < copyMin {
		t.Fatalf("made %d bytes, want at least %d", len(b), copyMin)
	}
	want, err := Parse(e.Dir, bytes.Clone(b))
	if err != nil {
		t.Fatal(err)
	}
	got, err := Parse(e.Dir, b)
	if err != nil {
		t.Fatal(err)
	}
	clear(b)
	if !reflect.DeepEqual(got, want) {
		t.Error("the model changed with the bytes it was parsed from")
	}
	handles := map[*format.RelativeFileHandle]bool{}
	for n := range got.Metadata.Walk() {
		if n.Stream == nil {
			continue
		}
		if h, ok := (*n.Stream).(*format.RelativeFileHandle); ok {
			handles[h] = true
		}
	}
	if files := got.Totals().Files; len(handles) == 0 || len(handles) > files {
		t.Errorf("%d relative file handles for %d files, want one each", len(handles), files)
	}
}
