// Package dump reads the entries of a snapshot's state as rows: one per
// keyed entry (map states: one per user key), operator list element and
// broadcast entry, with its operator, state, key group, key, namespace,
// user key, value and TTL timestamp decoded where the serializer is known
// (timers are rows of the timer states). Rows stream to a Sink, one table
// per state, in bounded memory: nothing is materialised beyond one entry.
package dump

import (
	"context"
	"errors"
	"fmt"
	"iter"
	"strings"

	"github.com/fsnap/fsnap/format"
	"github.com/fsnap/fsnap/format/state"
	"github.com/fsnap/fsnap/format/value"
	"github.com/fsnap/fsnap/snapshot"
	"github.com/fsnap/fsnap/snapshot/source"
)

// Options select what is dumped.
type Options struct {
	// Operator is an operator's uid or id (32 hex digits); "" for all.
	Operator string
	// State is a state name; "" for all.
	State string
	// FirstKeyGroup and LastKeyGroup bound keyed state (inclusive); -1 for
	// no bound. Operator state has no key group and is skipped when set.
	FirstKeyGroup, LastKeyGroup int32
	// Limit stops after this many rows; 0 for no limit.
	Limit int64
	// Progress, when set, is called as the streams are read (every few
	// thousand entries, and after each stream) with the bytes of the
	// selected operators' state streams read so far and in all; last with
	// done = total when the dump completes.
	Progress func(done, total int64)
}

// Table is one state of one operator: its rows share their columns.
type Table struct {
	Operator    string // id, 32 hex digits
	OperatorUID string // when stored
	State       string
	StateType   string // VALUE, LIST, MAP, …, PRIORITY_QUEUE, SPLIT_DISTRIBUTE, UNION, BROADCAST
	Slot        string
	// The serializers of the columns; nil when the table has no such
	// column (namespace of operator state, user key of non-map state) or
	// the column is VoidNamespace.
	Key, Namespace, UserKey, Value *state.Snapshot
	// ValueList: each value is a list of Value elements (LIST state).
	ValueList bool
	// TTL: values carry a last-access timestamp (state TTL).
	TTL bool
	// DecodeErr says why values are left as raw bytes, if they are.
	DecodeErr error
}

// Row is one entry. Decoded fields hold format/value values; where the
// serializer is not known they are value.Raw bytes.
type Row struct {
	Table    *Table
	Subtask  int32
	KeyGroup int32 // -1 for operator state
	Key      any
	NS       any
	UserKey  any
	Value    any
	TTL      *int64 // last access, epoch milliseconds
}

// Sink receives the rows, table by table interleaved as the streams hold
// them, and is closed by the caller.
type Sink interface {
	Row(r *Row) error
}

// entrySink is a Sink that can also take some tables' keyed entries as
// their bytes (Columnar).
type entrySink interface {
	direct(t *Table) bool
	Entry(t *Table, subtask int32, e *state.Entry) (bool, error)
}

// Stats count what was dumped.
type Stats struct {
	Tables int   `json:"tables"`
	Rows   int64 `json:"rows"`
}

// errLimit stops the walk when Limit rows were written.
var errLimit = fmt.Errorf("row limit reached")

// ErrNotFound matches (errors.Is) the errors of a selection that names
// nothing in the snapshot: an operator, a state or key groups it does not
// have.
var ErrNotFound = errors.New("not in the snapshot")

type notFound string

func (e notFound) Error() string      { return string(e) }
func (notFound) Is(target error) bool { return target == ErrNotFound }

// Dump walks the state of s and sends every row opt selects to sink.
// Keyed state in the canonical or heap layout and operator state are read;
// RocksDB native state is converted first (see migrate.ToCanonical).
func Dump(ctx context.Context, s *snapshot.Snapshot, src *source.Source, opt Options, sink Sink) (Stats, error) {
	d := &dumper{ctx: ctx, opt: opt, sink: sink, tables: map[string]*Table{}}
	err := d.run(s, src)
	limited := err == errLimit
	if limited {
		err = nil
	}
	if err == nil && !limited && opt.State != "" && !d.sawState() {
		err = notFound(fmt.Sprintf("no state %q in the operators dumped", opt.State))
	}
	if err == nil {
		d.read = d.total
		d.progress(0)
	}
	return d.stats, err
}

type dumper struct {
	ctx    context.Context
	opt    Options
	sink   Sink
	tables map[string]*Table
	stats  Stats
	// Progress: the bytes of the streams to read, and of those read.
	total, read int64
}

