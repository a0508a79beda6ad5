package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"runtime"
	"time"

	"github.com/spf13/pflag"

	"github.com/fsnap/fsnap/internal/units"
	"github.com/fsnap/fsnap/migrate"
)

func init() {
	registerSub("migrate", &command{
		name:   "to-canonical",
		args:   "[flags] SRC DST",
		short:  "convert a native savepoint or checkpoint (RocksDB or heap) into a canonical savepoint",
		long:   toCanonicalLong,
		flags:  toCanonicalFlagSet,
		nargs:  2,
		output: &toCanonicalFlags.output,
		run:    runToCanonical,
	})
}

const toCanonicalLong = `Converts the snapshot SRC (a native savepoint or a checkpoint of the RocksDB
or heap state backend: a directory, its _metadata, or a URL of either) into
a canonical savepoint in DST (an empty directory or prefix, any store URL),
without a JVM. Only canonical savepoints survive a change of state backend,
are read by the State Processor API and accepted by services that import
canonical savepoints only.

Keyed state is rewritten as Flink's canonical savepoint writer does:
  RocksDB   each subtask's instance (incremental and native full
            checkpoints, native savepoints; shared/ files included) is
            placed under its RocksDB file names in a scratch directory
            under --tmp (local files as links, others downloaded), opened
            read-only with all its column families, and written as one
            key-group stream: the meta state handle's header bytes, key
            groups in order, states by id, keys in RocksDB order
  heap      heap-layout key-group streams are re-encoded (lists, maps and
            timers into the canonical form)
  unified   streams already canonical are checked and copied
Operator, raw keyed, channel and coordinator state are carried unchanged.
Every handle of the result is inline or relative (the savepoint can be
moved), and _metadata, written last, says CANONICAL savepoint.

Key-group blocks are Snappy-compressed when the source's header says so
(--compression snappy or none to choose). Memory does not grow with the
state; scratch space (the largest RocksDB instances being converted, for
remote sources) is removed afterwards, also on failure or interrupt, as is
everything written to DST. --parallel converts that many subtasks at once.
Changelog state backend checkpoints with changes not yet materialized
cannot be converted (the changes lack the key serializer).

Progress goes to stderr: a bar on a terminal, else a line every few seconds.
-o json prints the result as one document (schema fsnap.to-canonical/v1).`

var toCanonicalFlags struct {
	tmp         string
	parallel    int
	compression string
	output      string
	progress    string
	allow       []string
	dropChannel bool
}

func toCanonicalFlagSet(fs *pflag.FlagSet) {
	f := &toCanonicalFlags
	fs.StringVar(&f.tmp, "tmp", os.TempDir(), "directory for scratch copies of RocksDB instances")
	fs.IntVar(&f.parallel, "parallel", runtime.NumCPU(), "subtasks converted at once")
	fs.StringVar(&f.compression, "compression", "keep", "key-group block compression: keep (as the source), snappy or none")
	fs.StringVar(&f.progress, "progress", "auto", "progress on stderr: auto (bar on a terminal, else plain), bar, plain or none")
	allowPathFlag(fs, &f.allow)
	fs.BoolVar(&f.dropChannel, "drop-channel-state", false, "convert an unaligned checkpoint without its in-flight channel state (refused without it)")
}

func runToCanonical(ctx context.Context, e *env, args []string) error {
	f := toCanonicalFlags
	comp, err := migrate.ParseCompression(f.compression)
	if err != nil {
		return usagef("--compression: %v", err)
	}
	if f.parallel < 1 {
		return usagef("--parallel must be at least 1")
	}
	mode, err := progressMode(f.progress, e.stderr, "bar", "plain", "none")
	if err != nil {
		return err
	}
	allow, err := allowScopes(ctx, f.allow)
	if err != nil {
		return err
	}
	opts := migrate.CanonicalOptions{Tmp: f.tmp, Parallel: f.parallel, Compression: comp, Allow: allow,
		DropChannelState: f.dropChannel}
	(&progress{mode: mode, w: e.stderr, what: "to-canonical"}).attach(&opts.Transfers)
	res, err := migrate.ToCanonical(ctx, args[0], args[1], opts)
	if errors.Is(err, migrate.ErrChannelState) {
		return &exitError{code: exitFindings, err: err} // a refusal
	}
	if err != nil {
		return err
	}
	if f.output == "json" {
		return writeJSON(e.stdout, res.Document())
	}
	rate := ""
	if s := res.Elapsed.Seconds(); s > 0 {
		rate = fmt.Sprintf(", %s/s", units.Bytes(int64(float64(res.BytesRead)/s)))
	}
	fmt.Fprintf(e.stdout, "canonical savepoint %s\n  from %s (%s)\n", res.Destination, res.Source, res.SourceKind)
	fmt.Fprintf(e.stdout, "  keyed state: %d RocksDB instances, %d heap streams re-encoded, %d unified streams copied; %d entries\n",
		res.FromRocksDB, res.FromHeap, res.FromUnified, res.Entries)
	if res.DroppedChannelSubtasks > 0 {
		fmt.Fprintf(e.stdout, "  WARNING: %s of in-flight channel state in %d subtasks left out (--drop-channel-state)\n",
			units.Bytes(res.DroppedChannelBytes), res.DroppedChannelSubtasks)
	}
	if res.OutsideRange > 0 {
		fmt.Fprintf(e.stdout, "  %d RocksDB entries outside their subtask's key groups were left out (Flink drops them on restore)\n", res.OutsideRange)
	}
	fmt.Fprintf(e.stdout, "  wrote %d files, %s, in %s (read %s%s)\n", res.FilesWritten, units.Bytes(res.BytesWritten),
		res.Elapsed.Round(time.Millisecond), units.Bytes(res.BytesRead), rate)
	return nil
}
