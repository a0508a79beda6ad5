// Package diff compares two snapshots side by side, typically the old
// job's last savepoint and the new job's first one in staging: operators
// and uids added or removed, states added or removed per operator,
// serializer changes per state with the schema-evolution rule that decides
// whether Flink restores them, parallelism and max parallelism, and bytes.
// It works on two inspect reports (fsnap.inspect/v1, state headers read)
// and builds the fsnap.diff/v1 document.
package diff

import (
	"fmt"
	"sort"
	"strings"

	"github.com/fsnap/fsnap/inspect"
)

// Schema names the JSON document.
const Schema = "fsnap.diff/v1"

// Change says what happened to an operator, a state or a serializer.
type Change string

const (
	Added     Change = "added"
	Removed   Change = "removed"
	Changed   Change = "changed"
	Unchanged Change = "unchanged"
)

// Evolution is Flink's verdict on a serializer change (the
// TypeSerializerSchemaCompatibility a restore computes).
type Evolution string

const (
	AsIs           Evolution = "compatible-as-is"
	AfterMigration Evolution = "compatible-after-migration"
	Incompatible   Evolution = "incompatible"
	Unknown        Evolution = "unknown"
)

// Report is the fsnap.diff/v1 document.
type Report struct {
	Schema    string         `json:"schema"`
	A         string         `json:"a"`
	B         string         `json:"b"`
	Summary   Summary        `json:"summary"`
	Operators []OperatorDiff `json:"operators"`
}

// Summary counts operators by change, and the serializer changes Flink
// would refuse.
type Summary struct {
	Added        int   `json:"added"`
	Removed      int   `json:"removed"`
	Changed      int   `json:"changed"`
	Unchanged    int   `json:"unchanged"`
	Incompatible int   `json:"incompatible_serializers"`
	BytesA       int64 `json:"bytes_a"`
	BytesB       int64 `json:"bytes_b"`
}

// OperatorDiff is one operator in A, B or both.
type OperatorDiff struct {
	ID              string      `json:"id"`
	UID             string      `json:"uid,omitempty"`
	Name            string      `json:"name,omitempty"`
	Change          Change      `json:"change"`
	ParallelismA    int32       `json:"parallelism_a,omitempty"`
	ParallelismB    int32       `json:"parallelism_b,omitempty"`
	MaxParallelismA int32       `json:"max_parallelism_a,omitempty"`
	MaxParallelismB int32       `json:"max_parallelism_b,omitempty"`
	BytesA          int64       `json:"bytes_a"`
	BytesB          int64       `json:"bytes_b"`
	States          []StateDiff `json:"states,omitempty"`
	// Notes say what the change means for a restore of A into B's job.
	Notes []string `json:"notes,omitempty"`
}

// StateDiff is one state of an operator.
type StateDiff struct {
	Name        string             `json:"name"`
	Change      Change             `json:"change"`
	TypeA       string             `json:"type_a,omitempty"`
	TypeB       string             `json:"type_b,omitempty"`
	BytesA      *int64             `json:"bytes_a,omitempty"` // with --states
	BytesB      *int64             `json:"bytes_b,omitempty"`
	Serializers []SerializerChange `json:"serializers,omitempty"`
}

// SerializerChange is one serializer that differs between A and B.
type SerializerChange struct {
	Role string `json:"role"`
	// Path locates a nested serializer: VALUE_SERIALIZER/1/0 is the first
	// nested serializer of the value serializer's second.
	Path      string    `json:"path"`
	From      string    `json:"from"`
	To        string    `json:"to"`
	Detail    string    `json:"detail"`
	Evolution Evolution `json:"evolution"`
	Rule      string    `json:"rule"`
}

