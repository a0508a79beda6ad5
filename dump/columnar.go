package dump

import (
	"encoding/binary"
	"fmt"
	"io"
	"math"
	"regexp"
	"strings"

	"github.com/apache/arrow/go/v15/arrow"
	"github.com/apache/arrow/go/v15/arrow/array"

	"github.com/fsnap/fsnap/format/state"
	"github.com/fsnap/fsnap/format/value"
	"github.com/fsnap/fsnap/table"
)

// Columnar formats of dumps.
const (
	Parquet   = table.Parquet
	ArrowFile = table.ArrowFile // the Arrow IPC file format (Feather v2)
	Arrow     = table.Arrow     // the Arrow IPC stream format
)

// Columnar writes one Parquet or Arrow file per table, typed by the
// state's serializers: Long → int64, String → utf8, tuples, case classes,
// POJOs and timers → structs, lists → lists, maps → maps, other decoded
// values → their rendering, undecoded bytes (Kryo, unknown serializers) →
// binary.
type Columnar struct {
	format table.Format
	opts   []table.Option
	open   func(name string) (io.WriteCloser, error)
	tables map[*Table]*tableWriter
	order  []*tableWriter
}

// NewColumnar writes tables in format f to the files open creates, named
// by FileName, with the given options (Parquet compression).
func NewColumnar(f table.Format, open func(name string) (io.WriteCloser, error), opts ...table.Option) *Columnar {
	return &Columnar{format: f, opts: opts, open: open, tables: map[*Table]*tableWriter{}}
}

type tableWriter struct {
	t          *Table
	rw         *table.RecordWriter
	cols       struct{ key, ns, userKey, value, ttl int }
	key, value *rawColumn // Entry's appenders
}

var unsafeName = regexp.MustCompile(`[^A-Za-z0-9._-]+`)

// FileName is the file a table is written to: the operator's uid (or id)
// as a folder and the state's name, made safe for paths and URLs.
func FileName(t *Table, f table.Format) string {
	op := t.OperatorUID
	if op == "" {
		op = t.Operator
	}
	st := t.State
	if t.Slot != "managed-keyed" {
		st = "operator-" + st
	}
	return unsafeName.ReplaceAllString(op, "_") + "/" + unsafeName.ReplaceAllString(st, "_") + "." + string(f)
}

// writer returns the writer of a table, starting it on first sight.
func (c *Columnar) writer(t *Table) (*tableWriter, error) {
	w := c.tables[t]
	if w == nil {
		var err error
		if w, err = c.newTable(t); err != nil {
			return nil, err
		}
		c.tables[t] = w
		c.order = append(c.order, w)
	}
	return w, nil
}

func (c *Columnar) Row(r *Row) error {
	w, err := c.writer(r.Table)
	if err != nil {
		return err
	}
	fs := w.rw.Builder().Fields()
	fs[0].(*array.Int32Builder).Append(r.Subtask)
	if r.KeyGroup >= 0 {
		fs[1].(*array.Int32Builder).Append(r.KeyGroup)
	} else {
		fs[1].AppendNull()
	}
	for _, c := range []struct {
		i int
		v any
	}{{w.cols.key, r.Key}, {w.cols.ns, r.NS}, {w.cols.userKey, r.UserKey}, {w.cols.value, r.Value}} {
		if c.i >= 0 {
			appendValue(fs[c.i], c.v)
		}
	}
	if w.cols.ttl >= 0 {
		if r.TTL != nil {
			fs[w.cols.ttl].(*array.Int64Builder).Append(*r.TTL)
		} else {
			fs[w.cols.ttl].AppendNull()
		}
	}
	return w.rw.RowDone()
}

// direct reports whether the entries of t can go through Entry: a key and
// a value of serializers rawAppender knows, no namespace, user key, list
// or TTL wrapper.
func (c *Columnar) direct(t *Table) bool {
	return t.DecodeErr == nil && t.Namespace == nil && t.UserKey == nil && !t.ValueList && !t.TTL &&
		rawAppender(t.Key) != nil && rawAppender(t.Value) != nil
}

