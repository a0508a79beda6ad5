// Package inventory tabulates fleets of snapshots: for every checkpoint
// root given, tables of its snapshots, their operators, their states and
// the files they use, built from the same documents `fsnap deps` and
// `fsnap inspect` print. A run can be one shard of n: snapshot rows go to
// the shard their location hashes to, file rows to the shard their path
// hashes to, so n shards together hold every row exactly once.
package inventory

import (
	"context"
	"fmt"
	"hash/fnv"
	"sort"
	"strings"
	"sync"

	"github.com/fsnap/fsnap/catalog"
	"github.com/fsnap/fsnap/inspect"
	"github.com/fsnap/fsnap/snapshot"
	"github.com/fsnap/fsnap/snapshot/source"
	"github.com/fsnap/fsnap/store"
	"github.com/fsnap/fsnap/table"
)

// Tables and their columns.
var (
	SnapshotColumns = table.Columns(`root:s snapshot:s location:s kind:s checkpoint_id:i time:t complete:b flink_min:s flink_max:s
		metadata_version:i metadata_bytes:i files:i referenced_bytes:i shared_bytes:i owned_bytes:i operators:i state_bytes:i
		missing_files:i error:s`)
	OperatorColumns = table.Columns(`root:s snapshot:s operator_id:s uid:s name:s parallelism:i max_parallelism:i
		subtasks_with_state:i managed_keyed_bytes:i raw_keyed_bytes:i managed_operator_bytes:i raw_operator_bytes:i
		channel_bytes:i coordinator_bytes:i total_bytes:i`)
	StateColumns = table.Columns(`root:s snapshot:s operator_id:s uid:s state:s type:s slot:s serializers:s
		serializer_classes:s subtasks:i entries:i bytes:i`)
	FileColumns = table.Columns(`root:s location:s scope:s folder:s bytes:i stored:b users:s shared_by:i`)
)

// Options say what to read and which shard this run is.
type Options struct {
	// Shard and Shards: this run is shard Shard of Shards (0 ≤ Shard <
	// Shards); Shards ≤ 1 is the whole inventory.
	Shard, Shards int
	// States reads every snapshot's state headers and walks its streams
	// for the states table (entries and bytes); without it the states
	// table is not written.
	States bool
	// Parallel is how many snapshots are read at once.
	Parallel int
	// MaxDepth is how deep snapshot folders are looked for under each
	// root (catalog.Options.MaxDepth).
	MaxDepth int
}

// Writers receive the tables' rows.
type Writers struct {
	Snapshots, Operators, States, Files table.Writer // States nil without Options.States
}

// Stats count the rows written.
type Stats struct {
	Roots, Snapshots, Operators, States, Files int
	// Scanned says, per checkpoint root, what its scan looked at.
	Scanned []string
}

func (o Options) mine(key string) bool {
	if o.Shards <= 1 {
		return true
	}
	h := fnv.New64a()
	h.Write([]byte(key))
	return int(h.Sum64()%uint64(o.Shards)) == o.Shard
}

// Run inventories the roots.
func Run(ctx context.Context, roots []string, opt Options, w Writers) (Stats, error) {
	if opt.Parallel <= 0 {
		opt.Parallel = 8
	}
	var st Stats
	for _, ref := range roots {
		if err := root(ctx, ref, opt, w, &st); err != nil {
			return st, err
		}
		st.Roots++
	}
	return st, nil
}

