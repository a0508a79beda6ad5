package catalog

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"

	"github.com/fsnap/fsnap/snapshot"
	"github.com/fsnap/fsnap/store"
)

// ErrChanged says that the root changed while it was read (a _metadata
// listed a moment ago is gone): scan again.
var ErrChanged = errors.New("the root changed while it was read (a checkpoint was subsumed or deleted); scan again")

// Graph is the ownership and dependency graph of the complete snapshots
// under a root, and of snapshots under other roots that may use its files.
//
// Files are the files under the root: every object stored in a managed
// folder, and every file under the root a snapshot references. References
// to files outside the root (another prefix, bucket or store) are External:
// never deleted, reported.
type Graph struct {
	Root  *Catalog
	Also  []*Catalog
	Nodes []*Node // complete snapshots: the root's in folder order, then each other root's
	Files []File  // sorted by key
	// External lists the distinct paths outside the root that the root's
	// snapshots reference, sorted.
	External []External
	// Unconfirmed lists the referenced paths (secrets redacted, sorted)
	// that name the root's bucket and a key of an object stored under the
	// root, but that the root cannot confirm are in it: Azure paths whose
	// storage account it does not know (credentials from a connection
	// string) or that differs. Each is taken as that object: a file in use
	// must never look like an orphan.
	Unconfirmed []string
	// Unreadable lists the nodes whose _metadata could not be read or
	// parsed: what they reference is unknown, so nothing may be deleted.
	Unreadable []*Node

	users   []int32 // users of file i: users[userOff[i]:userOff[i+1]]
	userOff []int32
	byKey   map[string]int32
	byDir   map[string]int32 // snapshot folder Dir -> node
}

// Node is one complete snapshot.
type Node struct {
	Catalog *Catalog
	Folder  *Folder
	// Name is the folder's name relative to the root for the root's
	// snapshots, else its location (scheme://bucket/key or path).
	Name   string
	InRoot bool
	Kind   snapshot.Kind
	// CheckpointID is the id in _metadata (savepoints have one too).
	CheckpointID int64
	Err          error // unreadable _metadata

	Files    []int32 // indices into Graph.Files, sorted, distinct
	External []int32 // indices into Graph.External

	ReferencedBytes int64 // all files it references, external ones included
	SharedBytes     int64 // referenced files that other snapshots reference too
	// OwnedBytes and OwnedObjects are what deleting it frees: its
	// _metadata, the stored files only it references, and the
	// unreferenced objects left in its folder.
	OwnedBytes   int64
	OwnedObjects int
	DependsOn    []int32 // nodes whose folders hold files it references
	Missing      int     // referenced files in managed folders that are not stored
}

// Location names where a file or folder of the root is.
func (g *Graph) Location(key string) string { return g.Root.Root.NameOf(key) }

// File is a file under the root.
type File struct {
	Key string
	// Folder is the managed folder holding it; nil when it lies elsewhere
	// under the root (Managed false) or in a managed folder that does not
	// exist.
	Folder *Folder
	// Managed says the file lies where listings are complete (a chk-N,
	// savepoint-*, shared or taskowned folder), so Stored is certain; an
	// unmanaged place was not listed.
	Managed bool
	Stored  bool
	Size    int64 // as stored, else as the referencing handle says
	ModTime int64 // Unix nanoseconds, when stored
	Refs    int32 // snapshots referencing it (unreadable ones unknown)
}

// External is a path outside the root that snapshots of the root reference.
type External struct {
	Path   string // as written, secrets redacted
	Size   int64
	Reason string // "outside-root", "other-bucket" or "unsupported-store"
	Users  []int32
}

// Users returns the nodes referencing file i.
func (g *Graph) Users(i int32) []int32 { return g.users[g.userOff[i]:g.userOff[i+1]] }

// FileIndex returns the index of the file with key, or -1.
func (g *Graph) FileIndex(key string) int32 {
	if i, ok := g.byKey[key]; ok {
		return i
	}
	return -1
}

// NodeOfFolder returns the node of a snapshot folder, or nil.
func (g *Graph) NodeOfFolder(f *Folder) *Node {
	if f == nil {
		return nil
	}
	if i, ok := g.byDir[f.Dir]; ok && g.Nodes[i].Folder == f {
		return g.Nodes[i]
	}
	return nil
}

