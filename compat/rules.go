package compat

import (
	"fmt"
	"strings"

	"github.com/fsnap/fsnap/inspect"
	"github.com/fsnap/fsnap/snapshot"
)

// Rule is one compatibility rule: what it checks, when it applies, where
// the fact comes from.
type Rule struct {
	ID      string `json:"id"`
	Title   string `json:"title"`
	Applies string `json:"applies"` // the releases and snapshots it concerns
	Source  string `json:"source"`
	check   func(c *check, r *Rule)
}

// RulesVersion changes whenever a rule is added, removed or changed.
const RulesVersion = "2026-12-06.2"

func rel(major, minor int) snapshot.Release { return snapshot.Release{Major: major, Minor: minor} }

// atLeast reports whether the target is release x or later.
func (c *check) atLeast(x snapshot.Release) bool { return !c.opt.Target.Less(x) }

// writtenBefore reports whether every release that could have written the
// snapshot is older than x.
func (c *check) writtenBefore(x snapshot.Release) bool {
	return c.max != (snapshot.Release{}) && c.max.Less(x)
}

func classHas(s *inspect.SerializerInfo, prefixes ...string) bool {
	for _, p := range prefixes {
		if strings.HasPrefix(s.Class, p) {
			return true
		}
	}
	return false
}

const (
	kryoSnapshot = "org.apache.flink.api.java.typeutils.runtime.kryo.Kryo"
	scalaAPI     = "org.apache.flink.api.scala."
	upgradingDoc = "Flink docs, ops/upgrading.md"
)

// isLegacyConfig: a TypeSerializerConfigSnapshot (Flink ≤ 1.7's
// serializer configs), which 1.17 removed.
func isLegacyConfig(s *inspect.SerializerInfo) bool {
	return s.Version == 0x7a53c4f0 || strings.HasSuffix(s.Class, "ConfigSnapshot") ||
		s.Class == "org.apache.flink.api.common.typeutils.ParameterlessTypeSerializerConfig" || s.DerivedFrom != ""
}

