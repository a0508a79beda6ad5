package verify

import (
	"context"
	"fmt"
	"path/filepath"
	"strings"
	"testing"

	"github.com/fsnap/fsnap/fixtures"
	"github.com/fsnap/fsnap/format"
)

// expectFixture is what verify must find in a generated snapshot, derived
// from where the generator put each file (not from verify's logic): shared/
// files pin incremental and changelog checkpoints, dstl/ files are
// changelog, taskowned/ files are merged segments, files outside the
// snapshot directory are entropy-injected, and version 2 (before relative
// handles) names every file by absolute path.
func expectFixture(s *fixtures.Snapshot) map[Code]int {
	want := map[Code]int{}
	merged := map[string]bool{}
	for _, f := range s.Files {
		switch {
		case strings.HasPrefix(f.Key, "shared/"):
			want[NotRelocatableShared]++
		case strings.HasPrefix(f.Key, "dstl/"):
			want[NotRelocatableChangelog]++
		case strings.HasPrefix(f.Key, "taskowned/"):
			merged[f.Key] = true
		case !strings.HasPrefix(f.Key, s.Dir+"/"):
			want[NotRelocatableEntropy]++
		case s.Spec.Version == 2:
			want[NotRelocatableAbsolute]++
		}
	}
	if len(merged) > 0 {
		want[NotRelocatableFileMerging] = len(merged)
	}
	// Checkpoints of version 3+ record the stateless sink as finished.
	if s.Spec.Version >= 3 && s.Spec.Kind != fixtures.CanonicalSavepoint && s.Spec.Kind != fixtures.NativeSavepoint {
		want[OperatorFinished] = 1
	}
	return want
}

func sameCodes(got, want map[Code]int) bool {
	if len(got) != len(want) {
		return false
	}
	for c, n := range want {
		if got[c] != n {
			return false
		}
	}
	return true
}

// TestFixturesEveryKindAndVersion verifies generated snapshots of every
// kind, version and variant: their _metadata is exact Flink format and
// their keyed (key-group) and operator streams Flink streams, so reading
// the headers finds nothing but what the layout implies, nor does the deep
// walk of snapshots without RocksDB native state (whose SSTs are random
// bytes).
func TestFixturesEveryKindAndVersion(t *testing.T) {
	ctx := context.Background()
	n := 0
	for _, kind := range fixtures.Kinds {
		for v := int32(2); v <= 7; v++ {
			for _, variant := range []string{"", "entropy", "file-merging", "inline"} {
				spec := fixtures.Spec{Kind: kind, Version: v, Seed: uint64(v)}
				switch variant {
				case "entropy":
					spec.Entropy = true
				case "file-merging":
					spec.FileMerging = true
				case "inline":
					spec.InlineThreshold = 1 << 20
				}
				name := fmt.Sprintf("%s-v%d-%s", kind, v, variant)
				root := filepath.Join(t.TempDir(), "root")
				s, err := fixtures.WriteDir(ctx, root, spec)
				if err != nil {
					continue // a combination the generator refuses (e.g. native savepoint v2)
				}
				n++
				r := checkRef(t, filepath.Join(root, s.Dir), Options{Level: LevelFiles})
				want := expectFixture(s)
				if got := r.CodeCounts(); !sameCodes(got, want) {
					t.Errorf("%s: findings %v, want %v", name, got, want)
					for _, f := range r.Findings {
						t.Logf("  %s %s: %s (%s)", f.Severity, f.Code, f.Message, f.File)
					}
				}
				relocatable := true
				for c := range want {
					if c.IsRelocatability() {
						relocatable = false
					}
				}
				if r.Relocatable != relocatable || r.Checked.Files != countFiles(s) {
					t.Errorf("%s: relocatable %v (want %v), %d files checked (want %d)", name, r.Relocatable, relocatable, r.Checked.Files, countFiles(s))
				}
				level := LevelHeaders
				if !hasRocksDB(s) {
					level = LevelDeep
				}
				r = checkRef(t, filepath.Join(root, s.Dir), Options{Level: level})
				if got := r.CodeCounts(); !sameCodes(got, want) || r.Checked.Headers == 0 || (level == LevelDeep) != (r.Checked.StreamsWalked > 0) {
					t.Errorf("%s at level %v: findings %v, want %v; %d headers read, %d streams walked", name, level, got, want, r.Checked.Headers, r.Checked.StreamsWalked)
					for _, f := range r.Findings {
						t.Logf("  %s %s: %s (%s)", f.Severity, f.Code, f.Message, f.File)
					}
				}
			}
		}
	}
	if n < 60 {
		t.Errorf("only %d fixtures generated", n)
	}
}

// hasRocksDB reports whether a fixture has RocksDB native keyed state.
func hasRocksDB(s *fixtures.Snapshot) bool {
	for n := range s.Metadata.Walk() {
		if _, ok := n.Keyed.(*format.IncrementalHandle); ok {
			return true
		}
	}
	return false
}

// countFiles is the number of distinct files a fixture's handles name
// (inline streams are not files).
func countFiles(s *fixtures.Snapshot) int { return len(s.Files) }

// TestFixtureRandomStateIsFlagged: reading the random bytes of a fixture
// made with RandomState as streams (LevelHeaders) flags every keyed and
// operator stream, once each: verify does not take noise for state.
func TestFixtureRandomStateIsFlagged(t *testing.T) {
	root := filepath.Join(t.TempDir(), "root")
	s, err := fixtures.WriteDir(context.Background(), root, fixtures.Spec{Kind: fixtures.CanonicalSavepoint, Version: 6, RandomState: true})
	if err != nil {
		t.Fatal(err)
	}
	r := checkRef(t, filepath.Join(root, s.Dir), Options{Level: LevelHeaders})
	streams := 0
	for _, op := range s.Metadata.Operators {
		streams += len(op.Subtasks)
	}
	perStream := map[string]int{}
	for _, f := range r.Findings {
		if f.Severity != Error {
			t.Errorf("%s %s: %s", f.Severity, f.Code, f.Message)
		}
		perStream[f.File]++
	}
	if len(r.Findings) != streams || len(perStream) != streams {
		t.Errorf("%d findings over %d files, want one for each of the %d streams: %v", len(r.Findings), len(perStream), streams, r.CodeCounts())
	}
}