// Compare diffs snapshot a against snapshot b.
func Compare(a, b *inspect.Report) *Report {
	r := &Report{Schema: Schema, A: a.Snapshot, B: b.Snapshot, Operators: []OperatorDiff{}}
	byID := map[string]*inspect.OperatorInfo{}
	for i := range b.Operators {
		byID[b.Operators[i].ID] = &b.Operators[i]
	}
	seen := map[string]bool{}
	for i := range a.Operators {
		oa := &a.Operators[i]
		seen[oa.ID] = true
		r.Operators = append(r.Operators, compareOperator(oa, byID[oa.ID]))
	}
	for i := range b.Operators {
		if ob := &b.Operators[i]; !seen[ob.ID] {
			r.Operators = append(r.Operators, compareOperator(nil, ob))
		}
	}
	for _, o := range r.Operators {
		switch o.Change {
		case Added:
			r.Summary.Added++
		case Removed:
			r.Summary.Removed++
		case Changed:
			r.Summary.Changed++
		default:
			r.Summary.Unchanged++
		}
		r.Summary.BytesA += o.BytesA
		r.Summary.BytesB += o.BytesB
		for _, s := range o.States {
			for _, c := range s.Serializers {
				if c.Evolution == Incompatible {
					r.Summary.Incompatible++
				}
			}
		}
	}
	return r
}

func compareOperator(a, b *inspect.OperatorInfo) OperatorDiff {
	var d OperatorDiff
	for _, o := range []*inspect.OperatorInfo{a, b} {
		if o != nil {
			d.ID, d.UID, d.Name = o.ID, firstNonEmpty(d.UID, o.UID), firstNonEmpty(d.Name, o.Name)
		}
	}
	if a != nil {
		d.ParallelismA, d.MaxParallelismA, d.BytesA = a.Parallelism, a.MaxParallelism, a.Bytes.Total
	}
	if b != nil {
		d.ParallelismB, d.MaxParallelismB, d.BytesB = b.Parallelism, b.MaxParallelism, b.Bytes.Total
	}
	switch {
	case a == nil:
		d.Change = Added
		d.States = statesOnly(b.States, Added)
		return d
	case b == nil:
		d.Change = Removed
		d.States = statesOnly(a.States, Removed)
		if a.Bytes.Total > 0 {
			d.Notes = append(d.Notes, "its state is dropped: restoring A into B's job needs allowNonRestoredState")
		}
		return d
	}
	d.Change = Unchanged
	if a.Parallelism != b.Parallelism {
		d.Change = Changed
		d.Notes = append(d.Notes, fmt.Sprintf("parallelism %d → %d (rescaling)", a.Parallelism, b.Parallelism))
	}
	if a.MaxParallelism != b.MaxParallelism {
		d.Change = Changed
		note := fmt.Sprintf("max parallelism %d → %d", a.MaxParallelism, b.MaxParallelism)
		if a.Bytes.ManagedKeyed+a.Bytes.RawKeyed > 0 {
			note += ": keyed state does not restore across a max parallelism change"
		}
		d.Notes = append(d.Notes, note)
	}
	bs := map[string]*inspect.StateInfo{}
	for i := range b.States {
		bs[b.States[i].Name] = &b.States[i]
	}
	inA := map[string]bool{}
	for i := range a.States {
		sa := &a.States[i]
		inA[sa.Name] = true
		sd := compareState(sa, bs[sa.Name])
		if sd.Change != Unchanged {
			d.Change = Changed
		}
		d.States = append(d.States, sd)
	}
	for i := range b.States {
		if sb := &b.States[i]; !inA[sb.Name] {
			d.States = append(d.States, compareState(nil, sb))
			d.Change = Changed
		}
	}
	if a.KeySerializer != nil && b.KeySerializer != nil {
		if cs := compareSerializer("KEY_SERIALIZER", "KEY_SERIALIZER", a.KeySerializer, b.KeySerializer); len(cs) > 0 {
			d.Change = Changed
			d.States = append(d.States, StateDiff{Name: "(key)", Change: Changed, Serializers: cs})
		}
	}
	return d
}

func statesOnly(ss []inspect.StateInfo, c Change) []StateDiff {
	var out []StateDiff
	for i := range ss {
		sd := StateDiff{Name: ss[i].Name, Change: c}
		if c == Added {
			sd.TypeB, sd.BytesB = ss[i].Type, ss[i].Bytes
		} else {
			sd.TypeA, sd.BytesA = ss[i].Type, ss[i].Bytes
		}
		out = append(out, sd)
	}
	return out
}

