// Package gc plans and applies the removal of checkpoint storage that no
// snapshot needs: orphan files under a root (gc), or one snapshot and the
// files only it uses (delete).
//
// Planning reads everything and changes nothing. Applying re-plans from a
// fresh listing and deletes only objects that both plans name, unchanged in
// size and time, so a plan can never delete a file that became referenced
// (a checkpoint completed) or that was replaced since.
//
// Safety rules, for both commands:
//   - only objects under the root, in chk-N, savepoint-*, shared and
//     taskowned folders, are ever deleted; paths that snapshots reference
//     outside the root are reported as external and kept; a path that
//     names the root's container in an Azure storage account fsnap cannot
//     confirm is the root's protects the object at its key (with a warning);
//   - a file any complete snapshot under the root or under an --also root
//     references is never deleted by gc, and delete removes only files no
//     other snapshot references;
//   - an unreadable _metadata stops both: what it references is unknown;
//   - gc keeps objects younger than the minimum age, and incomplete
//     snapshot folders holding any such object (in-flight checkpoints).
package gc

import (
	"context"
	"errors"
	"fmt"
	"path"
	"slices"
	"strings"
	"time"

	"github.com/fsnap/fsnap/catalog"
	"github.com/fsnap/fsnap/store"
)

// Schema names the plan's JSON form.
const Schema = "fsnap.gc-plan/v1"

// DefaultMinAge is gc's default minimum age.
const DefaultMinAge = time.Hour

// Reasons for deleting or keeping an object.
const (
	// gc deletes
	ReasonUnreferencedShared    = "unreferenced-shared"
	ReasonUnreferencedTaskOwned = "unreferenced-task-owned"
	ReasonIncompleteCheckpoint  = "incomplete-checkpoint"
	ReasonIncompleteSavepoint   = "incomplete-savepoint"
	ReasonUnreferencedInFolder  = "unreferenced-in-snapshot-folder"
	// delete deletes
	ReasonSnapshotMetadata = "snapshot-metadata"
	ReasonOnlyThisSnapshot = "referenced-only-by-snapshot"
	// kept
	ReasonTooYoung       = "younger-than-min-age"
	ReasonFolderTooYoung = "folder-younger-than-min-age"
	ReasonOtherUsers     = "referenced-by-other-snapshots"
)

// Plan is what gc or delete removes and what it keeps, and why.
type Plan struct {
	Schema  string `json:"schema"`
	Command string `json:"command"` // "gc", "delete" or "prune"
	Root    string `json:"root"`    // as given, secrets redacted
	// RootLocation is the root as scheme://bucket/prefix/ (or a path): what
	// Apply compares with the root it is given.
	RootLocation string   `json:"root_location"`
	Also         []string `json:"also,omitempty"`
	Snapshot     string   `json:"snapshot,omitempty"` // delete: the snapshot folder, relative to the root
	// Prune lists the snapshot folders a prune removes; Policy and
	// Decisions say why (prune only).
	Prune     []string        `json:"prune,omitempty"`
	Policy    string          `json:"policy,omitempty"`
	Decisions []PruneDecision `json:"decisions,omitempty"`
	Created   time.Time       `json:"created"`
	// MinAgeSeconds is gc's minimum age.
	MinAgeSeconds float64 `json:"min_age_seconds"`
	// MaxDepth is the depth the root was scanned to (0 in plans of old
	// versions: the default); applying the plan re-checks to the same
	// depth. Scanned says what the scan looked at.
	MaxDepth int    `json:"max_depth,omitempty"`
	Scanned  string `json:"scanned,omitempty"`
	// Snapshots counts the complete snapshots whose references were honoured.
	Snapshots int `json:"snapshots"`
	// Delete lists the objects to delete, in order (delete: _metadata first).
	Delete []Object `json:"delete"`
	// Keep lists candidates that are kept, with the reason.
	Keep []Object `json:"keep"`
	// External lists references to files outside the root: never deleted.
	External []ExternalRef `json:"external"`
	Warnings []string      `json:"warnings,omitempty"`
	// Refused says why applying the plan is refused unless forced: the
	// root does not look like checkpoint storage (no complete snapshot,
	// files not named as Flink names them).
	Refused []string `json:"refused,omitempty"`
	Totals  Totals   `json:"totals"`
}

