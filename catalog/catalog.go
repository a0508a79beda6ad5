// Package catalog finds the snapshots under a checkpoint or savepoint root
// and builds the graph of which snapshot references which file: what each
// snapshot alone owns, what is shared, which snapshot depends on another's
// folder, and which stored files nothing references.
//
// A root is any folder of a store (see package store). Recognised layouts,
// at the root and in folders below it down to Options.MaxDepth:
//
//	ROOT/chk-N/            checkpoint folders (the root is a job's folder)
//	ROOT/shared/           shared state (incremental SSTs) of that job
//	ROOT/taskowned/        task-owned state of that job
//	ROOT/savepoint-*/      savepoint folders (the root is a savepoint target)
//	ROOT/<job>/chk-N/, ROOT/<job>/shared/, ROOT/<job>/taskowned/, ROOT/<dir>/savepoint-*/
//	ROOT/checkpoints/<job>/chk-N/, ROOT/savepoints/savepoint-*/, ...
//	ROOT/<entropy>/checkpoints/<job>/chk-N/, .../shared/: the data folders
//	    of Flink's entropy injection (s3.entropy.key), see Folder.Entropy
//
// Everything else under the root (files beside those folders, folders such
// as <job>/dstl/, folders deeper than MaxDepth) is unmanaged: reported,
// never listed deeply, never deleted.
package catalog

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"os"
	"path"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/fsnap/fsnap/store"
)

// FolderKind is what a managed folder is.
type FolderKind string

const (
	Checkpoint FolderKind = "checkpoint" // chk-N
	Savepoint  FolderKind = "savepoint"  // savepoint-*
	Shared     FolderKind = "shared"     // a job's shared/
	TaskOwned  FolderKind = "taskowned"  // a job's taskowned/
)

// IsSnapshot reports whether folders of kind k hold one snapshot each.
func (k FolderKind) IsSnapshot() bool { return k == Checkpoint || k == Savepoint }

// Folder is a managed folder under the root and what its listing found.
type Folder struct {
	Name string     // relative to the root, no trailing "/": "chk-7", "<job>/shared"
	Dir  string     // its key prefix in the root's bucket, ending in "/"
	Kind FolderKind //
	// Job is the folder holding it, relative to the root ("" for the root
	// itself): the job for checkpoints, shared and taskowned, the savepoint
	// target for savepoints. For an entropy data folder it is the job
	// without the injected element.
	Job string
	// Entropy is set on the folders Flink's entropy injection wrote data
	// files to: the random path element it put where the entropy key was
	// (ROOT/<entropy>/checkpoints/<job>/chk-7 beside the folder of the
	// _metadata, ROOT/checkpoints/<job>/chk-7, written with the key
	// removed). Of is then the folder's name without the element. An
	// entropy data folder of a snapshot is not a snapshot itself.
	Entropy, Of string
	// CheckpointID is N of chk-N; -1 for other folders.
	CheckpointID int64

	Objects int   // objects in the folder (at any depth)
	Bytes   int64 // their total size
	// Newest is the modification time of the newest object (of an
	// incomplete snapshot, of its entropy data folders' too).
	Newest time.Time

	// Snapshot folders: whether _metadata is there, and its attributes.
	Complete     bool
	MetadataTime time.Time
	MetadataSize int64

	// Entries lists the folder's objects when the scan keeps them, in key
	// order; names are relative to Dir.
	Entries []Entry
	// Nested names the _metadata objects below the folder's top (relative
	// to Dir): snapshots inside another managed folder, which a scan does
	// not take as snapshots.
	Nested []string
}

// IsEntropyData reports whether f holds a snapshot's entropy-injected
// data files rather than being a snapshot or area of its own.
func (f *Folder) IsEntropyData() bool { return f.Entropy != "" }

// MetadataKey is the key of the folder's _metadata.
func (f *Folder) MetadataKey() string { return f.Dir + store.MetadataName }

// Time is the snapshot's time: that of _metadata, else of the newest object.
func (f *Folder) Time() time.Time {
	if f.Complete {
		return f.MetadataTime
	}
	return f.Newest
}

// Entry is one object of a folder.
type Entry struct {
	Name    string // relative to the folder's Dir
	Size    int64
	ModTime int64 // Unix nanoseconds
}

// Catalog is what a scan of a root found.
type Catalog struct {
	Root    *store.Location
	Folders []*Folder // sorted by Name
	// Unmanaged names objects and folders under the root that are not
	// checkpoint storage fsnap manages (relative, folders ending in "/");
	// folders are not listed, so their contents are not counted. At most
	// MaxUnmanaged names are kept; UnmanagedMore counts the others.
	Unmanaged     []string
	UnmanagedMore int

	// Depth is how many folders deep the scan looked; Walked counts the
	// listings it made to find managed folders (one on mem://, which is
	// listed flat). Deeper counts the folders Depth deep it did not look
	// into (snapshots in them were not found); DeeperNames names the
	// first few, relative to the root, ending in "/".
	Depth       int
	Walked      int
	Deeper      int
	DeeperNames []string

	opt Options
}

