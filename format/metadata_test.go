package format

import (
	"bytes"
	"os"
	"path/filepath"
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