// Object is one object of a plan.
type Object struct {
	Key        string    `json:"key"`      // in the root's bucket
	Location   string    `json:"location"` // path or URL, for people
	Size       int64     `json:"size"`
	Modified   time.Time `json:"modified"`
	AgeSeconds float64   `json:"age_seconds"`
	Reason     string    `json:"reason"`
	Detail     string    `json:"detail,omitempty"`
}

// ExternalRef is a referenced path outside the root.
type ExternalRef struct {
	Path   string   `json:"path"`
	Size   int64    `json:"size"`
	Reason string   `json:"reason"` // outside-root, other-bucket, unsupported-store
	Users  []string `json:"users"`
}

// Totals sums a plan.
type Totals struct {
	DeleteObjects int   `json:"delete_objects"`
	DeleteBytes   int64 `json:"delete_bytes"`
	KeepObjects   int   `json:"keep_objects"`
	KeepBytes     int64 `json:"keep_bytes"`
	External      int   `json:"external"`
}

// Options are the inputs of planning and applying besides the root.
type Options struct {
	// Also are other roots whose snapshots may use the root's files.
	Also []*store.Location
	// MinAge: gc keeps younger objects (DefaultMinAge when zero; use a
	// negative value for none); delete uses it to tell a running job.
	MinAge time.Duration
	// Now is the time ages are measured from (default: time.Now()).
	Now time.Time
	// Force lets delete remove the newest checkpoint of a job that is
	// writing, and gc apply a plan it would refuse (Plan.Refused).
	Force bool
	// Parallel bounds concurrent listings and reads (0: defaults).
	Parallel int
	// MaxDepth is how deep snapshot folders are looked for under the
	// roots (catalog.Options.MaxDepth).
	MaxDepth int
}

func (o Options) now() time.Time {
	if o.Now.IsZero() {
		return time.Now()
	}
	return o.Now
}

func (o Options) minAge() time.Duration {
	switch {
	case o.MinAge == 0:
		return DefaultMinAge
	case o.MinAge < 0:
		return 0
	}
	return o.MinAge
}

// ErrUnreadable says that some snapshot's _metadata cannot be read, so
// nothing can be deleted safely.
var ErrUnreadable = errors.New("cannot tell what is referenced")

// Analyse scans the root (and the other roots) and builds the graph,
// scanning again when the root changes while it is read.
func Analyse(ctx context.Context, root *store.Location, opt Options) (*catalog.Graph, error) {
	var err error
	for range 3 {
		var g *catalog.Graph
		g, err = analyseOnce(ctx, root, opt)
		if errors.Is(err, catalog.ErrChanged) {
			continue
		}
		return g, err
	}
	return nil, err
}

func analyseOnce(ctx context.Context, root *store.Location, opt Options) (*catalog.Graph, error) {
	c, err := catalog.Scan(ctx, root, catalog.Options{Areas: true, Keep: true, Parallel: opt.Parallel, MaxDepth: opt.MaxDepth})
	if err != nil {
		return nil, err
	}
	var also []*catalog.Catalog
	for _, l := range opt.Also {
		ac, err := catalog.Scan(ctx, l, catalog.Options{Parallel: opt.Parallel, MayBeMissing: true, MaxDepth: opt.MaxDepth})
		if err != nil {
			return nil, err
		}
		also = append(also, ac)
	}
	return catalog.Build(ctx, c, also, catalog.BuildOptions{Parallel: opt.Parallel})
}

// unreadable turns the graph's unreadable snapshots into an error.
func unreadable(g *catalog.Graph) error {
	if len(g.Unreadable) == 0 {
		return nil
	}
	var msgs []string
	for _, n := range g.Unreadable {
		msgs = append(msgs, n.Err.Error())
	}
	return fmt.Errorf("%w: %d snapshot(s) unreadable; fix or move them first:\n  %s",
		ErrUnreadable, len(msgs), strings.Join(msgs, "\n  "))
}

