package format

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"sort"
	"strings"
	"testing"

	"github.com/fsnap/fsnap/format/internal/binio"
	"github.com/fsnap/fsnap/format/javaser"
	"github.com/fsnap/fsnap/internal/corpus"
)

// propertiesMarker opens every non-null trailer: stream header, TC_OBJECT,
// TC_CLASSDESC and the class name.
var propertiesMarker = append([]byte{0xAC, 0xED, 0x00, 0x05, javaser.TCObject, javaser.TCClassDesc, 0x00, 0x38},
	classCheckpointProperties...)

// findTrailer locates the trailer of a version 4+ file without parsing the
// operators: the last CheckpointProperties stream, or a final Java null.
func findTrailer(b []byte) (int, bool) {
	if i := bytes.LastIndex(b, propertiesMarker); i >= 0 {
		return i, true
	}
	if bytes.HasSuffix(b, javaNullStream) {
		return len(b) - len(javaNullStream), true
	}
	return 0, false
}

type corpusTrailer struct {
	entry corpus.Entry
	off   int64
	b     []byte
}

func corpusTrailers(t testing.TB) []corpusTrailer {
	t.Helper()
	var out []corpusTrailer
	for _, e := range corpus.Require(t) {
		if e.MetadataVersion < 4 {
			continue
		}
		b, err := os.ReadFile(filepath.Join(e.Dir, MetadataFileName))
		if err != nil {
			t.Fatal(err)
		}
		off, ok := findTrailer(b)
		if !ok {
			t.Fatalf("%s: no CheckpointProperties trailer found", e.Name)
		}
		out = append(out, corpusTrailer{e, int64(off), b[off:]})
	}
	if len(out) == 0 {
		t.Fatal("corpus has no version 4+ _metadata")
	}
	return out
}

// expectedProperties is what the trailer of a corpus snapshot must say. The
// manifest's kind decides, except where the ground truth or the snapshot's
// origin says otherwise.
func expectedProperties(t *testing.T, e corpus.Entry) (want CheckpointProperties, checkForced bool) {
	kind := e.Kind
	switch {
	case strings.HasPrefix(e.Name, "kafka__"):
		// corpus-ground-truth.md §7: the test stopped the job with a NATIVE
		// savepoint (the manifest says canonical); stop = suspend.
		return CheckpointProperties{Forced: true, Type: SnapshotType{Savepoint: true, Name: "Suspend Savepoint",
			FormatType: "NATIVE", PostCheckpointAction: "SUSPEND", SharingFilesStrategy: "NO_SHARING"}}, true
	case strings.HasPrefix(e.Name, "table__"):
		// The table restore tests stop their jobs with a (canonical) savepoint.
		return CheckpointProperties{Forced: true, Type: SnapshotType{Savepoint: true, Name: "Suspend Savepoint",
			FormatType: "CANONICAL", PostCheckpointAction: "SUSPEND", SharingFilesStrategy: "NO_SHARING"}}, true
	case e.Name == "flink-libraries__flink-state-processing-api__table-state-nulls":
		// Written by the State Processor API, which stores no properties.
		return CheckpointProperties{Null: true}, true
	case strings.HasPrefix(e.Name, "flink-libraries__flink-state-processing-api__table-state"):
		kind = "checkpoint" // taken from a retained checkpoint of a running job
	}
	switch kind {
	case "checkpoint":
		// CheckpointProperties.forCheckpoint(NEVER_RETAIN_AFTER_TERMINATION),
		// what the test MiniCluster's triggered checkpoints use.
		return CheckpointProperties{
			DiscardSubsumed: true, DiscardFinished: true, DiscardCancelled: true,
			DiscardFailed: true, DiscardSuspended: true,
			Type: SnapshotType{Name: "Checkpoint", SharingFilesStrategy: "FORWARD_BACKWARD"},
		}, true
	case "canonical-savepoint", "native-savepoint":
		format := "CANONICAL"
		if kind == "native-savepoint" {
			format = "NATIVE"
		}
		// forSavepoint(forced, format): forced depends on the trigger.
		return CheckpointProperties{Type: SnapshotType{Savepoint: true, Name: "Savepoint",
			FormatType: format, PostCheckpointAction: "NONE", SharingFilesStrategy: "NO_SHARING"}}, false
	}
	t.Fatalf("%s: no expectation for kind %q", e.Name, e.Kind)
	return
}

