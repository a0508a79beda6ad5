package gc

import (
	"context"
	"fmt"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/fsnap/fsnap/catalog"
	"github.com/fsnap/fsnap/retention"
	"github.com/fsnap/fsnap/store"
)

// PruneOptions select the snapshots a retention policy applies to.
type PruneOptions struct {
	Policy retention.Policy
	// Kind is "checkpoints", "savepoints" or "all" (default).
	Kind string
	// Job limits pruning to one job folder (relative to the root); ""
	// for every job.
	Job string
}

// PruneDecision is the policy's verdict on one snapshot.
type PruneDecision struct {
	Snapshot string    `json:"snapshot"` // folder relative to the root
	Group    string    `json:"group"`    // job folder and kind the policy ran over
	Time     time.Time `json:"time"`
	Keep     bool      `json:"keep"`
	Reasons  []string  `json:"reasons,omitempty"`
}

// Decide applies the policy per group (a job's checkpoints, a folder's
// savepoints) to the complete snapshots of the root. The newest complete
// checkpoint of every job is kept unless opt.Force: a job restarts from it.
func Decide(g *catalog.Graph, po PruneOptions, opt Options) []PruneDecision {
	groups := map[string][]retention.Item{}
	var names []string
	for _, n := range g.Nodes {
		f := n.Folder
		if !n.InRoot || (po.Job != "" && f.Job != po.Job) {
			continue
		}
		kind := "savepoints"
		if f.Kind == catalog.Checkpoint {
			kind = "checkpoints"
		}
		if po.Kind != "" && po.Kind != "all" && po.Kind != kind {
			continue
		}
		key := strings.TrimSuffix(f.Job+"/", "/") + " " + kind
		if groups[key] == nil {
			names = append(names, key)
		}
		groups[key] = append(groups[key], retention.Item{Name: f.Name, Time: f.Time()})
	}
	sort.Strings(names)
	var out []PruneDecision
	for _, key := range names {
		ds := retention.Decide(groups[key], po.Policy)
		for i, d := range ds {
			pd := PruneDecision{Snapshot: d.Name, Group: key, Time: d.Time, Keep: d.Keep, Reasons: d.Reasons}
			if i == 0 && strings.HasSuffix(key, " checkpoints") && !opt.Force {
				pd.Keep = true
				pd.Reasons = append(pd.Reasons, "newest checkpoint of the job")
			}
			out = append(out, pd)
		}
	}
	return out
}

// PlanPrune plans removing the snapshots the policy does not keep: their
// _metadata, then the files in their folders that no kept snapshot
// references. Shared files they leave unreferenced are orphans for a later
// gc (with its age guard).
func PlanPrune(ctx context.Context, root *store.Location, po PruneOptions, opt Options) (*Plan, error) {
	if po.Policy.Empty() {
		return nil, fmt.Errorf("no retention policy: give at least one --keep-* (a prune without one would remove every snapshot)")
	}
	g, err := Analyse(ctx, root, opt)
	if err != nil {
		return nil, err
	}
	if err := unreadable(g); err != nil {
		return nil, err
	}
	ds := Decide(g, po, opt)
	var remove []string
	for _, d := range ds {
		if !d.Keep {
			remove = append(remove, d.Snapshot)
		}
	}
	p, err := planPrune(ctx, g, root, remove, opt)
	if err != nil {
		return nil, err
	}
	p.Policy, p.Decisions = po.Policy.String(), ds
	return p, nil
}

// planPrune plans removing the named snapshot folders together.
func planPrune(ctx context.Context, g *catalog.Graph, root *store.Location, names []string, opt Options) (*Plan, error) {
	now := opt.now()
	p := newPlan("prune", root, g, opt)
	p.Prune = append([]string{}, names...)
	var ns []*catalog.Node
	for _, name := range names {
		f := g.Root.Folder(name)
		if f == nil || !f.Kind.IsSnapshot() || !f.Complete {
			return nil, fmt.Errorf("%s: %s is no longer a complete snapshot", root.Display, name)
		}
		ns = append(ns, g.NodeOfFolder(f))
	}
	if len(ns) == 0 {
		p.total()
		return p, nil
	}
	frees := g.FreesAll(ns)
	if frees == nil {
		return nil, fmt.Errorf("%s: %w", root.Display, ErrUnreadable)
	}
	for _, fr := range frees {
		detail := "in a pruned snapshot's folder; no kept snapshot references it"
		if fr.Why == catalog.FreedMetadata {
			detail = "deleted first: the snapshot is then no longer restorable"
		}
		p.Delete = append(p.Delete, p.object(g, fr.Key, fr.Size, fr.ModTime, string(fr.Why), detail, now))
	}
	deleting := map[string]bool{}
	for _, o := range p.Delete {
		deleting[o.Key] = true
	}
	for _, n := range ns {
		for _, e := range n.Folder.Entries {
			key := n.Folder.Dir + e.Name
			if deleting[key] {
				continue
			}
			var users []string
			if fi := g.FileIndex(key); fi >= 0 {
				for _, u := range g.Users(fi) {
					if m := g.Nodes[u]; !slices.Contains(ns, m) {
						users = append(users, m.Name)
					}
				}
			}
			p.Keep = append(p.Keep, p.object(g, key, e.Size, e.ModTime, ReasonOtherUsers, usersText(users), now))
		}
	}
	p.Refused = blind(g)
	p.total()
	return p, nil
}