// Rules is the rule table, in the order they are applied and printed.
var Rules = []Rule{
	{
		ID: "unknown-target", Title: "the rules know the releases up to " + snapshot.LatestKnown.String(),
		Applies: "targets newer than " + snapshot.LatestKnown.String(),
		Source:  "fsnap's rule table (RulesVersion)",
		check: func(c *check, r *Rule) {
			if snapshot.LatestKnown.Less(c.opt.Target) {
				c.add(r, Warns, fmt.Sprintf("Flink %s is newer than the releases these rules know (up to %s): what it changed is not checked",
					c.opt.Target, snapshot.LatestKnown), "test the restore on Flink "+c.opt.Target.String()+" in staging, or update fsnap")
			}
		},
	},
	{
		ID: "downgrade", Title: "Flink restores snapshots of its own and earlier releases only",
		Applies: "target older than every release that could have written the snapshot",
		Source:  upgradingDoc + " (savepoints are forward-compatible, not backward-compatible)",
		check: func(c *check, r *Rule) {
			if c.opt.Target.Less(c.min) {
				c.add(r, Blocks, fmt.Sprintf("written by Flink %s; Flink %s cannot read it", c.r.Flink.Range, c.opt.Target),
					fmt.Sprintf("restore it with Flink %s or later", c.min))
			}
		},
	},
	{
		ID: "legacy-serializer-snapshots", Title: "TypeSerializerConfigSnapshot and Java-serialized serializers were removed in 1.17",
		Applies: "snapshots of Flink ≤ 1.7 (state headers before version 6, legacy config snapshots) restored on 1.17+",
		Source:  "FLINK-29807 (Flink 1.17 release notes: upgrade savepoints of Flink < 1.8 through 1.8 – 1.16 first)",
		check: func(c *check, r *Rule) {
			if !c.atLeast(rel(1, 17)) {
				return
			}
			if h := c.r.StateHeaders; h != nil && (anyBelow(h.Keyed, 6) || anyBelow(h.Operator, 5)) {
				c.add(r, Blocks, fmt.Sprintf("state headers of Flink ≤ 1.6 (keyed versions %v, operator versions %v) store serializers as Java objects; Flink %s no longer reads them",
					h.Keyed, h.Operator, c.opt.Target), hopAdvice)
				return
			}
			c.perOperator(r, Blocks, isLegacyConfig, func(st []string) string {
				return fmt.Sprintf("states %s carry legacy TypeSerializerConfigSnapshots (Flink ≤ 1.7); Flink %s no longer reads them", quoteList(st), c.opt.Target)
			}, hopAdvice)
		},
	},
	{
		ID: "scala-api-removed", Title: "Flink 2.0 removed the Scala API and its serializers",
		Applies: "state written with flink-scala serializers (case classes, Option, Either, Try, Enumeration, collections) restored on 2.0+",
		Source:  "FLIP-265; Flink 2.0 release notes (flink-scala removed)",
		check: func(c *check, r *Rule) {
			if !c.atLeast(rel(2, 0)) {
				return
			}
			c.perOperator(r, Blocks, func(s *inspect.SerializerInfo) bool {
				return classHas(s, scalaAPI) || strings.HasPrefix(s.DerivedFrom, scalaAPI)
			}, func(st []string) string {
				return fmt.Sprintf("states %s use flink-scala serializers, which Flink %s does not have", quoteList(st), c.opt.Target)
			}, "on Flink 1.x, rewrite these states with serializers 2.x has (Java types, POJOs, Avro, or the flink-scala-api library's) through the State Processor API, take a canonical savepoint, then upgrade")
		},
	},
	{
		ID: "kryo-2-to-5", Title: "Flink 2.0 moved from Kryo 2 to Kryo 5, whose bytes differ",
		Applies: "Kryo-serialized state (generic types, and POJO fields Flink cannot analyse) of Flink 1.x restored on 2.0+",
		Source:  "FLINK-3154 (Flink 2.0 release notes); Amazon Managed Service for Apache Flink 2.2 upgrade guide (Kryo 2 → 5 breaks Kryo-serialized 1.x state)",
		check: func(c *check, r *Rule) {
			if !c.atLeast(rel(2, 0)) || !c.writtenBefore(rel(2, 0)) {
				return
			}
			c.perOperator(r, Blocks, func(s *inspect.SerializerInfo) bool {
				return classHas(s, kryoSnapshot) || s.DerivedFrom == "org.apache.flink.api.java.typeutils.runtime.kryo.KryoSerializer"
			}, func(st []string) string {
				return fmt.Sprintf("states %s hold Kryo 2 bytes (%s); Flink %s reads Kryo 5", quoteList(st), kryoTypes(c, st), c.opt.Target)
			}, "on Flink 1.x, move these types off Kryo (POJO, Avro or a TypeSerializer of your own) and let the state migrate, or rewrite the state with the State Processor API; then take a canonical savepoint and upgrade")
		},
	},
	{
		ID: "pojo-collections-not-kryo", Title: "Flink 2.0 serializes Java collections inside POJOs with List/Map/Set serializers, not Kryo",
		Applies: "POJO state of Flink 1.x with List, Map or Set fields restored on 2.0+",
		Source:  "FLINK-34123, FLINK-35068 (Flink 2.0); Amazon Managed Service for Apache Flink 2.2 upgrade guide",
		check: func(c *check, r *Rule) {
			if !c.atLeast(rel(2, 0)) || !c.writtenBefore(rel(2, 0)) {
				return
			}
			c.perOperator(r, Blocks, func(s *inspect.SerializerInfo) bool {
				if !strings.HasSuffix(s.Class, "PojoSerializerSnapshot") && !strings.HasSuffix(s.Class, "PojoSerializerConfigSnapshot") {
					return false
				}
				for _, n := range s.Nested {
					if classHas(&n, kryoSnapshot) && strings.HasPrefix(n.Params["typeClass"], "java.util.") {
						return true
					}
				}
				return false
			}, func(st []string) string {
				return fmt.Sprintf("states %s are POJOs with Java collection fields that 1.x serialized with Kryo; Flink %s expects its collection serializers", quoteList(st), c.opt.Target)
			}, "on Flink 1.x, rewrite these POJO states with the State Processor API (or change the fields' types), take a canonical savepoint, then upgrade")
		},
	},
	{
		ID: "sink-function-removed", Title: "Flink 2.0 removed SinkFunction, TwoPhaseCommitSinkFunction among them",
		Applies: "state of TwoPhaseCommitSinkFunction-based sinks (e.g. FlinkKafkaProducer) restored on 2.0+",
		Source:  "FLIP-200-series removals; Flink 2.0 release notes (legacy SinkFunction removed)",
		check: func(c *check, r *Rule) {
			if !c.atLeast(rel(2, 0)) {
				return
			}
			c.perOperator(r, Drops, func(s *inspect.SerializerInfo) bool {
				return strings.Contains(s.Class, "TwoPhaseCommitSinkFunction") || strings.Contains(s.DerivedFrom, "TwoPhaseCommitSinkFunction")
			}, func(st []string) string {
				return fmt.Sprintf("states %s belong to a TwoPhaseCommitSinkFunction, which Flink %s does not have: its Sink V2 replacement has other state", quoteList(st), c.opt.Target)
			}, "stop the job with a drained savepoint (stop --drain) so no transaction is pending, restore with allowNonRestoredState and the Sink V2 sink")
		},
	},
	{
		ID: "cep-1.2", Title: "CEP savepoints of Flink 1.2 do not restore on 1.4+",
		Applies: "snapshots of Flink ≤ 1.2 with CEP operators restored on 1.4+",
		Source:  upgradingDoc + " (compatibility table note on CEP savepoints)",
		check: func(c *check, r *Rule) {
			if !c.atLeast(rel(1, 4)) || !c.writtenBefore(rel(1, 3)) {
				return
			}
			c.perOperator(r, Blocks, func(s *inspect.SerializerInfo) bool {
				return classHas(s, "org.apache.flink.cep.") || strings.HasPrefix(s.DerivedFrom, "org.apache.flink.cep.")
			}, func(st []string) string { return fmt.Sprintf("CEP states %s of Flink 1.2", quoteList(st)) },
				"drain the CEP operators' pending matches on 1.2 and restore with allowNonRestoredState, or rebuild their state")
		},
	},
	{
		ID: "scala-case-class-1.3-to-1.4", Title: "1.3 savepoints with Scala case classes fail on 1.4.0 and 1.4.1",
		Applies: "snapshots of Flink 1.3 with case-class state restored on 1.4",
		Source:  upgradingDoc + " (\"1.3.0 → 1.4.[0,1] fails with Scala case classes\")",
		check: func(c *check, r *Rule) {
			if c.opt.Target != rel(1, 4) || c.min != rel(1, 3) {
				return
			}
			c.perOperator(r, Warns, func(s *inspect.SerializerInfo) bool {
				return strings.HasPrefix(s.DerivedFrom, scalaAPI) || strings.Contains(s.Params["caseClass"], ".")
			}, func(st []string) string { return fmt.Sprintf("Scala case-class states %s", quoteList(st)) },
				"use Flink 1.4.2 or later")
		},
	},
	{
		ID: "broadcast-1.5-on-1.6", Title: "Broadcast state of Flink 1.5 fails on 1.6.0 – 1.6.2 and 1.7.0",
		Applies: "snapshots of Flink 1.5 with broadcast state restored on 1.6 or 1.7",
		Source:  upgradingDoc + " (FLINK-11087)",
		check: func(c *check, r *Rule) {
			if c.min != rel(1, 5) || (c.opt.Target != rel(1, 6) && c.opt.Target != rel(1, 7)) {
				return
			}
			for i := range c.r.Operators {
				op := &c.r.Operators[i]
				for _, st := range op.States {
					if st.Type == "BROADCAST" {
						c.add(r, Warns, fmt.Sprintf("broadcast state %q of Flink 1.5", st.Name), "use Flink 1.6.3+ or 1.7.1+", onOperator(op))
					}
				}
			}
		},
	},
	{
		ID: "scala-before-1.8", Title: "Scala state of Flink ≤ 1.7 is not safe to restore on 1.8+",
		Applies: "snapshots of Flink ≤ 1.7 with Scala case-class state restored on 1.8+",
		Source:  "FLINK-10493 (the Scala migration tests restore 1.8+ only)",
		check: func(c *check, r *Rule) {
			if !c.atLeast(rel(1, 8)) || !c.writtenBefore(rel(1, 8)) {
				return
			}
			c.perOperator(r, Warns, func(s *inspect.SerializerInfo) bool {
				return classHas(s, scalaAPI) || strings.HasPrefix(s.DerivedFrom, scalaAPI)
			}, func(st []string) string {
				return fmt.Sprintf("Scala states %s of Flink %s", quoteList(st), c.r.Flink.Range)
			},
				"restore on Flink 1.7 first and take a new savepoint, or verify the restore in staging")
		},
	},
	{
		ID: "major-version", Title: "Flink 2.0 does not guarantee state compatibility with 1.x",
		Applies: "snapshots of Flink 1.x restored on 2.0+",
		Source:  "Flink 2.0 release notes (\"state compatibility between 1.x and 2.x is not guaranteed\"); Flink's 2.x migration tests restore 1.8+ canonical savepoints and 1.15+ native ones",
		check: func(c *check, r *Rule) {
			if c.atLeast(rel(2, 0)) && c.writtenBefore(rel(2, 0)) {
				c.add(r, Informs, fmt.Sprintf("a Flink 1.x snapshot restored on %s: the rules above cover the known breaks; test the restore in staging", c.opt.Target), "")
			}
		},
	},
	{
		ID: "table-uids-1.15", Title: "Table API jobs of Flink 1.15.0 and 1.15.1 generated unstable operator uids",
		Applies: "snapshots of Flink 1.15 with Table/SQL operator state restored on 1.15.2+",
		Source:  upgradingDoc + " (FLINK-28861)",
		check: func(c *check, r *Rule) {
			if c.min != rel(1, 15) || c.max != rel(1, 15) {
				return
			}
			c.perOperator(r, Warns, func(s *inspect.SerializerInfo) bool { return classHas(s, "org.apache.flink.table.") },
				func(st []string) string {
					return fmt.Sprintf("Table/SQL states %s of Flink 1.15: if the job ran 1.15.0 or 1.15.1, its operator uids may not match on %s", quoteList(st), c.opt.Target)
				}, "if written by 1.15.0 or 1.15.1, follow FLINK-28861's release note (set table.exec.uid.generation or restore the plan with COMPILE PLAN) and check with --job")
		},
	},
	{
		ID: "kinesis-consumer-state", Title: "FlinkKinesisConsumer state does not restore into the Kinesis connector 5.0+ source",
		Applies: "operator state Kinesis-Stream-Shard-State restored with Kinesis connector 5.0+ (Flink 1.19+ connectors)",
		Source:  "Kinesis connector 5.0 release notes (KinesisStreamsSource replaces FlinkKinesisConsumer); Amazon Managed Service for Apache Flink upgrade guides",
		check: func(c *check, r *Rule) {
			c.namedState(r, "Kinesis-Stream-Shard-State", Warns,
				"if the new job uses KinesisStreamsSource (connector 5.0+), this state is not restored: set allowNonRestoredState and give the source a start position (e.g. AT_TIMESTAMP of the savepoint)")
		},
	},
	{
		ID: "kafka-consumer-state", Title: "FlinkKafkaConsumer state does not restore into KafkaSource",
		Applies: "operator state topic-partition-offset-states (FlinkKafkaConsumer, removed with Kafka connector 3.x for Flink 1.17+)",
		Source:  "Kafka connector docs (FlinkKafkaConsumer deprecated in 1.14, removed in connector 3.x)",
		check: func(c *check, r *Rule) {
			c.namedState(r, "topic-partition-offset-states", Warns,
				"if the new job uses KafkaSource, this state is not restored: set allowNonRestoredState and start KafkaSource from the group's committed offsets (setStartingOffsets(OffsetsInitializer.committedOffsets()))")
		},
	},
	{
		ID: "kind-minor-upgrade", Title: "Flink does not guarantee unaligned checkpoints across a minor version upgrade",
		Applies: "unaligned checkpoints restored on a later minor release",
		Source:  matrixSource + "; Flink's own migration tests (StatefulJobSnapshotMigrationITCase, 1.18+) do restore checkpoints of 1.15+",
		check: func(c *check, r *Rule) {
			if columnOf(c.kind)[OpMinorUpgrade] != Unsupported || !c.writtenBefore(c.opt.Target) {
				return
			}
			sev := Warns
			if c.min == rel(1, 12) && c.opt.Target == rel(1, 13) {
				sev = Blocks // the upgrading page names this pair
			}
			c.add(r, sev, fmt.Sprintf("this %s of Flink %s restored on %s: Flink's matrix marks this unsupported (in-flight data and its serializers cross the upgrade)", c.kind, c.r.Flink.Range, c.opt.Target), canonicalAdvice)
		},
	},
	{
		ID: "kind-backend-change", Title: "Only canonical savepoints switch state backends",
		Applies: "native savepoints and checkpoints restored with another state backend",
		Source:  matrixSource,
		check: func(c *check, r *Rule) {
			want := c.opt.StateBackend
			if want == "" || columnOf(c.kind)[OpBackendChange] == Supported || strings.HasPrefix(c.backend, "none") || want == c.backend {
				return
			}
			c.add(r, Blocks, fmt.Sprintf("this %s of the %s backend restored with %s", c.kind, c.backend, want), canonicalAdvice)
		},
	},
	{
		ID: "kind-job-upgrade", Title: "Unaligned checkpoints restore only into the same job graph",
		Applies: "unaligned checkpoints restored with a changed job",
		Source:  matrixSource,
		check: func(c *check, r *Rule) {
			if c.opt.Job == nil || columnOf(c.kind)[OpNonArbitrary] == Supported {
				return
			}
			if diff := c.jobDiffers(); diff != "" {
				c.add(r, Blocks, fmt.Sprintf("this %s restored into a changed job (%s)", c.kind, diff), canonicalAdvice)
			}
		},
	},
	{
		ID: "operator-removed", Title: "State of operators the new job does not have is dropped only with allowNonRestoredState",
		Applies: "any snapshot, with --job",
		Source:  "Flink docs, ops/state/savepoints.md (allowNonRestoredState)",
		check:   func(c *check, r *Rule) { c.removedOperators(r) },
	},
	{
		ID: "operator-added", Title: "Operators new in the job start without state",
		Applies: "any snapshot, with --job", Source: "Flink docs, ops/state/savepoints.md",
		check: func(c *check, r *Rule) { c.addedOperators(r) },
	},
	{
		ID: "parallelism-above-max", Title: "A keyed operator cannot run above the max parallelism its state was written with",
		Applies: "operators with keyed state, with --job or --parallelism",
		Source:  "Flink docs, ops/production_ready.md (max parallelism fixes the key groups)",
		check:   func(c *check, r *Rule) { c.parallelism(r) },
	},
	{
		ID: "restore-mode", Title: "Who owns a checkpoint's files after the restore",
		Applies: "checkpoints (not savepoints)",
		Source:  "FLIP-193; Flink docs, ops/state/savepoints.md (restore mode CLAIM / NO_CLAIM)",
		check: func(c *check, r *Rule) {
			if snapshot.Kind(c.kind).IsSavepoint() || c.kind == snapshot.Unknown {
				return
			}
			c.add(r, Informs, fmt.Sprintf("this is a %s: with NO_CLAIM (the default) the first checkpoint after the restore is a full one and the files stay yours; with CLAIM Flink may delete them", c.kind), "")
		},
	},
}