func TestPropertiesCorpus(t *testing.T) {
	kinds := map[string]int{}
	for _, ct := range corpusTrailers(t) {
		e := ct.entry
		p, err := decodePropertiesUncached(ct.b, ct.off)
		if err != nil {
			t.Errorf("%s: %v", e.Name, err)
			continue
		}
		if !bytes.Equal(p.Raw, ct.b) {
			t.Errorf("%s: Raw is not the input", e.Name)
		}
		want, checkForced := expectedProperties(t, e)
		got := *p
		got.Raw = nil
		if !checkForced {
			want.Forced = got.Forced
		}
		if !sameFields(got, want) {
			t.Errorf("%s (%s):\n got %+v\nwant %+v", e.Name, e.Kind, got, want)
		}

		// Encoding from the fields alone gives Flink's bytes back.
		enc, err := appendProperties([]byte("prefix"), &got)
		if err != nil {
			t.Errorf("%s: encode: %v", e.Name, err)
			continue
		}
		if !bytes.Equal(enc[len("prefix"):], ct.b) {
			t.Errorf("%s: encoding the fields differs from the file\n got %x\nwant %x", e.Name, enc[6:], ct.b)
		}
		// And with Raw set, Raw is written verbatim.
		if enc, _ := appendProperties(nil, p); !bytes.Equal(enc, ct.b) {
			t.Errorf("%s: Raw not written verbatim", e.Name)
		}
		switch {
		case p.Null:
			kinds["null"]++
		case p.Type.Savepoint:
			kinds[p.Type.FormatType+" "+p.Type.Name]++
		default:
			kinds[p.Type.Name]++
		}
	}
	t.Logf("trailers by type: %v", kinds)
}

// Every strict prefix of every corpus trailer is an error located inside the
// trailer, never a panic or a success.
func TestPropertiesTruncated(t *testing.T) {
	for _, ct := range corpusTrailers(t) {
		for n := 0; n < len(ct.b); n++ {
			p, err := decodePropertiesUncached(ct.b[:n:n], ct.off)
			if err == nil {
				t.Fatalf("%s: prefix of %d/%d bytes decoded to %+v", ct.entry.Name, n, len(ct.b), p)
			}
			var be *binio.Error
			if !errors.As(err, &be) {
				t.Fatalf("%s: prefix %d: error %T %v is not a *binio.Error", ct.entry.Name, n, err, err)
			}
			if be.Offset < ct.off || be.Offset > ct.off+int64(n) {
				t.Fatalf("%s: prefix %d: offset %d outside [%d, %d]", ct.entry.Name, n, be.Offset, ct.off, ct.off+int64(n))
			}
		}
	}
}

// Every single-byte change of one trailer of each kind decodes or fails
// with an offset error; what decodes re-encodes consistently.
func TestPropertiesCorrupted(t *testing.T) {
	seen := map[string]bool{}
	for _, ct := range corpusTrailers(t) {
		if seen[string(ct.b)] {
			continue
		}
		seen[string(ct.b)] = true
		buf := make([]byte, len(ct.b))
		for i := range ct.b {
			for _, x := range []byte{0x00, 0xFF, ct.b[i] ^ 0x01, javaser.TCReference, javaser.TCObject} {
				copy(buf, ct.b)
				buf[i] = x
				checkDecode(t, buf, ct.off)
			}
		}
	}
}

// checkDecode is the invariant shared by the corruption test and the fuzz
// target: no panic; errors carry an offset inside the input; a success keeps
// the input as Raw, and if the fields can be encoded, decoding that encoding
// gives the same fields.
func checkDecode(t testing.TB, b []byte, base int64) {
	p, err := decodePropertiesUncached(b, base)
	if err != nil {
		var be *binio.Error
		if !errors.As(err, &be) {
			t.Fatalf("error %T %v is not a *binio.Error", err, err)
		}
		if be.Offset < base || be.Offset > base+int64(len(b)) {
			t.Fatalf("error offset %d outside [%d, %d]: %v", be.Offset, base, base+int64(len(b)), err)
		}
		return
	}
	if !bytes.Equal(p.Raw, b) {
		t.Fatalf("Raw is not the input")
	}
	q := *p
	q.Raw = nil
	enc, err := appendProperties(nil, &q)
	if err != nil {
		return // e.g. an enum constant Flink does not have
	}
	p2, err := decodePropertiesUncached(enc, 0)
	if err != nil {
		t.Fatalf("re-encoding of %+v does not decode: %v", q, err)
	}
	p2.Raw = nil
	if !sameFields(*p2, q) {
		t.Fatalf("round trip through the encoder:\n got %+v\nwant %+v", *p2, q)
	}
}

