package main

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"testing"

	"github.com/fsnap/fsnap/fixtures"
	"github.com/fsnap/fsnap/internal/testservers"
	"github.com/fsnap/fsnap/store"
)

// TestPruneCommand: a dry run lists the verdicts and deletes nothing;
// --apply removes what it planned; the newest checkpoint of each job stays;
// no policy is a usage error.
func TestPruneCommand(t *testing.T) {
	ctx := context.Background()
	const url = "mem://prune-cli/ckpt"
	h, err := fixtures.GenerateHistory(fixtures.HistorySpec{Seed: 5, Version: 6, RootURI: url, Jobs: 2, Rounds: 10, Retain: 4, Savepoints: 3})
	if err != nil {
		t.Fatal(err)
	}
	l, err := store.Open(ctx, url)
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	if err := h.Write(ctx, []fixtures.Writer{l}, false); err != nil {
		t.Fatal(err)
	}
	count := func() int {
		_, out, _ := fsnap(t, "ls", "-o", "json", url)
		var d struct{ Snapshots []struct{ Complete bool } }
		json.Unmarshal([]byte(out), &d)
		n := 0
		for _, s := range d.Snapshots {
			if s.Complete {
				n++
			}
		}
		return n
	}
	before := count()
	code, out, errs := fsnap(t, "prune", "--keep-last", "1", url)
	if code != exitOK || !strings.Contains(out, "Dry run: nothing deleted") || !strings.Contains(out, "newest checkpoint of the job") || count() != before {
		t.Fatalf("dry run: %d %s %s", code, out, errs)
	}
	code, out, errs = fsnap(t, "prune", "--keep-last", "1", "--apply", "-o", "json", url)
	if code != exitOK {
		t.Fatalf("apply: %d %s %s", code, out, errs)
	}
	// Per job: its newest checkpoint; per savepoint folder: its newest.
	if after := count(); after >= before || after < 2 {
		t.Errorf("%d complete snapshots before, %d after", before, after)
	}
	if code, _, _ := fsnap(t, "prune", url); code != exitUsage {
		t.Errorf("no policy: exit %d", code)
	}
}

// TestFixtureHistory: fsnap fixture --history writes a root the root
// commands work on, on a store URL whose parameters the printed line keeps.
func TestFixtureHistory(t *testing.T) {
	srv := testservers.Shared(t, testservers.S3)
	url := srv.NewBucket(t)
	base, query, _ := strings.Cut(url, "?")
	root := strings.TrimSuffix(base, "/") + "/ckpt?" + query
	code, out, errs := fsnap(t, "fixture", "--history", "8", root)
	if code != exitOK || strings.TrimSpace(out) != root {
		t.Fatalf("fixture: %d %q %s", code, out, errs)
	}
	code, out, _ = fsnap(t, "ls", "-o", "json", root)
	var d struct{ Snapshots []struct{ Complete bool } }
	json.Unmarshal([]byte(out), &d)
	complete := 0
	for _, s := range d.Snapshots {
		if s.Complete {
			complete++
		}
	}
	if code != exitOK || complete < 4 {
		t.Errorf("ls: exit %d, %d complete of %d", code, complete, len(d.Snapshots))
	}
	if code, _, errs := fsnap(t, "prune", "--keep-last", "1", root); code != exitOK {
		t.Errorf("prune: %d %s", code, errs)
	}
	code, out, errs = fsnap(t, "fixture", root)
	if code != exitOK || !strings.HasSuffix(strings.TrimSpace(out), "?"+query) {
		t.Errorf("fixture on a URL prints %q (%s)", out, errs)
	}
}

// TestLsPolicy (issue 18): ls with a policy marks each snapshot as prune
// with the same flags decides.
func TestLsPolicy(t *testing.T) {
	dir, _ := localHistory(t, fixtures.HistorySpec{Seed: 9, Version: 6, Jobs: 2, Rounds: 10, Retain: 4, Savepoints: 3})
	code, out, errs := fsnap(t, "prune", "--keep-last", "2", "-o", "json", dir)
	if code != exitOK {
		t.Fatalf("prune: %d %s", code, errs)
	}
	var plan struct {
		Decisions []struct {
			Snapshot string
			Keep     bool
		}
	}
	if err := json.Unmarshal([]byte(out), &plan); err != nil {
		t.Fatal(err)
	}
	want := map[string]string{}
	for _, d := range plan.Decisions {
		want[d.Snapshot] = map[bool]string{true: "keep", false: "remove"}[d.Keep]
	}
	code, out, errs = fsnap(t, "ls", "--complete", "--keep-last", "2", "-o", "json", dir)
	if code != exitOK {
		t.Fatalf("ls: %d %s", code, errs)
	}
	var ls struct {
		Snapshots []struct{ Name, Verdict string }
	}
	if err := json.Unmarshal([]byte(out), &ls); err != nil {
		t.Fatal(err)
	}
	got := map[string]string{}
	for _, s := range ls.Snapshots {
		got[s.Name] = s.Verdict
	}
	if len(want) < 6 || fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("ls verdicts\n%v\nprune decisions\n%v", got, want)
	}
}
