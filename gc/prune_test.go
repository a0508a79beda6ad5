package gc_test

import (
	"context"
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"

	"github.com/fsnap/fsnap/fixtures"
	"github.com/fsnap/fsnap/gc"
	"github.com/fsnap/fsnap/retention"
	"github.com/fsnap/fsnap/store"
)

// TestPruneProperty: random histories and policies on mem:// roots. The
// snapshots a prune removes are exactly those retention.Decide drops per
// group (and never a job's newest checkpoint); after the plan is applied,
// every object a kept snapshot references (the generator's ground truth)
// is still stored, every removed snapshot's _metadata is gone, and nothing
// outside the removed snapshots' folders was deleted.
func TestPruneProperty(t *testing.T) {
	n := 2000
	if testing.Short() {
		n = 300
	}
	ctx := context.Background()
	removedTotal := 0
	for i := range n {
		r := rand.New(rand.NewPCG(uint64(i+1), 17))
		url := fmt.Sprintf("mem://prune-prop-%d/ckpt", i%2)
		spec, _ := randomSpec(uint64(i+1), url, "")
		spec.AlsoURI, spec.Restores = "", 0 // one root: every user of its files is known
		h, err := fixtures.GenerateHistory(spec)
		if err != nil {
			t.Fatal(err)
		}
		root, err := store.Open(ctx, url)
		if err != nil {
			t.Fatal(err)
		}
		if err := h.Write(ctx, []fixtures.Writer{root}, false); err != nil {
			t.Fatal(err)
		}
		if err := h.Write(ctx, []fixtures.Writer{root}, true); err != nil {
			t.Fatal(err)
		}
		policy := retention.Policy{Last: r.IntN(3), Hourly: r.IntN(3), Daily: r.IntN(2)}
		if policy.Empty() {
			policy.Last = 1
		}
		po := gc.PruneOptions{Policy: policy, Kind: []string{"all", "checkpoints", "savepoints"}[r.IntN(3)]}
		opt := gc.Options{MinAge: -1}
		p, err := gc.PlanPrune(ctx, root, po, opt)
		if err != nil {
			t.Fatalf("history %d: %v", i, err)
		}
		// The removed set is what the policy drops, group by group.
		var want []string
		for _, d := range p.Decisions {
			if !d.Keep {
				want = append(want, d.Snapshot)
				if strings.HasSuffix(d.Group, "checkpoints") && slices.Contains(d.Reasons, "newest checkpoint of the job") {
					t.Fatalf("history %d: the newest checkpoint %s is dropped", i, d.Snapshot)
				}
			}
		}
		if !slices.Equal(p.Prune, want) {
			t.Fatalf("history %d: prunes %v, decisions drop %v", i, p.Prune, want)
		}
		if _, err := gc.Apply(ctx, root, p, gc.ApplyOptions{Options: opt}); err != nil {
			t.Fatalf("history %d: apply: %v", i, err)
		}
		exists := map[fixtures.ObjectID]bool{}
		for _, o := range h.Objects {
			exists[o.ObjectID] = true
		}
		removed := map[string]bool{}
		for _, s := range p.Prune {
			removed[s+"/"] = true
		}
		stored := map[string]bool{}
		for o, err := range root.List(ctx, root.Prefix, "") {
			if err != nil {
				t.Fatal(err)
			}
			stored[strings.TrimPrefix(o.Key, root.Prefix)] = true
		}
		for _, s := range h.Snapshots {
			if s.Root != 0 {
				continue
			}
			if removed[s.Dir] {
				if stored[s.Dir+"_metadata"] {
					t.Fatalf("history %d: %s_metadata survived the prune", i, s.Dir)
				}
				continue
			}
			for _, ref := range s.Refs {
				if exists[ref.ObjectID] && ref.Root == 0 && !stored[ref.Key] {
					t.Fatalf("history %d: %s (used by kept %s) was deleted", i, ref.Key, s.Dir)
				}
			}
		}
		for _, o := range h.Objects {
			if o.Root != 0 || stored[o.Key] {
				continue
			}
			in := false
			for d := range removed {
				in = in || strings.HasPrefix(o.Key, d)
			}
			if !in {
				t.Fatalf("history %d: %s, outside the pruned folders, was deleted", i, o.Key)
			}
		}
		removedTotal += len(p.Prune)
		wipe(t, root)
		root.Close()
	}
	t.Logf("%d histories, %d snapshots pruned", n, removedTotal)
	if removedTotal == 0 {
		t.Error("no snapshot was ever pruned")
	}
}
