package gc_test

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"net/url"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/fsnap/fsnap/fixtures"
	"github.com/fsnap/fsnap/gc"
	"github.com/fsnap/fsnap/internal/testservers"
	"github.com/fsnap/fsnap/store"
)

// randomSpec draws a history: layouts, retention, churn, failure and leak
// rates, in-flight checkpoints, savepoints, LEGACY restores (some from
// another root), strays.
func randomSpec(seed uint64, rootURI, alsoURI string) (fixtures.HistorySpec, bool) {
	r := rand.New(rand.NewPCG(seed, 7))
	s := fixtures.HistorySpec{
		Seed: seed, Version: int32(3 + r.IntN(5)), RootURI: rootURI,
		Flat: r.IntN(4) == 0, Jobs: 1 + r.IntN(3), Rounds: 1 + r.IntN(20), Retain: 1 + r.IntN(4),
		Subtasks: 1 + r.IntN(3), SSTs: 1 + r.IntN(5), Churn: 0.05 + 0.75*r.Float64(),
		FailRate: 0.4 * r.Float64(), LeakRate: 0.5 * r.Float64(), Recent: r.IntN(4), InFlight: r.IntN(2) == 0,
		Savepoints: r.IntN(4), Restores: r.IntN(4), Strays: r.IntN(5), FileBytes: 1 + r.IntN(100),
	}
	passAlso := false
	if r.IntN(2) == 0 {
		s.AlsoURI = alsoURI
		passAlso = r.IntN(10) < 7
	}
	return s, passAlso
}

// expected is what gc must plan by the generator's ground truth: objects
// of the root in managed places that no complete snapshot it is shown
// references, written before the minimum age, and, in an incomplete
// snapshot folder, only if nothing in that folder is recent.
func expected(h *fixtures.History, withAlso bool) []string {
	ref := map[fixtures.ObjectID]bool{}
	for _, s := range h.Snapshots {
		if s.Root == 0 || withAlso {
			for _, r := range s.Refs {
				ref[r.ObjectID] = true
			}
		}
	}
	recentFolder := map[string]bool{}
	for _, o := range h.Objects {
		if o.Root == 0 && o.Recent && o.Folder != "" {
			recentFolder[o.Folder] = true
		}
	}
	var out []string
	for _, o := range h.Objects {
		switch {
		case o.Root != 0 || ref[o.ObjectID] || o.Recent:
		case o.Place == fixtures.PlaceStray || o.Place == fixtures.PlaceMetadata:
		case o.Place == fixtures.PlaceIncomplete && recentFolder[o.Folder]:
		default:
			out = append(out, o.Key)
		}
	}
	slices.Sort(out)
	return out
}

type roots struct {
	open  [2]string // URLs to open
	flink [2]string // the same as Flink writes absolute paths
}

// propertyRun generates n random histories (seeds seed0+1 to seed0+n) on
// fresh roots, plans gc and compares the plan with the ground truth; every
// applyEvery-th history is also applied and the remaining objects checked.
func propertyRun(t *testing.T, seed0 uint64, n, applyEvery int, gap time.Duration, mk func(t *testing.T, i int) roots) {
	ctx := context.Background()
	const minAge = time.Hour
	var planned, kept, histories, withAlso int
	for i := range n {
		rs := mk(t, i)
		spec, passAlso := randomSpec(seed0+uint64(i+1), rs.flink[0], rs.flink[1])
		h, err := fixtures.GenerateHistory(spec)
		if err != nil {
			t.Fatal(err)
		}
		root, err := store.Open(ctx, rs.open[0])
		if err != nil {
			t.Fatal(err)
		}
		also, err := store.Open(ctx, rs.open[1])
		if err != nil {
			t.Fatal(err)
		}
		ws := []fixtures.Writer{root, also}
		if err := h.Write(ctx, ws, false); err != nil {
			t.Fatal(err)
		}
		time.Sleep(gap)
		split := time.Now()
		time.Sleep(gap)
		if err := h.Write(ctx, ws, true); err != nil {
			t.Fatal(err)
		}
		opt := gc.Options{MinAge: minAge, Now: split.Add(minAge)}
		if passAlso {
			opt.Also = []*store.Location{also}
			withAlso++
		}
		p, err := gc.PlanGC(ctx, root, opt)
		if err != nil {
			t.Fatalf("history %d (%+v): %v", i, spec, err)
		}
		var got []string
		for _, o := range p.Delete {
			got = append(got, strings.TrimPrefix(o.Key, root.Prefix))
		}
		slices.Sort(got)
		want := expected(h, passAlso)
		if !slices.Equal(got, want) {
			t.Fatalf("history %d (%+v, also %v):\n%s", i, spec, passAlso, diff(h, got, want))
		}
		histories++
		planned += len(p.Delete)
		kept += len(p.Keep)
		if applyEvery > 0 && i%applyEvery == 0 {
			checkApply(t, ctx, h, root, also, p, gc.ApplyOptions{Options: opt})
		}
		wipe(t, root)
		wipe(t, also)
		root.Close()
		also.Close()
	}
	t.Logf("%d histories (%d with --also): %d objects planned, %d orphans kept as too young", histories, withAlso, planned, kept)
}

