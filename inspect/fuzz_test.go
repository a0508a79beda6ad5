package inspect

import (
	"context"
	"encoding/json"
	"io"
	"os"
	"path/filepath"
	"testing"

	"github.com/fsnap/fsnap/format"
	"github.com/fsnap/fsnap/internal/corpus"
	"github.com/fsnap/fsnap/snapshot/source"
	"github.com/fsnap/fsnap/store"
)

// fuzzRoot is where FuzzInspect stores each input's snapshot (a mem://
// bucket emptied after every input).
const fuzzRoot = "mem://fuzz-inspect/sp"

// maxFuzzFiles bounds the relative files an input's _metadata may name.
const maxFuzzFiles = 16

// FuzzInspect runs inspect's whole path on a snapshot made of the input:
// _metadata from meta, and every state file it names by relative path
// holding state. Loading, reading every header, walking every stream and
// building the report (with files) must return errors or notes for bad
// input, never panic or allocate from a declared size (issue 20). Seeds
// are the corpus's small snapshots: _metadata and their largest state file.
func FuzzInspect(f *testing.F) {
	entries, _ := corpus.Load()
	for i, e := range entries {
		if i%7 != 0 { // a spread of families, kept quick
			continue
		}
		meta, err := os.ReadFile(filepath.Join(e.Dir, format.MetadataFileName))
		if err != nil {
			continue
		}
		var st []byte
		ents, _ := os.ReadDir(e.Dir)
		for _, d := range ents {
			if fi, err := d.Info(); err == nil && d.Name() != format.MetadataFileName && fi.Size() > int64(len(st)) && fi.Size() < 64<<10 {
				st, _ = os.ReadFile(filepath.Join(e.Dir, d.Name()))
			}
		}
		f.Add(meta, st)
	}
	f.Fuzz(func(t *testing.T, meta, st []byte) {
		ctx := context.Background()
		root, err := store.Open(ctx, fuzzRoot)
		if err != nil {
			t.Fatal(err)
		}
		defer func() {
			for o, err := range root.List(ctx, root.Prefix, "") {
				if err == nil {
					root.Bucket.Delete(ctx, o.Key)
				}
			}
		}()
		m, err := format.ParseMetadata(meta)
		if err != nil {
			return
		}
		names := map[string]bool{}
		for n := range m.Walk() {
			if r, ok := n.Handle().(*format.RelativeFileHandle); ok && len(names) < maxFuzzFiles && format.CheckRelativePath(r.RelativePath) == nil {
				names[r.RelativePath] = true
			}
		}
		put := func(name string, b []byte) {
			if err := root.WriteObject(ctx, name, func(w io.Writer) error { _, err := w.Write(b); return err }); err != nil {
				t.Fatal(err)
			}
		}
		put(format.MetadataFileName, meta)
		for n := range names {
			put(n, st)
		}
		s, src, err := source.Load(ctx, fuzzRoot)
		if err != nil {
			return
		}
		defer src.Close()
		states := ReadStates(ctx, s, src, StatesOptions{Walk: true, Parallel: 2})
		r := Build(s, Options{Files: true, States: states})
		if _, err := json.Marshal(r); err != nil {
			t.Fatalf("report does not encode: %v", err)
		}
	})
}
