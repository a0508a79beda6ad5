// Package compat decides whether a snapshot restores on a target Flink
// release with a given job, and why not: the capability matrix of its kind,
// the formats and serializers the target reads, and what a job change drops
// or blocks. It works on the inspect report (fsnap.inspect/v1 with the state
// headers read), so it needs no JVM and no running cluster.
//
// Each rule is one row of the Rules table, with its source; Check applies
// them and builds the fsnap.compat/v1 document.
package compat

import (
	"fmt"
	"sort"
	"strings"

	"github.com/fsnap/fsnap/inspect"
	"github.com/fsnap/fsnap/snapshot"
)

// Schema names the JSON document.
const Schema = "fsnap.compat/v1"

// Verdict is the answer.
type Verdict string

const (
	Restores              Verdict = "restores"
	RestoresDroppingState Verdict = "restores-dropping-state"
	Blocked               Verdict = "blocked"
)

// Severity is what a finding does to the verdict.
type Severity string

const (
	Blocks  Severity = "blocks"  // the restore fails
	Drops   Severity = "drops"   // the restore loses state (allowNonRestoredState)
	Warns   Severity = "warning" // a risk the bytes cannot settle
	Informs Severity = "info"
)

// Options say what the snapshot is to be restored into.
type Options struct {
	Target snapshot.Release
	// Job is the new job; nil when not given.
	Job *Job
	// StateBackend is the target's backend (hashmap, rocksdb, forst); ""
	// when unchanged.
	StateBackend string
	// Parallelism applies to every operator without one from Job; 0 keeps
	// the snapshot's.
	Parallelism int32
}

// Finding is one rule's result.
type Finding struct {
	Rule        string   `json:"rule"`
	Severity    Severity `json:"severity"`
	Message     string   `json:"message"`
	Operator    string   `json:"operator,omitempty"`
	OperatorUID string   `json:"operator_uid,omitempty"`
	States      []string `json:"states,omitempty"`
	Bytes       int64    `json:"bytes,omitempty"`
	Advice      string   `json:"advice,omitempty"`
	Source      string   `json:"source"`
}

// Report is the fsnap.compat/v1 document.
type Report struct {
	Schema       string       `json:"schema"`
	Snapshot     string       `json:"snapshot"`
	Kind         string       `json:"kind"`
	Flink        string       `json:"flink"` // the releases that could have written it
	Target       string       `json:"target"`
	StateBackend string       `json:"state_backend"` // as far as the handles tell
	Verdict      Verdict      `json:"verdict"`
	Capabilities []Capability `json:"capabilities"`
	Findings     []Finding    `json:"findings"`
	// Steps are what to do, in order, for the verdict to become restores.
	Steps []string `json:"steps"`
	// Job is the job compared against, when given.
	Job *Job `json:"job,omitempty"`
}

// check is the state one Check works on.
type check struct {
	r       *inspect.Report
	opt     Options
	kind    snapshot.Kind
	min     snapshot.Release // oldest release that could have written it
	max     snapshot.Release // newest (zero: open)
	backend string
	out     *Report
}

// Check applies every rule to the inspect report r (built with the state
// headers read) for a restore as opt says.
func Check(r *inspect.Report, opt Options) *Report {
	c := &check{r: r, opt: opt, kind: snapshot.Kind(r.Kind.Kind)}
	c.min, _ = snapshot.ParseRelease(r.Flink.Min)
	if !r.Flink.Open {
		c.max, _ = snapshot.ParseRelease(r.Flink.Max)
	}
	c.backend = backendOf(r)
	c.out = &Report{Schema: Schema, Snapshot: r.Snapshot, Kind: r.Kind.Kind, Flink: r.Flink.Range, Target: opt.Target.String(),
		StateBackend: c.backend, Capabilities: Capabilities(c.kind), Findings: []Finding{}, Steps: []string{}, Job: opt.Job}
	for i := range Rules {
		Rules[i].check(c, &Rules[i])
	}
	c.out.Verdict = Restores
	steps := map[string]bool{}
	for _, f := range c.out.Findings {
		switch f.Severity {
		case Blocks:
			c.out.Verdict = Blocked
		case Drops:
			if c.out.Verdict == Restores {
				c.out.Verdict = RestoresDroppingState
			}
		}
		if f.Advice != "" && f.Severity != Informs && !steps[f.Advice] {
			steps[f.Advice] = true
			c.out.Steps = append(c.out.Steps, f.Advice)
		}
	}
	return c.out
}