// Snapshots returns the snapshot folders, complete or not (entropy data
// folders are part of their snapshot, not snapshots).
func (c *Catalog) Snapshots() []*Folder {
	var out []*Folder
	for _, f := range c.Folders {
		if f.Kind.IsSnapshot() && !f.IsEntropyData() {
			out = append(out, f)
		}
	}
	return out
}

// Folder returns the managed folder with the given name, or nil.
func (c *Catalog) Folder(name string) *Folder {
	i, ok := slices.BinarySearchFunc(c.Folders, name, func(f *Folder, n string) int { return strings.Compare(f.Name, n) })
	if !ok {
		return nil
	}
	return c.Folders[i]
}

// FolderOf returns the managed folder holding key, or nil.
func (c *Catalog) FolderOf(key string) *Folder {
	rel, ok := strings.CutPrefix(key, c.Root.Prefix)
	if !ok {
		return nil
	}
	name, _, kind, _ := classify(rel, c.opt.depth())
	if kind == "" {
		return nil
	}
	return c.Folder(name)
}

// Scanned says what the scan looked at, for people: how deep, how many
// listings, entropy data folders, and the folders too deep to look into.
func (c *Catalog) Scanned() string {
	s := fmt.Sprintf("looked for chk-N, savepoint-*, shared/ and taskowned/ folders in %s and up to %d folder(s) below it (--max-depth %d; %d listing(s))",
		c.Root.Display, c.Depth-1, c.Depth, c.Walked)
	n := 0
	for _, f := range c.Folders {
		if f.IsEntropyData() {
			n++
		}
	}
	if n > 0 {
		s += fmt.Sprintf("; %d entropy-injected data folder(s) counted with their snapshots", n)
	}
	if c.Deeper > 0 {
		s += fmt.Sprintf("; %d folder(s) at that depth not looked into, such as %s (--max-depth %d looks deeper)", c.Deeper, c.DeeperNames[0], c.Depth+1)
	}
	return s
}

// MaxUnmanaged bounds Catalog.Unmanaged.
const MaxUnmanaged = 1000

// unmanaged records an unmanaged name (callers serialise).
func (s *scan) unmanaged(name string) {
	u := s.c.Unmanaged
	switch {
	case len(u) > 0 && u[len(u)-1] == name: // keys come in order
	case len(u) < MaxUnmanaged:
		s.c.Unmanaged = append(u, name)
	default:
		s.c.UnmanagedMore++
	}
}

// Options tune a scan.
type Options struct {
	// Areas lists shared/ and taskowned/ folders too (ls does not need them).
	Areas bool
	// Keep keeps every object's name, size and time in Folder.Entries
	// (about 80 bytes an object), for deps and gc.
	Keep bool
	// MayBeMissing lists a local root that does not exist as empty (the
	// other roots of gc --also); else it is an ErrNoRoot.
	MayBeMissing bool
	// Parallel is how many folders are listed at once (default 8).
	Parallel int
	// MaxDepth is how many folders deep snapshot folders (chk-N,
	// savepoint-*) and shared/, taskowned/ are looked for: 1 the root
	// itself, 2 also one folder down (ROOT/<job>/chk-N), 3 two down
	// (BUCKET/checkpoints/<job>/chk-N), ... (DefaultMaxDepth when 0).
	// Folders deeper than that are unmanaged: never deleted, their files
	// never orphans; Catalog.Deeper counts them.
	MaxDepth int
}

// DefaultMaxDepth is the depth of a scan without Options.MaxDepth: deep
// enough for BUCKET/<prefix>/<entropy>/checkpoints/<job>/chk-N (5) with a
// folder to spare, shallow enough that a scan of a bucket holding other
// data stays a bounded number of listings.
const DefaultMaxDepth = 6

func (o Options) depth() int {
	if o.MaxDepth <= 0 {
		return DefaultMaxDepth
	}
	return o.MaxDepth
}

// ErrNoRoot is a root that does not exist.
var ErrNoRoot = errors.New("nothing is there")

