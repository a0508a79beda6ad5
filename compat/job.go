package compat

import (
	"bufio"
	"bytes"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"

	"github.com/fsnap/fsnap/format"
	"github.com/fsnap/fsnap/inspect"
)

// Job is the job a snapshot is to be restored into: its operators by id,
// with the parallelism and max parallelism it will run them at (0: as in
// the snapshot).
type Job struct {
	Source    string        `json:"source"`
	Operators []JobOperator `json:"operators"`
}

// JobOperator is one operator of the new job.
type JobOperator struct {
	ID             string `json:"id"`            // 32 hex digits
	UID            string `json:"uid,omitempty"` // as given; ID is its murmur3 hash
	Parallelism    int32  `json:"parallelism,omitempty"`
	MaxParallelism int32  `json:"max_parallelism,omitempty"`
}

// ParseJob reads a job description: a JSON execution plan (what
// `env.getExecutionPlan()` prints, or the REST API's /jobs/:id/plan, with
// or without its {"plan": …} wrapper) or a list of operators, one per line
// as `uid[,parallelism[,max-parallelism]]`, where a uid of 32 hex digits
// prefixed by `id:` is taken as an operator id (uid hash) as it is. Blank
// lines and lines starting with # are skipped. source names it in errors.
func ParseJob(source string, b []byte) (*Job, error) {
	t := bytes.TrimSpace(b)
	if len(t) > 0 && t[0] == '{' {
		return parsePlan(source, t)
	}
	j := &Job{Source: source}
	sc := bufio.NewScanner(bytes.NewReader(b))
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for line := 1; sc.Scan(); line++ {
		l := strings.TrimSpace(sc.Text())
		if l == "" || strings.HasPrefix(l, "#") {
			continue
		}
		f := strings.Split(l, ",")
		op, err := operatorOf(strings.TrimSpace(f[0]))
		if err != nil {
			return nil, fmt.Errorf("%s line %d: %v", source, line, err)
		}
		for i, p := range []*int32{&op.Parallelism, &op.MaxParallelism} {
			if len(f) <= i+1 {
				break
			}
			v, err := strconv.ParseInt(strings.TrimSpace(f[i+1]), 10, 32)
			if err != nil || v < 1 || v > 32768 {
				return nil, fmt.Errorf("%s line %d: %q is not a parallelism (1 to 32768)", source, line, f[i+1])
			}
			*p = int32(v)
		}
		if len(f) > 3 {
			return nil, fmt.Errorf("%s line %d: want uid[,parallelism[,max-parallelism]], got %d fields", source, line, len(f))
		}
		j.Operators = append(j.Operators, op)
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("%s: %v", source, err)
	}
	if len(j.Operators) == 0 {
		return nil, fmt.Errorf("%s: no operators (want one uid per line, or a JSON execution plan)", source)
	}
	return j, nil
}

// operatorOf maps a uid (or `id:` and 32 hex digits) to an operator.
func operatorOf(s string) (JobOperator, error) {
	if s == "" {
		return JobOperator{}, fmt.Errorf("empty uid")
	}
	if id, ok := strings.CutPrefix(s, "id:"); ok {
		if b, err := hex.DecodeString(id); err != nil || len(b) != 16 {
			return JobOperator{}, fmt.Errorf("%q is not an operator id (32 hex digits)", id)
		}
		return JobOperator{ID: strings.ToLower(id)}, nil
	}
	return JobOperator{ID: format.OperatorIDFromUID(s).String(), UID: s}, nil
}

// parsePlan reads a JSON execution plan. Its node ids are Flink's
// JobVertexIDs, which are the operator ids of the chains' head operators;
// newer REST plans also list every chained operator's id.
func parsePlan(source string, b []byte) (*Job, error) {
	type node struct {
		ID           json.RawMessage `json:"id"`
		Parallelism  int32           `json:"parallelism"`
		OperatorIDs  []string        `json:"operator_ids"`
		OperatorIDs2 []string        `json:"operatorIds"`
		UID          string          `json:"uid"`
	}
	var doc struct {
		Nodes []node `json:"nodes"`
		Plan  *struct {
			Nodes []node `json:"nodes"`
		} `json:"plan"`
	}
	if err := json.Unmarshal(b, &doc); err != nil {
		return nil, fmt.Errorf("%s: not a JSON execution plan: %v", source, err)
	}
	nodes := doc.Nodes
	if doc.Plan != nil {
		nodes = doc.Plan.Nodes
	}
	j := &Job{Source: source}
	for i, n := range nodes {
		var ids []string
		var s string
		if err := json.Unmarshal(n.ID, &s); err == nil {
			ids = append(ids, s)
		}
		ids = append(append(ids, n.OperatorIDs...), n.OperatorIDs2...)
		if n.UID != "" {
			ids = append(ids, n.UID)
		}
		found := false
		for _, id := range ids {
			op, err := operatorOf(id)
			if b, herr := hex.DecodeString(id); herr == nil && len(b) == 16 {
				op, err = operatorOf("id:" + id) // a plan's ids are hashes
			}
			if err != nil {
				return nil, fmt.Errorf("%s: node %d: %v", source, i, err)
			}
			op.Parallelism = n.Parallelism
			j.Operators = append(j.Operators, op)
			found = true
		}
		if !found {
			return nil, fmt.Errorf("%s: node %d has no operator id: `env.getExecutionPlan()` numbers its nodes; use the REST API's /jobs/:jobid/plan, or a uid list", source, i)
		}
	}
	if len(j.Operators) == 0 {
		return nil, fmt.Errorf("%s: the plan has no nodes", source)
	}
	return j, nil
}

