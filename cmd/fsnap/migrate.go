package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/spf13/pflag"

	"github.com/fsnap/fsnap/internal/units"
	"github.com/fsnap/fsnap/migrate"
	"github.com/fsnap/fsnap/store"
)

func init() {
	register(&command{
		name:  "migrate",
		args:  "SUBCOMMAND [flags] ARGS",
		short: "relocate snapshots between stores, convert them",
	})
	registerSub("migrate", &command{
		name:   "relocate",
		args:   "[flags] SRC DST | --root SRCROOT DSTROOT | --from-list FILE",
		short:  "copy snapshots to another place or store so that they restore from there",
		long:   relocateLong,
		flags:  relocateFlagSet,
		output: &relocateFlags.output,
		run:    runRelocate,
	})
}

const relocateLong = `Copies each snapshot SRC into the directory DST (any store URL) and writes
a new _metadata there, last, once every file is copied and checked: an
interrupted run never leaves a snapshot that looks valid, and running the
same command again resumes (files already there and verified are skipped;
a snapshot already relocated costs one read of _metadata and a listing).

Files named relative to _metadata are copied beside the new _metadata.
Files named by absolute path (shared/ files of incremental checkpoints,
entropy-injected paths, other snapshots' folders, file-merging segments,
changelog files) are copied into DST and their handles rewritten as
relative ones, so that DST is self-contained. With --map OLD=NEW (repeat
for several prefixes) such paths are instead rewritten by prefix and the
files copied once to the mapped place: the way to move a whole checkpoint
root. Prefixes are written as in _metadata ('fsnap inspect --files' shows
them). Version 2 files (Flink before 1.11) cannot hold relative handles:
their absolute paths are pointed at the copies in DST.

Checks: every source file must exist with the size _metadata records
before anything is copied (missing files are listed and nothing is
written); copies are streamed (memory does not grow with file size) or
done by the store itself when source and destination are in the same
store; after each copy the size, and every checksum both stores give
(MD5, CRC32C), must match, and while streaming the bytes are compared with
the source store's own checksum (uploads to S3 carry Content-MD5, so S3
itself refuses bytes that differ). A file already at the destination with
other content is reported, never overwritten.

Bulk: --root SRCROOT DSTROOT relocates every snapshot found under SRCROOT
(ROOT/<job>/chk-N, savepoint-*, ...) to the same relative path under
DSTROOT, as a whole: without --map, SRCROOT's absolute paths (in every
spelling Flink writes: file:/, s3a://, wasbs://, ...) are mapped to DSTROOT,
so the shared/ files incremental checkpoints share are copied once and stay
shared (check the result with verify --require self-contained=DSTROOT).
--self-contained instead copies every file into every snapshot (each
checkpoint then has its own copy of the shared files; the totals say what
that costs against the source, and --dry-run says it first); --from-list FILE reads one "SRC DST" pair per line. --shard i/n
keeps the snapshots whose source hashes to i, so that n workers (e.g. a
Kubernetes indexed Job with --shard $JOB_COMPLETION_INDEX/n) split a list
without overlap. Each snapshot gets a status line (-o json: one summary
document, schema fsnap.relocate/v1); one failure does not stop the others.

Progress goes to stderr: a bar on a terminal, else a line every few
seconds (--progress json: JSON lines).`

var relocateFlags struct {
	transfers    int
	parallel     int
	maps         []string
	dryRun       bool
	fromList     string
	root         bool
	shard        string
	output       string
	progress     string
	noServerSide bool
	noSync       bool
	selfContain  bool
	allow        []string
}

