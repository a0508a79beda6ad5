package catalog

import (
	"strings"
	"time"

	"github.com/fsnap/fsnap/store"
)

// DepsSchema names the deps document.
const DepsSchema = "fsnap.deps/v1"

// Deps is the fsnap.deps/v1 document: which snapshot uses which file.
// Snapshot, file and external users are indices into Snapshots.
type Deps struct {
	Schema    string         `json:"schema"`
	Root      string         `json:"root"`
	Also      []string       `json:"also"`
	Snapshots []DepsSnapshot `json:"snapshots"`
	Files     []DepsFile     `json:"files"`
	Orphans   []DepsOrphan   `json:"orphans"`
	External  []DepsExternal `json:"external"`
	Unmanaged []string       `json:"unmanaged"`
	// UnmanagedMore counts unmanaged names beyond the first 1,000.
	UnmanagedMore int `json:"unmanaged_more"`
	// MaxDepth is how deep the root's scan looked, Scanned what it looked at.
	MaxDepth int        `json:"max_depth"`
	Scanned  string     `json:"scanned"`
	Totals   DepsTotals `json:"totals"`
	// Unreliable is set when some _metadata is unreadable: orphans and
	// owned bytes are then unknown (empty and zero).
	Unreliable bool `json:"unreliable"`
}

type DepsSnapshot struct {
	ID              int       `json:"id"`
	Name            string    `json:"name"`
	Location        string    `json:"location"`
	InRoot          bool      `json:"in_root"`
	Type            string    `json:"type"`
	Kind            string    `json:"kind,omitempty"`
	CheckpointID    int64     `json:"checkpoint_id"`
	Time            time.Time `json:"time"`
	Files           int       `json:"files"`
	ReferencedBytes int64     `json:"referenced_bytes"`
	SharedBytes     int64     `json:"shared_bytes"`
	OwnedBytes      int64     `json:"owned_bytes"`
	OwnedObjects    int       `json:"owned_objects"`
	DependsOn       []int     `json:"depends_on"`
	External        int       `json:"external"`
	Missing         int       `json:"missing"`
	Error           string    `json:"error,omitempty"`
}

type DepsFile struct {
	Key      string `json:"key"`
	Location string `json:"location"`
	Folder   string `json:"folder,omitempty"` // the managed folder, relative to the root
	Size     int64  `json:"size"`
	Stored   bool   `json:"stored"`
	Managed  bool   `json:"managed"` // in a listed folder: stored is certain
	Users    []int  `json:"users"`
}

type DepsOrphan struct {
	Key      string    `json:"key"`
	Location string    `json:"location"`
	Folder   string    `json:"folder"`
	Size     int64     `json:"size"`
	Modified time.Time `json:"modified"`
}

type DepsExternal struct {
	Path   string `json:"path"`
	Size   int64  `json:"size"`
	Reason string `json:"reason"`
	Users  []int  `json:"users"`
}

type DepsTotals struct {
	Snapshots       int   `json:"snapshots"`
	Files           int   `json:"files"` // referenced files under the root
	ReferencedBytes int64 `json:"referenced_bytes"`
	SharedFiles     int   `json:"shared_files"` // referenced by two snapshots or more
	SharedBytes     int64 `json:"shared_bytes"`
	Orphans         int   `json:"orphans"`
	OrphanBytes     int64 `json:"orphan_bytes"`
	External        int   `json:"external"`
	Missing         int   `json:"missing"`
	Unreadable      int   `json:"unreadable"`
}

// NewDeps makes the deps document of a graph; also are the other roots
// the graph was built with.
func NewDeps(g *Graph, also []*store.Location) *Deps {
	d := &Deps{Schema: DepsSchema, Root: g.Root.Root.Display, Also: []string{}, Unmanaged: g.Root.Unmanaged,
		UnmanagedMore: g.Root.UnmanagedMore, MaxDepth: g.Root.Depth, Scanned: g.Root.Scanned(),
		Files: []DepsFile{}, Orphans: []DepsOrphan{}, External: []DepsExternal{}, Unreliable: len(g.Unreadable) > 0}
	if d.Unmanaged == nil {
		d.Unmanaged = []string{}
	}
	for _, l := range also {
		d.Also = append(d.Also, l.Display)
	}
	for i, n := range g.Nodes {
		s := DepsSnapshot{ID: i, Name: n.Name, Location: n.Catalog.Root.NameOf(strings.TrimSuffix(n.Folder.Dir, "/")),
			InRoot: n.InRoot, Type: string(n.Folder.Kind), Kind: string(n.Kind), CheckpointID: n.CheckpointID,
			Time: n.Folder.MetadataTime.UTC(), Files: len(n.Files), ReferencedBytes: n.ReferencedBytes,
			SharedBytes: n.SharedBytes, OwnedBytes: n.OwnedBytes, OwnedObjects: n.OwnedObjects,
			DependsOn: ints(n.DependsOn), External: len(n.External), Missing: n.Missing}
		if n.Err != nil {
			s.Error = n.Err.Error()
			d.Totals.Unreadable++
		}
		d.Snapshots = append(d.Snapshots, s)
		d.Totals.Missing += n.Missing
	}
	d.Totals.Snapshots = len(g.Nodes)
	for i := range g.Files {
		f := &g.Files[i]
		if f.Refs == 0 {
			continue
		}
		df := DepsFile{Key: f.Key, Location: g.Location(f.Key), Size: f.Size, Stored: f.Stored, Managed: f.Managed,
			Users: ints(g.Users(int32(i)))}
		if f.Folder != nil {
			df.Folder = f.Folder.Name
		}
		d.Files = append(d.Files, df)
		d.Totals.Files++
		d.Totals.ReferencedBytes += f.Size
		if f.Refs > 1 {
			d.Totals.SharedFiles++
			d.Totals.SharedBytes += f.Size
		}
	}
	for _, fi := range g.Orphans() {
		f := &g.Files[fi]
		d.Orphans = append(d.Orphans, DepsOrphan{Key: f.Key, Location: g.Location(f.Key), Folder: f.Folder.Name,
			Size: f.Size, Modified: time.Unix(0, f.ModTime).UTC()})
		d.Totals.Orphans++
		d.Totals.OrphanBytes += f.Size
	}
	for _, x := range g.External {
		d.External = append(d.External, DepsExternal{Path: x.Path, Size: x.Size, Reason: x.Reason, Users: ints(x.Users)})
	}
	d.Totals.External = len(g.External)
	return d
}

func ints(xs []int32) []int {
	out := make([]int, len(xs))
	for i, x := range xs {
		out[i] = int(x)
	}
	return out
}
