package format

import (
	"bytes"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/fsnap/fsnap/internal/corpus"
)

func readCorpusMetadata(t testing.TB, e corpus.Entry) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(e.Dir, MetadataFileName))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestCorpusRoundTrip(t *testing.T) {
	for _, e := range corpus.Require(t) {
		b := readCorpusMetadata(t, e)
		m, err := ParseMetadata(b)
		if err != nil {
			t.Errorf("%s: %v", e.Name, err)
			continue
		}
		if m.Version != int32(e.MetadataVersion) {
			t.Errorf("%s: version %d, manifest says %d", e.Name, m.Version, e.MetadataVersion)
		}
		out, err := AppendMetadata(nil, m)
		if err != nil {
			t.Errorf("%s: write: %v", e.Name, err)
			continue
		}
		if !bytes.Equal(out, b) {
			i := 0
			for i < len(out) && i < len(b) && out[i] == b[i] {
				i++
			}
			t.Errorf("%s: round trip differs at offset %d (wrote %d bytes, read %d)", e.Name, i, len(out), len(b))
		}
	}
}

// TestWriterRefusesLongStrings: strings Java's writeUTF refuses (65,536 bytes
// or more) are refused with an error in every version, never written with
// their 16-bit length wrapped (version 4+ once lost the error).
func TestWriterRefusesLongStrings(t *testing.T) {
	long := strings.Repeat("m", 1<<16)
	for v := int32(MinVersion); v <= MaxVersion; v++ {
		m := &Metadata{Version: v, CheckpointID: 1, MasterStates: []MasterState{{Name: long, Version: 1}}}
		if _, err := AppendMetadata(nil, m); err == nil || !strings.Contains(err.Error(), "65535") {
			t.Errorf("version %d: master state name of %d bytes: %v", v, len(long), err)
		}
	}
}

// TestReadMetadataFile: a path or its directory reads the same metadata as
// ParseMetadata of the bytes; a truncated file fails naming the file and
// the offset.
func TestReadMetadataFile(t *testing.T) {
	e := corpus.Find(t, "new-stateful-udf-migration-itcase-flink2.3-rocksdb-checkpoint")
	want, err := ParseMetadata(readCorpusMetadata(t, e))
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range []string{e.Dir, filepath.Join(e.Dir, MetadataFileName)} {
		m, err := ReadMetadataFile(p)
		if err != nil {
			t.Fatal(err)
		}
		if m.CheckpointID != want.CheckpointID || len(m.Operators) != len(want.Operators) || m.Version != 6 {
			t.Errorf("%s: checkpoint %d, %d operators", p, m.CheckpointID, len(m.Operators))
		}
	}
	cut := filepath.Join(t.TempDir(), MetadataFileName)
	if err := os.WriteFile(cut, readCorpusMetadata(t, e)[:1000], 0o644); err != nil {
		t.Fatal(err)
	}
	_, err = ReadMetadataFile(cut)
	var fe *FormatError
	if !errors.As(err, &fe) || !strings.Contains(err.Error(), cut) || fe.Offset <= 0 || fe.Offset > 1000 {
		t.Errorf("truncated: %v", err)
	}
}

// TestReadMetadataFileMissing: a missing file is fs.ErrNotExist, naming it.
func TestReadMetadataFileMissing(t *testing.T) {
	p := filepath.Join(t.TempDir(), "nope", MetadataFileName)
	_, err := ReadMetadataFile(p)
	if !errors.Is(err, fs.ErrNotExist) || !strings.Contains(err.Error(), p) {
		t.Errorf("%v", err)
	}
}
