package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"sort"
	"strings"
	"text/tabwriter"

	"github.com/spf13/pflag"

	"github.com/fsnap/fsnap/store"
	"github.com/fsnap/fsnap/verify"
)

var verifyFlags struct {
	output      string
	deep        bool
	quick       bool
	failOn      string
	require     []string
	concurrency int
	allow       []string
	tmp         string
}

func init() {
	register(&command{
		name:  "verify",
		args:  "[flags] SNAPSHOT|ROOT",
		short: "check a snapshot's (or every snapshot of a root's) integrity and relocatability (a yes/no with reasons, for CI gates)",
		long: `SNAPSHOT is a checkpoint or savepoint directory, its _metadata file, or a URL of either.
ROOT, a folder without _metadata, is a checkpoint root: every complete
snapshot fsnap ls finds there is checked, newest first, with one line each
and a total (-o json: schema "fsnap.verify-root/v1", every report); there
--require self-contained (no =ROOT) means self-contained in ROOT, the check
a relocated root passes.

Checks, each finding with a severity (error, warning, info), a stable code and
the operator, subtask, file, key group and offset it concerns:
  consistency   operator ids (duplicates, uid -> id hash), parallelism vs max
                parallelism, subtask indexes, finished operators and subtasks
  key groups    per keyed operator the subtasks' ranges cover 0..max-1 exactly
                once; offsets lie inside their streams and increase
  path safety   relative names that could leave the snapshot directory (..,
                absolute, NUL, backslash, empty) are errors and never opened
  relocatable   every handle inline or relative; otherwise which files pin the
                snapshot where, and what 'fsnap migrate relocate' does about it
  presence      every file exists with the recorded size (parallel requests)
  streams       keyed, operator and RocksDB meta headers decode and end where
                the data begins; CURRENT names a MANIFEST of the snapshot
  --deep        every keyed and operator stream is read to its end: entries,
                end-of-key-group marks, block extents, Snappy checksums,
                legacy timers in raw keyed state, RocksDB SST footers; and
                every RocksDB instance is opened read-only from a scratch
                copy (--tmp) and read entry by entry with every block
                checksum verified (SSTs, MANIFEST, CURRENT, OPTIONS); keys
                of Long, Int, String, ... and Flink tuples of them are
                hashed as Flink does and must lie in their key group
What --deep cannot prove: canonical streams written uncompressed carry no
checksum, so a flipped byte inside a value (or inside a key of a POJO, case
class or Kryo type, whose hashCode is the user's) that keeps every length and
mark in place reads as valid data; Snappy blocks and RocksDB blocks are
checksummed and are checked.
--quick checks only _metadata and file presence and size (reads no state bytes).

--fail-on sets the lowest severity that fails the run (default error).
--require relocatable makes every not-relocatable-* finding an error, for a gate
before moving a snapshot. -o json prints a stable document (schema
"fsnap.verify/v1"; fields are only ever added).

Exit codes: 0 no finding at or above --fail-on; 1 such findings; 2 usage;
3 _metadata unreadable or corrupt, or the store failed while checking.`,
		flags: func(fs *pflag.FlagSet) {
			fs.BoolVar(&verifyFlags.deep, "deep", false, "read every state stream to its end")
			fs.BoolVar(&verifyFlags.quick, "quick", false, "check _metadata and file presence and size only")
			fs.StringVar(&verifyFlags.failOn, "fail-on", "error", "lowest severity that fails: error, warning or info")
			fs.StringSliceVar(&verifyFlags.require, "require", nil, "make a property mandatory: relocatable, or self-contained=ROOT (every file it uses lies under ROOT)")
			fs.IntVar(&verifyFlags.concurrency, "concurrency", 16, "parallel store requests")
			allowPathFlag(fs, &verifyFlags.allow)
			maxDepthFlag(fs)
			fs.StringVar(&verifyFlags.tmp, "tmp", os.TempDir(), "directory for the scratch copies of RocksDB instances that --deep opens")
		},
		nargs:  1,
		output: &verifyFlags.output,
		run:    runVerify,
	})
}

