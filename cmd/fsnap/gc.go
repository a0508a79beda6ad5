package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/pflag"

	"github.com/fsnap/fsnap/gc"
	"github.com/fsnap/fsnap/internal/units"
	"github.com/fsnap/fsnap/store"
)

var gcFlags struct {
	output    string
	also      []string
	minAge    time.Duration
	plan      string
	apply     bool
	maxDelete int
	log       string
	force     bool
}

func init() {
	register(&command{
		name:  "gc",
		args:  "[flags] ROOT",
		short: "find (and with --apply delete) checkpoint storage no snapshot uses",
		long: `Plans the removal of orphans under ROOT: objects in chk-N, savepoint-*,
shared/ and taskowned/ folders that no complete snapshot references (failed
and aborted checkpoints, SSTs Flink did not delete, files left by
subsumption). Every complete snapshot under ROOT and under each --also root
is read: a file any of them references is never deleted.

By default gc is a dry run: it prints every orphan with size, age and
reason, deleting nothing; --plan FILE also writes the plan (JSON, schema
"fsnap.gc-plan/v1"). --apply deletes: with --plan FILE exactly the objects
of that plan, else those of a plan made now. Before deleting, gc lists and
reads ROOT again and deletes only the planned objects that are still
orphans, unchanged and old enough; every deletion (and every skipped
object) is logged on stdout and, with --log FILE, appended as JSON lines.

Guards: objects younger than --min-age (default 1h) are kept, and an
incomplete chk-N or savepoint-* folder is removed only when all its objects
are older (in-flight checkpoints are never touched). Keep --min-age above
the longest a checkpoint may take (execution.checkpointing.timeout, 10 min
by default): the SSTs a running checkpoint uploads are referenced only once
it completes. --max-delete N refuses to delete anything (exit 1) when more
than N objects would go. Nothing outside ROOT is deleted, even when a
_metadata points there (reported as external), nor anything under ROOT
outside those folders. An unreadable _metadata stops gc (exit 3).

A root that does not look like checkpoint storage is refused (exit 1,
naming why) unless --force: one with no complete snapshot (everything would
look orphaned), or files to delete not named as Flink names them (a UUID,
_metadata). A symbolic link below ROOT stops gc (exit 1): fsnap never
follows or deletes links there.`,
		flags: func(fs *pflag.FlagSet) {
			maxDepthFlag(fs)
			verboseFlag(fs)
			fs.StringArrayVar(&gcFlags.also, "also", nil, "another root whose snapshots may use ROOT's files (repeatable)")
			fs.DurationVar(&gcFlags.minAge, "min-age", gc.DefaultMinAge, "keep objects younger than this")
			fs.StringVar(&gcFlags.plan, "plan", "", "write the plan to FILE (dry run), or apply the plan in FILE (--apply)")
			actFlag(fs, &gcFlags.apply, "delete (after re-checking every planned object)")
			fs.IntVar(&gcFlags.maxDelete, "max-delete", 0, "refuse to delete more than N objects (0: no limit)")
			fs.StringVar(&gcFlags.log, "log", "", "append every deletion to FILE as JSON lines")
			fs.BoolVar(&gcFlags.force, "force", false, "apply even where ROOT does not look like checkpoint storage (see above)")
		},
		nargs:  1,
		output: &gcFlags.output,
		run:    runGC,
	})
}