// InfoOf is what the graph read from a snapshot folder's _metadata, as
// ReadInfo would read it again; a zero Info for folders that are no node
// (incomplete ones).
func (g *Graph) InfoOf(f *Folder) Info {
	n := g.NodeOfFolder(f)
	if n == nil {
		return Info{}
	}
	return Info{Kind: n.Kind, CheckpointID: n.CheckpointID, Err: n.Err}
}

// BuildOptions tune Build.
type BuildOptions struct {
	// Parallel is how many _metadata files are read and parsed at once
	// (default 4; fewer when they are large: about 256 MiB at a time).
	Parallel int
	// MaxMetadataSize bounds each _metadata (default snapshot.MaxMetadataSize).
	MaxMetadataSize int64
	// Parsed, when set, gets each snapshot whose _metadata was read and
	// parsed without error (i indexes Graph.Nodes), from the goroutines
	// reading them: a caller that needs more than the graph takes it from
	// here rather than reading every _metadata a second time.
	Parsed func(i int, n *Node, s *snapshot.Snapshot)
}

// Build reads every complete snapshot's _metadata under root (scanned with
// Keep and Areas) and the other roots, and builds the graph.
func Build(ctx context.Context, root *Catalog, also []*Catalog, opt BuildOptions) (*Graph, error) {
	if opt.Parallel <= 0 {
		opt.Parallel = 4
	}
	if opt.MaxMetadataSize <= 0 {
		opt.MaxMetadataSize = snapshot.MaxMetadataSize
	}
	if !root.opt.Keep || !root.opt.Areas {
		return nil, fmt.Errorf("catalog: the root must be scanned with Keep and Areas to build its graph")
	}
	g := &Graph{Root: root, Also: also, byKey: map[string]int32{}, byDir: map[string]int32{}}
	seen := map[string]bool{} // overlapping roots list a snapshot once
	for ci, c := range append([]*Catalog{root}, also...) {
		for _, f := range c.Folders {
			if !f.Kind.IsSnapshot() || !f.Complete {
				continue
			}
			id := c.Root.Scheme + "://" + c.Root.Name + "/" + f.Dir
			if seen[id] {
				continue
			}
			seen[id] = true
			n := &Node{Catalog: c, Folder: f, InRoot: ci == 0, CheckpointID: f.CheckpointID}
			n.Name = f.Name
			if !n.InRoot {
				n.Name = c.Root.NameOf(strings.TrimSuffix(f.Dir, "/"))
			} else {
				g.byDir[f.Dir] = int32(len(g.Nodes))
			}
			g.Nodes = append(g.Nodes, n)
		}
	}
	// Stored files first, in key order.
	for _, f := range root.Folders {
		for _, e := range f.Entries {
			key := f.Dir + e.Name
			g.byKey[key] = int32(len(g.Files))
			g.Files = append(g.Files, File{Key: key, Folder: f, Managed: true, Stored: true, Size: e.Size, ModTime: e.ModTime})
		}
	}
	b := &builder{g: g, ext: map[string]int32{}, paths: map[string]int32{}}
	if err := b.load(ctx, opt); err != nil {
		return nil, err
	}
	g.sortFiles()
	slices.Sort(g.Unconfirmed)
	g.analyse()
	return g, nil
}

type builder struct {
	g     *Graph
	ext   map[string]int32 // external path -> index
	paths map[string]int32 // absolute path as written -> file (>= 0) or external (-1 - index)
}

// ref is one file a snapshot references: an absolute path as written, or
// the key of a relative file under the root.
type ref struct {
	path string // absolute path; "" for a relative file
	key  string
	size int64
}

type loaded struct {
	node int
	refs []ref
	err  error // a store error: the build fails
}

// load reads and parses the nodes' _metadata in parallel and records their
// references, in the order they arrive, in this goroutine.
func (b *builder) load(ctx context.Context, opt BuildOptions) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	work := make(chan int)
	out := make(chan loaded, opt.Parallel)
	mem := newBudget(metadataBudget)
	var wg sync.WaitGroup
	for range opt.Parallel {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range work {
				size := b.g.Nodes[i].Folder.MetadataSize
				mem.acquire(size)
				refs, err := b.read(ctx, i, opt)
				mem.release(size)
				select {
				case out <- loaded{node: i, refs: refs, err: err}:
				case <-ctx.Done():
					return
				}
			}
		}()
	}
	go func() {
		defer close(work)
		for i := range b.g.Nodes {
			select {
			case work <- i:
			case <-ctx.Done():
				return
			}
		}
	}()
	go func() { wg.Wait(); close(out) }()
	var first error
	for l := range out {
		if l.err != nil {
			if first == nil {
				first = l.err
				cancel()
			}
			continue
		}
		b.record(l.node, l.refs)
	}
	if first != nil {
		return first
	}
	return ctx.Err()
}

