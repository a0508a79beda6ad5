package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"strings"

	jsonv2 "github.com/go-json-experiment/json"
	"github.com/go-json-experiment/json/jsontext"
	jsonv1 "github.com/go-json-experiment/json/v1"
	"github.com/spf13/pflag"

	"github.com/fsnap/fsnap/inspect"
	"github.com/fsnap/fsnap/inventory"
	"github.com/fsnap/fsnap/table"
)

var inspectFlags struct {
	output       string
	files        bool
	states       bool
	metadataOnly bool
	parallel     int
	rocksdb      bool
	tmp          string
	allow        []string
	table        string
	all          bool
}

func init() {
	register(&command{
		name:  "inspect",
		args:  "[flags] SNAPSHOT",
		short: "show a snapshot's kind, Flink versions, operators, state sizes and files",
		long: `SNAPSHOT is a checkpoint or savepoint directory, its _metadata file, or a URL of either.

The report gives the kind (from the checkpoint properties stored in _metadata
version 4+, else inferred from the handles, saying so), the Flink releases
that could have written it, totals, and one row per operator: uid (name) when
stored, id, parallelism/max parallelism, and bytes of managed keyed, raw
keyed, managed operator, raw operator and channel state: the 50 largest
operators and a count of the rest (--all lists every one). The state
backend is named from the handles (and the streams' layout when read).

-o json prints a stable document (schema "fsnap.inspect/v1"; fields are only
ever added). --files lists every file with its scope (inline, exclusive,
shared, task-owned, external) and the operator, subtask and slot using it.

The state files' headers are read to list each operator's states with type
and serializers (--metadata-only skips that). --states walks every keyed and
operator stream to count entries and bytes per state and key group and to
show skew: the largest subtask and key group against the median. RocksDB
native state (incremental checkpoints, native savepoints) is listed from its
meta handle; --rocksdb opens each instance (a scratch copy under --tmp) and
reports entries, bytes and key groups per state summed over the instances
(--all: per instance, per column family, and the SST files).

-o csv, jsonl, parquet, arrow or arrows print a table of fsnap inventory: one row
per operator, or with --table states one per state (entries and bytes
filled with --states).`,
		flags: func(fs *pflag.FlagSet) {
			fs.BoolVar(&inspectFlags.files, "files", false, "list every file with scope and users")
			fs.BoolVar(&inspectFlags.states, "states", false, "walk every state stream: entries and bytes per state and key group, and skew")
			fs.BoolVar(&inspectFlags.metadataOnly, "metadata-only", false, "read only _metadata, not the state files' headers")
			fs.IntVar(&inspectFlags.parallel, "parallel", 16, "state files read at once")
			fs.BoolVar(&inspectFlags.rocksdb, "rocksdb", false, "open every RocksDB instance (a scratch copy under --tmp): entries, bytes and key groups per column family, SST files")
			fs.StringVar(&inspectFlags.tmp, "tmp", os.TempDir(), "directory for --rocksdb scratch copies")
			fs.BoolVar(&inspectFlags.all, "all", false, "text: list every operator (else the 50 largest and a count of the rest) and, with --rocksdb, every instance")
			fs.StringVar(&inspectFlags.table, "table", "operators", "with -o csv, jsonl, parquet, arrow or arrows: operators or states")
			allowPathFlag(fs, &inspectFlags.allow)
		},
		nargs:   1,
		output:  &inspectFlags.output,
		outputs: append([]string{"text", "json"}, tableFormats...),
		run:     runInspect,
	})
}

func runInspect(ctx context.Context, e *env, args []string) error {
	allow, err := allowScopes(ctx, inspectFlags.allow)
	if err != nil {
		return err
	}
	if inspectFlags.table != "operators" && inspectFlags.table != "states" {
		return usagef("--table %q: want operators or states", inspectFlags.table)
	}
	if inspectFlags.table != "operators" && !isTable(inspectFlags.output) {
		return usagef("--table goes with -o %s (text and json show every table)", strings.Join(tableFormats, ", "))
	}
	s, src, err := loadSnapshot(ctx, args[0], allow...)
	if err != nil {
		return err
	}
	defer src.Close()
	opt := inspect.Options{Files: inspectFlags.files}
	if inspectFlags.states && inspectFlags.metadataOnly {
		return usagef("--states reads the state files; --metadata-only does not")
	}
	if !inspectFlags.metadataOnly {
		opt.States = inspect.ReadStates(ctx, s, src, inspect.StatesOptions{Walk: inspectFlags.states, Parallel: inspectFlags.parallel})
	}
	// A large JSON report's operators are made while they are encoded.
	rows := inspectFlags.output == "json" && len(s.Operators) >= 2*jsonChunk
	opt.NoOperators = rows
	r := inspect.Build(s, opt)
	if inspectFlags.rocksdb {
		if r.RocksDB, err = inspect.RocksDB(ctx, s, src, inspect.RocksDBOptions{Tmp: inspectFlags.tmp}); err != nil {
			return err
		}
	}
	if inspectFlags.output == "json" {
		if rows {
			err = writeReportRows(e.stdout, r, len(s.Operators), func(i int) inspect.OperatorInfo { return inspect.Operator(s, opt, i) })
		} else {
			err = writeJSON(e.stdout, r)
		}
		if err != nil || r.RocksDB == nil {
			return err
		}
		return rocksDBFailed(r.RocksDB)
	}
	if isTable(inspectFlags.output) {
		cols, write := inventory.OperatorColumns, inventory.WriteOperators
		if inspectFlags.table == "states" {
			cols, write = inventory.StateColumns, inventory.WriteStates
		}
		return writeTable(e, inspectFlags.output, cols, func(w table.Writer) error { return write(w, "", r.Snapshot, r) })
	}
	err = writeLines(e.stdout, func(w io.Writer) error {
		if err := writeInspectText(w, r, inspectFlags.all); err != nil || r.RocksDB == nil {
			return err
		}
		return writeRocksDBText(w, r.RocksDB, inspectFlags.all)
	})
	if err != nil || r.RocksDB == nil {
		return err
	}
	return rocksDBFailed(r.RocksDB)
}

// rocksDBFailed makes inspect --rocksdb exit 3 when an instance could not
// be read (corruption, missing files): it printed the error, not a clean
// description.
func rocksDBFailed(r *inspect.RocksDBReport) error {
	n := 0
	for _, in := range r.Instances {
		if in.Error != "" {
			n++
		}
	}
	if n == 0 {
		return nil
	}
	return &exitError{code: exitInput, err: fmt.Errorf("%d of %d RocksDB instances could not be read (see above)", n, len(r.Instances))}
}

// jsonDoc is how every JSON document is written: v1's semantics, indented.
var jsonDoc = jsonv2.JoinOptions(jsonv1.DefaultOptionsV1(), jsontext.WithIndent("  "))

// writeJSON prints v indented, encoding as it goes: a report of 100,000
// operators is never held whole in memory, nor indented in a second pass
// (encoding/json's Encoder does both). encoding/json/v2 with v1's options
// keeps the documents as they were (omitempty, null slices, HTML escaping).
func writeJSON(w io.Writer, v any) error {
	return writeLines(w, func(w io.Writer) error {
		if err := jsonv2.MarshalWrite(w, v, jsonDoc); err != nil {
			return err
		}
		_, err := w.Write([]byte{'\n'})
		return err
	})
}