func newPlan(command string, root *store.Location, g *catalog.Graph, opt Options) *Plan {
	p := &Plan{Schema: Schema, Command: command, Root: root.Display, RootLocation: root.NameOf(root.Prefix), Created: opt.now().UTC(),
		MinAgeSeconds: opt.minAge().Seconds(), MaxDepth: g.Root.Depth, Scanned: g.Root.Scanned(), Snapshots: len(g.Nodes), Delete: []Object{}, Keep: []Object{},
		External: []ExternalRef{}}
	for _, l := range opt.Also {
		p.Also = append(p.Also, l.Display)
	}
	if u := g.Unconfirmed; len(u) > 0 {
		fp, _ := store.ParseFlinkPath(u[0])
		p.Warnings = append(p.Warnings, fmt.Sprintf("%d referenced paths, such as %s, name container %s in storage account %q, "+
			"which fsnap cannot confirm is the root's (set AZURE_STORAGE_ACCOUNT or add storage_account=%s to the root's URL): "+
			"the root's objects at their keys are taken as theirs and kept", len(u), u[0], fp.Bucket, fp.Account, fp.Account))
	}
	return p
}

func (p *Plan) object(g *catalog.Graph, key string, size, mod int64, reason, detail string, now time.Time) Object {
	t := time.Unix(0, mod).UTC()
	return Object{Key: key, Location: g.Location(key), Size: size, Modified: t,
		AgeSeconds: now.Sub(t).Seconds(), Reason: reason, Detail: detail}
}

func (p *Plan) external(g *catalog.Graph, idx []int32) {
	for _, ei := range idx {
		e := g.External[ei]
		x := ExternalRef{Path: e.Path, Size: e.Size, Reason: e.Reason}
		for _, u := range e.Users {
			x.Users = append(x.Users, g.Nodes[u].Name)
		}
		p.External = append(p.External, x)
	}
}

func (p *Plan) total() {
	p.Totals = Totals{External: len(p.External)}
	for _, o := range p.Delete {
		p.Totals.DeleteObjects++
		p.Totals.DeleteBytes += o.Size
	}
	for _, o := range p.Keep {
		p.Totals.KeepObjects++
		p.Totals.KeepBytes += o.Size
	}
}

// PlanGC plans the removal of every orphan under the root: objects in
// chk-N, savepoint-*, shared and taskowned folders that no complete
// snapshot references, other than complete snapshots' _metadata. Objects
// younger than the minimum age are kept, and so is every object of an
// incomplete snapshot folder whose newest object is.
func PlanGC(ctx context.Context, root *store.Location, opt Options) (*Plan, error) {
	g, err := Analyse(ctx, root, opt)
	if err != nil {
		return nil, err
	}
	return planGC(g, root, opt)
}