const (
	hopAdvice       = "restore it with Flink 1.16 (the last release that reads it), take a canonical savepoint, then restore that on the target"
	canonicalAdvice = "take a canonical savepoint with the snapshot's own Flink release (or run `fsnap migrate to-canonical` on a native RocksDB snapshot) and restore that"
)

func anyBelow(vs []int32, x int32) bool {
	for _, v := range vs {
		if v < x {
			return true
		}
	}
	return false
}

// kryoTypes names the types a set of states sends through Kryo.
func kryoTypes(c *check, states []string) string {
	seen := map[string]bool{}
	var out []string
	for i := range c.r.Operators {
		serializers(&c.r.Operators[i], func(state string, s *inspect.SerializerInfo) {
			if t := s.Params["typeClass"]; classHas(s, kryoSnapshot) && t != "" && !seen[t] {
				seen[t] = true
				out = append(out, t)
			}
		})
	}
	if len(out) == 0 {
		return "types unknown"
	}
	return strings.Join(out, ", ")
}

// namedState flags operators holding a state of the given name.
func (c *check) namedState(r *Rule, name string, sev Severity, advice string) {
	for i := range c.r.Operators {
		op := &c.r.Operators[i]
		for _, st := range op.States {
			if st.Name == name {
				c.add(r, sev, fmt.Sprintf("operator state %q", name), advice, onOperator(op), func(f *Finding) { f.States = []string{name} })
			}
		}
	}
}