func TestPropertiesEncodeDecode(t *testing.T) {
	var cases []CheckpointProperties
	for _, s := range sharingFilesStrategies {
		for _, name := range []string{"Checkpoint", "Full Checkpoint", "", "FORWARD", "Ünïcode \x00 😀"} {
			cases = append(cases, CheckpointProperties{DiscardFailed: true, Unclaimed: true,
				Type: SnapshotType{Name: name, SharingFilesStrategy: s}})
		}
	}
	for _, f := range savepointFormatTypes {
		for _, a := range postCheckpointActions {
			// Names equal to an enum constant written before them become
			// back-references in Java's stream.
			for _, name := range []string{"Terminate Savepoint", f, a, "NONE"} {
				cases = append(cases, CheckpointProperties{Forced: true, DiscardSubsumed: true,
					Type: SnapshotType{Savepoint: true, Name: name, FormatType: f, PostCheckpointAction: a,
						SharingFilesStrategy: "NO_SHARING"}})
			}
		}
	}
	cases = append(cases, CheckpointProperties{Null: true})
	for _, c := range cases {
		enc, err := appendProperties(nil, &c)
		if err != nil {
			t.Fatalf("%+v: %v", c, err)
		}
		p, err := decodePropertiesUncached(enc, 100)
		if err != nil {
			t.Fatalf("%+v: decode: %v\n%x", c, err, enc)
		}
		p.Raw = nil
		if !sameFields(*p, c) {
			t.Errorf("round trip:\n got %+v\nwant %+v", *p, c)
		}
	}

	// A name equal to the enum constant before it is a TC_REFERENCE to the
	// constant's name string (handle 11: see the stream in metadata.md §8).
	enc, _ := appendProperties(nil, &CheckpointProperties{Type: SnapshotType{Savepoint: true,
		Name: "NATIVE", FormatType: "NATIVE", PostCheckpointAction: "NONE"}})
	if !bytes.Contains(enc, []byte{'N', 'A', 'T', 'I', 'V', 'E', javaser.TCReference, 0x00, 0x7E, 0x00, 0x0B, javaser.TCEnum}) {
		t.Errorf("name equal to the format constant is not a back-reference:\n%x", enc)
	}
}

func TestPropertiesEncodeRejects(t *testing.T) {
	for _, c := range []CheckpointProperties{
		{Type: SnapshotType{Name: "Checkpoint", SharingFilesStrategy: "SOMETIMES"}},
		{Type: SnapshotType{Name: "Checkpoint"}},
		{Type: SnapshotType{Name: "Checkpoint", SharingFilesStrategy: "FORWARD", FormatType: "NATIVE"}},
		{Type: SnapshotType{Savepoint: true, Name: "Savepoint", FormatType: "NATIVE_INCREMENTAL", PostCheckpointAction: "NONE"}},
		{Type: SnapshotType{Savepoint: true, Name: "Savepoint", FormatType: "NATIVE", PostCheckpointAction: "DRAIN"}},
		{Type: SnapshotType{Savepoint: true, Name: "Savepoint", FormatType: "NATIVE", PostCheckpointAction: "NONE", SharingFilesStrategy: "FORWARD"}},
		{Type: SnapshotType{Name: strings.Repeat("x", 70000), SharingFilesStrategy: "FORWARD"}},
		{Type: SnapshotType{Name: "bad \xff utf-8", SharingFilesStrategy: "FORWARD"}},
	} {
		if enc, err := appendProperties(nil, &c); err == nil {
			t.Errorf("%.80v: encoded to %d bytes, want an error", c.Type, len(enc))
		}
	}
	if _, err := appendProperties(nil, nil); err == nil {
		t.Error("nil properties encoded")
	}
}

// The class descriptors list fields in ObjectStreamClass's canonical order.
func TestPropertiesFieldOrder(t *testing.T) {
	for _, c := range []*javaClassSpec{checkpointPropertiesSpec, checkpointTypeSpec, savepointTypeSpec} {
		ok := sort.SliceIsSorted(c.fields, func(i, j int) bool {
			a, b := c.fields[i], c.fields[j]
			ap, bp := a.typ != 'L' && a.typ != '[', b.typ != 'L' && b.typ != '['
			if ap != bp {
				return ap
			}
			return a.name < b.name
		})
		if !ok {
			t.Errorf("%s: fields not in canonical order", c.name)
		}
	}
}