func relocateFlagSet(fs *pflag.FlagSet) {
	f := &relocateFlags
	fs.IntVar(&f.transfers, "transfers", 16, "files copied at once (across all snapshots)")
	fs.StringArrayVar(&f.maps, "map", nil, "rewrite absolute paths OLDPREFIX=NEWPREFIX instead of making them relative (repeatable)")
	fs.BoolVar(&f.dryRun, "dry-run", false, "print the plan with bytes; copy nothing")
	fs.StringVar(&f.fromList, "from-list", "", "read SRC DST pairs, one per line, from FILE (- for stdin)")
	fs.BoolVar(&f.root, "root", false, "arguments are SRCROOT DSTROOT: relocate every snapshot under SRCROOT")
	fs.StringVar(&f.shard, "shard", "", "i/n: relocate only shard i (0-based) of n")
	fs.IntVar(&f.parallel, "parallel", 4, "snapshots relocated at once")
	fs.StringVar(&f.progress, "progress", "auto", "progress on stderr: auto (bar on a terminal, else plain), bar, plain, json or none")
	fs.BoolVar(&f.noServerSide, "no-server-side", false, "stream every file through fsnap even within one store")
	fs.BoolVar(&f.noSync, "no-sync", false, "do not fsync local destination files before writing _metadata")
	fs.BoolVar(&f.selfContain, "self-contained", false, "with --root: copy every file into every snapshot instead of mapping the root as a whole")
	allowPathFlag(fs, &f.allow)
	verboseFlag(fs)
}

// writePlanChanges sums a dry run's files per handle change.
func writePlanChanges(w io.Writer, files []migrate.PlanFile) {
	type sum struct {
		files int
		bytes int64
	}
	var order []migrate.HandleChange
	sums := map[migrate.HandleChange]*sum{}
	for _, f := range files {
		s := sums[f.Change]
		if s == nil {
			s = &sum{}
			sums[f.Change] = s
			order = append(order, f.Change)
		}
		s.files++
		s.bytes += f.Bytes
	}
	for _, c := range order {
		fmt.Fprintf(w, "  %6d files  %10s  %s\n", sums[c].files, units.Bytes(sums[c].bytes), c)
	}
}

func runRelocate(ctx context.Context, e *env, args []string) error {
	f := &relocateFlags
	mode, err := progressMode(f.progress, e.stderr, "bar", "plain", "json", "none")
	if err != nil {
		return err
	}
	if f.transfers < 1 || f.parallel < 1 {
		return usagef("--transfers and --parallel must be at least 1")
	}
	var maps []migrate.PrefixMap
	for _, s := range f.maps {
		m, err := migrate.ParseMap(s)
		if err != nil {
			return usagef("%v", err)
		}
		maps = append(maps, m)
	}
	allow, err := allowScopes(ctx, f.allow)
	if err != nil {
		return err
	}
	pairs, err := relocatePairs(ctx, args)
	if err != nil {
		return err
	}
	if f.selfContain && (!f.root || len(maps) > 0) {
		return usagef("--self-contained goes with --root and without --map")
	}
	if f.root && len(maps) == 0 && !f.selfContain {
		if maps, err = migrate.RootMaps(ctx, args[0], args[1]); err != nil {
			return err
		}
		fmt.Fprintf(e.stderr, "relocating %s as a whole: its paths map to %s (shared files copied once, still shared); --self-contained copies them into every snapshot\n",
			store.RedactURL(args[0]), store.RedactURL(args[1]))
	}
	if f.shard != "" {
		i, n, err := migrate.ParseShard(f.shard)
		if err != nil {
			return usagef("%v", err)
		}
		pairs = migrate.ShardPairs(pairs, i, n)
	}
	if f.dryRun {
		mode = "none"
	}
	prog := &progress{mode: mode, w: e.stderr, what: "relocate", snapshots: len(pairs)}
	t := migrate.Transfers{Parallel: f.transfers, NoServerSide: f.noServerSide, NoSync: f.noSync}
	prog.attach(&t)
	opts := migrate.BulkOptions{
		RelocateOptions: migrate.RelocateOptions{Maps: maps, Transfers: t, Allow: allow},
		Parallel:        f.parallel, DryRun: f.dryRun,
		OnReport: func(r *migrate.RelocateReport) {
			prog.snapshotDone(r)
			if f.output == "text" {
				prog.pause(func() { writeRelocateText(e.stdout, r) })
			}
		},
	}
	sum := migrate.RelocateAll(ctx, pairs, opts)
	sum.Shard = f.shard
	if f.output == "json" {
		if err := writeJSON(e.stdout, sum); err != nil {
			return err
		}
	} else if f.root || f.fromList != "" || f.dryRun {
		t := sum.Totals
		fmt.Fprintf(e.stdout, "total: %d snapshots: %d relocated, %d already relocated, %d planned, %d failed; %d distinct files, %s (%s copied) in %.1fs\n",
			t.Snapshots, t.Relocated, t.AlreadyRelocated, t.Planned, t.Failed, t.DistinctFiles, units.Bytes(t.DistinctBytes), units.Bytes(t.BytesCopied), t.Seconds)
		if t.DistinctBytes > t.SourceBytes && t.SourceBytes > 0 {
			fmt.Fprintf(e.stdout, "the destination holds %s for %s at the source (%.1f×): files several snapshots share are copied into each\n",
				units.Bytes(t.DistinctBytes), units.Bytes(t.SourceBytes), float64(t.DistinctBytes)/float64(t.SourceBytes))
		}
	}
	if sum.Totals.Failed > 0 {
		var msg error
		if len(pairs) == 1 {
			msg = errors.New(sum.Snapshots[0].Error)
		} else {
			msg = fmt.Errorf("%d of %d snapshots failed", sum.Totals.Failed, sum.Totals.Snapshots)
		}
		return &exitError{code: exitInput, err: msg}
	}
	return nil
}