// Entry appends a keyed entry of a table direct accepted straight from
// its bytes, without decoding it into values first (the decoding boxed
// every number and cost as much as the rest of the row). It reports false,
// appending nothing, when the bytes are not what the serializers write:
// the caller then decodes the entry, which names what is wrong.
func (c *Columnar) Entry(t *Table, subtask int32, e *state.Entry) (bool, error) {
	w, err := c.writer(t)
	if err != nil {
		return false, err
	}
	if w.key == nil {
		w.key, w.value = rawAppender(t.Key), rawAppender(t.Value)
	}
	if !e.Split || !w.key.ok(e.Key) || !w.value.ok(e.Value) {
		return false, nil
	}
	fs := w.rw.Builder().Fields()
	fs[0].(*array.Int32Builder).Append(subtask)
	fs[1].(*array.Int32Builder).Append(e.KeyGroup)
	w.key.add(fs[w.cols.key], e.Key)
	w.value.add(fs[w.cols.value], e.Value)
	return true, w.rw.RowDone()
}

// rawColumn appends a whole serialized value to the builder of its column.
type rawColumn struct {
	ok  func(b []byte) bool
	add func(col array.Builder, b []byte)
}

// rawAppender is the raw appender of the values s describes, for the
// fixed-width numbers and byte arrays whose bytes map to a column
// directly; nil for other serializers.
func rawAppender(s *state.Snapshot) *rawColumn {
	if s == nil {
		return nil
	}
	size := func(n int) func([]byte) bool { return func(b []byte) bool { return len(b) == n } }
	switch s.Class {
	case state.LongSnapshotClass:
		return &rawColumn{size(8), func(c array.Builder, b []byte) {
			c.(*array.Int64Builder).Append(int64(binary.BigEndian.Uint64(b)))
		}}
	case state.IntSnapshotClass:
		return &rawColumn{size(4), func(c array.Builder, b []byte) {
			c.(*array.Int32Builder).Append(int32(binary.BigEndian.Uint32(b)))
		}}
	case state.DoubleSnapshotClass:
		return &rawColumn{size(8), func(c array.Builder, b []byte) {
			c.(*array.Float64Builder).Append(math.Float64frombits(binary.BigEndian.Uint64(b)))
		}}
	case state.BytesSnapshotClass:
		return &rawColumn{func(b []byte) bool {
			return len(b) >= 4 && int64(int32(binary.BigEndian.Uint32(b))) == int64(len(b)-4)
		}, func(c array.Builder, b []byte) { c.(*array.BinaryBuilder).Append(b[4:]) }}
	}
	return nil
}

// Close writes what every table buffers and closes the files, footers
// included: a dump that stopped on an error still leaves valid files.
func (c *Columnar) Close() error {
	var first error
	for _, w := range c.order {
		if err := w.rw.Close(); err != nil && first == nil {
			first = err
		}
	}
	return first
}

func (c *Columnar) newTable(t *Table) (*tableWriter, error) {
	w := &tableWriter{t: t}
	w.cols.key, w.cols.ns, w.cols.userKey, w.cols.value, w.cols.ttl = -1, -1, -1, -1, -1
	fields := []arrow.Field{{Name: "subtask", Type: arrow.PrimitiveTypes.Int32}, {Name: "key_group", Type: arrow.PrimitiveTypes.Int32, Nullable: true}}
	add := func(idx *int, name string, typ arrow.DataType) {
		*idx = len(fields)
		fields = append(fields, arrow.Field{Name: name, Type: typ, Nullable: true})
	}
	typeOf := func(s *state.Snapshot) arrow.DataType {
		if t.DecodeErr != nil {
			return arrow.BinaryTypes.Binary
		}
		return arrowType(s, 0)
	}
	if t.Key != nil {
		add(&w.cols.key, "key", typeOf(t.Key))
	}
	if t.Namespace != nil {
		add(&w.cols.ns, "namespace", typeOf(t.Namespace))
	}
	if t.UserKey != nil {
		add(&w.cols.userKey, "user_key", typeOf(t.UserKey))
	}
	vt := typeOf(t.Value)
	if t.ValueList && t.DecodeErr == nil {
		vt = arrow.ListOf(vt)
	}
	add(&w.cols.value, "value", vt)
	if t.TTL {
		add(&w.cols.ttl, "ttl", arrow.PrimitiveTypes.Int64)
	}
	md := arrow.NewMetadata([]string{"fsnap.operator", "fsnap.operator_uid", "fsnap.state", "fsnap.state_type"},
		[]string{t.Operator, t.OperatorUID, t.State, t.StateType})
	schema := arrow.NewSchema(fields, &md)
	out, err := c.open(FileName(t, c.format))
	if err != nil {
		return nil, err
	}
	if w.rw, err = table.NewRecordWriter(c.format, out, schema, c.opts...); err != nil {
		return nil, fmt.Errorf("%s: %w", FileName(t, c.format), err)
	}
	return w, nil
}

