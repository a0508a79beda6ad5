package main

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"github.com/spf13/pflag"

	"github.com/fsnap/fsnap/inventory"
	"github.com/fsnap/fsnap/migrate"
	"github.com/fsnap/fsnap/store"
	"github.com/fsnap/fsnap/table"
)

var inventoryFlags struct {
	output   string
	out      string
	fromList string
	shard    string
	states   bool
	parallel int
	compress string
}

func init() {
	register(&command{
		name:  "inventory",
		args:  "[flags] ROOT... | --from-list FILE",
		short: "tables of every snapshot, operator, state and file under checkpoint roots, for any engine to query",
		long: `Writes four tables under --out DIR or URL, one file per table per shard:
snapshots/ (root, path, kind, checkpoint id, time, complete, Flink range,
metadata version and bytes, referenced, shared and owned bytes; folders
without _metadata are rows with complete false), operators/ (uid, id,
parallelism, max parallelism, bytes per slot), files/ (path, scope, folder,
bytes, stored, the snapshots using it, how many) and, with --states,
states/ (name, type, serializers, entries and bytes: every stream is read). The columns
are those of fsnap deps -o json and fsnap inspect -o json.

--shard i/n writes shard i of n: snapshot rows of the snapshots whose
location hashes to i, file rows of the files whose path does, so the n
parts (e.g. an Indexed Job's pods) together hold every row once and any
engine reads the parts of a table as one table (snapshots/*.parquet).
--from-list FILE reads one ROOT per line.`,
		flags: func(fs *pflag.FlagSet) {
			fs.StringVar(&inventoryFlags.out, "out", "", "directory or URL the tables are written under (required)")
			fs.StringVar(&inventoryFlags.fromList, "from-list", "", "a file of roots, one per line (- for standard input)")
			fs.StringVar(&inventoryFlags.shard, "shard", "", "i/n: write shard i (0-based) of n")
			fs.BoolVar(&inventoryFlags.states, "states", false, "also read every state stream for the states table")
			fs.IntVar(&inventoryFlags.parallel, "parallel", 16, "snapshots read at once")
			fs.StringVar(&inventoryFlags.compress, "compression", "snappy", "Parquet page codec: snappy, zstd, gzip or none")
			maxDepthFlag(fs)
		},
		output:  &inventoryFlags.output,
		outputs: []string{"parquet", "arrow", "arrows", "csv", "jsonl"},
		run:     runInventory,
	})
}

func runInventory(ctx context.Context, e *env, args []string) error {
	f := inventoryFlags
	if f.out == "" {
		return usagef("--out DIR or URL is required")
	}
	codec, err := parquetCompression(f.compress, f.output)
	if err != nil {
		return err
	}
	roots := args
	if f.fromList != "" {
		if len(args) > 0 {
			return usagef("give ROOTs or --from-list, not both")
		}
		var r io.Reader = os.Stdin
		if f.fromList != "-" {
			fh, err := os.Open(f.fromList)
			if err != nil {
				return usagef("--from-list: %v", err)
			}
			defer fh.Close()
			r = fh
		}
		sc := bufio.NewScanner(r)
		for sc.Scan() {
			if l := strings.TrimSpace(sc.Text()); l != "" && !strings.HasPrefix(l, "#") {
				roots = append(roots, l)
			}
		}
	}
	if len(roots) == 0 {
		return usagef("no ROOT given")
	}
	opt := inventory.Options{States: f.states, Parallel: f.parallel, Shards: 1, MaxDepth: maxDepth}
	if f.shard != "" {
		i, n, err := migrate.ParseShard(f.shard)
		if err != nil {
			return usagef("--shard: %v", err)
		}
		opt.Shard, opt.Shards = i, n
	}
	out, err := store.Open(ctx, f.out)
	if err != nil {
		return err
	}
	defer out.Close()
	part := fmt.Sprintf("part-%d-of-%d.%s", opt.Shard, opt.Shards, f.output)
	var opened []table.Writer
	open := func(name string, cols []table.Column) (table.Writer, error) {
		rel := name + "/" + part
		if out.Scheme == "file" {
			if err := os.MkdirAll(filepath.Join(f.out, name), 0o755); err != nil {
				return nil, err
			}
		}
		key, err := out.Key(rel)
		if err != nil {
			return nil, err
		}
		bw, err := out.Bucket.NewWriter(ctx, key, nil)
		if err != nil {
			return nil, out.Wrap(key, err)
		}
		w, err := table.New(table.Format(f.output), bw, cols, table.WithCompression(codec))
		if err == nil {
			opened = append(opened, w)
		}
		return w, err
	}
	var w inventory.Writers
	for _, t := range []struct {
		name string
		cols []table.Column
		dst  *table.Writer
	}{{"snapshots", inventory.SnapshotColumns, &w.Snapshots}, {"operators", inventory.OperatorColumns, &w.Operators},
		{"files", inventory.FileColumns, &w.Files}, {"states", inventory.StateColumns, &w.States}} {
		if t.name == "states" && !f.states {
			continue
		}
		if *t.dst, err = open(t.name, t.cols); err != nil {
			return err
		}
	}
	st, err := inventory.Run(ctx, roots, opt, w)
	for _, tw := range opened {
		if cerr := tw.Close(); err == nil {
			err = cerr
		}
	}
	if err != nil {
		return err
	}
	for _, sc := range st.Scanned {
		fmt.Fprintf(e.stderr, "fsnap inventory: %s\n", sc)
	}
	fmt.Fprintf(e.stderr, "fsnap inventory: %d roots: %d snapshots, %d operators, %d states, %d files (shard %d of %d) under %s\n",
		st.Roots, st.Snapshots, st.Operators, st.States, st.Files, opt.Shard, opt.Shards, out.Display)
	return nil
}
