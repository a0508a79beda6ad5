package main

import (
	"context"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"

	"github.com/spf13/pflag"

	"github.com/fsnap/fsnap/catalog"
	"github.com/fsnap/fsnap/gc"
	"github.com/fsnap/fsnap/internal/units"
	"github.com/fsnap/fsnap/inventory"
	"github.com/fsnap/fsnap/retention"
	"github.com/fsnap/fsnap/store"
	"github.com/fsnap/fsnap/table"
)

var lsFlags struct {
	output     string
	limit      int
	complete   bool
	noMetadata bool
	policy     retention.Policy
}

func init() {
	register(&command{
		name:  "ls",
		args:  "[flags] ROOT",
		short: "list the checkpoints and savepoints under a root, newest first",
		long: `ROOT is a checkpoint root (ROOT/<job-id>/chk-N), a job's checkpoint folder
(ROOT/chk-N) or a savepoint target (ROOT/savepoint-*, also one folder down),
as a path or store URL.

Each snapshot folder is listed with its name relative to ROOT, kind (read
from _metadata; --no-metadata skips reading it), checkpoint id, time (of
_metadata, or of the newest object of an incomplete folder), the bytes and
objects in its folder (files in shared/ are not counted: see fsnap deps), and
whether it is complete (an incomplete folder has no _metadata: failed, in
flight or partly deleted). Folders are listed a page at a time and in
parallel; memory grows with the number of snapshot folders, not of objects.
Reading the kind costs one read of each listed _metadata (of the newest
--limit ones only, with --limit); --no-metadata lists from the listing alone.

With a retention policy (--keep-last, --keep-daily, ... as fsnap prune takes
them) each complete snapshot is marked keep or remove, with the rules that
keep it: what fsnap prune with the same flags would do.

-o json prints a stable document (schema "fsnap.ls/v1"); -o csv, jsonl,
parquet, arrow or arrows one row per snapshot (the columns of its fields).`,
		flags: func(fs *pflag.FlagSet) {
			fs.IntVar(&lsFlags.limit, "limit", 0, "list only the newest N snapshots (0: all)")
			fs.BoolVar(&lsFlags.complete, "complete", false, "list complete snapshots only")
			fs.BoolVar(&lsFlags.noMetadata, "no-metadata", false, "do not read _metadata (no kind; savepoints get no id)")
			policyFlags(fs, &lsFlags.policy)
			maxDepthFlag(fs)
		},
		nargs:   1,
		output:  &lsFlags.output,
		outputs: append([]string{"text", "json"}, tableFormats...),
		run:     runLs,
	})
}

func runLs(ctx context.Context, e *env, args []string) error {
	if lsFlags.limit < 0 {
		return usagef("--limit must not be negative")
	}
	if !lsFlags.policy.Empty() {
		return runLsPolicy(ctx, e, args[0])
	}
	root, c, err := scanRoot(ctx, args[0])
	if err != nil {
		return err
	}
	defer root.Close()
	return writeListing(e, catalog.List(ctx, root, c, lsOptions()))
}

func lsOptions() catalog.ListOptions {
	return catalog.ListOptions{Limit: lsFlags.limit, Complete: lsFlags.complete, NoMetadata: lsFlags.noMetadata}
}

// runLsPolicy lists the root from the graph prune decides on (one scan),
// each snapshot marked with the policy's verdict.
func runLsPolicy(ctx context.Context, e *env, ref string) error {
	root, err := store.Open(ctx, ref)
	if err != nil {
		return err
	}
	defer root.Close()
	g, err := gc.Analyse(ctx, root, gc.Options{MinAge: -1, MaxDepth: maxDepth})
	if err != nil {
		return err
	}
	opt := lsOptions()
	opt.Graph = g // the graph read every _metadata already
	r := catalog.List(ctx, root, g.Root, opt)
	verdicts := map[string]gc.PruneDecision{}
	for _, d := range gc.Decide(g, gc.PruneOptions{Policy: lsFlags.policy}, gc.Options{}) {
		verdicts[d.Snapshot] = d
	}
	r.Policy = lsFlags.policy.String()
	for i := range r.Snapshots {
		s := &r.Snapshots[i]
		if d, ok := verdicts[s.Name]; ok {
			s.Verdict, s.Because = "remove", nil
			if d.Keep {
				s.Verdict, s.Because = "keep", d.Reasons
			}
		}
	}
	return writeListing(e, r)
}