const (
	pBase  = "org.apache.flink.api.common.typeutils.base."
	pScala = "org.apache.flink.api.scala.typeutils."
	pRT    = "org.apache.flink.api.java.typeutils.runtime."
)

// arrowType is the column type of values a serializer writes, matching
// what format/value decodes them to.
func arrowType(s *state.Snapshot, depth int) arrow.DataType {
	if s == nil || depth > 16 {
		return arrow.BinaryTypes.Binary
	}
	class := s.Class
	if id := s.Str("serializationFormatIdentifier"); id != "" { // Flink ≤ 1.6 configs
		class = id + "$" + id[strings.LastIndexByte(id, '.')+1:] + "Snapshot"
	}
	nested := func(i int) arrow.DataType {
		if n := s.Nested(); i < len(n) {
			return arrowType(n[i], depth+1)
		}
		return arrow.BinaryTypes.Binary
	}
	switch {
	case strings.HasSuffix(class, "$LongSerializerSnapshot"):
		return arrow.PrimitiveTypes.Int64
	case strings.HasSuffix(class, "$IntSerializerSnapshot"):
		return arrow.PrimitiveTypes.Int32
	case strings.HasSuffix(class, "$ShortSerializerSnapshot"):
		return arrow.PrimitiveTypes.Int16
	case strings.HasSuffix(class, "$ByteSerializerSnapshot"):
		return arrow.PrimitiveTypes.Int8
	case strings.HasSuffix(class, "$CharSerializerSnapshot"):
		return arrow.PrimitiveTypes.Uint16
	case strings.HasSuffix(class, "$BooleanSerializerSnapshot"):
		return arrow.FixedWidthTypes.Boolean
	case strings.HasSuffix(class, "$DoubleSerializerSnapshot"):
		return arrow.PrimitiveTypes.Float64
	case strings.HasSuffix(class, "$FloatSerializerSnapshot"):
		return arrow.PrimitiveTypes.Float32
	case strings.HasSuffix(class, "$StringSerializerSnapshot"), strings.HasSuffix(class, "JavaSerializerSnapshot"),
		strings.Contains(class, "EnumSerializer"), strings.Contains(class, "Either"), strings.Contains(class, "Try"),
		strings.Contains(class, "formats.avro"):
		return arrow.BinaryTypes.String // strings, enum names, renderings
	case strings.HasSuffix(class, "$VoidNamespaceSerializerSnapshot"):
		return arrow.BinaryTypes.String
	case class == state.TupleSnapshotClass, class == pRT+"TupleSerializerConfigSnapshot", class == state.ScalaCaseClassSnapshotClass,
		class == pScala+"Tuple2CaseClassSerializerSnapshot":
		var fs []arrow.Field
		for i := range s.Nested() {
			fs = append(fs, arrow.Field{Name: fmt.Sprintf("f%d", i), Type: nested(i), Nullable: true})
		}
		if len(fs) == 0 {
			return arrow.BinaryTypes.Binary
		}
		return arrow.StructOf(fs...)
	case class == state.TimerSnapshotClass, strings.HasSuffix(class, "TimerSerializerConfigSnapshot"):
		return arrow.StructOf(arrow.Field{Name: "timestamp", Type: arrow.PrimitiveTypes.Int64},
			arrow.Field{Name: "key", Type: nested(0), Nullable: true}, arrow.Field{Name: "namespace", Type: nested(1), Nullable: true})
	case state.IsList(s), class == pScala+"TraversableSerializerSnapshot", class == pBase+"GenericArraySerializerSnapshot":
		return arrow.ListOf(nested(0))
	case state.IsMap(s):
		return arrow.MapOf(nested(0), nested(1))
	case class == pScala+"ScalaOptionSerializerSnapshot":
		return nested(0)
	case strings.Contains(class, "PojoSerializer"):
		var fs []arrow.Field
		names := value.PojoFieldNames(s)
		for i := range s.Nested() {
			if i < len(names) {
				fs = append(fs, arrow.Field{Name: names[i], Type: nested(i), Nullable: true})
			}
		}
		if len(fs) == 0 {
			return arrow.BinaryTypes.Binary
		}
		return arrow.StructOf(fs...)
	}
	if _, err := value.For(s); err == nil && !strings.Contains(class, "Kryo") {
		if _, err := state.LayoutOf(s); err != nil {
			return arrow.BinaryTypes.String // decoded to something fsnap renders
		}
	}
	return arrow.BinaryTypes.Binary
}