func compareState(a, b *inspect.StateInfo) StateDiff {
	switch {
	case a == nil:
		return statesOnly([]inspect.StateInfo{*b}, Added)[0]
	case b == nil:
		return statesOnly([]inspect.StateInfo{*a}, Removed)[0]
	}
	sd := StateDiff{Name: a.Name, Change: Unchanged, TypeA: a.Type, TypeB: b.Type, BytesA: a.Bytes, BytesB: b.Bytes}
	if a.Type != b.Type {
		sd.Change = Changed
		sd.Serializers = append(sd.Serializers, SerializerChange{Path: "(state type)", From: a.Type, To: b.Type,
			Detail: "the state's type changed", Evolution: Incompatible, Rule: "a state keeps its type (VALUE, LIST, MAP, …) across a restore"})
	}
	bs := map[string]*inspect.SerializerInfo{}
	for i := range b.Serializers {
		bs[b.Serializers[i].Role] = &b.Serializers[i]
	}
	for i := range a.Serializers {
		sa := &a.Serializers[i]
		if sb := bs[sa.Role]; sb != nil {
			sd.Serializers = append(sd.Serializers, compareSerializer(sa.Role, sa.Role, sa, sb)...)
		}
	}
	if len(sd.Serializers) > 0 {
		sd.Change = Changed
	}
	return sd
}

// compareSerializer lists the differences between two serializer trees.
func compareSerializer(role, path string, a, b *inspect.SerializerInfo) []SerializerChange {
	ch := func(detail string, ev Evolution, rule string) SerializerChange {
		return SerializerChange{Role: role, Path: path, From: a.Short, To: b.Short, Detail: detail, Evolution: ev, Rule: rule}
	}
	if a.Class != b.Class {
		if sameSerializer(a, b) {
			return []SerializerChange{ch(fmt.Sprintf("snapshot class %s → %s", a.Class, b.Class), AsIs,
				"the same serializer's snapshot in a later form (legacy config snapshot → TypeSerializerSnapshot): Flink resolves it")}
		}
		return []SerializerChange{ch(fmt.Sprintf("serializer %s → %s", a.Class, b.Class), Incompatible,
			"a state's serializer class cannot change, except by the serializer's own migration (Flink's TypeSerializerSnapshot.resolveSchemaCompatibility)")}
	}
	var out []SerializerChange
	switch {
	case isPojo(a):
		out = append(out, pojoChange(role, path, a, b)...)
	case isAvro(a) && a.Params["schema"] != b.Params["schema"]:
		out = append(out, ch("Avro schema changed", AfterMigration,
			"Avro schema evolution: restores if the new schema can read data of the old one (Avro's resolution rules: new fields need defaults, no type changes outside promotions)"))
	case isKryo(a) && (a.Params["registrationName"] != b.Params["registrationName"] || a.Params["typeClass"] != b.Params["typeClass"]):
		out = append(out, ch(fmt.Sprintf("Kryo type %q registrations [%s] → %q [%s]", a.Params["typeClass"], a.Params["registrationName"], b.Params["typeClass"], b.Params["registrationName"]),
			Incompatible, "Kryo has no schema evolution; its registrations (and their order) must stay the same"))
	case enumConstants(a) != "":
		ca, cb := strings.Split(enumConstants(a), ","), ","+enumConstants(b)+","
		for _, c := range ca {
			if !strings.Contains(cb, ","+c+",") {
				out = append(out, ch("enum constant "+c+" removed", Incompatible, "an enum serializer cannot lose constants"))
				return out
			}
		}
		if enumConstants(a) != enumConstants(b) {
			out = append(out, ch(fmt.Sprintf("enum constants [%s] → [%s]", enumConstants(a), enumConstants(b)), AfterMigration,
				"enum constants may be added or reordered (EnumSerializer migrates by name)"))
		}
	default:
		if p := paramsDiff(a.Params, b.Params); p != "" {
			out = append(out, ch("parameters "+p, Incompatible, "a serializer's configuration (type class, enum constants removed, case class) must stay the same; enum constants may be appended"))
		}
	}
	if !isPojo(a) {
		if len(a.Nested) != len(b.Nested) {
			out = append(out, ch(fmt.Sprintf("%d → %d nested serializers", len(a.Nested), len(b.Nested)), Incompatible,
				"a composite serializer keeps its arity (tuples, rows, case classes)"))
		} else {
			for i := range a.Nested {
				out = append(out, compareSerializer(role, fmt.Sprintf("%s/%d", path, i), &a.Nested[i], &b.Nested[i])...)
			}
		}
	}
	return out
}

