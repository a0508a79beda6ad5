package catalog

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/fsnap/fsnap/store"
)

// ListSchema names the listing document (fsnap ls, fsnap latest).
const ListSchema = "fsnap.ls/v1"

// Listing is the fsnap.ls/v1 document: the snapshots under a root, newest
// first.
type Listing struct {
	Schema    string   `json:"schema"`
	Root      string   `json:"root"`
	Count     int      `json:"count"`     // snapshots listed
	Total     int      `json:"total"`     // snapshots found
	Truncated bool     `json:"truncated"` // Limit left some out
	Snapshots []Listed `json:"snapshots"`
	Unmanaged []string `json:"unmanaged"`
	// Policy is the retention policy whose verdicts the snapshots carry.
	Policy string `json:"policy,omitempty"`
	// UnmanagedMore counts unmanaged names beyond the first 1,000.
	UnmanagedMore int `json:"unmanaged_more"`
	// MaxDepth is how deep the scan looked, Scanned what it looked at.
	MaxDepth int    `json:"max_depth"`
	Scanned  string `json:"scanned"`
}

// Listed is one snapshot of a Listing (and fsnap latest's document).
type Listed struct {
	Name          string    `json:"name"`
	Location      string    `json:"location"`
	Job           string    `json:"job"`
	Type          string    `json:"type"` // checkpoint or savepoint (from the folder name)
	Kind          string    `json:"kind,omitempty"`
	CheckpointID  *int64    `json:"checkpoint_id,omitempty"`
	Complete      bool      `json:"complete"`
	Time          time.Time `json:"time"`
	MetadataBytes int64     `json:"metadata_bytes"`
	Bytes         int64     `json:"bytes"`
	Objects       int       `json:"objects"`
	Error         string    `json:"error,omitempty"`
	// Verdict is what a retention policy (ls --keep-…) does with it:
	// "keep" or "remove", with the rules that keep it.
	Verdict string   `json:"verdict,omitempty"`
	Because []string `json:"because,omitempty"`
}

// ListOptions narrow a listing.
type ListOptions struct {
	Limit      int  // only the newest Limit snapshots (0: all)
	Complete   bool // complete snapshots only
	NoMetadata bool // do not read _metadata (no kind; savepoints get no id)
	// Graph, built from the same scan, already read every complete
	// snapshot's _metadata: the listing takes kinds and ids from it
	// instead of reading each _metadata again.
	Graph *Graph
}

// List makes the listing of the snapshots a scan of root found.
func List(ctx context.Context, root *store.Location, c *Catalog, opt ListOptions) *Listing {
	snaps := NewestFirst(c.Snapshots())
	if opt.Complete {
		snaps = slices.DeleteFunc(snaps, func(f *Folder) bool { return !f.Complete })
	}
	r := &Listing{Schema: ListSchema, Root: root.Display, Total: len(snaps), Unmanaged: c.Unmanaged, UnmanagedMore: c.UnmanagedMore,
		MaxDepth: c.Depth, Scanned: c.Scanned()}
	if r.Unmanaged == nil {
		r.Unmanaged = []string{}
	}
	if opt.Limit > 0 && len(snaps) > opt.Limit {
		snaps, r.Truncated = snaps[:opt.Limit], true
	}
	var infos []Info
	switch {
	case opt.NoMetadata:
	case opt.Graph != nil:
		infos = make([]Info, len(snaps))
		for i, f := range snaps {
			infos[i] = opt.Graph.InfoOf(f)
		}
	default:
		infos = ReadInfo(ctx, root, snaps, 8)
	}
	// A snapshot's entropy data folders count as its own.
	data := map[string][]*Folder{}
	for _, f := range c.Folders {
		if f.IsEntropyData() && f.Kind.IsSnapshot() {
			data[f.Of] = append(data[f.Of], f)
		}
	}
	r.Snapshots = make([]Listed, len(snaps))
	for i, f := range snaps {
		var info Info
		if infos != nil {
			info = infos[i]
		}
		s := listed(root, f, info, infos != nil)
		for _, d := range data[f.Name] {
			s.Bytes += d.Bytes
			s.Objects += d.Objects
		}
		r.Snapshots[i] = s
	}
	r.Count = len(r.Snapshots)
	return r
}

// NewestFirst sorts snapshot folders by time, newest first; ties by
// checkpoint id, then name.
func NewestFirst(fs []*Folder) []*Folder {
	slices.SortStableFunc(fs, func(a, b *Folder) int {
		return cmp.Or(b.Time().Compare(a.Time()), cmp.Compare(b.CheckpointID, a.CheckpointID), strings.Compare(a.Name, b.Name))
	})
	return fs
}

func listed(root *store.Location, f *Folder, info Info, read bool) Listed {
	s := Listed{Name: f.Name, Location: root.NameOf(strings.TrimSuffix(f.Dir, "/")), Job: f.Job,
		Type: string(f.Kind), Complete: f.Complete, Time: f.Time().UTC(), MetadataBytes: f.MetadataSize,
		Bytes: f.Bytes, Objects: f.Objects}
	id := f.CheckpointID
	if read && f.Complete {
		if info.Err != nil {
			s.Error = info.Err.Error()
		} else {
			s.Kind, id = string(info.Kind), info.CheckpointID
		}
	}
	if id >= 0 {
		s.CheckpointID = &id
	}
	return s
}

// LatestDoc is fsnap latest's JSON document: the chosen snapshot's
// listing fields, under the listing schema.
type LatestDoc struct {
	Schema string `json:"schema"`
	Listed
}

// NewLatestDoc makes the document of Latest's choice.
func NewLatestDoc(s *Listed) *LatestDoc { return &LatestDoc{Schema: ListSchema, Listed: *s} }

// LatestOptions narrow the choice of Latest.
type LatestOptions struct {
	Type FolderKind // Checkpoint, Savepoint, or "" for any
	Job  string     // only snapshots in this folder under the root
	// Skipped, when set, is told of each newer snapshot whose _metadata
	// does not parse.
	Skipped func(name string, err error)
}

// ErrNoSnapshot is Latest's error when no complete snapshot qualifies.
var ErrNoSnapshot = errors.New("no complete snapshot")

// Latest chooses the newest complete snapshot whose _metadata parses: the
// one to restore from.
func Latest(ctx context.Context, root *store.Location, c *Catalog, opt LatestOptions) (*Listed, error) {
	snaps := slices.DeleteFunc(NewestFirst(c.Snapshots()), func(f *Folder) bool {
		return !f.Complete || (opt.Type != "" && f.Kind != opt.Type) || (opt.Job != "" && f.Job != opt.Job)
	})
	for _, f := range snaps {
		info := ReadInfo(ctx, root, []*Folder{f}, 1)[0]
		if info.StoreFailed {
			// Not skipped: the newest snapshot may be this one, and an older
			// one restored in its place would go back in time unasked.
			return nil, fmt.Errorf("%s: %w; it is not skipped for an older one, since it may be intact", f.Name, info.Err)
		}
		if info.Err != nil {
			if opt.Skipped != nil {
				opt.Skipped(f.Name, info.Err)
			}
			continue
		}
		s := listed(root, f, info, true)
		return &s, nil
	}
	return nil, fmt.Errorf("%w under %s", ErrNoSnapshot, root.Display)
}
