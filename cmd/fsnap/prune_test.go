package main

import (
	"context"
	"encoding/json"
	"strings"
	"testing"

	"github.com/fsnap/fsnap/fixtures"
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
