package main

import (
	"context"
	"fmt"
	"io"
	"text/tabwriter"

	"github.com/spf13/pflag"

	"github.com/fsnap/fsnap/gc"
	"github.com/fsnap/fsnap/internal/units"
	"github.com/fsnap/fsnap/retention"
)

var pruneFlags struct {
	output    string
	policy    retention.Policy
	kind      string
	job       string
	plan      string
	apply     bool
	force     bool
	maxDelete int
	log       string
}

func init() {
	register(&command{
		name:  "prune",
		args:  "[flags] ROOT --keep-… N",
		short: "remove the snapshots a retention policy does not keep (a dry run unless --apply)",
		long: `Applies a retention policy to the complete snapshots under ROOT, per job
folder and kind (checkpoints of a job; the savepoints of a folder), with
restic forget's semantics: --keep-last N newest; --keep-within D of the
newest; --keep-hourly/daily/weekly/monthly/yearly N: the newest snapshot of
each of the last N hours, days, ISO weeks, months, years that have one. A
snapshot any rule keeps is kept; --kind and --job narrow what is pruned.
The newest complete checkpoint of every job is always kept (a job restarts
from it) unless --force.

A pruned snapshot loses its _metadata first, then the files in its folder
that no kept snapshot references; files in shared/ and taskowned/ it leaves
unreferenced become orphans for fsnap gc (and its age guard). Nothing a kept
snapshot uses is deleted. Like gc: a dry run by default, --plan FILE writes
the plan, --apply deletes (re-checking the root first), --max-delete,
--log. A prune without any --keep-… is refused.`,
		flags: func(fs *pflag.FlagSet) {
			verboseFlag(fs)
			policyFlags(fs, &pruneFlags.policy)
			maxDepthFlag(fs)
			fs.StringVar(&pruneFlags.kind, "kind", "all", "what to prune: checkpoints, savepoints or all")
			fs.StringVar(&pruneFlags.job, "job", "", "prune only this job folder (relative to ROOT)")
			fs.StringVar(&pruneFlags.plan, "plan", "", "write the plan to FILE (dry run), or apply the plan in FILE (--apply)")
			fs.BoolVar(&pruneFlags.apply, "apply", false, "delete (after re-checking the root)")
			fs.BoolVar(&pruneFlags.force, "force", false, "also prune the newest checkpoint of a job")
			fs.IntVar(&pruneFlags.maxDelete, "max-delete", 0, "refuse when more than N objects would be deleted (0: no limit)")
			fs.StringVar(&pruneFlags.log, "log", "", "append every deletion to FILE as JSON lines")
		},
		nargs:  1,
		output: &pruneFlags.output,
		run:    runPrune,
	})
}

// policyFlags declares the --keep-* flags of a retention policy.
func policyFlags(fs *pflag.FlagSet, p *retention.Policy) {
	fs.IntVar(&p.Last, "keep-last", 0, "keep the N newest snapshots")
	fs.DurationVar(&p.Within, "keep-within", 0, "keep snapshots this close to the newest (e.g. 168h)")
	fs.IntVar(&p.Hourly, "keep-hourly", 0, "keep the newest snapshot of each of the last N hours")
	fs.IntVar(&p.Daily, "keep-daily", 0, "… of each of the last N days")
	fs.IntVar(&p.Weekly, "keep-weekly", 0, "… of each of the last N weeks")
	fs.IntVar(&p.Monthly, "keep-monthly", 0, "… of each of the last N months")
	fs.IntVar(&p.Yearly, "keep-yearly", 0, "… of each of the last N years")
}

func runPrune(ctx context.Context, e *env, args []string) error {
	f := pruneFlags
	switch f.kind {
	case "all", "checkpoints", "savepoints":
	default:
		return usagef("--kind %q: want checkpoints, savepoints or all", f.kind)
	}
	if f.policy.Empty() && !(f.apply && f.plan != "") {
		return usagef("give a retention policy (--keep-last, --keep-within, --keep-daily, …): a prune without one would remove every snapshot")
	}
	root, also, err := openRoots(ctx, args[0], nil)
	if err != nil {
		return err
	}
	defer closeAll(root, also)
	opt := gc.Options{Force: f.force, MinAge: -1, MaxDepth: maxDepth}
	var plan *gc.Plan
	if f.apply && f.plan != "" {
		if plan, err = readPlan(f.plan); err != nil {
			return err
		}
		if plan.Command != "prune" {
			return usagef("%s is a plan of fsnap %s, not prune", f.plan, plan.Command)
		}
		opt.MaxDepth = plan.MaxDepth // re-check as deep as the plan looked
	} else {
		if plan, err = gc.PlanPrune(ctx, root, gc.PruneOptions{Policy: f.policy, Kind: f.kind, Job: f.job}, opt); err != nil {
			return err
		}
		if f.plan != "" {
			if err := writePlanFile(f.plan, plan); err != nil {
				return err
			}
		}
	}
	if !f.apply {
		if f.output == "json" {
			return writeJSON(e.stdout, plan)
		}
		if err := writeDecisions(e.stdout, plan); err != nil {
			return err
		}
		if planVerbose {
			if err := writePlanText(e.stdout, plan, true); err != nil {
				return err
			}
		}
		how := "run again with --apply"
		if f.plan != "" {
			how = fmt.Sprintf("plan written to %s; apply exactly it with --apply --plan %s", f.plan, f.plan)
		}
		_, err := fmt.Fprintf(e.stdout, "\nDry run: nothing deleted (%s).\n", how)
		return err
	}
	return applyPlan(ctx, e, root, plan, opt, f.output, f.log, f.maxDelete)
}

// writeDecisions prints the policy's verdict per snapshot and the totals.
func writeDecisions(w io.Writer, p *gc.Plan) error {
	fmt.Fprintf(w, "policy: %s\n", p.Policy)
	if p.Scanned != "" {
		fmt.Fprintf(w, "scan: %s\n", p.Scanned)
	}
	for _, r := range p.Refused {
		fmt.Fprintf(w, "REFUSED unless --force: %s\n", r)
	}
	fmt.Fprintln(w)
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "GROUP\tSNAPSHOT\tTIME (UTC)\tVERDICT\tBECAUSE")
	for _, d := range p.Decisions {
		verdict, why := "remove", ""
		if d.Keep {
			verdict = "keep"
			for i, r := range d.Reasons {
				if i > 0 {
					why += ", "
				}
				why += r
			}
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", d.Group, d.Snapshot, units.Time(d.Time), verdict, why)
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	_, err := fmt.Fprintf(w, "\n%d snapshots removed: %d objects, %s deleted; %d objects kept for other snapshots\n",
		len(p.Prune), p.Totals.DeleteObjects, units.Bytes(p.Totals.DeleteBytes), p.Totals.KeepObjects)
	return err
}
