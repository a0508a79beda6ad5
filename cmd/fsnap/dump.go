package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/spf13/pflag"

	"github.com/fsnap/fsnap/dump"
	"github.com/fsnap/fsnap/format"
	"github.com/fsnap/fsnap/migrate"
	"github.com/fsnap/fsnap/snapshot/source"
	"github.com/fsnap/fsnap/store"
	"github.com/fsnap/fsnap/table"
)

var dumpFlags struct {
	output   string
	operator string
	state    string
	groups   string
	limit    int64
	out      string
	tmp      string
	compress string
	progress string
}

func init() {
	register(&command{
		name:  "dump",
		args:  "[flags] SNAPSHOT",
		short: "write a snapshot's state entries as rows: JSON lines, CSV, Parquet or Arrow",
		long: `One row per entry: operator (id and uid), state, state type, subtask, key group,
key, namespace, user key (map state: one row per user key), value and TTL
timestamp, decoded with the state's serializers; timers are rows of their
timer states; operator list elements and broadcast entries are rows too.
Values fsnap does not decode (Kryo, unknown serializers) are their bytes:
base64 in JSON lines and CSV, binary columns in Parquet and Arrow.

-o jsonl (default) and csv write one stream to --out FILE or standard output.
-o parquet, arrow (the Arrow IPC file format, also called Feather v2) and
arrows (the Arrow IPC stream format) write one file per state, typed by
its serializers (Long → int64, String → utf8, tuples, case classes, POJOs
and timers → structs, lists → lists, maps → maps), under --out DIR or URL
as <operator uid or id>/<state>.parquet (.arrow, .arrows); Parquet row
groups and Arrow batches of 65,536 rows keep memory bounded (three or four
per state: one is read while the one before is compressed, on every core,
and written; their buffers are reused). Parquet is Snappy-compressed (--compression zstd,
gzip or none), without dictionary pages. A dump that stops on corrupt
input exits 3 naming the file and offset, and leaves every file it wrote
complete.

Canonical and heap snapshots are read directly; RocksDB native state
(native savepoints, incremental checkpoints) is converted to a canonical
savepoint under --tmp first, without a JVM.`,
		flags: func(fs *pflag.FlagSet) {
			fs.StringVar(&dumpFlags.operator, "operator", "", "only this operator (uid or 32-hex id)")
			fs.StringVar(&dumpFlags.state, "state", "", "only this state")
			fs.StringVar(&dumpFlags.groups, "key-group", "", "only key group N or range N-M (keyed state only)")
			fs.Int64Var(&dumpFlags.limit, "limit", 0, "stop after this many rows (0: all)")
			fs.StringVar(&dumpFlags.out, "out", "", "output file (jsonl, csv; default standard output) or directory/URL (parquet, arrow, arrows)")
			fs.StringVar(&dumpFlags.tmp, "tmp", os.TempDir(), "scratch space for converting RocksDB native state")
			fs.StringVar(&dumpFlags.compress, "compression", "snappy", "Parquet page codec: snappy, zstd (smaller, slower), gzip or none (fastest, largest)")
			fs.StringVar(&dumpFlags.progress, "progress", "auto", "on standard error: auto (a bar on a terminal, else a line every 5 s), bar, plain or none")
		},
		nargs:   1,
		output:  &dumpFlags.output,
		outputs: []string{"jsonl", "csv", "parquet", "arrow", "arrows"},
		run:     runDump,
	})
}

// parquetCompression reads --compression, which only Parquet output takes.
func parquetCompression(s, output string) (table.Compression, error) {
	c, err := table.ParseCompression(s)
	if err != nil {
		return "", usagef("--%v", err)
	}
	if c != table.Snappy && output != "parquet" {
		return "", usagef("--compression applies to -o parquet, not -o %s", output)
	}
	return c, nil
}

func parseKeyGroups(s string) (int32, int32, error) {
	if s == "" {
		return -1, -1, nil
	}
	lo, hi, rng := strings.Cut(s, "-")
	a, err1 := strconv.ParseInt(lo, 10, 32)
	b := a
	var err2 error
	if rng {
		b, err2 = strconv.ParseInt(hi, 10, 32)
	}
	if err1 != nil || err2 != nil || a < 0 || b < a {
		return 0, 0, usagef("--key-group %q: want N or N-M with 0 ≤ N ≤ M", s)
	}
	return int32(a), int32(b), nil
}