// Scan lists the root. On mem:// it lists the root in one flat pass (the
// in-memory store sorts every key for each listing call); elsewhere it
// lists folder by folder down to the scan's depth and then the managed
// folders in parallel, never descending into unmanaged folders deeper.
func Scan(ctx context.Context, root *store.Location, opt Options) (*Catalog, error) {
	if opt.Parallel <= 0 {
		opt.Parallel = 8
	}
	if root.Scheme == "file" && !opt.MayBeMissing {
		// A root that does not exist is a mistake, not an empty root.
		dir := root.NameOf(root.Prefix)
		if fi, err := os.Stat(dir); err != nil || !fi.IsDir() {
			if err == nil {
				err = fmt.Errorf("not a directory")
			}
			return nil, fmt.Errorf("no such root %s: %w", dir, ErrNoRoot)
		}
	}
	s := &scan{c: &Catalog{Root: root, opt: opt}, opt: opt, folders: map[string]*Folder{}}
	var err error
	if root.Scheme == "mem" {
		err = s.flat(ctx)
	} else {
		err = s.tree(ctx)
	}
	if err != nil {
		return nil, err
	}
	s.c.Depth = opt.depth()
	s.entropy()
	for _, f := range s.folders {
		s.c.Folders = append(s.c.Folders, f)
	}
	slices.SortFunc(s.c.Folders, func(a, b *Folder) int { return strings.Compare(a.Name, b.Name) })
	slices.Sort(s.c.Unmanaged)
	s.c.Unmanaged = slices.Compact(s.c.Unmanaged)
	return s.c, nil
}

type scan struct {
	c       *Catalog
	opt     Options
	mu      sync.Mutex
	folders map[string]*Folder
}

// maxDeeperNames bounds Catalog.DeeperNames.
const maxDeeperNames = 5

// deeper records a folder at the scan's depth that was not looked into
// (callers serialise; keys come in order, so a folder's keys are adjacent).
func (s *scan) deeper(name string) {
	c := s.c
	if n := len(c.DeeperNames); n > 0 && c.DeeperNames[n-1] == name {
		return
	}
	c.Deeper++
	if len(c.DeeperNames) < maxDeeperNames {
		c.DeeperNames = append(c.DeeperNames, name)
	}
}

// entropy finds the folders Flink's entropy injection wrote data files to.
// With s3.entropy.key set (say s3://bucket/_entropy_/checkpoints), Flink
// writes a checkpoint's data files under the path with the key replaced by
// random letters and digits (bucket/a1B2/checkpoints/<job>/chk-7/<uuid>,
// .../<job>/shared/<uuid>) and its _metadata under the path with the key
// removed (bucket/checkpoints/<job>/chk-7/_metadata): see Flink's
// EntropyInjector and FsCheckpointStorageLocation. So a folder without
// _metadata whose job, less one alphanumeric element, is the job of a
// complete snapshot holds that job's data. The job is never the root
// itself: Flink appends the job id after the configured (entropy) path.
func (s *scan) entropy() {
	jobs := map[string]bool{}
	for _, f := range s.folders {
		if f.Kind.IsSnapshot() && f.Complete && f.Job != "" {
			jobs[f.Job] = true
		}
	}
	if len(jobs) == 0 {
		return
	}
	for _, f := range s.folders {
		if f.Complete || jobs[f.Job] || f.Job == "" {
			continue
		}
		elems := strings.Split(f.Job, "/")
		for i, e := range elems {
			job := strings.Join(slices.Concat(elems[:i], elems[i+1:]), "/")
			if alphanumeric(e) && jobs[job] {
				f.Entropy, f.Job, f.Of = e, job, job+"/"+path.Base(f.Name)
				break
			}
		}
	}
	// A snapshot whose _metadata is not written yet (in flight, failed)
	// has only its data folders: stand it in for them, as incomplete, with
	// their time.
	for _, f := range slices.Collect(maps.Values(s.folders)) {
		if !f.IsEntropyData() || !f.Kind.IsSnapshot() {
			continue
		}
		m := s.folder(f.Of, f.Job, f.Kind, f.CheckpointID)
		if !m.Complete && f.Newest.After(m.Newest) {
			m.Newest = f.Newest
		}
	}
}

// alphanumeric reports whether e is what Flink's entropy injection writes
// (random letters and digits).
func alphanumeric(e string) bool {
	for _, c := range e {
		if !('0' <= c && c <= '9' || 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z') {
			return false
		}
	}
	return e != ""
}

// classify maps a key relative to the root to its managed folder, the
// first folder of its path (at most depth deep) with a managed name: the
// folder's name, the folders above it (the job), its kind and the
// checkpoint id. kind is "" for unmanaged keys; unmanaged is then the name
// to report (a file, or the folder depth deep, ending in "/").
func classify(rel string, depth int) (name, job string, kind FolderKind, id int64) {
	end := 0 // rel[:end] is the path above the folder examined
	for d := 0; d < depth; d++ {
		i := strings.IndexByte(rel[end:], '/')
		if i < 0 {
			return rel, "", "", -1 // a file within the scanned depth
		}
		if k, id := FolderKindOf(rel[end : end+i]); k != "" {
			return rel[:end+i], strings.TrimSuffix(rel[:end], "/"), k, id
		}
		end += i + 1
	}
	return rel[:end], "", "", -1
}