func root(ctx context.Context, ref string, opt Options, w Writers, st *Stats) error {
	l, err := store.Open(ctx, ref)
	if err != nil {
		return err
	}
	defer l.Close()
	cat, err := catalog.Scan(ctx, l, catalog.Options{Areas: true, Keep: true, Parallel: opt.Parallel, MaxDepth: opt.MaxDepth})
	if err != nil {
		return err
	}
	// Without states a report needs only the _metadata the graph's build
	// reads anyway: build the reports there rather than read it twice.
	var mu sync.Mutex
	parsed := map[int]*inspect.Report{}
	bopt := catalog.BuildOptions{Parallel: opt.Parallel}
	if !opt.States {
		bopt.Parsed = func(i int, n *catalog.Node, s *snapshot.Snapshot) {
			if n.InRoot && opt.mine(n.Catalog.Root.NameOf(strings.TrimSuffix(n.Folder.Dir, "/"))) { // as deps names it
				r := inspect.Build(s, inspect.Options{})
				mu.Lock()
				parsed[i] = r
				mu.Unlock()
			}
		}
	}
	g, err := catalog.Build(ctx, cat, nil, bopt)
	if err != nil {
		return err
	}
	deps := catalog.NewDeps(g, nil)
	st.Scanned = append(st.Scanned, deps.Scanned)
	var incomplete []*catalog.Folder
	for _, f := range cat.Snapshots() {
		if !f.Complete {
			incomplete = append(incomplete, f)
		}
	}
	if len(deps.Snapshots) == 0 && len(incomplete) == 0 {
		// Not a checkpoint root of chk-N and savepoint-* folders: take
		// every folder holding _metadata (a directory of snapshots such as
		// a test corpus, or one snapshot).
		return plainFolders(ctx, ref, l, opt, w, st)
	}
	// Snapshots of this shard, read in parallel, written in order.
	type result struct {
		r   *inspect.Report
		err error
	}
	results := make([]result, len(deps.Snapshots))
	sem := make(chan struct{}, opt.Parallel)
	var wg sync.WaitGroup
	for i, s := range deps.Snapshots {
		if !s.InRoot || !opt.mine(s.Location) {
			continue
		}
		if r := parsed[i]; r != nil {
			results[i].r = r
			continue
		}
		wg.Add(1)
		sem <- struct{}{}
		go func(i int, n *catalog.Node) {
			defer func() { <-sem; wg.Done() }()
			results[i].r, results[i].err = read(ctx, l, n, opt.States)
		}(i, g.Nodes[i])
	}
	wg.Wait()
	for i, s := range deps.Snapshots {
		if !s.InRoot || !opt.mine(s.Location) {
			continue
		}
		if err := ctx.Err(); err != nil {
			return err
		}
		res := results[i]
		if err := writeSnapshot(ref, s, res.r, res.err, w, st); err != nil {
			return err
		}
	}
	// Folders Flink did not finish (no _metadata: in progress, failed or
	// abandoned), so that a fleet's leftovers can be counted too.
	for _, f := range incomplete {
		loc := l.NameOf(strings.TrimSuffix(f.Dir, "/")) // as deps names snapshots
		if !opt.mine(loc) {
			continue
		}
		row := map[string]any{"root": ref, "snapshot": f.Name, "location": loc, "time": f.Time(), "complete": false}
		if f.CheckpointID >= 0 {
			row["checkpoint_id"] = f.CheckpointID
		}
		if err := w.Snapshots.Write(table.Row(SnapshotColumns, row)); err != nil {
			return err
		}
		st.Snapshots++
	}
	n, err := writeFiles(w.Files, ref, deps, opt.mine)
	st.Files += n
	if err != nil {
		return err
	}
	return nil
}

// plainFolders inventories the root itself, when it is a snapshot, or the
// folders right under it that hold _metadata.
func plainFolders(ctx context.Context, ref string, l *store.Location, opt Options, w Writers, st *Stats) error {
	dirs := []string{l.Prefix}
	for token := ""; ; {
		page, next, err := l.ListPage(ctx, l.Prefix, "/", token, 0)
		if err != nil {
			return err
		}
		for _, o := range page {
			if o.IsDir {
				dirs = append(dirs, o.Key)
			}
		}
		if token = next; token == "" {
			break
		}
	}
	files := map[string]*plainFile{}
	for _, dir := range dirs {
		meta, err := l.Stat(ctx, dir+store.MetadataName)
		ok := err == nil
		if err != nil && !store.IsNotExist(err) {
			return err
		}
		name := strings.TrimSuffix(strings.TrimPrefix(dir, l.Prefix), "/")
		if !ok || !opt.mine(l.NameOf(dir)) {
			if ok {
				if err := filesOf(ctx, l, dir, name, files, false); err != nil {
					return err
				}
			}
			continue
		}
		r, rerr := readDir(ctx, l, dir, opt.States)
		s := catalog.DepsSnapshot{Name: name, Location: l.NameOf(dir), InRoot: true, Time: meta.ModTime.UTC()}
		if r != nil {
			s.CheckpointID, s.Kind, s.Files = r.CheckpointID, r.Kind.Kind, r.Totals.Files
			s.ReferencedBytes = addFiles(files, r, name)
		}
		if err := writeSnapshot(ref, s, r, rerr, w, st); err != nil {
			return err
		}
	}
	paths := make([]string, 0, len(files))
	for p := range files {
		paths = append(paths, p)
	}
	sort.Strings(paths)
	for _, p := range paths {
		if !opt.mine(p) {
			continue
		}
		f := files[p]
		sort.Strings(f.users)
		if err := w.Files.Write([]any{ref, p, f.scope, nil, f.size, nil, strings.Join(f.users, ","), int64(len(f.users))}); err != nil {
			return err
		}
		st.Files++
	}
	return nil
}