// JobOf describes the job that took snapshot r (its operators, parallelism
// and max parallelism), for `--job SNAPSHOT`.
func JobOf(r *inspect.Report) *Job {
	j := &Job{Source: r.Snapshot}
	for _, op := range r.Operators {
		j.Operators = append(j.Operators, JobOperator{ID: op.ID, UID: op.UID, Parallelism: op.Parallelism, MaxParallelism: op.MaxParallelism})
	}
	return j
}

// jobOps indexes the new job's operators by id.
func (c *check) jobOps() map[string]*JobOperator {
	m := map[string]*JobOperator{}
	for i := range c.opt.Job.Operators {
		m[c.opt.Job.Operators[i].ID] = &c.opt.Job.Operators[i]
	}
	return m
}

// hasState: Flink skips "empty savepoint state" of operators the new job
// lacks; only handles (or coordinator bytes) need allowNonRestoredState.
func hasState(op *inspect.OperatorInfo) bool { return len(op.Handles) > 0 || op.Bytes.Total > 0 }

func keyed(op *inspect.OperatorInfo) bool {
	return op.Bytes.ManagedKeyed+op.Bytes.RawKeyed > 0 || op.KeySerializer != nil
}

func stateNames(op *inspect.OperatorInfo) []string {
	var out []string
	for _, st := range op.States {
		out = append(out, st.Name)
	}
	return out
}

// removedOperators: operators with state that the new job lacks.
func (c *check) removedOperators(r *Rule) {
	if c.opt.Job == nil {
		return
	}
	ops := c.jobOps()
	for i := range c.r.Operators {
		op := &c.r.Operators[i]
		if _, ok := ops[op.ID]; ok || !hasState(op) || op.FullyFinished {
			continue
		}
		what := "its state"
		if n := stateNames(op); len(n) > 0 {
			what = "states " + quoteList(n)
		}
		name := op.ID
		if op.UID != "" {
			name = fmt.Sprintf("%q (%s)", op.UID, op.ID)
		}
		c.add(r, Drops, fmt.Sprintf("operator %s is not in the new job: %s, %d bytes, would be lost", name, what, op.Bytes.Total),
			"restore with allowNonRestoredState (flink run --allowNonRestoredState, or execution.state-recovery.ignore-unclaimed-state: true) only if losing the removed operators' state is intended; else give the new job's operator the old uid",
			onOperator(op), func(f *Finding) { f.States, f.Bytes = stateNames(op), op.Bytes.Total })
	}
}

// addedOperators: operators of the new job that the snapshot lacks.
func (c *check) addedOperators(r *Rule) {
	if c.opt.Job == nil {
		return
	}
	have := map[string]bool{}
	for _, op := range c.r.Operators {
		have[op.ID] = true
	}
	for _, op := range c.opt.Job.Operators {
		if !have[op.ID] {
			name := op.ID
			if op.UID != "" {
				name = fmt.Sprintf("%q (%s)", op.UID, op.ID)
			}
			c.add(r, Informs, fmt.Sprintf("operator %s is new: it starts without state", name), "",
				func(f *Finding) { f.Operator, f.OperatorUID = op.ID, op.UID })
		}
	}
}

// parallelism: a keyed operator's new parallelism above, or a new max
// parallelism different from, the max parallelism of its state.
func (c *check) parallelism(r *Rule) {
	var ops map[string]*JobOperator
	if c.opt.Job != nil {
		ops = c.jobOps()
	}
	for i := range c.r.Operators {
		op := &c.r.Operators[i]
		if !keyed(op) {
			continue
		}
		p, maxP := c.opt.Parallelism, int32(0)
		if j := ops[op.ID]; j != nil {
			if j.Parallelism > 0 {
				p = j.Parallelism
			}
			maxP = j.MaxParallelism
		}
		if maxP > 0 && maxP != op.MaxParallelism {
			c.add(r, Blocks, fmt.Sprintf("operator %s: max parallelism %d, but its keyed state was written with %d", op.ID, maxP, op.MaxParallelism),
				fmt.Sprintf("keep the max parallelism at %d (setMaxParallelism), or rewrite the keyed state with the State Processor API", op.MaxParallelism), onOperator(op))
		} else if p > op.MaxParallelism {
			c.add(r, Blocks, fmt.Sprintf("operator %s: parallelism %d exceeds the max parallelism %d its keyed state was written with", op.ID, p, op.MaxParallelism),
				fmt.Sprintf("run it at parallelism %d or less", op.MaxParallelism), onOperator(op))
		}
	}
}

// jobDiffers says how the new job's graph differs from the snapshot's
// (operators added or removed, parallelism changed), or "".
func (c *check) jobDiffers() string {
	ops := c.jobOps()
	var diffs []string
	seen := map[string]bool{}
	for _, op := range c.r.Operators {
		seen[op.ID] = true
		if _, ok := ops[op.ID]; !ok { // a new parallelism is rescaling, which they support
			diffs = append(diffs, "operator "+op.ID+" removed")
		}
	}
	for _, j := range c.opt.Job.Operators {
		if !seen[j.ID] {
			diffs = append(diffs, "operator "+j.ID+" added")
		}
	}
	return strings.Join(diffs, "; ")
}