// checkApply applies a plan and checks that exactly the planned objects
// are gone.
func checkApply(t *testing.T, ctx context.Context, h *fixtures.History, root, also *store.Location, p *gc.Plan, opt gc.ApplyOptions) {
	if len(p.Refused) > 0 { // a history without a complete snapshot
		if _, err := gc.Apply(ctx, root, p, opt); !errors.Is(err, gc.ErrRefused) {
			t.Fatalf("apply of a refused plan: %v", err)
		}
		opt.Force = true
	}
	var events []gc.Event
	opt.Log = func(e gc.Event) { events = append(events, e) }
	res, err := gc.Apply(ctx, root, p, opt)
	if err != nil {
		t.Fatalf("apply: %v", err)
	}
	if res.Deleted != len(p.Delete) || res.Skipped != 0 || len(events) != len(p.Delete) {
		t.Fatalf("apply: %+v for %d planned, %d events", res, len(p.Delete), len(events))
	}
	gone := map[string]bool{}
	for _, o := range p.Delete {
		gone[o.Key] = true
	}
	for _, o := range h.Objects {
		l := []*store.Location{root, also}[o.Root]
		key, _ := l.Key(o.Key)
		ok, err := l.Exists(ctx, key)
		if err != nil {
			t.Fatal(err)
		}
		if want := !(o.Root == 0 && gone[key]); ok != want {
			t.Fatalf("after apply %d:%s exists %v, want %v", o.Root, o.Key, ok, want)
		}
	}
}

func diff(h *fixtures.History, got, want []string) string {
	place := map[string]string{}
	for _, o := range h.Objects {
		if o.Root == 0 {
			place[o.Key] = fmt.Sprintf("%s recent=%v folder=%s", o.Place, o.Recent, o.Folder)
		}
	}
	var b strings.Builder
	for _, k := range got {
		if _, ok := slices.BinarySearch(want, k); !ok {
			fmt.Fprintf(&b, "  planned but must not be: %s (%s)\n", k, place[k])
		}
	}
	for _, k := range want {
		if _, ok := slices.BinarySearch(got, k); !ok {
			fmt.Fprintf(&b, "  not planned but must be:  %s (%s)\n", k, place[k])
		}
	}
	return b.String()
}

// TestPropertyMem runs thousands of random histories on mem:// (the flat
// scan).
func TestPropertyMem(t *testing.T) {
	n := 2000
	if testing.Short() {
		n = 300
	}
	propertyRun(t, 0, n, 10, 0, func(t *testing.T, i int) roots {
		r := fmt.Sprintf("mem://gc-prop-%d/ckpt", i%2)
		a := fmt.Sprintf("mem://gc-prop-also-%d/ckpt", i%2)
		return roots{open: [2]string{r, a}, flink: [2]string{r, a}}
	})
}

// TestPropertyLocal runs random histories on local directories (the tree
// walk, symlink-free paths written as file: URIs). File times come from
// the kernel's coarse clock (a few milliseconds behind): ages are 25 ms apart.
func TestPropertyLocal(t *testing.T) {
	n := 100
	if testing.Short() {
		n = 20
	}
	propertyRun(t, 0, n, 5, 25*time.Millisecond, func(t *testing.T, i int) roots {
		d := t.TempDir()
		r, a := filepath.Join(d, "ckpt"), filepath.Join(d, "also")
		return roots{open: [2]string{r, a}, flink: [2]string{"file:" + r, "file:" + a}}
	})
}

// The servers' histories differ from one another, chosen to cover the
// cases between them (--also passed, --also not passed, the flat layout),
// and are among TestPropertyMem's: a failure on a server only is the store's.

// TestPropertyMinIO runs random histories on S3 (MinIO). S3 times have a
// resolution of a second (HEAD) or a millisecond (listing): the ages are a
// second apart.
func TestPropertyMinIO(t *testing.T) {
	propertyServer(t, testservers.S3, 0, 6, 1100*time.Millisecond)
}

// TestPropertyGCS runs random histories on GCS (fake-gcs-server), whose
// times have a resolution of a microsecond.
func TestPropertyGCS(t *testing.T) {
	propertyServer(t, testservers.GCS, 10, 3, 10*time.Millisecond)
}

// TestPropertyAzure runs random histories on Azure Blob (Azurite), whose
// times have a resolution of a second: the ages are a second apart.
func TestPropertyAzure(t *testing.T) {
	propertyServer(t, testservers.Azure, 13, 3, 1100*time.Millisecond)
}

// propertyServer runs n random histories (2 with -short) on a test server,
// each in a fresh bucket with the roots /ckpt and /also; gap separates old
// objects from recent ones by more than the store's time resolution. The
// servers run in parallel: most of the time is spent waiting out the gaps.
func propertyServer(t *testing.T, k testservers.Kind, seed0 uint64, n int, gap time.Duration) {
	t.Parallel()
	if testing.Short() {
		n = min(n, 2)
	}
	srv := testservers.Shared(t, k)
	propertyRun(t, seed0, n, 2, gap, func(t *testing.T, i int) roots {
		u, err := url.Parse(srv.NewBucket(t))
		if err != nil {
			t.Fatal(err)
		}
		r, a := *u, *u
		r.Path, a.Path = "/ckpt", "/also"
		return roots{open: [2]string{r.String(), a.String()},
			flink: [2]string{testservers.FlinkPath(k, u.Host, "ckpt"), testservers.FlinkPath(k, u.Host, "also")}}
	})
}