// plainFile is a file the snapshots of a plain folder use.
type plainFile struct {
	users []string
	size  int64
	scope string // as the first user refers to it
}

// addFiles records the stored files of r, used by snapshot name, and
// returns their bytes.
func addFiles(files map[string]*plainFile, r *inspect.Report, name string) int64 {
	var total int64
	for _, f := range r.Files {
		if f.Scope == string(snapshot.ScopeInline) {
			continue
		}
		pf := files[f.Path]
		if pf == nil {
			pf = &plainFile{size: f.Bytes, scope: f.Scope}
			files[f.Path] = pf
		}
		pf.users = append(pf.users, name)
		total += f.Bytes
	}
	return total
}

// filesOf records the files of a snapshot another shard reports, so that
// the file rows of this shard name every user.
func filesOf(ctx context.Context, l *store.Location, dir, name string, files map[string]*plainFile, states bool) error {
	r, err := readDir(ctx, l, dir, states)
	if err != nil {
		return nil // that shard reports the error
	}
	addFiles(files, r, name)
	return nil
}

// readDir is read for a snapshot in folder dir of l, with its files.
func readDir(ctx context.Context, l *store.Location, dir string, states bool) (*inspect.Report, error) {
	s, src, err := source.LoadRef(ctx, l.SnapshotAt(dir))
	if err != nil {
		return nil, err
	}
	defer src.Close()
	opt := inspect.Options{Files: true}
	if states {
		opt.States = inspect.ReadStates(ctx, s, src, inspect.StatesOptions{Walk: true, Parallel: 4})
	}
	return inspect.Build(s, opt), nil
}

// read builds a snapshot's inspect report (with its states when asked).
func read(ctx context.Context, l *store.Location, n *catalog.Node, states bool) (*inspect.Report, error) {
	if n.Err != nil {
		return nil, n.Err
	}
	s, src, err := source.LoadRef(ctx, l.SnapshotAt(n.Folder.Dir))
	if err != nil {
		return nil, err
	}
	defer src.Close()
	var opt inspect.Options
	if states {
		opt.States = inspect.ReadStates(ctx, s, src, inspect.StatesOptions{Walk: true, Parallel: 4})
	}
	return inspect.Build(s, opt), nil
}

func writeSnapshot(root string, s catalog.DepsSnapshot, r *inspect.Report, rerr error, w Writers, st *Stats) error {
	row := map[string]any{"root": root, "snapshot": s.Name, "location": s.Location, "kind": s.Kind,
		"checkpoint_id": s.CheckpointID, "time": s.Time, "complete": true, "files": int64(s.Files),
		"referenced_bytes": s.ReferencedBytes, "shared_bytes": s.SharedBytes, "owned_bytes": s.OwnedBytes,
		"missing_files": int64(s.Missing)}
	if s.Error != "" {
		row["error"] = s.Error
	} else if rerr != nil {
		row["error"] = rerr.Error()
	}
	if r != nil {
		row["kind"], row["flink_min"] = r.Kind.Kind, r.Flink.Min
		if !r.Flink.Open {
			row["flink_max"] = r.Flink.Max
		}
		row["metadata_version"], row["metadata_bytes"] = int64(r.Metadata.Version), r.Metadata.Bytes
		row["operators"], row["state_bytes"] = int64(len(r.Operators)), r.Totals.StateBytes
	}
	if err := w.Snapshots.Write(table.Row(SnapshotColumns, row)); err != nil {
		return err
	}
	st.Snapshots++
	if r == nil {
		return nil
	}
	if err := WriteOperators(w.Operators, root, s.Name, r); err != nil {
		return err
	}
	st.Operators += len(r.Operators)
	if w.States == nil {
		return nil
	}
	for _, op := range r.Operators {
		st.States += len(op.States)
	}
	return WriteStates(w.States, root, s.Name, r)
}

func nonEmpty(s string) any {
	if s == "" {
		return nil
	}
	return s
}

func serializerTree(s inspect.SerializerInfo) string {
	if len(s.Nested) == 0 {
		return s.Short
	}
	parts := make([]string, len(s.Nested))
	for i, n := range s.Nested {
		parts[i] = serializerTree(n)
	}
	return fmt.Sprintf("%s<%s>", s.Short, strings.Join(parts, ","))
}

func serializerClasses(s inspect.SerializerInfo) []string {
	out := []string{s.Class}
	for _, n := range s.Nested {
		out = append(out, serializerClasses(n)...)
	}
	return out
}
