package main

import (
	"context"
	"fmt"
	"os"
	"strings"

	"github.com/spf13/pflag"

	"github.com/fsnap/fsnap/snapshot/source"
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
		args:  "[flags] SNAPSHOT",
		short: "check a snapshot's integrity and relocatability (a yes/no with reasons, for CI gates)",
		long: `SNAPSHOT is a checkpoint or savepoint directory, its _metadata file, or a URL of either.

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
                checksum verified (SSTs, MANIFEST, CURRENT, OPTIONS)
What --deep cannot prove: canonical streams written uncompressed carry no
checksum, so a flipped byte inside a value (or a key that still decodes) that
keeps every length and mark in place reads as valid data; Snappy blocks and
RocksDB blocks are checksummed and are checked.
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
	opts := verify.Options{Level: verify.LevelHeaders, Concurrency: f.concurrency, Tmp: f.tmp}
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
	for _, r := range f.require {
		switch root, isRoot := strings.CutPrefix(r, "self-contained="); {
		case strings.ToLower(r) == "relocatable":
			opts.RequireRelocatable = true
		case isRoot && root != "":
			l, err := store.Open(ctx, root)
			if err != nil {
				return err
			}
			defer l.Close()
			opts.SelfContainedIn = l
		default:
			return usagef("--require %q: want relocatable or self-contained=ROOT", r)
		}
	}
	allow, err := allowScopes(ctx, f.allow)
	if err != nil {
		return err
	}
	s, src, err := source.Load(ctx, args[0], allow...)
	if err != nil {
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