// progressEvery is how many entries pass between progress reports.
const progressEvery = 4096

// progress reports the streams read so far plus at bytes of the current one.
func (d *dumper) progress(at int64) {
	if d.opt.Progress != nil {
		d.opt.Progress(min(d.read+max(at, 0), d.total), d.total)
	}
}

// streamRead counts a stream of size bytes as read.
func (d *dumper) streamRead(size int64) {
	d.read += size
	d.progress(0)
}

func (d *dumper) wantOperator(op *snapshot.Operator) bool {
	o := d.opt.Operator
	return o == "" || strings.EqualFold(o, op.State.ID.String()) || o == op.UID || format.OperatorIDFromUID(o) == op.State.ID
}

// operators yields the operators of s the options select.
func (d *dumper) operators(s *snapshot.Snapshot) iter.Seq[*snapshot.Operator] {
	return func(yield func(*snapshot.Operator) bool) {
		for i := range s.Operators {
			if op := &s.Operators[i]; d.wantOperator(op) && !yield(op) {
				return
			}
		}
	}
}

// operatorState reports whether operator state is dumped: it has no key
// groups, so not when key groups are selected.
func (d *dumper) operatorState() bool { return d.opt.FirstKeyGroup < 0 && d.opt.LastKeyGroup < 0 }

// unreadableKeyed says why keyed state of handle h is not dumped and what
// to do instead.
func unreadableKeyed(op *snapshot.Operator, subtask int32, h format.KeyedStateHandle) error {
	at := fmt.Sprintf("operator %s subtask %d: %s keyed state", op.State.ID, subtask, h.KeyedType())
	switch h.(type) {
	case *format.ChangelogHandle, *format.ChangelogBytesHandle, *format.ChangelogFileHandle:
		return fmt.Errorf("%s is the changelog state backend's: a materialized snapshot plus a log of the changes since, which fsnap does not read; dump a savepoint of the job (Flink writes savepoints without the changelog)", at)
	}
	return fmt.Errorf("%s is native RocksDB state; convert it first (fsnap migrate to-canonical) or dump a canonical savepoint", at)
}

func (d *dumper) run(s *snapshot.Snapshot, src *source.Source) error {
	if err := d.keyGroupsExist(s); err != nil {
		return err
	}
	if d.opt.Progress != nil {
		d.total = d.streamBytes(s)
		d.progress(0)
	}
	found := d.opt.Operator == ""
	for op := range d.operators(s) {
		found = true
		for _, st := range op.State.Subtasks {
			if err := d.ctx.Err(); err != nil {
				return err
			}
			if h, ok := st.ManagedKeyedState.(*format.KeyGroupsHandle); ok {
				if err := d.keyed(src, op, st.Index, h); err != nil {
					return err
				}
			} else if st.ManagedKeyedState != nil {
				return unreadableKeyed(op, st.Index, st.ManagedKeyedState)
			}
			if h := st.ManagedOperatorState; h != nil && d.operatorState() {
				if err := d.operator(src, op, st.Index, h); err != nil {
					return err
				}
			}
		}
	}
	if !found {
		return notFound(fmt.Sprintf("no operator %q in %s", d.opt.Operator, s.Dir))
	}
	return nil
}

// sawState reports whether a table of the selected state was met.
func (d *dumper) sawState() bool {
	for _, t := range d.tables {
		if t.State == d.opt.State {
			return true
		}
	}
	return false
}

// keyGroupsExist checks that the selected key groups exist in some
// selected operator with keyed state.
func (d *dumper) keyGroupsExist(s *snapshot.Snapshot) error {
	if d.opt.FirstKeyGroup < 0 {
		return nil
	}
	most := int32(0)
	for op := range d.operators(s) {
		for _, st := range op.State.Subtasks {
			if st.ManagedKeyedState != nil {
				most = max(most, op.State.MaxParallelism)
				break
			}
		}
	}
	if most > 0 && d.opt.FirstKeyGroup >= most {
		return notFound(fmt.Sprintf("key group %d: the operators' max parallelism is %d (key groups 0 to %d)", d.opt.FirstKeyGroup, most, most-1))
	}
	return nil
}

