package main

import (
	"context"
	"fmt"
	"os"
	"strings"

	"github.com/spf13/pflag"

	"github.com/fsnap/fsnap/compat"
	"github.com/fsnap/fsnap/inspect"
	"github.com/fsnap/fsnap/snapshot"
)

var compatFlags struct {
	output      string
	target      string
	job         string
	backend     string
	parallelism int32
	rules       bool
}

func init() {
	register(&command{
		name:  "compat",
		args:  "[flags] SNAPSHOT --to-flink VERSION",
		short: "will this snapshot restore on Flink VERSION with the new job, and if not, why and what to do",
		long: `Reads SNAPSHOT's _metadata and state headers and applies compat's rules
(fsnap compat --rules prints them, each with its source): the capability
matrix of the snapshot's kind, the formats and serializers the target
release reads (legacy serializer snapshots, Scala API, Kryo 2 → 5, POJO
collections, removed sinks, connector state), and, with --job, the new job
against the snapshot's operators: state that would be dropped (and so needs
allowNonRestoredState), new operators, parallelism above a keyed operator's
max parallelism, a changed max parallelism, a state backend switch a kind
cannot make.

--job is a file of uids, one per line as uid[,parallelism[,max-parallelism]]
(id:<32 hex digits> for a raw operator id), a JSON execution plan (the REST
API's /jobs/:jobid/plan), or another snapshot taken from the new job.

The verdict is restores, restores-dropping-state or blocked, with the steps
that unblock. Exit status 0: restores; 1: drops state or is blocked; 3: the
snapshot or the job could not be read. -o json prints "fsnap.compat/v1".`,
		flags: func(fs *pflag.FlagSet) {
			fs.StringVar(&compatFlags.target, "to-flink", "", "the Flink release to restore on, e.g. 1.20 or 2.1")
			fs.StringVar(&compatFlags.job, "job", "", "the new job: a uid list, a JSON execution plan, or a snapshot of it")
			fs.StringVar(&compatFlags.backend, "state-backend", "", "the state backend of the new job: hashmap, rocksdb or forst (default: unchanged)")
			fs.Int32Var(&compatFlags.parallelism, "parallelism", 0, "the parallelism of the new job's operators (default: the job's, else unchanged)")
			fs.BoolVar(&compatFlags.rules, "rules", false, "print the rule table and exit")
		},
		output: &compatFlags.output,
		run:    runCompat,
	})
}

func runCompat(ctx context.Context, e *env, args []string) error {
	if compatFlags.rules {
		if compatFlags.output == "json" {
			return writeJSON(e.stdout, map[string]any{"schema": "fsnap.compat-rules/v1", "version": compat.RulesVersion, "rules": compat.Rules})
		}
		return writeCompatRules(e.stdout)
	}
	if len(args) != 1 {
		return usagef("want exactly one SNAPSHOT, got %d arguments", len(args))
	}
	target, err := snapshot.ParseRelease(compatFlags.target)
	if err != nil {
		return usagef("--to-flink: %v", err)
	}
	switch compatFlags.backend {
	case "", "hashmap", "rocksdb", "forst":
	default:
		return usagef("--state-backend %q: want hashmap, rocksdb or forst", compatFlags.backend)
	}
	if compatFlags.parallelism < 0 || compatFlags.parallelism > 32768 {
		return usagef("--parallelism %d: want 1 to 32768", compatFlags.parallelism)
	}
	opt := compat.Options{Target: target, StateBackend: compatFlags.backend, Parallelism: compatFlags.parallelism}
	if compatFlags.job != "" {
		if opt.Job, err = loadJob(ctx, compatFlags.job); err != nil {
			return err
		}
	}
	r, err := headersReport(ctx, args[0])
	if err != nil {
		return err
	}
	out := compat.Check(r, opt)
	if compatFlags.output == "json" {
		err = writeJSON(e.stdout, out)
	} else {
		err = writeCompatText(e.stdout, out)
	}
	if err == nil && out.Verdict != compat.Restores {
		return &exitError{code: exitFindings}
	}
	return err
}

// headersReport loads a snapshot and reads its state headers: the inspect
// report compat and diff decide on.
func headersReport(ctx context.Context, ref string) (*inspect.Report, error) {
	return inspect.Load(ctx, ref, inspect.StatesOptions{Parallel: 16})
}

// loadJob reads --job: a snapshot (a directory or URL holding _metadata)
// or a file of uids or a JSON plan.
func loadJob(ctx context.Context, ref string) (*compat.Job, error) {
	if fi, err := os.Stat(ref); err == nil && !fi.IsDir() && !strings.HasSuffix(ref, "_metadata") {
		b, err := os.ReadFile(ref)
		if err != nil {
			return nil, err
		}
		j, err := compat.ParseJob(ref, b)
		if err != nil {
			return nil, usagef("--job: %v", err)
		}
		return j, nil
	}
	r, err := headersReport(ctx, ref)
	if err != nil {
		return nil, fmt.Errorf("--job %s: %w", ref, err)
	}
	return compat.JobOf(r), nil
}