// sameSerializer: two snapshot classes of one serializer (a 1.3 – 1.7
// config snapshot and a later TypeSerializerSnapshot).
func sameSerializer(a, b *inspect.SerializerInfo) bool {
	norm := func(s string) string { return strings.TrimSuffix(strings.TrimSuffix(s, "ConfigSnapshot"), "Config") }
	return norm(a.Short) == norm(b.Short) || (a.DerivedFrom != "" && strings.HasPrefix(b.Class, a.DerivedFrom))
}

func enumConstants(s *inspect.SerializerInfo) string {
	return firstNonEmpty(s.Params["constant"], s.Params["valueName"])
}

func isPojo(s *inspect.SerializerInfo) bool { return strings.Contains(s.Class, "PojoSerializer") }
func isAvro(s *inspect.SerializerInfo) bool { return strings.Contains(s.Class, "formats.avro") }
func isKryo(s *inspect.SerializerInfo) bool { return strings.Contains(s.Class, ".kryo.Kryo") }

// pojoChange applies POJO schema evolution: fields may be added or
// removed; a kept field's serializer follows its own rules; the class
// cannot change.
func pojoChange(role, path string, a, b *inspect.SerializerInfo) []SerializerChange {
	fa, fb := strings.Split(a.Params["fieldName"], ","), strings.Split(b.Params["fieldName"], ",")
	var out []SerializerChange
	if a.Params["pojoClass"] != b.Params["pojoClass"] {
		return []SerializerChange{{Role: role, Path: path, From: a.Params["pojoClass"], To: b.Params["pojoClass"],
			Detail: "POJO class changed", Evolution: Incompatible, Rule: "POJO schema evolution keeps the class name"}}
	}
	idx := map[string]int{}
	for i, f := range fb {
		idx[f] = i
	}
	var added, removed []string
	kept := map[string]bool{}
	for i, f := range fa {
		j, ok := idx[f]
		if !ok {
			removed = append(removed, f)
			continue
		}
		kept[f] = true
		if i < len(a.Nested) && j < len(b.Nested) {
			out = append(out, compareSerializer(role, fmt.Sprintf("%s/%s", path, f), &a.Nested[i], &b.Nested[j])...)
		}
	}
	for _, f := range fb {
		if !kept[f] {
			added = append(added, f)
		}
	}
	if len(added)+len(removed) > 0 {
		sort.Strings(added)
		sort.Strings(removed)
		out = append(out, SerializerChange{Role: role, Path: path, From: a.Short, To: b.Short,
			Detail:    fmt.Sprintf("POJO fields added %v, removed %v", added, removed),
			Evolution: AfterMigration, Rule: "POJO schema evolution: fields can be added (default values) and removed; a kept field's type cannot change"})
	}
	return out
}

func paramsDiff(a, b map[string]string) string {
	var out []string
	for k, v := range a {
		if b[k] != v {
			out = append(out, fmt.Sprintf("%s %q → %q", k, v, b[k]))
		}
	}
	for k, v := range b {
		if _, ok := a[k]; !ok {
			out = append(out, fmt.Sprintf("%s added %q", k, v))
		}
	}
	sort.Strings(out)
	return strings.Join(out, "; ")
}

func firstNonEmpty(a, b string) string {
	if a != "" {
		return a
	}
	return b
}