// streamBytes is the size of the streams run reads.
func (d *dumper) streamBytes(s *snapshot.Snapshot) int64 {
	var n int64
	for op := range d.operators(s) {
		for _, st := range op.State.Subtasks {
			if h, ok := st.ManagedKeyedState.(*format.KeyGroupsHandle); ok && h.Delegate != nil {
				n += h.Delegate.StateSize()
			}
			if h := st.ManagedOperatorState; h != nil && h.Delegate != nil && d.operatorState() {
				n += h.Delegate.StateSize()
			}
		}
	}
	return n
}

// table returns the table of a state, describing it on first sight.
func (d *dumper) table(op *snapshot.Operator, slot string, m *state.StateMeta, describe func(t *Table)) *Table {
	k := op.State.ID.String() + "\x00" + slot + "\x00" + m.Name
	if t, ok := d.tables[k]; ok {
		return t
	}
	t := &Table{Operator: op.State.ID.String(), OperatorUID: op.UID, State: m.Name, StateType: m.Kind(), Slot: slot}
	describe(t)
	d.tables[k] = t
	d.stats.Tables++
	return t
}

func (d *dumper) emit(r *Row) error {
	if d.opt.Limit > 0 && d.stats.Rows >= d.opt.Limit {
		return errLimit
	}
	if err := d.sink.Row(r); err != nil {
		return err
	}
	d.stats.Rows++
	return nil
}

func (d *dumper) keyed(src *source.Source, op *snapshot.Operator, subtask int32, h *format.KeyGroupsHandle) error {
	st, err := src.Open(d.ctx, h.Delegate)
	if err != nil {
		return err
	}
	defer st.Close()
	ks, err := state.OpenKeyed(st, st.Size, state.KeyGroupsOf(h), state.KeyedOptions{Name: st.Name, MaxParallelism: op.State.MaxParallelism})
	if err != nil {
		return err
	}
	decs := make([]*value.StateDecoder, len(ks.Header.States))
	tables := make([]*Table, len(ks.Header.States))
	for i := range ks.Header.States {
		m := &ks.Header.States[i]
		dec, derr := value.ForState(ks, i)
		if derr == nil {
			decs[i] = dec
		}
		tables[i] = d.table(op, "managed-keyed", m, func(t *Table) { describeKeyed(t, ks.Header, m, ks.Layout, derr) })
	}
	es, _ := d.sink.(entrySink)
	direct := make([]bool, len(tables))
	for i, t := range tables {
		direct[i] = es != nil && decs[i] != nil && es.direct(t)
	}
	it := ks.Iter()
	size := h.Delegate.StateSize()
	defer d.streamRead(size)
	for n := 1; it.Next(); n++ {
		e := it.Entry()
		if n%progressEvery == 0 {
			// Where its key group starts: an entry's own offset is within
			// the key group's decompressed stream in compressed snapshots.
			if i := int(e.KeyGroup - h.Range.Start); i >= 0 && i < len(h.Offsets) {
				d.progress(min(h.Offsets[i]-h.Offsets[0], size))
			}
		}
		m := &ks.Header.States[e.State]
		if (d.opt.State != "" && m.Name != d.opt.State) || (d.opt.FirstKeyGroup >= 0 && e.KeyGroup < d.opt.FirstKeyGroup) ||
			(d.opt.LastKeyGroup >= 0 && e.KeyGroup > d.opt.LastKeyGroup) {
			continue
		}
		t := tables[e.State]
		if direct[e.State] {
			if d.opt.Limit > 0 && d.stats.Rows >= d.opt.Limit {
				return errLimit
			}
			ok, err := es.Entry(t, subtask, e)
			if err != nil {
				return err
			}
			if ok {
				d.stats.Rows++
				continue
			}
		}
		row := Row{Table: t, Subtask: subtask, KeyGroup: e.KeyGroup}
		if decs[e.State] == nil || t.DecodeErr != nil {
			row.Key, row.NS, row.UserKey, row.Value = value.Raw(e.Key), raw(e.Namespace), raw(e.UserKey), value.Raw(e.Value)
			if err := d.emit(&row); err != nil {
				return err
			}
			continue
		}
		dec, err := decs[e.State].Decode(e)
		if err != nil {
			return fmt.Errorf("%s: key group %d, offset %d: state %q: %w", st.Name, e.KeyGroup, e.Offset, m.Name, err)
		}
		row.Key, row.NS, row.UserKey, row.Value = dec.Key, dec.Namespace, dec.UserKey, dec.Value
		if m, ok := dec.Value.(value.Map); ok && t.UserKey != nil { // heap MAP: a row per user key
			for _, me := range m {
				r := row
				r.UserKey, r.Value = me.Key, me.Value
				if err := d.emitTTL(&r); err != nil {
					return err
				}
			}
			continue
		}
		if err := d.emitTTL(&row); err != nil {
			return err
		}
	}
	return it.Err()
}