func planGC(g *catalog.Graph, root *store.Location, opt Options) (*Plan, error) {
	if err := unreadable(g); err != nil {
		return nil, err
	}
	now, minAge := opt.now(), opt.minAge()
	p := newPlan("gc", root, g, opt)
	for _, fi := range g.Orphans() {
		f := &g.Files[fi]
		dir := f.Folder
		if main := g.Root.Folder(dir.Of); dir.Kind.IsSnapshot() && main != nil && main.Complete {
			dir = main // entropy data of a complete snapshot: judged as its folder
		}
		var reason, detail string
		switch {
		case dir.Kind == catalog.Shared:
			reason, detail = ReasonUnreferencedShared, "no snapshot references it"
		case dir.Kind == catalog.TaskOwned:
			reason, detail = ReasonUnreferencedTaskOwned, "no snapshot references it"
		case !dir.Complete && dir.Kind == catalog.Checkpoint:
			reason, detail = ReasonIncompleteCheckpoint, dir.Name+" has no _metadata (failed, aborted or subsumed)"
		case !dir.Complete:
			reason, detail = ReasonIncompleteSavepoint, dir.Name+" has no _metadata (failed or partly deleted)"
		default:
			reason, detail = ReasonUnreferencedInFolder, "neither "+dir.Name+"/_metadata nor any other snapshot references it"
		}
		o := p.object(g, f.Key, f.Size, f.ModTime, reason, detail, now)
		switch {
		case now.Sub(o.Modified) < minAge:
			o.Reason, o.Detail = ReasonTooYoung, reason+"; written "+roundAge(now.Sub(o.Modified))+" ago"
			p.Keep = append(p.Keep, o)
		case dir.Kind.IsSnapshot() && !dir.Complete && now.Sub(dir.Newest) < minAge:
			o.Reason, o.Detail = ReasonFolderTooYoung, reason+"; "+dir.Name+" was written to "+roundAge(now.Sub(dir.Newest))+" ago (in flight?)"
			p.Keep = append(p.Keep, o)
		default:
			p.Delete = append(p.Delete, o)
		}
	}
	var ext []int32
	for i := range g.External {
		ext = append(ext, int32(i))
	}
	p.external(g, ext)
	p.Refused = append(refusals(g, p.Delete), copied(g, root, p.Delete)...)
	p.total()
	return p, nil
}

// copied refuses deleting files that lie under the root where files the
// root's snapshots reference outside it lie under theirs: the root is then
// a copy (cp, rclone) of another whose _metadata still names the original's
// files, and these are the copies a later relocation would need.
func copied(g *catalog.Graph, root *store.Location, del []Object) []string {
	if len(del) == 0 || len(g.External) == 0 {
		return nil
	}
	deleting := make(map[string]string, len(del)) // key relative to the root → location
	for _, o := range del {
		deleting[strings.TrimPrefix(o.Key, root.Prefix)] = o.Location
	}
	matched, example := map[string]bool{}, ""
	for _, e := range g.External {
		for i := 0; i < len(e.Path); i++ { // every suffix that starts a path element
			if i > 0 && e.Path[i-1] != '/' {
				continue
			}
			if loc, ok := deleting[e.Path[i:]]; ok {
				if len(matched) == 0 {
					example = loc + " (as " + e.Path + ")"
				}
				matched[e.Path[i:]] = true
				break
			}
		}
	}
	n := len(matched)
	if n == 0 {
		return nil
	}
	return []string{fmt.Sprintf("%d files to delete have the path, under this root, of files its snapshots use under another, such as %s: "+
		"the root looks copied from that one (cp, rclone) and its _metadata still names the original's files; "+
		"relocate it with fsnap migrate relocate (which rewrites _metadata), or pass --force", n, example)}
}

// ErrRefused refuses applying a gc plan for a root that does not look like
// checkpoint storage; Options.Force overrides it.
var ErrRefused = errors.New("refused: this does not look like a checkpoint root")

// refusals says why deleting these objects is not safe to do unasked: the
// root holds no complete snapshot (so everything looks orphaned: a wrong
// folder, or a root whose snapshots are elsewhere), or a file is not named
// as Flink names the files it writes (a UUID, _metadata).
func refusals(g *catalog.Graph, del []Object) []string {
	if len(del) == 0 {
		return nil
	}
	var out []string
	n := 0
	for _, nd := range g.Nodes {
		if nd.InRoot {
			n++
		}
	}
	if n == 0 {
		out = append(out, fmt.Sprintf("no complete snapshot (chk-N or savepoint-* folder with a _metadata) under %s: "+
			"every file would look orphaned; name the checkpoint root of a job, or pass --force", g.Root.Root.Display))
	}
	out = append(out, blind(g)...)
	var odd []string
	for _, o := range del {
		if !flinkName(path.Base(o.Key)) {
			odd = append(odd, o.Location)
		}
	}
	if len(odd) > 0 {
		more := ""
		if len(odd) > 3 {
			more = fmt.Sprintf(" and %d more", len(odd)-3)
			odd = odd[:3]
		}
		out = append(out, fmt.Sprintf("%s%s: not named as Flink names its files (a UUID, or _metadata); pass --force to delete them anyway",
			strings.Join(odd, ", "), more))
	}
	return out
}

