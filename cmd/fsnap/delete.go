package main

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/spf13/pflag"

	"github.com/fsnap/fsnap/gc"
	"github.com/fsnap/fsnap/store"
)

var deleteFlags struct {
	output string
	root   string
	also   []string
	apply  bool
	force  bool
	minAge time.Duration
	log    string
}

func init() {
	register(&command{
		name:  "delete",
		args:  "[flags] SNAPSHOT",
		short: "delete a snapshot and the files no other snapshot uses (plan first; acts with --apply)",
		long: `Plans deleting SNAPSHOT (a chk-N or savepoint-* folder, its _metadata, or a URL
of either): its _metadata first (the snapshot is then no longer restorable),
then the files under ROOT that only it references, then what is left in its
folder that nothing references. Files other snapshots under ROOT (or under an
--also root) reference are kept and listed with their users; paths outside
ROOT are reported as external and kept.

ROOT defaults to the checkpoint root of a chk-N whose folder is named by a
job id (ROOT/<job-id>/chk-N: every job under ROOT is honoured), else to the
folder holding SNAPSHOT (a job's folder with its shared/, a savepoint
target). Jobs restored from a savepoint in LEGACY mode keep using its
files: pass their checkpoint roots with --also.

Without --apply this is a dry run printing the plan. With --apply the plan is
re-checked against a fresh listing and applied; each deletion is logged.
The newest complete checkpoint of a job that wrote anything within
--min-age (default 1h) is refused unless --force: the running job may need it.

-o json prints the plan (schema "fsnap.gc-plan/v1", command "delete").`,
		flags: func(fs *pflag.FlagSet) {
			verboseFlag(fs)
			fs.StringVar(&deleteFlags.root, "root", "", "the root whose snapshots' references are honoured (default: SNAPSHOT's parent folder)")
			fs.StringArrayVar(&deleteFlags.also, "also", nil, "another root whose snapshots may use these files (repeatable)")
			actFlag(fs, &deleteFlags.apply, "delete (without it: print the plan only)", "yes")
			fs.BoolVar(&deleteFlags.force, "force", false, "allow deleting the newest checkpoint of a job that is writing, or with folders the scan did not look into")
			fs.DurationVar(&deleteFlags.minAge, "min-age", gc.DefaultMinAge, "a job that wrote within this time is running")
			fs.StringVar(&deleteFlags.log, "log", "", "append every deletion to FILE as JSON lines")
			maxDepthFlag(fs)
		},
		nargs:  1,
		output: &deleteFlags.output,
		run:    runDelete,
	})
}

func runDelete(ctx context.Context, e *env, args []string) error {
	sr, err := store.OpenSnapshot(ctx, args[0])
	if err != nil {
		return err
	}
	defer sr.Close()
	rootRef := deleteFlags.root
	if rootRef == "" {
		rootRef = gc.DeleteRoot(args[0], sr)
	}
	root, also, err := openRoots(ctx, rootRef, deleteFlags.also)
	if err != nil {
		return err
	}
	defer closeAll(root, also)
	name, ok := gc.NameUnder(root, sr)
	if !ok {
		return usagef("%s is not under the root %s", sr.Display, root.Display)
	}
	opt := gc.Options{Also: also, MinAge: deleteFlags.minAge, Force: deleteFlags.force, MaxDepth: maxDepth}
	if deleteFlags.minAge == 0 {
		opt.MinAge = -1
	}
	plan, err := gc.PlanDelete(ctx, root, name, opt)
	if errors.Is(err, gc.ErrActiveJob) {
		return &exitError{code: exitFindings, err: err} // a refusal, not bad input
	}
	if err != nil {
		return err
	}
	if !deleteFlags.apply {
		return writeDryRun(e.stdout, plan, deleteFlags.output, "run again with --apply")
	}
	if deleteFlags.output != "json" {
		if err := writePlanText(e.stdout, plan, planVerbose); err != nil {
			return err
		}
		fmt.Fprintln(e.stdout)
	}
	return applyPlan(ctx, e, root, plan, opt, deleteFlags.output, deleteFlags.log, 0)
}