func writeListing(e *env, r *catalog.Listing) error {
	if lsFlags.output == "json" {
		return writeJSON(e.stdout, r)
	}
	if isTable(lsFlags.output) {
		return writeTable(e, lsFlags.output, inventory.ListingColumns, func(w table.Writer) error { return inventory.WriteListing(w, r) })
	}
	return writeLsText(e.stdout, r)
}

func writeLsText(w io.Writer, r *catalog.Listing) error {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "NAME\tKIND\tID\tTIME\tSIZE\tOBJECTS\tSTATUS")
	complete, unreadable := 0, 0
	for _, s := range r.Snapshots {
		kind, id, status := s.Kind, "-", "complete"
		if kind == "" {
			kind = s.Type
		}
		if s.CheckpointID != nil {
			id = fmt.Sprint(*s.CheckpointID)
		}
		switch {
		case !s.Complete:
			status = "incomplete (no _metadata)"
		case s.Error != "":
			status = "unreadable: " + s.Error
			complete++
			unreadable++
		default:
			complete++
		}
		if r.Policy != "" && s.Verdict != "" {
			status += ": " + s.Verdict
			if len(s.Because) > 0 {
				status += " (" + strings.Join(s.Because, ", ") + ")"
			}
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%d\t%s\n", s.Name, kind, id,
			units.Time(s.Time), units.Bytes(s.Bytes), s.Objects, status)
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	more := ""
	if r.Truncated {
		more = fmt.Sprintf(" (newest %d of %d)", r.Count, r.Total)
	}
	bad := ""
	if unreadable > 0 {
		bad = fmt.Sprintf(" (%d with an unreadable _metadata)", unreadable)
	}
	_, err := fmt.Fprintf(w, "\n%d snapshots%s under %s: %d complete%s, %d incomplete\n", r.Count, more, r.Root, complete, bad, r.Count-complete)
	if err == nil && r.Policy != "" {
		_, err = fmt.Fprintf(w, "policy: %s (fsnap prune with these flags removes the snapshots marked remove)\n", r.Policy)
	}
	switch {
	case err != nil:
	case r.Count == 0:
		_, err = fmt.Fprintf(w, "Nothing found: fsnap %s. A snapshot of another name is given to inspect or verify itself, and fsnap inventory takes a folder of them.\n", r.Scanned)
	default:
		_, err = fmt.Fprintf(w, "scan: %s\n", r.Scanned)
	}
	return err
}

// scanRoot opens the root ref and lists the snapshots under it; the caller
// closes the root.
func scanRoot(ctx context.Context, ref string) (*store.Location, *catalog.Catalog, error) {
	root, err := store.Open(ctx, ref)
	if err != nil {
		return nil, nil, err
	}
	c, err := catalog.Scan(ctx, root, catalog.Options{MaxDepth: maxDepth})
	if err != nil {
		root.Close()
		return nil, nil, err
	}
	return root, c, nil
}

// maxDepth is --max-depth of the commands that look for snapshots under a
// root (0: catalog.DefaultMaxDepth).
var maxDepth int

func maxDepthFlag(fs *pflag.FlagSet) {
	fs.IntVar(&maxDepth, "max-depth", catalog.DefaultMaxDepth,
		"how many folders deep to look for chk-N, savepoint-*, shared/ (1: ROOT only; 2: ROOT/<job>/chk-N; 3: BUCKET/checkpoints/<job>/chk-N; 4: BUCKET/<entropy>/checkpoints/<job>/chk-N)")
}
