package gc

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"os"
	"path"
	"slices"
	"strings"
	"time"

	"github.com/fsnap/fsnap/catalog"
	"github.com/fsnap/fsnap/store"
)

// Event is one entry of the deletion log.
type Event struct {
	Time     time.Time `json:"time"`
	Action   string    `json:"action"` // "deleted", "skipped" or "failed"
	Key      string    `json:"key"`
	Location string    `json:"location"`
	Size     int64     `json:"size"`
	Reason   string    `json:"reason"` // the plan's reason; for skips, why
	Error    string    `json:"error,omitempty"`
}

// ApplyOptions tune Apply.
type ApplyOptions struct {
	Options
	// MaxDelete refuses to delete anything when more objects pass the
	// re-check (0: no limit).
	MaxDelete int
	// Log receives every deletion, skip and failure, in order.
	Log func(Event)
}

// Result sums what Apply did.
type Result struct {
	Deleted      int
	DeletedBytes int64
	Skipped      int
	Failed       int
}

// ErrTooMany refuses a plan larger than ApplyOptions.MaxDelete.
var ErrTooMany = errors.New("more objects to delete than allowed")

// Apply deletes the plan's objects after re-checking each against a fresh
// plan made now from a new listing: an object is deleted only if the fresh
// plan deletes it too, with the same size and modification time. Others
// are skipped and logged. A delete plan removes the snapshot's _metadata
// first and stops if that fails.
func Apply(ctx context.Context, root *store.Location, plan *Plan, opt ApplyOptions) (*Result, error) {
	log := opt.Log
	if log == nil {
		log = func(Event) {}
	}
	switch {
	case plan.Schema != Schema:
		return nil, fmt.Errorf("not a plan of schema %s (got %q)", Schema, plan.Schema)
	case plan.RootLocation != root.NameOf(root.Prefix):
		return nil, fmt.Errorf("the plan is for root %s, not %s", plan.Root, root.Display)
	case plan.Command != "gc" && plan.Command != "delete" && plan.Command != "prune":
		return nil, fmt.Errorf("unknown plan command %q", plan.Command)
	}
	g, err := Analyse(ctx, root, opt.Options)
	if err != nil {
		return nil, err
	}
	var fresh *Plan
	switch plan.Command {
	case "gc":
		fresh, err = planGC(g, root, opt.Options)
	case "prune": // the same snapshots, against what the root holds now
		fresh, err = planPrune(ctx, g, root, plan.Prune, opt.Options)
	default:
		fresh, err = planDelete(ctx, g, root, plan.Snapshot, opt.Options)
	}
	if err != nil {
		return nil, fmt.Errorf("re-check: %w", err)
	}
	if len(fresh.Refused) > 0 && !opt.Force {
		return nil, fmt.Errorf("%w; nothing deleted:\n  %s", ErrRefused, strings.Join(fresh.Refused, "\n  "))
	}
	now := func() time.Time { return time.Now().UTC() }
	res := &Result{}
	ok := make(map[string]Object, len(fresh.Delete))
	for _, o := range fresh.Delete {
		ok[o.Key] = o
	}
	keep := make(map[string]Object, len(fresh.Keep))
	for _, o := range fresh.Keep {
		keep[o.Key] = o
	}
	// Delete what both plans delete, in the fresh plan's order (delete:
	// _metadata first, whatever order the plan file lists).
	planned := make(map[string]bool, len(plan.Delete))
	for _, o := range plan.Delete {
		f, found := ok[o.Key]
		why := ""
		switch {
		case !found:
			why = notDeletable(g, o.Key, keep)
		case f.Size != o.Size || !f.Modified.Equal(o.Modified):
			why = fmt.Sprintf("changed since planned (size %d, modified %s)", f.Size, f.Modified.Format(time.RFC3339Nano))
		}
		if why != "" {
			res.Skipped++
			log(Event{Time: now(), Action: "skipped", Key: o.Key, Location: o.Location, Size: o.Size, Reason: why})
			continue
		}
		planned[o.Key] = true
	}
	var todo []Object
	for _, o := range fresh.Delete {
		if planned[o.Key] {
			todo = append(todo, o)
		}
	}
	if plan.Command == "delete" && (len(todo) == 0 || todo[0].Reason != ReasonSnapshotMetadata) {
		return res, fmt.Errorf("re-check: the snapshot's _metadata is not in both plans; nothing deleted")
	}
	if opt.MaxDelete > 0 && len(todo) > opt.MaxDelete {
		return res, fmt.Errorf("%w: %d objects pass the re-check, --max-delete is %d; nothing deleted", ErrTooMany, len(todo), opt.MaxDelete)
	}
	var deleted []string
	for _, o := range todo {
		if err := ctx.Err(); err != nil {
			return res, err
		}
		err := root.Bucket.Delete(ctx, o.Key)
		switch {
		case err == nil:
			res.Deleted++
			res.DeletedBytes += o.Size
			deleted = append(deleted, o.Key)
			log(Event{Time: now(), Action: "deleted", Key: o.Key, Location: o.Location, Size: o.Size, Reason: o.Reason})
		case store.IsNotExist(err):
			res.Skipped++
			log(Event{Time: now(), Action: "skipped", Key: o.Key, Location: o.Location, Size: o.Size, Reason: "already gone"})
		default:
			res.Failed++
			msg := root.Wrap(o.Key, err).Error()
			log(Event{Time: now(), Action: "failed", Key: o.Key, Location: o.Location, Size: o.Size, Reason: o.Reason, Error: msg})
			if o.Reason == ReasonSnapshotMetadata {
				return res, fmt.Errorf("deleting %s failed, so nothing else was deleted: %s", o.Location, msg)
			}
		}
	}
	if root.Scheme == "file" {
		pruneDirs(root, deleted)
	}
	if res.Failed > 0 {
		return res, fmt.Errorf("%d deletion(s) failed", res.Failed)
	}
	return res, nil
}

// notDeletable says why the fresh plan does not delete key.
func notDeletable(g *catalog.Graph, key string, keep map[string]Object) string {
	if k, ok := keep[key]; ok {
		return "kept now: " + k.Reason + " (" + k.Detail + ")"
	}
	fi := g.FileIndex(key)
	switch {
	case fi < 0 || !g.Files[fi].Stored:
		return "no longer stored"
	case g.Files[fi].Refs > 0:
		var names []string
		for _, u := range g.Users(fi) {
			names = append(names, g.Nodes[u].Name)
		}
		return "now referenced by " + strings.Join(names, ", ")
	}
	return "not in the re-checked plan"
}

// pruneDirs removes the local directories that deleting keys emptied,
// below the root only (object stores have no directories; fileblob leaves
// them behind).
func pruneDirs(root *store.Location, keys []string) {
	top := "/" + strings.TrimSuffix(root.Prefix, "/")
	seen := map[string]bool{}
	var dirs []string
	for _, k := range keys {
		for d := path.Dir("/" + k); strings.HasPrefix(d, top+"/") && !seen[d]; d = path.Dir(d) {
			seen[d] = true
			dirs = append(dirs, d)
		}
	}
	// Deepest first, so a parent is tried after its children.
	slices.SortFunc(dirs, func(a, b string) int {
		return cmp.Or(cmp.Compare(strings.Count(b, "/"), strings.Count(a, "/")), strings.Compare(a, b))
	})
	for _, d := range dirs {
		os.Remove(d) // fails, harmlessly, unless empty
	}
}