func runVerify(ctx context.Context, e *env, args []string) error {
	f := verifyFlags
	threshold, err := verify.ParseSeverity(f.failOn)
	if err != nil {
		return usagef("--fail-on: %v", err)
	}
	opts := verify.Options{Level: verify.LevelHeaders, Concurrency: f.concurrency, Tmp: f.tmp, RootDepth: maxDepth}
	switch {
	case f.deep && f.quick:
		return usagef("--deep and --quick exclude each other")
	case f.deep:
		opts.Level = verify.LevelDeep
	case f.quick:
		opts.Level = verify.LevelFiles
	}
	if f.concurrency < 1 {
		return usagef("--concurrency must be at least 1")
	}
	selfContainedHere := false // bare: in the ROOT given (verify ROOT)
	for _, r := range f.require {
		switch root, isRoot := strings.CutPrefix(r, "self-contained="); {
		case strings.ToLower(r) == "relocatable":
			opts.RequireRelocatable = true
		case r == "self-contained":
			selfContainedHere = true
		case isRoot && root != "":
			l, err := store.Open(ctx, root)
			if err != nil {
				return err
			}
			defer l.Close()
			// A root with nothing in it is a typo: every file would be
			// outside it, or, for one that lies elsewhere, never checked.
			if page, _, err := l.ListPage(ctx, l.Prefix, "/", "", 1); err != nil {
				return err
			} else if len(page) == 0 {
				return usagef("--require self-contained=%s: nothing is stored there", l.Display)
			}
			opts.SelfContainedIn = l
		default:
			return usagef("--require %q: want relocatable or self-contained=ROOT", r)
		}
	}
	allow, err := allowScopes(ctx, f.allow)
	if err != nil {
		return err
	}
	if selfContainedHere && opts.SelfContainedIn != nil {
		return usagef("--require self-contained is given twice")
	}
	s, src, err := loadSnapshot(ctx, args[0], allow...)
	switch {
	case errors.Is(err, store.ErrNoMetadata):
		return verifyRoot(ctx, e, args[0], opts, threshold, selfContainedHere, allow)
	case selfContainedHere:
		if err == nil {
			src.Close()
		}
		return usagef("--require self-contained without =ROOT goes with a ROOT argument (a snapshot: say self-contained=ROOT)")
	case err != nil:
		return err
	}
	defer src.Close()
	r, err := verify.Check(ctx, s, src, opts)
	if err != nil {
		return err
	}
	if f.output == "json" {
		err = writeJSON(e.stdout, r)
	} else {
		err = writeVerifyText(e.stdout, r)
	}
	if err != nil {
		return err
	}
	switch {
	case r.Has(verify.StoreError):
		return &exitError{code: exitInput, err: fmt.Errorf("the store failed while checking; the result is incomplete")}
	case r.Fails(threshold):
		return &exitError{code: exitFindings}
	}
	return nil
}

// verifyRoot checks every complete snapshot under a checkpoint root.
func verifyRoot(ctx context.Context, e *env, ref string, opts verify.Options, threshold verify.Severity, selfContained bool, allow []store.Scope) error {
	root, err := store.Open(ctx, ref)
	if err != nil {
		return err
	}
	defer root.Close()
	if selfContained {
		opts.SelfContainedIn = root
	}
	r, err := verify.CheckRoot(ctx, root, opts, allow...)
	if err != nil {
		return err
	}
	if len(r.Snapshots) == 0 {
		return &exitError{code: exitInput, err: fmt.Errorf("%s: no complete snapshot here or in its job folders (%d incomplete); not a snapshot either: no _metadata", root.Display, r.Incomplete)}
	}
	if verifyFlags.output == "json" {
		err = writeJSON(e.stdout, r)
	} else {
		err = writeVerifyRootText(e.stdout, r, threshold)
	}
	if err != nil {
		return err
	}
	failed := r.Totals.Unreadable > 0
	for _, s := range r.Snapshots {
		if s.Report != nil && s.Report.Has(verify.StoreError) {
			return &exitError{code: exitInput, err: fmt.Errorf("the store failed while checking %s; the result is incomplete", s.Name)}
		}
		if s.Report != nil && s.Report.Fails(threshold) {
			failed = true
		}
	}
	if failed {
		return &exitError{code: exitFindings}
	}
	return nil
}

func writeVerifyRootText(w io.Writer, r *verify.RootReport, threshold verify.Severity) error {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "SNAPSHOT\tRESULT\tERRORS\tWARNINGS\tFILES\tFINDINGS")
	for _, s := range r.Snapshots {
		if s.Report == nil {
			fmt.Fprintf(tw, "%s\tUNREADABLE\t-\t-\t-\t%s\n", s.Name, s.Error)
			continue
		}
		rep, result := s.Report, "ok"
		if rep.Fails(threshold) {
			result = "FAIL"
		}
		var codes []string
		for c, n := range rep.CodeCounts() {
			codes = append(codes, fmt.Sprintf("%s×%d", c, n))
		}
		sort.Strings(codes)
		fmt.Fprintf(tw, "%s\t%s\t%d\t%d\t%d\t%s\n", s.Name, result, rep.Counts.Error, rep.Counts.Warning, rep.Checked.Files, strings.Join(codes, " "))
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	t := r.Totals
	_, err := fmt.Fprintf(w, "\n%d snapshots under %s: %d clean, %d unreadable; %d errors, %d warnings, %d info (%d incomplete folders not checked)\n",
		t.Snapshots, r.Root, t.Clean, t.Unreadable, t.Findings.Error, t.Findings.Warning, t.Findings.Info, r.Incomplete)
	if err == nil {
		_, err = fmt.Fprintf(w, "scan: %s\n", r.Scanned)
	}
	return err
}