// blind says where the scans could not see snapshots whose references a
// plan must honour: folders deeper than the scan's depth, and _metadata
// inside another managed folder (whose files would all look orphaned).
func blind(g *catalog.Graph) []string {
	var out []string
	for _, c := range append([]*catalog.Catalog{g.Root}, g.Also...) {
		if c.Deeper > 0 {
			out = append(out, fmt.Sprintf("%d folder(s) %d deep under %s were not looked into (such as %s): snapshots in them would not be honoured; "+
				"run with --max-depth %d or more, or pass --force", c.Deeper, c.Depth, c.Root.Display, c.DeeperNames[0], c.Depth+1))
		}
		for _, f := range c.Folders {
			if len(f.Nested) > 0 {
				out = append(out, fmt.Sprintf("%s holds %s: a snapshot inside a %s folder is not read, so what it references is unknown; move it, or pass --force",
					c.Root.NameOf(strings.TrimSuffix(f.Dir, "/")), f.Nested[0], f.Kind))
			}
		}
	}
	return out
}

// flinkName reports whether a file name is one Flink gives the files of
// checkpoint storage: _metadata, or a random UUID (state files, SSTs,
// segments), possibly with a suffix.
func flinkName(name string) bool {
	if name == store.MetadataName {
		return true
	}
	if len(name) < 36 {
		return false
	}
	for i, c := range name[:36] {
		switch i {
		case 8, 13, 18, 23:
			if c != '-' {
				return false
			}
		default:
			if !('0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F') {
				return false
			}
		}
	}
	return true
}

func roundAge(d time.Duration) string {
	switch {
	case d < time.Second:
		return d.Round(time.Millisecond).String()
	case d < time.Hour:
		return d.Round(time.Second).String()
	}
	return d.Round(time.Minute).String()
}

// ErrActiveJob refuses deleting the newest checkpoint of a running job.
var ErrActiveJob = errors.New("the newest complete checkpoint of a job that is writing")

// PlanDelete plans deleting one snapshot of the root, named by its folder
// relative to the root ("<job>/chk-7", "savepoint-…"): its _metadata first,
// then the stored files only it references, then the other objects of its
// folder that nothing references. Files other snapshots reference are kept
// and listed with their users; references outside the root are external.
func PlanDelete(ctx context.Context, root *store.Location, name string, opt Options) (*Plan, error) {
	// A name that cannot be a snapshot folder is refused before the root
	// is scanned (a file given as the snapshot makes its folder the root's).
	if k, _ := catalog.FolderKindOf(path.Base(strings.Trim(name, "/"))); !k.IsSnapshot() {
		return nil, noSnapshotFolder(root, name)
	}
	g, err := Analyse(ctx, root, opt)
	if err != nil {
		return nil, err
	}
	p, err := planDelete(ctx, g, root, name, opt)
	if err == nil && len(opt.Also) == 0 && strings.HasPrefix(path.Base(name), "savepoint-") {
		p.Warnings = append(p.Warnings, "jobs restored from this savepoint in LEGACY mode outside "+root.Display+
			" may still use its files: pass their checkpoint roots with --also")
	}
	return p, err
}

func noSnapshotFolder(root *store.Location, name string) error {
	return fmt.Errorf("%s: no snapshot folder %q under the root (chk-N and savepoint-* folders are recognised in the root and one folder below it)", root.Display, strings.Trim(name, "/"))
}