// Hand-made streams that break one rule each fail at the offending byte.
func TestPropertiesErrors(t *testing.T) {
	canonical := mustEncode(t, CheckpointProperties{Forced: true, Type: SnapshotType{Savepoint: true,
		Name: "Savepoint", FormatType: "CANONICAL", PostCheckpointAction: "NONE"}})
	checkpoint := mustEncode(t, CheckpointProperties{Type: SnapshotType{Name: "Checkpoint", SharingFilesStrategy: "FORWARD_BACKWARD"}})
	const base = 1000
	patch := func(b []byte, at int, with ...byte) []byte {
		c := bytes.Clone(b)
		copy(c[at:], with)
		return c
	}
	idx := func(b []byte, s string) int {
		i := bytes.Index(b, []byte(s))
		if i < 0 {
			t.Fatalf("%q not in stream", s)
		}
		return i
	}
	// Offsets of interesting bytes of the canonical savepoint stream.
	refEnum := bytes.Index(canonical, []byte{javaser.TCReference, 0x00, 0x7E, 0x00, 0x09})
	if refEnum < 0 {
		t.Fatal("no back-reference to java.lang.Enum")
	}
	savepointDesc := idx(canonical, classSavepointType) - 4 // 73 72 len16
	for _, tc := range []struct {
		name string
		b    []byte
		at   int
		msg  string
	}{
		{"empty", nil, 0, "truncated"},
		{"bad magic", patch(canonical, 0, 0xAC, 0xEE), 0, "magic"},
		{"bad version", patch(canonical, 3, 4), 2, "stream version"},
		{"trailing byte", append(bytes.Clone(canonical), 0), len(canonical), "bytes after"},
		{"trailing null", append(bytes.Clone(javaNullStream), javaser.TCNull), 5, "bytes after"},
		{"string at top", []byte{0xAC, 0xED, 0, 5, javaser.TCString, 0, 1, 'x'}, 4, "stream holds a string"},
		{"unknown type code", []byte{0xAC, 0xED, 0, 5, 0x42}, 4, "invalid Java serialization type code 0x42"},
		{"array at top", []byte{0xAC, 0xED, 0, 5, javaser.TCArray, javaser.TCClassDesc, 0, 2, '[', 'I', 0, 0, 0, 0, 0, 0, 0, 1,
			javaser.SCSerializable, 0, 0, javaser.TCEndBlockData, javaser.TCNull, 0, 0, 0, 0}, 4, "stream holds an array of class [I"},
		{"dangling reference", patch(canonical, refEnum+1, 0x00, 0x7E, 0x00, 0x40), refEnum + 1, "names no earlier object"},
		{"reference to non-class", patch(canonical, refEnum+1, 0x00, 0x7E, 0x00, 0x01), refEnum + 1, "non-class"},
		{"wrong class", patch(canonical, idx(canonical, "CheckpointProperties"), 'X'), 4, "stream holds an object of class"},
		{"wrong type class", patch(canonical, idx(canonical, "SavepointType"), 'X'), savepointDesc, "has class"},
		{"missing field", patch(canonical, idx(canonical, "unclaimed"), 'X'), 4, "no boolean field unclaimed"},
		{"missing string field", patch(checkpoint, idx(checkpoint, "name"), 'X'), idx(checkpoint, classCheckpointType) - 4, "CheckpointType.name is missing"},
		{"enum of another class", patch(checkpoint, bytes.LastIndex(checkpoint, []byte("SharingFilesStrategy")), 'X'), idx(checkpoint, classCheckpointType) - 4, "want an enum " + classSharingFilesStrategy},
		{"externalizable", patch(canonical, idx(canonical, "SavepointType")+len("SavepointType")+8, 0x04), idx(canonical, "SavepointType") + len("SavepointType") + 8, "externalizable"},
		{"serializable and externalizable", patch(canonical, idx(canonical, "SavepointType")+len("SavepointType")+8, 0x06), idx(canonical, "SavepointType") + len("SavepointType") + 8, "both serializable and externalizable"},
		{"bad field type", patch(canonical, idx(canonical, "discardFailed")-3, 'Q'), idx(canonical, "discardFailed") - 3, "invalid field type code"},
		{"negative field count", patch(canonical, 73, 0xFF, 0xFF), 73, "negative count"},
	} {
		_, err := decodePropertiesUncached(tc.b, base)
		var be *binio.Error
		if !errors.As(err, &be) {
			t.Errorf("%s: got %v, want a *binio.Error", tc.name, err)
			continue
		}
		if be.Offset != int64(base+tc.at) || !strings.Contains(be.Msg, tc.msg) {
			t.Errorf("%s: got %v, want offset %d and %q", tc.name, err, base+tc.at, tc.msg)
		}
	}
}