// read loads one node's _metadata and returns its references. A parse
// error is recorded on the node; store errors are returned.
func (b *builder) read(ctx context.Context, i int, opt BuildOptions) ([]ref, error) {
	n := b.g.Nodes[i]
	loc, root := n.Catalog.Root, b.g.Root.Root
	data, err := loc.ReadAll(ctx, n.Folder.MetadataKey(), opt.MaxMetadataSize)
	if store.IsNotExist(err) {
		return nil, fmt.Errorf("%s: %w", loc.NameOf(n.Folder.MetadataKey()), ErrChanged)
	}
	if err != nil {
		return nil, err
	}
	fail := func(err error) ([]ref, error) {
		n.Err = fmt.Errorf("%s: %w", loc.NameOf(n.Folder.MetadataKey()), err)
		return nil, nil
	}
	s, err := snapshot.Parse(loc.NameOf(strings.TrimSuffix(n.Folder.Dir, "/")), data)
	if err != nil {
		return fail(err)
	}
	n.Kind, n.CheckpointID = s.Kind.Kind, s.Metadata.CheckpointID
	sameBucket := loc.Scheme == root.Scheme && loc.Name == root.Name
	refs := make([]ref, 0, len(s.Files))
	for _, f := range s.Files {
		switch {
		case f.Scope == snapshot.ScopeInline:
		case f.Unsafe != nil:
			return fail(f.Unsafe)
		case f.Relative != "":
			key, err := store.Join(n.Folder.Dir, f.Relative)
			if err != nil {
				return fail(err)
			}
			// A relative file of another root's snapshot lies in that
			// snapshot's folder, outside this root unless the roots overlap.
			if sameBucket && strings.HasPrefix(key, root.Prefix) {
				refs = append(refs, ref{key: key, size: f.Size})
			}
		default:
			refs = append(refs, ref{path: f.Path, size: f.Size})
		}
	}
	if opt.Parsed != nil {
		opt.Parsed(i, n, s)
	}
	return refs, nil
}

// absolute maps an absolute path to a key under the root, or says why it
// is external. A path naming the root's bucket that the root cannot
// confirm (see Graph.Unconfirmed) maps to its key when that is stored.
func (b *builder) absolute(raw string) (key, reason string) {
	root := b.g.Root.Root
	p, err := store.ParseFlinkPath(raw)
	if err != nil || p.Store == "" {
		return "", "unsupported-store"
	}
	key, ok := root.KeyOf(p)
	if !ok && p.Store == root.Scheme && p.Bucket == root.Name {
		if fi, stored := b.g.byKey[p.Key]; stored && b.g.Files[fi].Stored {
			b.g.Unconfirmed = append(b.g.Unconfirmed, store.RedactURL(raw))
			return p.Key, ""
		}
	}
	switch {
	case !ok:
		return "", "other-bucket"
	case !strings.HasPrefix(key, root.Prefix):
		return "", "outside-root"
	}
	return key, ""
}

// record adds a node's references to the file and external tables. Paths
// recur in every checkpoint (shared SSTs): each is mapped once.
func (b *builder) record(ni int, refs []ref) {
	g := b.g
	n := g.Nodes[ni]
	for _, x := range refs {
		fi := int32(-1)
		if x.path != "" {
			i, ok := b.paths[x.path]
			if !ok {
				key, reason := b.absolute(x.path)
				if key != "" {
					i = b.file(key, x.size)
				} else {
					i = -1 - b.external(store.RedactURL(x.path), x.size, reason)
				}
				b.paths[strings.Clone(x.path)] = i
			}
			if i < 0 {
				if n.InRoot { // other roots' external references are theirs
					ei := -1 - i
					g.External[ei].Users = append(g.External[ei].Users, int32(ni))
					n.External = append(n.External, ei)
				}
				continue
			}
			fi = i
		} else {
			fi = b.file(x.key, x.size)
		}
		n.Files = append(n.Files, fi)
	}
}

// file returns the index of the file with key, adding it when new.
func (b *builder) file(key string, size int64) int32 {
	g := b.g
	if fi, ok := g.byKey[key]; ok {
		return fi
	}
	key = strings.Clone(key)
	fi := int32(len(g.Files))
	g.byKey[key] = fi
	f := File{Key: key, Size: size}
	if _, _, kind, _ := classify(key[len(g.Root.Root.Prefix):], g.Root.opt.depth()); kind != "" {
		f.Managed = true
		f.Folder = g.Root.FolderOf(key)
	}
	g.Files = append(g.Files, f)
	return fi
}