// FolderKindOf is the kind of folder a name makes (chk-N, savepoint-*,
// shared, taskowned), "" for other names, and the checkpoint id of chk-N.
func FolderKindOf(name string) (FolderKind, int64) {
	switch {
	case name == "shared":
		return Shared, -1
	case name == "taskowned":
		return TaskOwned, -1
	case strings.HasPrefix(name, "savepoint-") && len(name) > len("savepoint-"):
		return Savepoint, -1
	case strings.HasPrefix(name, "chk-"):
		digits := name[len("chk-"):]
		if digits == "" || digits[0] == '+' || digits[0] == '-' {
			return "", -1
		}
		if id, err := strconv.ParseInt(digits, 10, 64); err == nil {
			return Checkpoint, id
		}
	}
	return "", -1
}

// folder returns the folder record of a classified key, creating it.
func (s *scan) folder(name, job string, kind FolderKind, id int64) *Folder {
	f := s.folders[name]
	if f == nil {
		f = &Folder{Name: name, Dir: s.c.Root.Prefix + name + "/", Kind: kind, Job: job, CheckpointID: id}
		s.folders[name] = f
	}
	return f
}

// add records an object of folder f (not safe for concurrent use on the
// same folder).
func (f *Folder) add(o store.Object, keep bool) {
	f.Objects++
	f.Bytes += o.Size
	if o.ModTime.After(f.Newest) {
		f.Newest = o.ModTime
	}
	name := o.Key[len(f.Dir):]
	switch {
	case f.Kind.IsSnapshot() && name == store.MetadataName:
		f.Complete, f.MetadataTime, f.MetadataSize = true, o.ModTime, o.Size
	case name != store.MetadataName && path.Base(name) == store.MetadataName:
		f.Nested = append(f.Nested, strings.Clone(name))
	}
	if keep {
		f.Entries = append(f.Entries, Entry{Name: strings.Clone(name), Size: o.Size, ModTime: o.ModTime.UnixNano()})
	}
}

// flat lists every object under the root in one pass.
func (s *scan) flat(ctx context.Context) error {
	root := s.c.Root
	s.c.Walked = 1
	for o, err := range root.List(ctx, root.Prefix, "") {
		if err != nil {
			return err
		}
		name, job, kind, id := classify(o.Key[len(root.Prefix):], s.opt.depth())
		switch {
		case kind == "":
			s.unmanaged(name)
			if strings.HasSuffix(name, "/") {
				s.deeper(name)
			}
		case !s.opt.Areas && !kind.IsSnapshot():
		default:
			s.folder(name, job, kind, id).add(o, s.opt.Keep)
		}
	}
	return nil
}

// tree lists folder by folder down to the scan's depth, then the managed folders in parallel.
func (s *scan) tree(ctx context.Context) error {
	root := s.c.Root
	var todo []*Folder
	level := func(prefix string, depth int) (dirs []string, err error) {
		s.c.Walked++
		for o, err := range root.List(ctx, prefix, "/") {
			if err != nil {
				return nil, err
			}
			rel := o.Key[len(root.Prefix):]
			probe := rel
			if o.IsDir {
				probe += "x" // classify a folder by a key inside it
			}
			name, job, kind, id := classify(probe, s.opt.depth())
			switch {
			case kind != "":
				if kind.IsSnapshot() || s.opt.Areas {
					todo = append(todo, s.folder(name, job, kind, id))
				}
			case o.IsDir && depth+1 < s.opt.depth():
				dirs = append(dirs, o.Key)
			case o.IsDir:
				s.unmanaged(rel)
				s.deeper(rel)
			default:
				s.unmanaged(rel)
			}
		}
		return dirs, nil
	}
	// Folder by folder, down to the scan's depth.
	dirs := []string{root.Prefix}
	for depth := 0; len(dirs) > 0; depth++ {
		var next []string
		for _, d := range dirs {
			sub, err := level(d, depth)
			if err != nil {
				return err
			}
			next = append(next, sub...)
		}
		dirs = next
	}
	return s.listFolders(ctx, todo)
}

// listFolders lists each folder (flat) with a bounded number at once.
func (s *scan) listFolders(ctx context.Context, todo []*Folder) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	work := make(chan *Folder)
	errc := make(chan error, s.opt.Parallel)
	var wg sync.WaitGroup
	for range min(s.opt.Parallel, len(todo)) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for f := range work {
				for o, err := range s.c.Root.List(ctx, f.Dir, "") {
					if err != nil {
						errc <- err
						cancel()
						return
					}
					f.add(o, s.opt.Keep)
				}
			}
		}()
	}
	for _, f := range todo {
		select {
		case work <- f:
		case <-ctx.Done():
		}
	}
	close(work)
	wg.Wait()
	select {
	case err := <-errc:
		return err
	default:
		return ctx.Err()
	}
}
