package snapshot

import (
	"fmt"
	"strconv"
	"strings"

	"github.com/fsnap/fsnap/format"
)

// Release is a Flink minor release such as 1.15.
type Release struct{ Major, Minor int }

func (r Release) String() string { return fmt.Sprintf("%d.%d", r.Major, r.Minor) }

// Less orders releases.
func (r Release) Less(o Release) bool {
	return r.Major < o.Major || r.Major == o.Major && r.Minor < o.Minor
}

// ParseRelease parses "1.15" (a patch part, "1.15.2", is ignored).
func ParseRelease(s string) (Release, error) {
	parts := strings.Split(s, ".")
	if len(parts) < 2 {
		return Release{}, fmt.Errorf("release %q: want MAJOR.MINOR", s)
	}
	maj, err1 := strconv.Atoi(parts[0])
	min, err2 := strconv.Atoi(parts[1])
	if err1 != nil || err2 != nil {
		return Release{}, fmt.Errorf("release %q: want MAJOR.MINOR", s)
	}
	return Release{maj, min}, nil
}

// LatestKnown is the newest Flink release whose formats fsnap was checked on.
var LatestKnown = Release{2, 3}

// VersionRange is the Flink releases that could have written a snapshot.
type VersionRange struct {
	Min Release
	Max Release
	// Open means "Max or later": the newest format seen so far is still written.
	Open bool
	// Evidence lists what narrowed the range, one phrase each.
	Evidence []string
}

func (v VersionRange) String() string {
	switch {
	case v.Open:
		return v.Min.String() + "+"
	case v.Min == v.Max:
		return v.Min.String()
	}
	return v.Min.String() + "–" + v.Max.String()
}

// Narrow intersects the range with [min, max] (max zero = no upper bound),
// recording why; a bound that contradicts the range is recorded but not
// applied.
func (v *VersionRange) Narrow(min, max Release, why string) {
	newMin, newMax, open := v.Min, v.Max, v.Open
	if v.Min.Less(min) {
		newMin = min
	}
	if max != (Release{}) && (open || max.Less(newMax)) {
		newMax, open = max, false
	}
	if newMax.Less(newMin) {
		why += " (contradicts the rest; ignored)"
	} else {
		v.Min, v.Max, v.Open = newMin, newMax, open
	}
	for _, e := range v.Evidence {
		if e == why {
			return // said once, however many streams say it
		}
	}
	v.Evidence = append(v.Evidence, why)
}

// metadataVersionReleases maps a _metadata version to the releases that write
// it (format/README.md); the State Processor API of 1.16 still wrote 3.
var metadataVersionReleases = map[int32]VersionRange{
	2: {Min: Release{1, 3}, Max: Release{1, 10}},
	3: {Min: Release{1, 11}, Max: Release{1, 16}},
	4: {Min: Release{1, 16}, Max: Release{1, 20}},
	5: {Min: Release{2, 0}, Max: Release{2, 0}},
	6: {Min: Release{2, 1}, Max: LatestKnown, Open: true},
	7: {Min: Release{2, 4}, Max: Release{2, 4}, Open: true},
}

func inferFlinkRange(m *format.Metadata, c handleCensus) VersionRange {
	r := metadataVersionReleases[m.Version]
	r.Evidence = []string{fmt.Sprintf("_metadata version %d", m.Version)}
	if c.codes[format.SavepointKeyGroupsHandle] > 0 {
		r.Narrow(Release{1, 13}, Release{}, "savepoint key-group handles (type 7) came with 1.13")
	}
	if c.codes[format.KeyGroupsHandleV2] > 0 {
		r.Narrow(Release{1, 15}, Release{}, "key-group handles with ids (type 12) came with 1.15")
	}
	if c.codes[format.IncrementalHandleV2] > 0 {
		r.Narrow(Release{1, 16}, Release{}, "incremental handles with checkpointed size (type 11) came with 1.16")
	}
	if c.codes[format.KeyGroupsHandleV1] > 0 || c.codes[format.IncrementalHandleV1] > 0 {
		r.Narrow(Release{}, Release{1, 15}, "type 3/5 keyed handles were last written by 1.14/1.15")
	}
	if c.finished > 0 || hasFullyFinished(m) {
		r.Narrow(Release{1, 14}, Release{}, "finished subtasks are recorded since 1.14")
	}
	return r
}

func hasFullyFinished(m *format.Metadata) bool {
	for i := range m.Operators {
		if m.Operators[i].FullyFinished {
			return true
		}
	}
	return false
}

// headerReleases are the releases that write each stream header version
// (docs/format/legacy-state.md); a missing upper bound is open.
var headerReleases = map[string]map[int32][2]Release{
	"keyed": {1: {{1, 2}, {1, 2}}, 2: {{1, 2}, {1, 2}}, 3: {{1, 3}, {1, 3}}, 4: {{1, 4}, {1, 5}}, 5: {{1, 6}, {1, 6}}, 6: {{1, 7}, {}}},
	"operator": {1: {{1, 2}, {1, 2}}, 2: {{1, 3}, {1, 4}}, 3: {{1, 5}, {1, 5}}, 4: {{1, 6}, {1, 6}}, 5: {{1, 7}, {1, 17}},
		6: {{1, 18}, {}}},
}

// NarrowByHeaders narrows the Flink range by the versions of the state
// stream headers found in the snapshot's files.
func (s *Snapshot) NarrowByHeaders(keyed, operator []int32) {
	for i, versions := range [][]int32{keyed, operator} {
		kind := [...]string{"keyed", "operator"}[i]
		for _, v := range versions {
			rel, ok := headerReleases[kind][v]
			if !ok {
				continue
			}
			why := fmt.Sprintf("%s state header version %d was written by %s to %s", kind, v, rel[0], rel[1])
			switch {
			case rel[1] == (Release{}):
				why = fmt.Sprintf("%s state header version %d came with %s", kind, v, rel[0])
			case rel[0] == rel[1]:
				why = fmt.Sprintf("%s state header version %d is Flink %s's", kind, v, rel[0])
			}
			s.Flink.Narrow(rel[0], rel[1], why)
		}
	}
}