func runGC(ctx context.Context, e *env, args []string) error {
	if gcFlags.minAge < 0 || gcFlags.maxDelete < 0 {
		return usagef("--min-age and --max-delete must not be negative")
	}
	root, also, err := openRoots(ctx, args[0], gcFlags.also)
	if err != nil {
		return err
	}
	defer closeAll(root, also)
	opt := gc.Options{Also: also, MinAge: gcFlags.minAge, Force: gcFlags.force, MaxDepth: maxDepth}
	if gcFlags.minAge == 0 {
		opt.MinAge = -1 // none
	}
	var plan *gc.Plan
	if gcFlags.apply && gcFlags.plan != "" {
		if plan, err = readPlan(gcFlags.plan); err != nil {
			return err
		}
		if plan.Command != "gc" {
			return usagef("%s is a plan of fsnap %s, not gc", gcFlags.plan, plan.Command)
		}
		// The plan's own minimum age governs its re-check, not the flag's default.
		opt.MinAge = time.Duration(plan.MinAgeSeconds * float64(time.Second))
		opt.MaxDepth = plan.MaxDepth
		if opt.MinAge == 0 {
			opt.MinAge = -1
		}
	} else {
		if plan, err = gc.PlanGC(ctx, root, opt); err != nil {
			return err
		}
		if gcFlags.plan != "" {
			if err := writePlanFile(gcFlags.plan, plan); err != nil {
				return err
			}
		}
	}
	if !gcFlags.apply {
		how := "run again with --apply"
		if gcFlags.plan != "" {
			how = fmt.Sprintf("plan written to %s; apply exactly it with --apply --plan %s", gcFlags.plan, gcFlags.plan)
		}
		return writeDryRun(e.stdout, plan, gcFlags.output, how)
	}
	return applyPlan(ctx, e, root, plan, opt, gcFlags.output, gcFlags.log, gcFlags.maxDelete)
}

// writeDryRun prints a plan that is not applied, and how to apply it.
func writeDryRun(w io.Writer, plan *gc.Plan, output, how string) error {
	if output == "json" {
		return writeJSON(w, plan)
	}
	if err := writePlanText(w, plan, planVerbose); err != nil {
		return err
	}
	_, err := fmt.Fprintf(w, "\nDry run: nothing deleted (%s).\n", how)
	return err
}

// applyPlan applies a plan, logging each event, and reports the result.
func applyPlan(ctx context.Context, e *env, root *store.Location, plan *gc.Plan, opt gc.Options, output, logFile string, maxDelete int) error {
	var logw io.Writer
	if logFile != "" {
		f, err := os.OpenFile(logFile, os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o644)
		if err != nil {
			return err
		}
		defer f.Close()
		logw = f
	}
	var events []gc.Event
	var logErr error
	aopt := gc.ApplyOptions{Options: opt, MaxDelete: maxDelete, Log: func(ev gc.Event) {
		if logw != nil && logErr == nil {
			b, _ := json.Marshal(ev)
			_, logErr = logw.Write(append(b, '\n'))
		}
		if output == "json" {
			events = append(events, ev)
			return
		}
		if planVerbose || ev.Error != "" || ev.Action != "deleted" { // skips and failures always
			fmt.Fprintf(e.stdout, "%-9s%s  %s  %s%s\n", ev.Action+" ", ev.Location, units.Bytes(ev.Size), ev.Reason, errSuffix(ev.Error))
		}
	}}
	res, err := gc.Apply(ctx, root, plan, aopt)
	if logErr != nil && err == nil {
		err = fmt.Errorf("writing the log %s: %w", logFile, logErr)
	}
	if output == "json" {
		if werr := writeJSON(e.stdout, gc.NewApplied(plan, events, res, err)); werr != nil {
			return werr
		}
	} else if res != nil {
		fmt.Fprintf(e.stdout, "\n%d objects deleted (%s), %d skipped, %d failed.\n", res.Deleted, units.Bytes(res.DeletedBytes), res.Skipped, res.Failed)
	}
	if errors.Is(err, gc.ErrTooMany) || errors.Is(err, gc.ErrRefused) {
		return &exitError{code: exitFindings, err: err}
	}
	return err
}

func errSuffix(s string) string {
	if s == "" {
		return ""
	}
	return ": " + s
}

func readPlan(file string) (*gc.Plan, error) {
	f, err := os.Open(file)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	p, err := gc.ReadPlan(f)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", file, err)
	}
	return p, nil
}

func writePlanFile(file string, p *gc.Plan) error {
	b, err := json.MarshalIndent(p, "", "  ")
	if err != nil {
		return err
	}
	return os.WriteFile(file, append(b, '\n'), 0o644)
}

