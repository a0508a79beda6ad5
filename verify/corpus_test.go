package verify

import (
	"context"
	"os"
	"regexp"
	"strings"
	"testing"

	"github.com/fsnap/fsnap/format"
	"github.com/fsnap/fsnap/internal/corpus"
	"github.com/fsnap/fsnap/snapshot"
	snapsrc "github.com/fsnap/fsnap/snapshot/source"
)

func checkRef(t testing.TB, ref string, opts Options) *Report {
	t.Helper()
	ctx := context.Background()
	s, sr, err := snapsrc.Load(ctx, ref)
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

// avroHeap names the corpus snapshots whose heap-layout keyed streams hold
// Avro values, whose extent fsnap cannot find: deep walks stop there.
func avroHeap(name string) bool {
	return strings.Contains(name, "flink-state-evolution-test") || strings.Contains(name, "flink-state-processing-api__table-state")
}

// TestCorpusVerifiesCleanAndRelocatable: every corpus snapshot, at every
// level, has no error or warning, is relocatable (layout.md §5), and its
// only infos are facts the ground truth explains.
func TestCorpusVerifiesCleanAndRelocatable(t *testing.T) {
	entries := corpus.Require(t)
	var deep Checked
	infos := map[Code]int{}
	for _, level := range []Level{LevelFiles, LevelHeaders, LevelDeep} {
		for _, e := range entries {
			r := checkRef(t, e.Dir, Options{Level: level})
			if r.Counts.Error+r.Counts.Warning > 0 {
				for _, f := range r.Findings {
					if f.Severity > Info {
						t.Errorf("%s (%s): %s %s: %s [%s]", e.Name, level, f.Severity, f.Code, f.Message, f.File)
					}
				}
			}
			if !r.Relocatable {
				t.Errorf("%s (%s): not relocatable", e.Name, level)
			}
			for _, f := range r.Findings {
				switch {
				case f.Code == KeyedSubtaskNoState, f.Code == OperatorFinished:
				case f.Code == StreamNotWalkable && level == LevelDeep && avroHeap(e.Name):
				default:
					t.Errorf("%s (%s): unexpected %s %s: %s", e.Name, level, f.Severity, f.Code, f.Message)
				}
				if level == LevelDeep {
					infos[f.Code]++
				}
			}
			if level == LevelDeep {
				c := r.Checked
				deep.Handles += c.Handles
				deep.Files += c.Files
				deep.Headers += c.Headers
				deep.StreamsWalked += c.StreamsWalked
				deep.Entries += c.Entries
				deep.Opaque += c.Opaque
			}
		}
	}
	t.Logf("deep over %d snapshots: %+v; infos %v", len(entries), deep, infos)
	// The corpus's metadata fixes these; the walks only grow as
	// format/state learns more serializers.
	if deep.Handles != 4543 || deep.Files != 3253 {
		t.Errorf("checked %d handles and %d files, want 4543 and 3253", deep.Handles, deep.Files)
	}
	if deep.Headers < 2996 || deep.StreamsWalked < 2654 || deep.Entries < 7493 {
		t.Errorf("deep checks read %d headers, walked %d streams and %d entries; want at least 2996, 2654, 7493", deep.Headers, deep.StreamsWalked, deep.Entries)
	}
	// Flink omits keyed subtasks without state in 162 operators of the
	// migration tests (1.4 and 1.6 included); the State Processor API
	// writes three fully finished operators (ground truth). Every stream
	// walks: no stream-not-walkable.
	if infos[KeyedSubtaskNoState] != 162 || infos[OperatorFinished] != 3 || infos[StreamNotWalkable] != 0 {
		t.Errorf("infos %v, want 162 keyed-subtask-without-state, 3 operator-finished, no stream-not-walkable", infos)
	}
}

// TestLegacyRawHeapTimersJunitPaths is the corpus case whose _metadata
// holds absolute junit paths (ground truth §5). Those paths are the names
// of inline ByteStreamStateHandles (type 1, the bytes follow in _metadata;
// FsCheckpointStreamFactory names small streams by the path they would
// have had), not file handles: Flink never opens them, so verify reports
// nothing, counts no file, and the snapshot is relocatable.
func TestLegacyRawHeapTimersJunitPaths(t *testing.T) {
	e := corpus.Find(t, "legacy-raw-state-heap-timers-rocks-db-1.12")
	s, sr, err := snapsrc.Load(context.Background(), e.Dir)
	if err != nil {
		t.Fatal(err)
	}
	sr.Close()
	junit := 0
	for _, f := range s.Files {
		if f.Scope != snapshot.ScopeInline {
			t.Errorf("file %s has scope %s; every stream of this snapshot is inline", f.Path, f.Scope)
		}
		if strings.HasPrefix(f.InlineName, "file:/tmp/junit") {
			junit++
		}
	}
	if junit != 5 {
		t.Errorf("%d inline streams named by junit paths, want 5", junit)
	}
	for _, level := range []Level{LevelFiles, LevelHeaders, LevelDeep} {
		r := checkRef(t, e.Dir, Options{Level: level, RequireRelocatable: true})
		if len(r.Findings) != 0 || !r.Relocatable || r.Checked.Files != 0 {
			t.Errorf("%s: findings %v, relocatable %v, files %d; want none, true, 0", level, r.Findings, r.Relocatable, r.Checked.Files)
		}
		if level == LevelDeep && (r.Checked.StreamsWalked != 5 || r.Checked.Entries == 0) {
			t.Errorf("deep: walked %d streams (%d entries), want the 5 inline ones", r.Checked.StreamsWalked, r.Checked.Entries)
		}
	}
}

// TestCodesDocumented keeps the package documentation's table and the codes
// in step, severities included.
func TestCodesDocumented(t *testing.T) {
	b, err := os.ReadFile("doc.go")
	if err != nil {
		t.Fatal(err)
	}
	re := regexp.MustCompile(`(?m)^//\t([a-z0-9-]+)\s+(error|warning|info)\s+\S`)
	doc := map[Code]Severity{}
	for _, m := range re.FindAllStringSubmatch(string(b), -1) {
		sev, _ := ParseSeverity(m[2])
		doc[Code(m[1])] = sev
	}
	codes := Codes()
	for c, sev := range codes {
		if d, ok := doc[c]; !ok || d != sev {
			t.Errorf("code %s (%s): documented as %q", c, sev, d)
		}
	}
	for c := range doc {
		if _, ok := codes[c]; !ok {
			t.Errorf("documented code %s does not exist", c)
		}
	}
	if len(codes) < 40 {
		t.Errorf("only %d codes", len(codes))
	}
}

// keyGroupHandles lists the managed keyed key-group handles of m.
type kgRef struct {
	op, sub int
	h       *format.KeyGroupsHandle
}

func keyGroupHandles(m *format.Metadata) []kgRef {
	var out []kgRef
	for i := range m.Operators {
		for j := range m.Operators[i].Subtasks {
			if h, ok := m.Operators[i].Subtasks[j].ManagedKeyedState.(*format.KeyGroupsHandle); ok {
				out = append(out, kgRef{i, j, h})
			}
		}
	}
	return out
}
