package main

import (
	"context"

	"github.com/fsnap/fsnap/diff"
)

var diffFlags struct{ output string }

func init() {
	register(&command{
		name:  "diff",
		args:  "[flags] A B",
		short: "compare two snapshots: operators, states, serializers (with their evolution rules), parallelism, bytes",
		long: `A and B are snapshots (typically the old job's savepoint and the new job's
first savepoint in staging). Both have their state headers read. The report
lists operators and uids added or removed, states added or removed per
operator, serializer changes per state (class, parameters, POJO fields, Avro
schema, Kryo registrations, enum constants, nested serializers) with the
schema-evolution rule that decides whether Flink restores them
(compatible-as-is, compatible-after-migration, incompatible), parallelism
and max parallelism, and bytes per operator.

Exit status 0: no incompatible serializer change and no state dropped;
1: one of them; 3: a snapshot could not be read. -o json prints
"fsnap.diff/v1".`,
		nargs:  2,
		output: &diffFlags.output,
		run:    runDiff,
	})
}

func runDiff(ctx context.Context, e *env, args []string) error {
	a, err := headersReport(ctx, args[0])
	if err != nil {
		return err
	}
	b, err := headersReport(ctx, args[1])
	if err != nil {
		return err
	}
	r := diff.Compare(a, b)
	if diffFlags.output == "json" {
		err = writeJSON(e.stdout, r)
	} else {
		err = writeDiffText(e.stdout, r)
	}
	if err != nil {
		return err
	}
	for _, o := range r.Operators {
		if o.Change == diff.Removed && o.BytesA > 0 {
			return &exitError{code: exitFindings}
		}
	}
	if r.Summary.Incompatible > 0 {
		return &exitError{code: exitFindings}
	}
	return nil
}
