package state_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/fsnap/fsnap/format"
	"github.com/fsnap/fsnap/internal/corpus"
)

// streamRef is one state stream of a corpus snapshot.
type streamRef struct {
	snap    corpus.Entry
	op      *format.OperatorState
	subtask int32
	kind    string // managedKeyed, rawKeyed, managedOperator, rawOperator, rocksdbMeta
	keyed   *format.KeyGroupsHandle
	inc     *format.IncrementalHandle
	opState *format.OperatorStateHandle
	name    string // file name or inline handle name
	data    []byte // nil when the file is not in the corpus
}

func (s *streamRef) String() string {
	return s.snap.Name + "/" + s.name + " (" + s.kind + ")"
}

func loadMetadata(t testing.TB, e corpus.Entry) *format.Metadata {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(e.Dir, "_metadata"))
	if err != nil {
		t.Fatal(err)
	}
	m, err := format.ParseMetadata(b)
	if err != nil {
		t.Fatalf("%s: %v", e.Name, err)
	}
	return m
}

// resolve returns the bytes a stream handle names, or nil when the file is
// not in the corpus (absolute paths of the machine that wrote it).
func resolve(t testing.TB, dir string, h format.StreamHandle) (string, []byte) {
	t.Helper()
	switch x := h.(type) {
	case *format.ByteStreamHandle:
		return "inline:" + x.Name, x.Data
	case *format.RelativeFileHandle:
		b, err := os.ReadFile(filepath.Join(dir, x.RelativePath))
		if err != nil {
			return x.RelativePath, nil
		}
		return x.RelativePath, b
	case *format.FileHandle:
		base := x.Path[strings.LastIndexByte(x.Path, '/')+1:]
		b, err := os.ReadFile(filepath.Join(dir, base))
		if err != nil {
			return base, nil
		}
		return base, b
	}
	return "", nil
}

// corpusStreams lists every state stream of every corpus snapshot.
func corpusStreams(t testing.TB) []*streamRef {
	t.Helper()
	var out []*streamRef
	for _, e := range corpus.Require(t) {
		m := loadMetadata(t, e)
		for oi := range m.Operators {
			op := &m.Operators[oi]
			for si := range op.Subtasks {
				st := &op.Subtasks[si]
				add := func(kind string, kh format.KeyedStateHandle) {}
				var addKeyed func(kind string, kh format.KeyedStateHandle)
				addKeyed = func(kind string, kh format.KeyedStateHandle) {
					switch h := kh.(type) {
					case *format.KeyGroupsHandle:
						name, data := resolve(t, e.Dir, h.Delegate)
						out = append(out, &streamRef{snap: e, op: op, subtask: st.Index, kind: kind, keyed: h, name: name, data: data})
					case *format.IncrementalHandle:
						name, data := resolve(t, e.Dir, h.MetaStateHandle)
						out = append(out, &streamRef{snap: e, op: op, subtask: st.Index, kind: "rocksdbMeta", inc: h, name: name, data: data})
					case *format.ChangelogHandle:
						out = append(out, &streamRef{snap: e, op: op, subtask: st.Index, kind: "changelog"})
						for _, mh := range h.Materialized {
							if mh != nil {
								addKeyed(kind, mh)
							}
						}
					}
				}
				_ = add
				if st.ManagedKeyedState != nil {
					addKeyed("managedKeyed", st.ManagedKeyedState)
				}
				if st.RawKeyedState != nil {
					addKeyed("rawKeyed", st.RawKeyedState)
				}
				for kind, oh := range map[string]*format.OperatorStateHandle{"managedOperator": st.ManagedOperatorState, "rawOperator": st.RawOperatorState} {
					if oh == nil || oh.Delegate == nil {
						continue
					}
					name, data := resolve(t, e.Dir, oh.Delegate)
					out = append(out, &streamRef{snap: e, op: op, subtask: st.Index, kind: kind, opState: oh, name: name, data: data})
				}
			}
		}
	}
	return out
}