func planDelete(ctx context.Context, g *catalog.Graph, root *store.Location, name string, opt Options) (*Plan, error) {
	name = strings.Trim(name, "/")
	f := g.Root.Folder(name)
	switch {
	case f == nil || !f.Kind.IsSnapshot():
		return nil, noSnapshotFolder(root, name)
	case !f.Complete:
		return nil, fmt.Errorf("%s: %s has no _metadata: not a complete snapshot (fsnap gc removes incomplete folders)", root.Display, name)
	}
	if err := unreadable(g); err != nil {
		return nil, err
	}
	n := g.NodeOfFolder(f)
	now := opt.now()
	if err := activeGuard(g, n, now, opt); err != nil {
		return nil, err
	}
	p := newPlan("delete", root, g, opt)
	p.Snapshot = name
	for _, fr := range g.Frees(n) {
		size, mod := fr.Size, fr.ModTime
		if fi := g.FileIndex(fr.Key); fi >= 0 && !g.Files[fi].Managed {
			// Not listed: delete it only if it is there.
			o, err := root.Stat(ctx, fr.Key)
			if store.IsNotExist(err) {
				continue
			}
			if err != nil {
				return nil, err
			}
			size, mod = o.Size, o.ModTime.UnixNano()
		}
		var detail string
		switch fr.Why {
		case catalog.FreedMetadata:
			detail = "deleted first: the snapshot is then no longer restorable"
		case catalog.FreedOnlyUser:
			detail = "no other snapshot references it"
		case catalog.FreedUnreferenced:
			detail = "in the snapshot's folder; nothing references it"
		}
		p.Delete = append(p.Delete, p.object(g, fr.Key, size, mod, string(fr.Why), detail, now))
	}
	for _, fi := range n.Files {
		file := &g.Files[fi]
		if file.Refs < 2 || !file.Stored {
			continue
		}
		var others []string
		for _, u := range g.Users(fi) {
			if g.Nodes[u] != n {
				others = append(others, g.Nodes[u].Name)
			}
		}
		p.Keep = append(p.Keep, p.object(g, file.Key, file.Size, file.ModTime, ReasonOtherUsers, usersText(others), now))
	}
	// The folder's objects that other snapshots reference (LEGACY restores).
	for _, e := range f.Entries {
		key := f.Dir + e.Name
		fi := g.FileIndex(key)
		if _, mine := slices.BinarySearch(n.Files, fi); fi < 0 || mine || g.Files[fi].Refs == 0 {
			continue
		}
		var others []string
		for _, u := range g.Users(fi) {
			others = append(others, g.Nodes[u].Name)
		}
		p.Keep = append(p.Keep, p.object(g, key, e.Size, e.ModTime, ReasonOtherUsers, usersText(others), now))
	}
	p.external(g, n.External)
	p.Refused = blind(g)
	if len(n.DependsOn) > 0 {
		var deps []string
		for _, d := range n.DependsOn {
			deps = append(deps, g.Nodes[d].Name)
		}
		p.Warnings = append(p.Warnings, fmt.Sprintf("%s uses files in the folders of %s (kept)", name, strings.Join(deps, ", ")))
	}
	p.total()
	return p, nil
}

// activeGuard refuses the newest complete checkpoint of a job that wrote
// something within the minimum age: the running job may restore from it,
// and its next checkpoint may reuse its shared files.
func activeGuard(g *catalog.Graph, n *catalog.Node, now time.Time, opt Options) error {
	f := n.Folder
	if opt.Force || f.Kind != catalog.Checkpoint {
		return nil
	}
	var newest time.Time
	for _, m := range g.Nodes {
		mf := m.Folder
		if m.InRoot && mf.Kind == catalog.Checkpoint && mf.Job == f.Job && mf.CheckpointID > f.CheckpointID {
			return nil
		}
	}
	for _, d := range g.Root.Folders {
		if d.Job == f.Job && d.Kind != catalog.Savepoint && d.Newest.After(newest) {
			newest = d.Newest
		}
	}
	if age := now.Sub(newest); age < opt.minAge() {
		job := g.Location(g.Root.Root.Prefix + f.Job)
		return fmt.Errorf("%s is %w (%s was written to %s ago): a running job may restore from it or reuse its files; stop the job, or pass --force",
			f.Name, ErrActiveJob, job, roundAge(age))
	}
	return nil
}

func usersText(names []string) string {
	const show = 5
	if len(names) <= show {
		return "also used by " + strings.Join(names, ", ")
	}
	return fmt.Sprintf("also used by %s and %d more", strings.Join(names[:show], ", "), len(names)-show)
}