// appendValue appends a decoded value to a builder of the type arrowType
// chose; a value of another shape is rendered or appended as null.
func appendValue(b array.Builder, v any) {
	if o, ok := v.(value.Option); ok {
		if !o.Some {
			b.AppendNull()
			return
		}
		v = o.Value
	}
	if v == nil {
		b.AppendNull()
		return
	}
	switch b := b.(type) {
	case *array.Int64Builder:
		if x, ok := v.(int64); ok {
			b.Append(x)
			return
		}
	case *array.Int32Builder:
		if x, ok := v.(int32); ok {
			b.Append(x)
			return
		}
	case *array.Int16Builder:
		if x, ok := v.(int16); ok {
			b.Append(x)
			return
		}
	case *array.Int8Builder:
		if x, ok := v.(int8); ok {
			b.Append(x)
			return
		}
	case *array.Uint16Builder:
		if x, ok := v.(uint16); ok {
			b.Append(x)
			return
		}
	case *array.BooleanBuilder:
		if x, ok := v.(bool); ok {
			b.Append(x)
			return
		}
	case *array.Float64Builder:
		if x, ok := v.(float64); ok {
			b.Append(x)
			return
		}
	case *array.Float32Builder:
		if x, ok := v.(float32); ok {
			b.Append(x)
			return
		}
	case *array.StringBuilder:
		switch x := v.(type) {
		case string:
			b.Append(x)
		case value.Java:
			if s, ok := x.Value.(string); ok {
				b.Append(s)
			} else {
				b.Append(value.Format(x))
			}
		case value.Enum:
			if x.Name != "" {
				b.Append(x.Name)
			} else {
				b.Append(fmt.Sprint(x.ID))
			}
		default:
			b.Append(value.Format(v))
		}
		return
	case *array.BinaryBuilder:
		switch x := v.(type) {
		case value.Raw:
			b.Append(x)
		case []byte:
			b.Append(x)
		case value.Kryo:
			b.Append(x.Bytes)
		default:
			b.Append([]byte(value.Format(v)))
		}
		return
	case *array.StructBuilder:
		var fields []any
		switch x := v.(type) {
		case value.Tuple:
			fields = x
		case value.CaseClass:
			fields = x.Fields
		case value.Pojo:
			for _, f := range x.Fields {
				fields = append(fields, f.Value)
			}
		case value.Timer:
			fields = []any{x.Timestamp, x.Key, x.Namespace}
		default:
			b.AppendNull()
			return
		}
		b.Append(true)
		for i := 0; i < b.NumField(); i++ {
			var f any
			if i < len(fields) {
				f = fields[i]
			}
			appendValue(b.FieldBuilder(i), f)
		}
		return
	case *array.MapBuilder:
		m, ok := v.(value.Map)
		if !ok {
			b.AppendNull()
			return
		}
		b.Append(true)
		for _, e := range m {
			appendValue(b.KeyBuilder(), e.Key)
			if e.Null {
				b.ItemBuilder().AppendNull()
			} else {
				appendValue(b.ItemBuilder(), e.Value)
			}
		}
		return
	case *array.ListBuilder:
		var items []any
		switch x := v.(type) {
		case value.List:
			items = x
		case []any:
			items = x
		default:
			b.AppendNull()
			return
		}
		b.Append(true)
		for _, e := range items {
			appendValue(b.ValueBuilder(), e)
		}
		return
	}
	b.AppendNull()
}