// Hostile streams cost no more than their length.
func TestPropertiesHostile(t *testing.T) {
	// A class descriptor claiming 32767 fields in a short stream.
	b := []byte{0xAC, 0xED, 0, 5, javaser.TCObject, javaser.TCClassDesc, 0, 1, 'A', 0, 0, 0, 0, 0, 0, 0, 1, javaser.SCSerializable, 0x7F, 0xFF, 'Z', 0, 1, 'a'}
	if _, err := decodePropertiesUncached(b, 0); err == nil || !strings.Contains(err.Error(), "count 32767") {
		t.Errorf("huge field count: %v", err)
	}
	// Deep nesting: objects whose only field holds the next object.
	deep := []byte{0xAC, 0xED, 0, 5}
	deep = append(deep, javaser.TCObject, javaser.TCClassDesc, 0, 1, 'A', 0, 0, 0, 0, 0, 0, 0, 1, javaser.SCSerializable, 0, 1, 'L', 0, 1, 'a',
		javaser.TCString, 0, 3, 'L', 'A', ';', javaser.TCEndBlockData, javaser.TCNull)
	for range 100000 {
		deep = append(deep, javaser.TCObject, javaser.TCReference, 0, 0x7E, 0, 0)
	}
	deep = append(deep, javaser.TCNull)
	if _, err := decodePropertiesUncached(deep, 0); err == nil || !strings.Contains(err.Error(), "nesting deeper") {
		t.Errorf("deep nesting: %v", err)
	}
	// Long block data in a class annotation is bounded by the input.
	ann := []byte{0xAC, 0xED, 0, 5, javaser.TCObject, javaser.TCClassDesc, 0, 1, 'A', 0, 0, 0, 0, 0, 0, 0, 1, javaser.SCSerializable, 0, 0,
		javaser.TCBlockDataLong, 0x7F, 0xFF, 0xFF, 0xFF}
	if _, err := decodePropertiesUncached(ann, 0); err == nil || !strings.Contains(err.Error(), "truncated") {
		t.Errorf("long block data: %v", err)
	}
}

// sameFields compares everything but Raw.
func sameFields(a, b CheckpointProperties) bool {
	a.Raw, b.Raw = nil, nil
	return reflect.DeepEqual(a, b)
}

func mustEncode(t *testing.T, p CheckpointProperties) []byte {
	t.Helper()
	b, err := appendProperties(nil, &p)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func FuzzDecodeProperties(f *testing.F) {
	seen := map[string]bool{}
	if entries, err := corpus.Load(); err == nil {
		for _, e := range entries {
			if e.MetadataVersion < 4 {
				continue
			}
			b, err := os.ReadFile(filepath.Join(e.Dir, MetadataFileName))
			if err != nil {
				continue
			}
			if off, ok := findTrailer(b); ok && !seen[string(b[off:])] {
				seen[string(b[off:])] = true
				f.Add(b[off:])
			}
		}
	}
	f.Add(javaNullStream)
	f.Fuzz(func(t *testing.T, b []byte) {
		checkDecode(t, b, 77)
	})
}

func BenchmarkDecodeProperties(b *testing.B) {
	enc, err := appendProperties(nil, &CheckpointProperties{Forced: true, Type: SnapshotType{Savepoint: true,
		Name: "Savepoint", FormatType: "CANONICAL", PostCheckpointAction: "NONE"}})
	if err != nil {
		b.Fatal(err)
	}
	b.SetBytes(int64(len(enc)))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := decodePropertiesUncached(enc, 0); err != nil {
			b.Fatal(err)
		}
	}
}

func TestPropertiesCacheGivesTheSameAsTheParser(t *testing.T) {
	enc, err := appendProperties(nil, NewSavepointProperties("NATIVE"))
	if err != nil {
		t.Fatal(err)
	}
	first, err := decodeProperties(enc, 10)
	if err != nil {
		t.Fatal(err)
	}
	other := bytes.Clone(enc)
	second, err := decodeProperties(other, 20) // a cache hit
	if err != nil {
		t.Fatal(err)
	}
	if &second.Raw[0] != &other[0] {
		t.Error("a cached result must alias the caller's bytes in Raw")
	}
	first.Raw, second.Raw = nil, nil
	if !reflect.DeepEqual(first, second) || second.Type.FormatType != "NATIVE" {
		t.Errorf("cached %+v, parsed %+v", second, first)
	}
}
