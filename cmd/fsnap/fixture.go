package main

import (
	"context"
	"fmt"
	"strings"

	"github.com/spf13/pflag"

	"github.com/fsnap/fsnap/fixtures"
	"github.com/fsnap/fsnap/store"
)

var fixtureFlags struct {
	spec    fixtures.Spec
	kind    string
	realMiB int64
	snappy  bool
	history int
}

func init() {
	register(&command{
		name:  "fixture",
		args:  "[flags] ROOT",
		short: "write a synthetic snapshot (for trying fsnap and for tests)",
		long: `Writes a deterministic synthetic snapshot under ROOT (a directory or store URL)
with fsnap's own writer and prints its directory. _metadata is exact Flink
format; keyed state in key groups and operator state are Flink state
streams (Long keys in the key groups Flink assigns them), so fsnap verify
of a fixture is clean. RocksDB native state (native savepoints,
checkpoints of version 4+) has a real meta stream and CURRENT, but its SST,
MANIFEST and OPTIONS files are random bytes, which verify --deep reports;
channel state and changelog files are random bytes too. --random-state
makes every state file random bytes (what verify must flag).

--real-state MiB writes instead a canonical savepoint whose keyed state is
real (Flink's unified format, readable by Flink and by 'fsnap inspect
--states'): one keyed operator with a payload and a count state of Long keys,
about MiB of streams; --snappy compresses them.

Kinds: canonical-savepoint, native-savepoint, checkpoint,
incremental-checkpoint (shared files under ROOT/shared), unaligned-checkpoint,
changelog-checkpoint. Versions 2 to 7 (_metadata format version).`,
		flags: func(fs *pflag.FlagSet) {
			d := fixtures.Default
			s := &fixtureFlags.spec
			fs.StringVar(&fixtureFlags.kind, "kind", string(d.Kind), "snapshot kind")
			fs.Int32Var(&s.Version, "version", d.Version, "_metadata version (2-7)")
			fs.Uint64Var(&s.Seed, "seed", d.Seed, "seed of all generated names and bytes")
			fs.Int64Var(&s.CheckpointID, "checkpoint-id", d.CheckpointID, "checkpoint id")
			fs.IntVar(&s.Operators, "operators", d.Operators, "stateful operators (even: keyed, odd: operator state)")
			fs.Int32Var(&s.Parallelism, "parallelism", d.Parallelism, "parallelism of each operator")
			fs.Int32Var(&s.MaxParallelism, "max-parallelism", d.MaxParallelism, "max parallelism (key groups)")
			fs.IntVar(&s.StateBytes, "state-bytes", d.StateBytes, "bytes of each state stream")
			fs.IntVar(&s.InlineThreshold, "inline-threshold", d.InlineThreshold, "streams up to this size are inlined into _metadata")
			fs.IntVar(&s.SharedFiles, "shared-files", d.SharedFiles, "shared SSTs per subtask (incremental checkpoints)")
			fs.BoolVar(&s.Entropy, "entropy", false, "write exclusive files to an entropy-injected folder (absolute paths)")
			fs.BoolVar(&s.FileMerging, "file-merging", false, "use file-merging segment handles for operator state")
			fs.BoolVar(&s.RandomState, "random-state", false, "fill state files with random bytes instead of Flink state streams")
			fs.Int64Var(&fixtureFlags.realMiB, "real-state", 0, "write a canonical savepoint with about this many MiB of real keyed state")
			fs.BoolVar(&fixtureFlags.snappy, "snappy", false, "with --real-state: Snappy-compress the key groups")
			fs.IntVar(&fixtureFlags.history, "history", 0, "write a realistic checkpoint root instead: N rounds of checkpoints of two jobs sharing incremental files, failed and in-flight attempts, savepoints beside them")
		},
		nargs: 1,
		run:   runFixture,
	})
}

func runFixture(ctx context.Context, e *env, args []string) error {
	l, err := store.Open(ctx, args[0])
	if err != nil {
		return err
	}
	defer l.Close()
	spec := fixtureFlags.spec
	if n := fixtureFlags.history; n > 0 {
		root, err := l.FlinkPathOf(strings.TrimSuffix(l.Prefix, "/"))
		if err != nil {
			return err
		}
		h, err := fixtures.GenerateHistory(fixtures.HistorySpec{Seed: spec.Seed, Version: spec.Version, RootURI: strings.TrimSuffix(root, "/"),
			Jobs: 2, Rounds: n, Retain: 3, Subtasks: 2, SSTs: 3, Churn: 0.4, FailRate: 0.1, LeakRate: 0.2, InFlight: true, Savepoints: 2})
		if err != nil {
			return usagef("%v", err)
		}
		for _, recent := range []bool{false, true} {
			if err := h.Write(ctx, []fixtures.Writer{l}, recent); err != nil {
				return err
			}
		}
		fmt.Fprintln(e.stdout, args[0]) // as given: a URL keeps its parameters (?endpoint=…)
		return nil
	}
	if fixtureFlags.realMiB > 0 {
		sp, err := fixtures.WriteKeyedSavepoint(ctx, l, fixtures.KeyedSpec{Version: spec.Version, Seed: spec.Seed,
			Parallelism: spec.Parallelism, MaxParallelism: spec.MaxParallelism, Bytes: fixtureFlags.realMiB << 20,
			Compressed: fixtureFlags.snappy})
		if err != nil {
			return err
		}
		fmt.Fprintln(e.stdout, under(args[0], l, sp.Dir))
		return nil
	}
	spec.Kind = fixtures.Kind(fixtureFlags.kind)
	// The root as Flink writes absolute paths into _metadata.
	root, err := l.FlinkPathOf(strings.TrimSuffix(l.Prefix, "/"))
	if err != nil {
		return err
	}
	spec.RootURI = strings.TrimSuffix(root, "/")
	s, err := fixtures.Generate(spec)
	if err != nil {
		return usagef("%v", err)
	}
	if err := s.Write(ctx, l); err != nil {
		return err
	}
	fmt.Fprintln(e.stdout, under(args[0], l, s.Dir))
	return nil
}

// under names dir below the root the user gave: a URL keeps its query
// (?endpoint=…), so the line printed can be passed to the next command.
func under(ref string, l *store.Location, dir string) string {
	base, query, ok := strings.Cut(ref, "?")
	if !ok || !strings.Contains(base, "://") {
		return l.NameOf(l.Prefix + dir)
	}
	return strings.TrimSuffix(base, "/") + "/" + strings.TrimSuffix(dir, "/") + "?" + query
}
