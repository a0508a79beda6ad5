package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/schollz/progressbar/v3"
	"github.com/spf13/pflag"
	"golang.org/x/term"

	"github.com/fsnap/fsnap/inspect"
	"github.com/fsnap/fsnap/internal/store"
	"github.com/fsnap/fsnap/internal/transfer"
	"github.com/fsnap/fsnap/migrate"
)

// subcommand is one `fsnap migrate` subcommand. Each lives in its own file
// and registers itself with registerMigrate.
type subcommand struct {
	name  string
	args  string
	short string
	long  string
	flags func(fs *pflag.FlagSet)
	run   func(ctx context.Context, e *env, args []string) error
}

var migrateSubcommands = map[string]*subcommand{}

func registerMigrate(s *subcommand) { migrateSubcommands[s.name] = s }

func init() {
	register(&command{
		name:  "migrate",
		args:  "SUBCOMMAND [flags] ARGS",
		short: "relocate snapshots between stores, convert them",
		long:  migrateLong(),
		// Flags belong to the subcommands: stop parsing at the first
		// argument, the subcommand's name.
		flags: func(fs *pflag.FlagSet) { fs.SetInterspersed(false) },
		run:   runMigrate,
	})
	registerMigrate(&subcommand{
		name:  "relocate",
		args:  "[flags] SRC DST | --root SRCROOT DSTROOT | --from-list FILE",
		short: "copy snapshots to another place or store so that they restore from there",
		long:  relocateLong,
		flags: relocateFlagSet,
		run:   runRelocate,
	})
}

func migrateLong() string {
	return `Subcommands (run 'fsnap migrate SUBCOMMAND --help' for each one's flags):
  relocate      copy snapshots to another place or store so that they restore from there
  to-canonical  convert a native savepoint or checkpoint into a canonical savepoint`
}

func runMigrate(ctx context.Context, e *env, args []string) error {
	if len(args) == 0 {
		return usagef("want a subcommand: %s", strings.Join(migrateNames(), ", "))
	}
	sc, ok := migrateSubcommands[args[0]]
	if !ok {
		return usagef("unknown subcommand %q (want %s)", args[0], strings.Join(migrateNames(), ", "))
	}
	fs := pflag.NewFlagSet("migrate "+sc.name, pflag.ContinueOnError)
	fs.SetOutput(io.Discard)
	fs.SortFlags = false
	help := fs.BoolP("help", "h", false, "show this help")
	sc.flags(fs)
	if err := fs.Parse(args[1:]); err != nil {
		return usagef("%s: %v\nusage: fsnap migrate %s %s", sc.name, err, sc.name, sc.args)
	}
	if *help {
		fmt.Fprintf(e.stdout, "Usage: fsnap migrate %s %s\n\n%s\n\n%s\n", sc.name, sc.args, sc.short, strings.TrimSpace(sc.long))
		fs.SortFlags = false
		fmt.Fprintf(e.stdout, "\nFlags:\n%s\n%s", fs.FlagUsages(), exitCodesHelp)
		return nil
	}
	return sc.run(ctx, e, fs.Args())
}

func migrateNames() []string {
	var out []string
	for n := range migrateSubcommands {
		out = append(out, n)
	}
	sort.Strings(out)
	return out
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
DSTROOT; --from-list FILE reads one "SRC DST" pair per line. --shard i/n
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
	fs.StringVarP(&f.output, "output", "o", "text", "output format: text or json")
	fs.StringVar(&f.progress, "progress", "auto", "progress on stderr: auto (bar on a terminal, else plain), bar, plain, json or none")
	fs.BoolVar(&f.noServerSide, "no-server-side", false, "stream every file through fsnap even within one store")
	fs.BoolVar(&f.noSync, "no-sync", false, "do not fsync local destination files before writing _metadata")
}

func runRelocate(ctx context.Context, e *env, args []string) error {
	f := &relocateFlags
	if err := checkOutput(f.output); err != nil {
		return err
	}
	switch f.progress {
	case "auto", "bar", "plain", "json", "none":
	default:
		return usagef("unknown --progress %q (want auto, bar, plain, json or none)", f.progress)
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
	pairs, err := relocatePairs(ctx, args)
	if err != nil {
		return err
	}
	if f.shard != "" {
		i, n, err := migrate.ParseShard(f.shard)
		if err != nil {
			return usagef("%v", err)
		}
		pairs = migrate.ShardPairs(pairs, i, n)
	}
	eng := transfer.New(transfer.Options{Transfers: f.transfers, NoServerSide: f.noServerSide, SyncLocal: !f.noSync})
	prog := startProgress(e.stderr, f.progress, eng, len(pairs), f.dryRun)
	opts := migrate.BulkOptions{
		RelocateOptions: migrate.RelocateOptions{Maps: maps, Engine: eng, NoSync: f.noSync},
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
	prog.stop()
	if f.output == "json" {
		if err := writeJSON(e.stdout, sum); err != nil {
			return err
		}
	} else if f.root || f.fromList != "" || f.dryRun {
		t := sum.Totals
		fmt.Fprintf(e.stdout, "total: %d snapshots: %d relocated, %d already relocated, %d planned, %d failed; %d files, %s (%s copied) in %.1fs\n",
			t.Snapshots, t.Relocated, t.AlreadyRelocated, t.Planned, t.Failed, t.Files, inspect.Bytes(t.Bytes), inspect.Bytes(t.BytesCopied), t.Seconds)
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
				return nil, err
			}
			defer fh.Close()
			r = fh
		}
		pairs, err := migrate.ReadPairs(r)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", f.fromList, err)
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
		fmt.Fprintf(w, "plan       %s -> %s: %d files, %s, %d handles rewritten\n", r.Src, r.Dst, r.Files, inspect.Bytes(r.Bytes), r.Rewritten)
		for _, p := range r.Plan {
			what := string(p.Change)
			if p.Range {
				what += fmt.Sprintf(" (bytes %d-%d)", p.Offset, p.Offset+p.Bytes)
			}
			fmt.Fprintf(w, "  %10s  %s -> %s  %s\n", inspect.Bytes(p.Bytes), p.From, p.To, what)
		}
	default:
		fmt.Fprintf(w, "%-10s %s -> %s: %d files, %s (copied %d, server-side %d, already there %d), %d handles rewritten, %.1fs\n",
			r.Status, r.Src, r.Dst, r.Files, inspect.Bytes(r.Bytes), r.Copied, r.ServerSide, r.Present, r.Rewritten, r.Seconds)
	}
	for _, wn := range r.Warnings {
		fmt.Fprintf(w, "  warning: %s\n", wn)
	}
}

