package snapshot

import (
	"os"
	"path/filepath"
	"reflect"
	"testing"

	"github.com/fsnap/fsnap/format"
	"github.com/fsnap/fsnap/internal/corpus"
)

// FuzzParsePipelined: on any bytes, the model built while parsing (forced
// here for small inputs, handed over an operator at a time) is the one
// built after, or both fail with the same error; and so is the model
// parsed to be released (copying), from bytes overwritten as released.
func FuzzParsePipelined(f *testing.F) {
	entries, _ := corpus.Load()
	for _, e := range entries {
		if b, err := os.ReadFile(filepath.Join(e.Dir, format.MetadataFileName)); err == nil {
			f.Add(b)
		}
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		defer func(m, n int) { pipelineMin, pipelineBatch = m, n }(pipelineMin, pipelineBatch)
		pipelineMin, pipelineBatch = 0, 1
		want, werr := Parse("/s", b)
		got, err := ParsePipelined("/s", b, nil)
		if (err == nil) != (werr == nil) || err != nil && err.Error() != werr.Error() {
			t.Fatalf("pipelined error %v, want %v", err, werr)
		}
		if err == nil && !reflect.DeepEqual(got, want) {
			t.Fatal("the pipelined model differs")
		}
		got, err = parseReleasing(t, "/s", b)
		if (err == nil) != (werr == nil) || err != nil && err.Error() != werr.Error() {
			t.Fatalf("releasing error %v, want %v", err, werr)
		}
		if err == nil && !reflect.DeepEqual(got, want) {
			t.Fatal("the model parsed to be released differs")
		}
	})
}