// external returns the index of an external path, adding it when new.
func (b *builder) external(path string, size int64, reason string) int32 {
	ei, ok := b.ext[path]
	if !ok {
		ei = int32(len(b.g.External))
		b.ext[path] = ei
		b.g.External = append(b.g.External, External{Path: path, Size: size, Reason: reason})
	}
	return ei
}

// sortFiles puts Files and External in key order and renumbers the
// references.
func (g *Graph) sortFiles() {
	var newIdx, enew []int32
	g.Files, newIdx = sortIndexed(g.Files, func(a, b File) int { return strings.Compare(a.Key, b.Key) })
	for i, f := range g.Files {
		g.byKey[f.Key] = int32(i)
	}
	g.External, enew = sortIndexed(g.External, func(a, b External) int { return strings.Compare(a.Path, b.Path) })
	for _, n := range g.Nodes {
		n.Files = renumber(n.Files, newIdx)
		n.External = renumber(n.External, enew)
	}
}

// sortIndexed returns xs sorted and, for each old index, the new one.
func sortIndexed[T any](xs []T, cmp func(a, b T) int) ([]T, []int32) {
	perm := make([]int32, len(xs))
	for i := range perm {
		perm[i] = int32(i)
	}
	slices.SortFunc(perm, func(a, b int32) int { return cmp(xs[a], xs[b]) })
	newIdx := make([]int32, len(perm))
	out := make([]T, len(perm))
	for to, from := range perm {
		newIdx[from] = int32(to)
		out[to] = xs[from]
	}
	return out, newIdx
}

// renumber maps references through newIdx, sorted and without repeats.
func renumber(refs, newIdx []int32) []int32 {
	for i, r := range refs {
		refs[i] = newIdx[r]
	}
	slices.Sort(refs)
	return slices.Compact(refs)
}

// analyse counts users and computes each node's bytes and dependencies.
func (g *Graph) analyse() {
	// Users as compressed rows, in node order.
	g.userOff = make([]int32, len(g.Files)+1)
	for _, n := range g.Nodes {
		for _, f := range n.Files {
			g.userOff[f+1]++
		}
	}
	for i := range g.Files {
		g.Files[i].Refs = g.userOff[i+1]
		g.userOff[i+1] += g.userOff[i]
	}
	g.users = make([]int32, g.userOff[len(g.Files)])
	fill := slices.Clone(g.userOff[:len(g.Files)])
	for ni, n := range g.Nodes {
		if n.Err != nil {
			g.Unreadable = append(g.Unreadable, n)
		}
		for _, f := range n.Files {
			g.users[fill[f]] = int32(ni)
			fill[f]++
		}
	}
	for i := range g.External {
		slices.Sort(g.External[i].Users)
		g.External[i].Users = slices.Compact(g.External[i].Users)
	}
	for ni, n := range g.Nodes {
		deps := map[int32]bool{}
		for _, fi := range n.Files {
			f := &g.Files[fi]
			n.ReferencedBytes += f.Size
			if f.Refs > 1 {
				n.SharedBytes += f.Size
			}
			if f.Managed && !f.Stored {
				n.Missing++
			}
			if f.Folder != nil && f.Folder.Kind.IsSnapshot() {
				if m, ok := g.byDir[f.Folder.Dir]; ok && m != int32(ni) {
					deps[m] = true
				}
			}
		}
		for _, e := range n.External {
			n.ReferencedBytes += g.External[e].Size
		}
		for m := range deps {
			n.DependsOn = append(n.DependsOn, m)
		}
		slices.Sort(n.DependsOn)
		if n.InRoot {
			for _, o := range g.Frees(n) {
				n.OwnedBytes += o.Size
				n.OwnedObjects++
			}
		}
	}
}

// Freed is an object deleting a snapshot would remove.
type Freed struct {
	Key     string
	Size    int64
	ModTime int64
	Why     FreedWhy
}

// FreedWhy says why deleting a snapshot removes an object.
type FreedWhy string

const (
	FreedMetadata     FreedWhy = "snapshot-metadata"               // the snapshot's _metadata
	FreedOnlyUser     FreedWhy = "referenced-only-by-snapshot"     // no other snapshot references it
	FreedUnreferenced FreedWhy = "unreferenced-in-snapshot-folder" // left in its folder, referenced by nothing
)