// progress renders the engine's counters on stderr.
type progress struct {
	mode      string // bar, plain, json, none
	w         io.Writer
	eng       *transfer.Engine
	start     time.Time
	snapshots int
	mu        sync.Mutex
	done      int
	failed    int
	bar       *progressbar.ProgressBar
	quit      chan struct{}
	stopped   chan struct{}
}

func startProgress(w io.Writer, mode string, eng *transfer.Engine, snapshots int, dryRun bool) *progress {
	if mode == "auto" {
		mode = "plain"
		if f, ok := w.(*os.File); ok && term.IsTerminal(int(f.Fd())) {
			mode = "bar"
		}
	}
	if dryRun {
		mode = "none"
	}
	p := &progress{mode: mode, w: w, eng: eng, start: time.Now(), snapshots: snapshots,
		quit: make(chan struct{}), stopped: make(chan struct{})}
	if mode == "none" {
		close(p.stopped)
		return p
	}
	every := 5 * time.Second
	if mode == "bar" {
		every = 150 * time.Millisecond
		p.bar = progressbar.NewOptions64(-1, progressbar.OptionSetWriter(w), progressbar.OptionShowBytes(true),
			progressbar.OptionSetWidth(30), progressbar.OptionThrottle(100*time.Millisecond),
			progressbar.OptionShowCount(), progressbar.OptionSetPredictTime(true), progressbar.OptionUseIECUnits(true),
			progressbar.OptionSetDescription("relocate"))
	}
	go func() {
		defer close(p.stopped)
		t := time.NewTicker(every)
		defer t.Stop()
		for {
			select {
			case <-p.quit:
				p.render(true)
				return
			case <-t.C:
				p.render(false)
			}
		}
	}()
	return p
}

func (p *progress) render(final bool) {
	s := &p.eng.Stats
	done, total := s.BytesDone.Load(), s.BytesTotal.Load()
	p.mu.Lock()
	defer p.mu.Unlock()
	secs := time.Since(p.start).Seconds()
	rate := float64(done-s.BytesSkipped.Load()) / max(secs, 1e-3)
	switch p.mode {
	case "bar":
		if total > 0 && p.bar.GetMax64() != total {
			p.bar.ChangeMax64(total)
		}
		p.bar.Describe(fmt.Sprintf("snapshots %d/%d, files %d/%d", p.done, p.snapshots, s.FilesDone.Load(), s.FilesTotal.Load()))
		p.bar.Set64(done)
		if final {
			p.bar.Finish()
			fmt.Fprintln(p.w)
		}
	case "plain":
		if final && secs < 2 {
			return // a quick run: its result lines say it all
		}
		fmt.Fprintf(p.w, "progress: %s / %s, files %d/%d (%d already there, %d server-side, %d failed), snapshots %d/%d, %s/s\n",
			inspect.Bytes(done), inspect.Bytes(total), s.FilesDone.Load(), s.FilesTotal.Load(), s.FilesSkipped.Load(),
			s.FilesServerSide.Load(), s.FilesFailed.Load(), p.done, p.snapshots, inspect.Bytes(int64(rate)))
	case "json":
		b, _ := json.Marshal(map[string]any{"type": "progress", "bytes_done": done, "bytes_total": total,
			"files_done": s.FilesDone.Load(), "files_total": s.FilesTotal.Load(), "files_present": s.FilesSkipped.Load(),
			"files_server_side": s.FilesServerSide.Load(), "files_failed": s.FilesFailed.Load(),
			"snapshots_done": p.done, "snapshots_failed": p.failed, "snapshots_total": p.snapshots,
			"seconds": secs, "bytes_per_second": int64(rate), "final": final})
		fmt.Fprintf(p.w, "%s\n", b)
	}
}

func (p *progress) snapshotDone(r *migrate.RelocateReport) {
	p.mu.Lock()
	p.done++
	if r.Status == migrate.FailedStatus {
		p.failed++
	}
	p.mu.Unlock()
}

// pause runs fn (which prints to stdout) without a half-drawn bar line.
func (p *progress) pause(fn func()) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.bar != nil {
		p.bar.Clear()
	}
	fn()
}

func (p *progress) stop() {
	if p.mode != "none" {
		close(p.quit)
	}
	<-p.stopped
}