// planVerbose (-v on gc, delete and prune) lists every object of a plan
// and every deletion; by default a plan is summarised per folder and
// reason, and only skipped and failed deletions are printed.
var planVerbose bool

func verboseFlag(fs *pflag.FlagSet) {
	fs.BoolVarP(&planVerbose, "verbose", "v", false, "list every object (default: a summary per folder and reason, or per kind of change)")
}

// writePlanText prints a plan for people: every object when verbose, else
// one row per folder and reason.
func writePlanText(w io.Writer, p *gc.Plan, verbose bool) error {
	what := "gc plan for " + p.Root
	if p.Command == "delete" {
		what = "delete plan for " + p.Snapshot + " under " + p.Root
	}
	fmt.Fprintf(w, "%s (min age %s; references of %d complete snapshots honoured)\n",
		what, time.Duration(p.MinAgeSeconds*float64(time.Second)), p.Snapshots)
	if p.Scanned != "" {
		fmt.Fprintf(w, "scan: %s\n", p.Scanned)
	}
	for _, warn := range p.Warnings {
		fmt.Fprintf(w, "warning: %s\n", warn)
	}
	for _, r := range p.Refused {
		fmt.Fprintf(w, "REFUSED unless --force: %s\n", r)
	}
	section := func(title string, objs []gc.Object) {
		if len(objs) == 0 {
			return
		}
		fmt.Fprintf(w, "\n%s\n", title)
		tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
		if verbose {
			fmt.Fprintln(tw, "LOCATION\tSIZE\tAGE\tREASON\tDETAIL")
			for _, o := range objs {
				age := time.Duration(o.AgeSeconds * float64(time.Second))
				fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", o.Location, units.Bytes(o.Size), ageText(age), o.Reason, o.Detail)
			}
		} else {
			fmt.Fprintln(tw, "FOLDER\tOBJECTS\tSIZE\tYOUNGEST\tREASON")
			for _, g := range groupObjects(objs) {
				fmt.Fprintf(tw, "%s\t%d\t%s\t%s\t%s\n", g.folder, g.objects, units.Bytes(g.bytes), ageText(g.youngest), g.reason)
			}
		}
		tw.Flush()
	}
	section("DELETE", p.Delete)
	section("KEEP", p.Keep)
	writeRows(w, "EXTERNAL (referenced, outside the root: never deleted)", len(p.External), 20, func(tw io.Writer, i int) {
		x := p.External[i]
		fmt.Fprintf(tw, "%s\t%s\t%s\tused by %s\n", x.Path, units.Bytes(x.Size), x.Reason, limitList(x.Users, 3))
	})
	t := p.Totals
	_, err := fmt.Fprintf(w, "\n%d objects to delete (%s); %d kept (%s); %d external references kept.\n",
		t.DeleteObjects, units.Bytes(t.DeleteBytes), t.KeepObjects, units.Bytes(t.KeepBytes), t.External)
	return err
}

type objectGroup struct {
	folder, reason string
	objects        int
	bytes          int64
	youngest       time.Duration
}

// groupObjects sums objects per folder and reason, in plan order.
func groupObjects(objs []gc.Object) []*objectGroup {
	var out []*objectGroup
	at := map[[2]string]*objectGroup{}
	for _, o := range objs {
		folder := o.Location[:strings.LastIndex(o.Location, "/")+1]
		k := [2]string{folder, o.Reason}
		g := at[k]
		if g == nil {
			g = &objectGroup{folder: folder, reason: o.Reason, youngest: time.Duration(o.AgeSeconds * float64(time.Second))}
			at[k] = g
			out = append(out, g)
		}
		g.objects++
		g.bytes += o.Size
		g.youngest = min(g.youngest, time.Duration(o.AgeSeconds*float64(time.Second)))
	}
	return out
}

func ageText(d time.Duration) string {
	switch {
	case d < time.Minute:
		return d.Round(time.Second).String()
	case d < 48*time.Hour:
		return d.Round(time.Minute).String()
	}
	return fmt.Sprintf("%dd", int(d.Hours()/24))
}