// emitTTL splits a TTL wrapper into its timestamp and value.
func (d *dumper) emitTTL(r *Row) error {
	if t, ok := r.Value.(value.TTL); ok {
		ts := t.LastAccess
		r.TTL, r.Value = &ts, t.Value
	}
	return d.emit(r)
}

func raw(b []byte) any {
	if b == nil {
		return nil
	}
	return value.Raw(b)
}

// describeKeyed fills a keyed table's column serializers.
func describeKeyed(t *Table, h *state.KeyedHeader, m *state.StateMeta, layout state.Layout, derr error) {
	t.DecodeErr = derr
	v := m.Serializer(state.ValueSerializerKey)
	if m.Type == state.PriorityQueueState {
		t.Value = v
		return
	}
	t.Key = h.KeySerializer
	if ns := m.Serializer(state.NamespaceSerializerKey); ns != nil && !strings.Contains(ns.Class, "VoidNamespaceSerializer") &&
		ns.ShortClass() != "VoidNamespaceSerializer" {
		t.Namespace = ns
	}
	if v != nil && strings.HasSuffix(v.Class, "TtlSerializerSnapshot") && len(v.Nested()) == 2 {
		t.TTL, v = true, v.Nested()[1]
	}
	switch m.Kind() {
	case "LIST":
		t.ValueList = true
		if n := v.Nested(); len(n) == 1 {
			t.Value = n[0]
		}
	case "MAP":
		if n := v.Nested(); len(n) == 2 {
			t.UserKey, t.Value = n[0], n[1]
		}
	default:
		t.Value = v
	}
}

func (d *dumper) operator(src *source.Source, op *snapshot.Operator, subtask int32, h *format.OperatorStateHandle) error {
	st, err := src.Open(d.ctx, h.Delegate)
	if err != nil {
		return err
	}
	defer st.Close()
	os, err := state.OpenOperator(st, st.Size, h.States, st.Name)
	if err != nil {
		return err
	}
	type decs struct{ key, val value.Decoder }
	ds := make([]decs, len(os.States))
	tables := make([]*Table, len(os.States))
	for i, ref := range os.States {
		m := ref.Meta
		var derr error
		if m.Type == state.BroadcastState {
			if ds[i].key, derr = value.For(m.Serializer(state.KeySerializerKey)); derr == nil {
				ds[i].val, derr = value.For(m.Serializer(state.ValueSerializerKey))
			}
		} else {
			ds[i].val, derr = value.For(m.Serializer(state.ValueSerializerKey))
		}
		tables[i] = d.table(op, "managed-operator", m, func(t *Table) {
			t.DecodeErr = derr
			t.Value = m.Serializer(state.ValueSerializerKey)
			if m.Type == state.BroadcastState {
				t.Key = m.Serializer(state.KeySerializerKey)
			}
		})
	}
	it := os.Iter()
	size := h.Delegate.StateSize()
	defer d.streamRead(size)
	for n := 1; it.Next(); n++ {
		e := it.Element()
		if n%progressEvery == 0 {
			d.progress(min(e.Offset, size))
		}
		t := tables[e.State]
		if d.opt.State != "" && t.State != d.opt.State {
			continue
		}
		row := Row{Table: t, Subtask: subtask, KeyGroup: -1, Key: raw(e.Key), Value: value.Raw(e.Value)}
		if t.DecodeErr == nil {
			if ds[e.State].key != nil {
				if row.Key, err = decodeAll(ds[e.State].key, e.Key); err != nil {
					return fmt.Errorf("%s: offset %d: state %q key: %w", st.Name, e.Offset, t.State, err)
				}
			}
			if row.Value, err = decodeAll(ds[e.State].val, e.Value); err != nil {
				return fmt.Errorf("%s: offset %d: state %q: %w", st.Name, e.Offset, t.State, err)
			}
		}
		if err := d.emit(&row); err != nil {
			return err
		}
	}
	return it.Err()
}

func decodeAll(dec value.Decoder, b []byte) (any, error) {
	v, n, err := dec.Decode(b)
	if err == nil && n != len(b) {
		err = fmt.Errorf("decoded %d of %d bytes", n, len(b))
	}
	return v, err
}