func runDump(ctx context.Context, e *env, args []string) error {
	opt := dump.Options{Operator: dumpFlags.operator, State: dumpFlags.state, Limit: dumpFlags.limit}
	var err error
	if opt.FirstKeyGroup, opt.LastKeyGroup, err = parseKeyGroups(dumpFlags.groups); err != nil {
		return err
	}
	if opt.Limit < 0 {
		return usagef("--limit %d: want a number of rows (0: all)", opt.Limit)
	}
	columnar := table.Format(dumpFlags.output).Binary()
	if columnar && dumpFlags.out == "" {
		return usagef("-o %s writes one file per state: give --out DIR or URL", dumpFlags.output)
	}
	codec, err := parquetCompression(dumpFlags.compress, dumpFlags.output)
	if err != nil {
		return err
	}
	mode, err := progressMode(dumpFlags.progress, e.stderr, "bar", "plain", "none")
	if err != nil {
		return err
	}
	s, src, err := source.Load(ctx, args[0])
	if err != nil {
		return err
	}
	defer src.Close()
	if native(s.Metadata) {
		dir, err := os.MkdirTemp(dumpFlags.tmp, "fsnap-dump-")
		if err != nil {
			return err
		}
		defer os.RemoveAll(dir)
		fmt.Fprintf(e.stderr, "fsnap dump: %s holds RocksDB native state; converting it to a canonical savepoint under %s first\n", s.Dir, dir)
		out := filepath.Join(dir, "canonical")
		// The conversion is only read for its state entries: in-flight
		// channel state (an unaligned checkpoint) is never a row.
		copts := migrate.CanonicalOptions{Tmp: dir, DropChannelState: true}
		(&progress{mode: mode, w: e.stderr, what: "converting"}).attach(&copts.Transfers)
		res, err := migrate.ToCanonical(ctx, args[0], out, copts)
		if err != nil {
			return err
		}
		if res.DroppedChannelSubtasks > 0 {
			fmt.Fprintf(e.stderr, "fsnap dump: %d subtasks' in-flight channel state (%d bytes: records, not state entries) is not dumped\n", res.DroppedChannelSubtasks, res.DroppedChannelBytes)
		}
		src.Close()
		if s, src, err = source.Load(ctx, out); err != nil {
			return err
		}
		defer src.Close()
	}
	var sink dump.Sink
	var finish func() error
	switch {
	case columnar:
		l, err := store.Open(ctx, dumpFlags.out)
		if err != nil {
			return err
		}
		defer l.Close()
		c := dump.NewColumnar(table.Format(dumpFlags.output), func(name string) (io.WriteCloser, error) {
			if l.Scheme == "file" {
				if err := os.MkdirAll(filepath.Dir(filepath.Join(dumpFlags.out, name)), 0o755); err != nil {
					return nil, err
				}
			}
			key, err := l.Key(name)
			if err != nil {
				return nil, err
			}
			return l.Bucket.NewWriter(ctx, key, nil)
		}, table.WithCompression(codec))
		sink, finish = c, c.Close
	default:
		w := e.stdout
		if dumpFlags.out != "" && dumpFlags.out != "-" {
			f, err := os.Create(dumpFlags.out)
			if err != nil {
				return err
			}
			defer f.Close()
			w = f
		}
		bw := bufio.NewWriterSize(w, 1<<20)
		if dumpFlags.output == "csv" {
			c := dump.NewCSV(bw)
			sink, finish = c, func() error {
				if err := c.Flush(); err != nil {
					return err
				}
				return bw.Flush()
			}
		} else {
			sink, finish = dump.NewJSONL(bw), bw.Flush
		}
	}
	var ended func()
	opt.Progress, ended = (&progress{mode: mode, w: e.stderr, what: "dump"}).bytes()
	st, err := dump.Dump(ctx, s, src, opt, sink)
	if ferr := finish(); err == nil {
		err = ferr
	}
	if errors.Is(err, dump.ErrNotFound) {
		return usagef("%v", err) // a selection of what is not there: the arguments are wrong
	}
	if err != nil {
		return &exitError{code: exitInput, err: err}
	}
	ended()
	fmt.Fprintf(e.stderr, "fsnap dump: %d rows of %d states\n", st.Rows, st.Tables)
	return nil
}

// native reports whether any keyed state is RocksDB native.
func native(m *format.Metadata) bool {
	for _, op := range m.Operators {
		for _, st := range op.Subtasks {
			if _, ok := st.ManagedKeyedState.(*format.IncrementalHandle); ok {
				return true
			}
		}
	}
	return false
}
