package main

import (
	"context"
	"errors"
	"fmt"

	"github.com/spf13/pflag"

	"github.com/fsnap/fsnap/catalog"
)

var latestFlags struct {
	output string
	typ    string
	job    string
}

func init() {
	register(&command{
		name:  "latest",
		args:  "[flags] ROOT",
		short: "print the newest complete snapshot under a root (for restore-from-latest)",
		long: `Prints the location of the newest complete snapshot under ROOT (by the time of
its _metadata, ties broken by checkpoint id), for scripts such as

  flink run -s "$(fsnap latest s3://bucket/checkpoints/$JOB)" …

Only snapshots whose _metadata parses are considered; newer unreadable ones
are reported on stderr and skipped. --type and --job narrow the choice.
Exits 1, printing nothing on stdout, when there is none.

-o json prints the chosen snapshot as an entry of fsnap.ls/v1.`,
		flags: func(fs *pflag.FlagSet) {
			maxDepthFlag(fs)
			fs.StringVar(&latestFlags.typ, "type", "any", "checkpoint, savepoint or any")
			fs.StringVar(&latestFlags.job, "job", "", "only snapshots in this folder under ROOT (the job id, or the savepoint folder)")
		},
		nargs:  1,
		output: &latestFlags.output,
		run:    runLatest,
	})
}

func runLatest(ctx context.Context, e *env, args []string) error {
	switch latestFlags.typ {
	case "any", "checkpoint", "savepoint":
	default:
		return usagef("--type must be checkpoint, savepoint or any, not %q", latestFlags.typ)
	}
	root, c, err := scanRoot(ctx, args[0])
	if err != nil {
		return err
	}
	defer root.Close()
	typ := catalog.FolderKind(latestFlags.typ)
	if typ == "any" {
		typ = ""
	}
	s, err := catalog.Latest(ctx, root, c, catalog.LatestOptions{Type: typ, Job: latestFlags.job,
		Skipped: func(name string, err error) { fmt.Fprintf(e.stderr, "fsnap latest: skipping %s: %v\n", name, err) }})
	if errors.Is(err, catalog.ErrNoSnapshot) {
		return &exitError{code: exitFindings, err: err}
	}
	if err != nil {
		return err
	}
	if latestFlags.output == "json" {
		return writeJSON(e.stdout, catalog.NewLatestDoc(s))
	}
	_, err = fmt.Fprintln(e.stdout, s.Location)
	return err
}