// Frees returns what deleting a snapshot of the root removes, _metadata
// first: the stored files under the root that only it references, then
// the objects of its folder that nothing references. Files in unmanaged
// places are included by their referenced size (their existence is not
// known from the listing); callers check them. Nil when some snapshot is
// unreadable.
func (g *Graph) Frees(n *Node) []Freed {
	if !n.InRoot || len(g.Unreadable) > 0 {
		return nil
	}
	f := n.Folder
	out := []Freed{{Key: f.MetadataKey(), Size: f.MetadataSize, ModTime: f.MetadataTime.UnixNano(), Why: FreedMetadata}}
	for _, fi := range n.Files {
		file := &g.Files[fi]
		if file.Refs != 1 || (file.Managed && !file.Stored) {
			continue
		}
		out = append(out, Freed{Key: file.Key, Size: file.Size, ModTime: file.ModTime, Why: FreedOnlyUser})
	}
	for _, e := range f.Entries {
		key := f.Dir + e.Name
		if e.Name == store.MetadataName {
			continue
		}
		if fi, ok := g.byKey[key]; ok && g.Files[fi].Refs > 0 {
			continue
		}
		out = append(out, Freed{Key: key, Size: e.Size, ModTime: e.ModTime, Why: FreedUnreferenced})
	}
	return out
}

// FreesAll is what deleting the snapshots ns together frees, within their
// own folders only: each one's _metadata first, then the stored files in
// their folders that no other snapshot references, then the other objects
// of their folders that nothing references. Files elsewhere (shared/,
// taskowned/) are left to gc, with its age guard. Nil when some snapshot
// is unreadable or ns holds a node of another root.
func (g *Graph) FreesAll(ns []*Node) []Freed {
	if len(g.Unreadable) > 0 {
		return nil
	}
	gone := map[*Node]bool{}
	dirs := map[string]bool{}
	var out []Freed
	for _, n := range ns {
		if !n.InRoot {
			return nil
		}
		gone[n] = true
		dirs[n.Folder.Dir] = true
		f := n.Folder
		out = append(out, Freed{Key: f.MetadataKey(), Size: f.MetadataSize, ModTime: f.MetadataTime.UnixNano(), Why: FreedMetadata})
	}
	for _, n := range ns {
		f := n.Folder
		for _, e := range f.Entries {
			key := f.Dir + e.Name
			if e.Name == store.MetadataName {
				continue
			}
			fi, ok := g.byKey[key]
			if !ok || g.Files[fi].Refs == 0 {
				out = append(out, Freed{Key: key, Size: e.Size, ModTime: e.ModTime, Why: FreedUnreferenced})
				continue
			}
			only := true
			for _, u := range g.Users(fi) {
				only = only && gone[g.Nodes[u]]
			}
			if only && int(g.Files[fi].Refs) == len(g.Users(fi)) {
				out = append(out, Freed{Key: key, Size: e.Size, ModTime: e.ModTime, Why: FreedOnlyUser})
			}
		}
	}
	return out
}

// Orphans returns the stored objects in managed folders that no snapshot
// references (complete snapshots' _metadata excluded), in key order. Nil
// when some snapshot is unreadable.
func (g *Graph) Orphans() []int32 {
	if len(g.Unreadable) > 0 {
		return nil
	}
	var out []int32
	for i := range g.Files {
		f := &g.Files[i]
		if !f.Stored || f.Refs > 0 || f.Folder == nil {
			continue
		}
		if f.Folder.Complete && f.Key == f.Folder.MetadataKey() {
			continue
		}
		out = append(out, int32(i))
	}
	return out
}

// SortNodes orders nodes for display: by root, job, kind, then checkpoint
// id or time.
func SortNodes(ns []*Node) {
	slices.SortStableFunc(ns, func(a, b *Node) int {
		return cmp.Or(
			cmp.Compare(btoi(!a.InRoot), btoi(!b.InRoot)),
			strings.Compare(a.Folder.Job, b.Folder.Job),
			strings.Compare(string(a.Folder.Kind), string(b.Folder.Kind)),
			cmp.Compare(a.Folder.CheckpointID, b.Folder.CheckpointID),
			a.Folder.MetadataTime.Compare(b.Folder.MetadataTime),
			strings.Compare(a.Name, b.Name))
	})
}

func btoi(b bool) int {
	if b {
		return 1
	}
	return 0
}