func (c *check) add(rule *Rule, sev Severity, msg, advice string, opts ...func(*Finding)) {
	f := Finding{Rule: rule.ID, Severity: sev, Message: msg, Advice: advice, Source: rule.Source}
	for _, o := range opts {
		o(&f)
	}
	c.out.Findings = append(c.out.Findings, f)
}

func onOperator(op *inspect.OperatorInfo) func(*Finding) {
	return func(f *Finding) { f.Operator, f.OperatorUID = op.ID, op.UID }
}

// backendOf tells the state backend from the handles: RocksDB native
// handles, or heap/canonical key-group streams.
func backendOf(r *inspect.Report) string {
	keyed := false
	for _, op := range r.Operators {
		for _, h := range op.Handles {
			if strings.HasPrefix(h, "managed-keyed:INCREMENTAL") {
				return "rocksdb"
			}
			if strings.HasPrefix(h, "managed-keyed:") {
				keyed = true
			}
		}
	}
	switch {
	case snapshot.Kind(r.Kind.Kind) == snapshot.CanonicalSavepoint:
		return "any (canonical)"
	case keyed:
		return "hashmap"
	}
	return "none (no keyed state)"
}

// serializers visits every serializer of every state of op (the key
// serializer included), nested ones too, with the state's name.
func serializers(op *inspect.OperatorInfo, visit func(state string, s *inspect.SerializerInfo)) {
	var walk func(state string, s *inspect.SerializerInfo)
	walk = func(state string, s *inspect.SerializerInfo) {
		visit(state, s)
		for i := range s.Nested {
			walk(state, &s.Nested[i])
		}
	}
	for i := range op.States {
		for j := range op.States[i].Serializers {
			walk(op.States[i].Name, &op.States[i].Serializers[j])
		}
	}
	if op.KeySerializer != nil {
		walk("(key)", op.KeySerializer)
	}
}

// statesMatching lists, per operator, the states one of whose serializers
// match.
func (c *check) statesMatching(match func(s *inspect.SerializerInfo) bool) map[*inspect.OperatorInfo][]string {
	out := map[*inspect.OperatorInfo][]string{}
	for i := range c.r.Operators {
		op := &c.r.Operators[i]
		seen := map[string]bool{}
		serializers(op, func(state string, s *inspect.SerializerInfo) {
			if !seen[state] && match(s) {
				seen[state] = true
				out[op] = append(out[op], state)
			}
		})
	}
	return out
}

// perOperator adds one finding per operator whose states match.
func (c *check) perOperator(rule *Rule, sev Severity, match func(s *inspect.SerializerInfo) bool, msg func(states []string) string, advice string) {
	hits := c.statesMatching(match)
	ops := make([]*inspect.OperatorInfo, 0, len(hits))
	for op := range hits {
		ops = append(ops, op)
	}
	sort.Slice(ops, func(i, j int) bool { return ops[i].ID < ops[j].ID })
	for _, op := range ops {
		st := hits[op]
		c.add(rule, sev, msg(st), advice, onOperator(op), func(f *Finding) { f.States = st })
	}
}

func quoteList(s []string) string {
	q := make([]string, len(s))
	for i, x := range s {
		q[i] = fmt.Sprintf("%q", x)
	}
	return strings.Join(q, ", ")
}