// relocatePairs turns the arguments into the snapshots to relocate.
func relocatePairs(ctx context.Context, args []string) ([]migrate.RelocatePair, error) {
	f := &relocateFlags
	switch {
	case f.fromList != "" && f.root:
		return nil, usagef("--from-list and --root exclude each other")
	case f.fromList != "":
		if len(args) != 0 {
			return nil, usagef("--from-list takes no SRC DST arguments")
		}
		r := io.Reader(os.Stdin)
		if f.fromList != "-" {
			fh, err := os.Open(f.fromList)
			if err != nil {
				return nil, usagef("--from-list: %v", err)
			}
			defer fh.Close()
			r = fh
		}
		pairs, err := migrate.ReadPairs(r)
		if err != nil {
			return nil, usagef("--from-list %s: %v", f.fromList, err)
		}
		return pairs, nil
	case len(args) != 2:
		return nil, usagef("want SRC DST (or --root SRCROOT DSTROOT, or --from-list FILE), got %d arguments", len(args))
	case store.CheckScheme(args[0]) != nil:
		return nil, store.CheckScheme(args[0])
	case store.CheckScheme(args[1]) != nil:
		return nil, store.CheckScheme(args[1])
	case f.root:
		pairs, err := migrate.FindSnapshots(ctx, args[0], args[1])
		if err != nil {
			return nil, err
		}
		if len(pairs) == 0 {
			return nil, fmt.Errorf("%s: no snapshot found (no _metadata in it or its folders)", args[0])
		}
		return pairs, nil
	}
	return []migrate.RelocatePair{{Src: args[0], Dst: args[1]}}, nil
}

func writeRelocateText(w io.Writer, r *migrate.RelocateReport) {
	switch r.Status {
	case migrate.FailedStatus:
		fmt.Fprintf(w, "FAILED     %s -> %s\n  %s\n", r.Src, r.Dst, strings.ReplaceAll(r.Error, "\n", "\n  "))
		return
	case migrate.Planned:
		fmt.Fprintf(w, "plan       %s -> %s: %d files, %s, %d handles rewritten\n", r.Src, r.Dst, r.Files, units.Bytes(r.Bytes), r.Rewritten)
		if !planVerbose {
			writePlanChanges(w, r.Plan)
			break
		}
		for _, p := range r.Plan {
			what := string(p.Change)
			if p.Range {
				what += fmt.Sprintf(" (bytes %d-%d)", p.Offset, p.Offset+p.Bytes)
			}
			fmt.Fprintf(w, "  %10s  %s -> %s  %s\n", units.Bytes(p.Bytes), p.From, p.To, what)
		}
	default:
		fmt.Fprintf(w, "%-10s %s -> %s: %d files, %s (copied %d, server-side %d, already there %d), %d handles rewritten, %.1fs\n",
			r.Status, r.Src, r.Dst, r.Files, units.Bytes(r.Bytes), r.Copied, r.ServerSide, r.Present, r.Rewritten, r.Seconds)
	}
	for _, wn := range r.Warnings {
		fmt.Fprintf(w, "  warning: %s\n", wn)
	}
}
