package verify

import (
	"context"
	"testing"

	"github.com/fsnap/fsnap/internal/corpus"
	"github.com/fsnap/fsnap/snapshot"
)

func checkRef(t testing.TB, ref string, opts Options) *Report {
	t.Helper()
	ctx := context.Background()
	s, sr, err := snapshot.Load(ctx, ref)
	if err != nil {
		t.Fatalf("%s: %v", ref, err)
	}
	defer sr.Close()
	r, err := Check(ctx, s, sr, opts)
	if err != nil {
		t.Fatalf("%s: %v", ref, err)
	}
	return r
}

func TestCorpusDump(t *testing.T) {
	for _, e := range corpus.Require(t) {
		r := checkRef(t, e.Dir, Options{Level: LevelDeep})
		for _, f := range r.Findings {
			if f.Code == KeyedSubtaskNoState || f.Code == OperatorFinished {
				continue
			}
			t.Logf("%s: %s %s %s (%s)", e.Name, f.Severity, f.Code, f.Message, f.File)
		}
	}
}

func TestCorpusStats(t *testing.T) {
	var tot Checked
	codes := map[Code]int{}
	for _, e := range corpus.Require(t) {
		r := checkRef(t, e.Dir, Options{Level: LevelDeep})
		c := r.Checked
		tot.Handles += c.Handles
		tot.Files += c.Files
		tot.FileBytes += c.FileBytes
		tot.Headers += c.Headers
		tot.StreamsWalked += c.StreamsWalked
		tot.BytesWalked += c.BytesWalked
		tot.Entries += c.Entries
		tot.Opaque += c.Opaque
		for k, v := range r.CodeCounts() {
			codes[k] += v
		}
		if !r.Relocatable {
			t.Logf("%s not relocatable", e.Name)
		}
	}
	t.Logf("%+v %v", tot, codes)
}
