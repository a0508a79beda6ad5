// Package value decodes the bytes that Flink's common serializers write:
// the keys, namespaces and values found in state streams.
//
// For maps a decoded serializer snapshot (format/state.Snapshot) to a
// Decoder; the typed functions (Long, Int, String, …) decode single
// values without going through an interface. Decoded values are plain Go
// values: int64, int32, int16, int8, uint16 (char), bool, float64,
// float32, string, []byte, nil, and the types of this package (Void, Tuple,
// Timer, List, Map, Either, Pojo, Java) and of package avro (Record, …).
package value

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"strings"

	"github.com/fsnap/fsnap/format/javaser"
	"github.com/fsnap/fsnap/format/state"
	"github.com/fsnap/fsnap/format/state/avro"
)

// ErrShort is wrapped by errors about bytes that end inside a value.
var ErrShort = errors.New("value is truncated")

func short(what string, need, have int) error {
	return fmt.Errorf("%s: %w: needs %d bytes, %d remain", what, ErrShort, need, have)
}

// Long decodes a LongSerializer value (8 bytes, big-endian).
func Long(b []byte) (int64, error) {
	if len(b) < 8 {
		return 0, short("Long", 8, len(b))
	}
	return int64(binary.BigEndian.Uint64(b)), nil
}

// Int decodes an IntSerializer value.
func Int(b []byte) (int32, error) {
	if len(b) < 4 {
		return 0, short("Integer", 4, len(b))
	}
	return int32(binary.BigEndian.Uint32(b)), nil
}

// Bool decodes a BooleanSerializer value.
func Bool(b []byte) (bool, error) {
	if len(b) < 1 {
		return false, short("Boolean", 1, 0)
	}
	return b[0] != 0, nil
}

// Double decodes a DoubleSerializer value.
func Double(b []byte) (float64, error) {
	if len(b) < 8 {
		return 0, short("Double", 8, len(b))
	}
	return math.Float64frombits(binary.BigEndian.Uint64(b)), nil
}

// String decodes a StringSerializer value (Flink's StringValue encoding)
// and returns the bytes consumed. A null string decodes as "" with null set.
func String(b []byte) (s string, null bool, n int, err error) {
	s, null, n, err = state.ReadStringValue(b)
	if err != nil {
		return "", false, 0, fmt.Errorf("String: %w", err)
	}
	return s, null, n, nil
}

// Bytes decodes a BytePrimitiveArraySerializer value: i32 length, bytes.
// The result aliases b.
func Bytes(b []byte) ([]byte, int, error) {
	if len(b) < 4 {
		return nil, 0, short("byte[] length", 4, len(b))
	}
	n := int(int32(binary.BigEndian.Uint32(b)))
	if n < 0 {
		return nil, 0, fmt.Errorf("byte[]: negative length %d", n)
	}
	if n > len(b)-4 {
		return nil, 0, short("byte[]", n, len(b)-4)
	}
	return b[4 : 4+n], 4 + n, nil
}

// Void is VoidNamespace, the namespace of state outside windows.
type Void struct{}

func (Void) String() string { return "VoidNamespace" }

// Tuple is a Flink TupleN.
type Tuple []any

// Timer is a TimerHeapInternalTimer: when it fires, for which key and
// namespace.
type Timer struct {
	Timestamp int64
	Key       any
	Namespace any
}

// TimerTimestamp decodes the timestamp TimerSerializer writes first (with
// its sign bit flipped so that byte order is time order).
func TimerTimestamp(b []byte) (int64, error) {
	v, err := Long(b)
	return v ^ math.MinInt64, err
}

// List is a list value.
type List []any

// MapEntry is one map entry; Null marks a null value.
type MapEntry struct {
	Key   any
	Value any
	Null  bool
}

// Map is a map value in serialized order.
type Map []MapEntry

// Either is a Flink Either: Left or Right.
type Either struct {
	Left  bool
	Value any
}

// PojoField is one field of a POJO value.
type PojoField struct {
	Name  string
	Value any // nil for a null field
}

// Pojo is a POJO value.
type Pojo struct {
	Class  string
	Fields []PojoField
}

// TTL is a value of a state with time-to-live: when it was last accessed
// (epoch milliseconds) and the user value (TtlSerializer).
type TTL struct {
	LastAccess int64
	Value      any
}

// Java is a Java-serialized object (JavaSerializer), decoded by package
// javaser: a string, an *javaser.Object, …
type Java struct{ Value any }

func (j Java) String() string { return javaser.Describe(j.Value) }

// Raw is a value this package does not decode further (RowData, Avro, …):
// the serializer's bytes.
type Raw []byte

// CaseClass is a Scala case class or tuple: its class and its fields in
// declaration order (the snapshot does not store field names).
type CaseClass struct {
	Class  string
	Fields []any
}

// Option is a Scala Option: Some(Value) or None.
type Option struct {
	Some  bool
	Value any
}

// Try is a Scala Try: Success(Value) or Failure(Value, the throwable).
type Try struct {
	Failure bool
	Value   any
}

// Enum is a constant of a Java enum (EnumSerializer) or a Scala
// Enumeration value: its name where the snapshot lists it, and the
// ordinal or id stored.
type Enum struct {
	Name string
	ID   int32
}

// Kryo is a value Flink serialized with Kryo (KryoSerializer): Kryo's
// format depends on the job's classes and registrations, so the bytes are
// kept as they are. It is decoded only where its extent is known: a whole
// state value, or the last field of one.
type Kryo struct {
	Class string // the type the serializer was created for
	Bytes []byte
}

// Decoder decodes the values of one serializer.
type Decoder interface {
	// Decode decodes the value at the start of b and returns it with the
	// number of bytes it occupies.
	Decode(b []byte) (any, int, error)
}

// DecodeFunc adapts a function to Decoder.
type DecodeFunc func(b []byte) (any, int, error)

func (f DecodeFunc) Decode(b []byte) (any, int, error) { return f(b) }

// UnsupportedError names a serializer snapshot class whose values this
// package cannot decode.
type UnsupportedError struct{ Class string }

func (e *UnsupportedError) Error() string {
	return "values of serializer " + e.Class + " are not decoded"
}

func fixed(n int, f func(b []byte) any) Decoder {
	return DecodeFunc(func(b []byte) (any, int, error) {
		if len(b) < n {
			return nil, 0, short("value", n, len(b))
		}
		return f(b), n, nil
	})
}

const (
	pBase  = "org.apache.flink.api.common.typeutils.base."
	pArray = "org.apache.flink.api.common.typeutils.base.array."
	pRT    = "org.apache.flink.api.java.typeutils.runtime."
	pTable = "org.apache.flink.table.runtime.typeutils."
	pScala = "org.apache.flink.api.scala.typeutils."
)

// For returns the decoder for values written by the serializer s describes.
func For(s *state.Snapshot) (Decoder, error) {
	if s == nil {
		return nil, &UnsupportedError{Class: "<missing snapshot>"}
	}
	switch s.Class {
	case pBase + "LongSerializer$LongSerializerSnapshot":
		return fixed(8, func(b []byte) any { return int64(binary.BigEndian.Uint64(b)) }), nil
	case pBase + "IntSerializer$IntSerializerSnapshot":
		return fixed(4, func(b []byte) any { return int32(binary.BigEndian.Uint32(b)) }), nil
	case pBase + "ShortSerializer$ShortSerializerSnapshot":
		return fixed(2, func(b []byte) any { return int16(binary.BigEndian.Uint16(b)) }), nil
	case pBase + "CharSerializer$CharSerializerSnapshot":
		return fixed(2, func(b []byte) any { return binary.BigEndian.Uint16(b) }), nil
	case pBase + "ByteSerializer$ByteSerializerSnapshot":
		return fixed(1, func(b []byte) any { return int8(b[0]) }), nil
	case pBase + "BooleanSerializer$BooleanSerializerSnapshot":
		return fixed(1, func(b []byte) any { return b[0] != 0 }), nil
	case pBase + "DoubleSerializer$DoubleSerializerSnapshot":
		return fixed(8, func(b []byte) any { return math.Float64frombits(binary.BigEndian.Uint64(b)) }), nil
	case pBase + "FloatSerializer$FloatSerializerSnapshot":
		return fixed(4, func(b []byte) any { return math.Float32frombits(binary.BigEndian.Uint32(b)) }), nil
	case "org.apache.flink.runtime.state.VoidNamespaceSerializer$VoidNamespaceSerializerSnapshot":
		return fixed(1, func([]byte) any { return Void{} }), nil
	case pBase + "StringSerializer$StringSerializerSnapshot":
		return DecodeFunc(func(b []byte) (any, int, error) {
			s, null, n, err := String(b)
			if null {
				return nil, n, err
			}
			return s, n, err
		}), nil
	case pArray + "BytePrimitiveArraySerializer$BytePrimitiveArraySerializerSnapshot":
		return DecodeFunc(func(b []byte) (any, int, error) {
			v, n, err := Bytes(b)
			return v, n, err
		}), nil
	case "org.apache.flink.runtime.state.JavaSerializer$JavaSerializerSnapshot",
		"org.apache.flink.api.java.typeutils.runtime.kryo.JavaSerializer$JavaSerializerSnapshot":
		return DecodeFunc(func(b []byte) (any, int, error) {
			v, n, err := javaser.Read(b, 0)
			return Java{v}, n, err
		}), nil
	case pRT + "TupleSerializerSnapshot", pRT + "TupleSerializerConfigSnapshot":
		return tupleDecoder(s)
	case "org.apache.flink.streaming.api.operators.TimerSerializerSnapshot":
		return timerDecoder(s)
	case pBase + "ListSerializerSnapshot", pBase + "CollectionSerializerConfigSnapshot",
		"org.apache.flink.runtime.state.ArrayListSerializerSnapshot":
		if p, _ := s.Param("hasNullMask"); p.Int != 0 {
			return nil, &UnsupportedError{Class: s.Class + " with a null mask"}
		}
		return listDecoder(s, false)
	case pBase + "MapSerializerSnapshot", pBase + "MapSerializerConfigSnapshot":
		return mapDecoder(s)
	case pRT + "JavaEitherSerializerSnapshot", pRT + "EitherSerializerSnapshot", pRT + "EitherSerializerConfigSnapshot":
		return eitherDecoder(s)
	case pRT + "PojoSerializerSnapshot", pRT + "PojoSerializer$PojoSerializerConfigSnapshot":
		return pojoDecoder(s)
	case "org.apache.flink.api.java.typeutils.runtime.kryo.KryoSerializerSnapshot":
		class := s.Str("typeClass")
		return DecodeFunc(func(b []byte) (any, int, error) { return Kryo{Class: class, Bytes: b}, len(b), nil }), nil
	case pBase + "EnumSerializer$EnumSerializerSnapshot", pScala + "ScalaEnumSerializerSnapshot":
		names := enumNames(s)
		return fixed(4, func(b []byte) any {
			id := int32(binary.BigEndian.Uint32(b))
			return Enum{Name: names[id], ID: id}
		}), nil
	case pScala + "ScalaCaseClassSerializerSnapshot", pScala + "Tuple2CaseClassSerializerSnapshot":
		t, err := tupleDecoder(s)
		if err != nil {
			return nil, err
		}
		class := s.Str("caseClass")
		return DecodeFunc(func(b []byte) (any, int, error) {
			v, n, err := t.Decode(b)
			if err != nil {
				return nil, 0, err
			}
			return CaseClass{Class: class, Fields: v.(Tuple)}, n, nil
		}), nil
	case pScala + "ScalaOptionSerializerSnapshot":
		ds, err := nestedDecoders(s, 1)
		if err != nil {
			return nil, err
		}
		return flagged(nil, ds[0], func(some bool, v any) any { return Option{Some: some, Value: v} }), nil
	case pScala + "ScalaEitherSerializerSnapshot":
		ds, err := nestedDecoders(s, 2)
		if err != nil {
			return nil, err
		}
		return flagged(ds[1], ds[0], func(left bool, v any) any { return Either{Left: left, Value: v} }), nil
	case pScala + "ScalaTrySerializerSnapshot":
		ds, err := nestedDecoders(s, 2)
		if err != nil {
			return nil, err
		}
		return flagged(ds[1], ds[0], func(success bool, v any) any { return Try{Failure: !success, Value: v} }), nil
	case pScala + "TraversableSerializerSnapshot", pBase + "GenericArraySerializerSnapshot":
		return listDecoder(s, true)
	case "org.apache.flink.runtime.state.ttl.TtlStateFactory$TtlSerializerSnapshot":
		ds, err := nestedDecoders(s, 2)
		if err != nil {
			return nil, err
		}
		return DecodeFunc(func(b []byte) (any, int, error) {
			ts, n, err := ds[0].Decode(b)
			if err != nil {
				return nil, 0, fmt.Errorf("TTL timestamp: %w", err)
			}
			v, m, err := ds[1].Decode(b[n:])
			if err != nil {
				return nil, 0, fmt.Errorf("TTL value: %w", err)
			}
			last, _ := ts.(int64)
			return TTL{LastAccess: last, Value: v}, n + m, nil
		}), nil
	case "org.apache.flink.api.common.typeutils.ParameterlessTypeSerializerConfig":
		id := s.Str("serializationFormatIdentifier")
		short := id[strings.LastIndexByte(id, '.')+1:]
		return For(&state.Snapshot{Class: id + "$" + short + "Snapshot", Version: 3})
	case "org.apache.flink.formats.avro.typeutils.AvroSerializerSnapshot",
		"org.apache.flink.formats.avro.typeutils.AvroSerializer$AvroSchemaSerializerConfigSnapshot":
		sch, err := avro.Parse(s.Str("schema"))
		if err != nil {
			return nil, err
		}
		return DecodeFunc(func(b []byte) (any, int, error) { return sch.Decode(b, avro.Flink) }), nil
	case "org.apache.flink.test.migration.TypeSerializerSnapshotMigrationITCase$TestSerializerSnapshot":
		return fixed(8, func(b []byte) any { return int64(binary.BigEndian.Uint64(b)) }), nil
	}
	// Serializers whose extent is known but whose values are not decoded
	// further come back as Raw bytes.
	if l, err := state.LayoutOf(s); err == nil {
		return DecodeFunc(func(b []byte) (any, int, error) {
			n, err := l.Measure(b)
			if err != nil {
				return nil, 0, err
			}
			return Raw(b[:n]), n, nil
		}), nil
	}
	return nil, &UnsupportedError{Class: s.Class}
}

func nestedDecoders(s *state.Snapshot, want int) ([]Decoder, error) {
	n := s.Nested()
	if want >= 0 && len(n) != want {
		return nil, fmt.Errorf("%s: %d nested serializers, want %d", s.Class, len(n), want)
	}
	ds := make([]Decoder, len(n))
	for i, x := range n {
		d, err := For(x)
		if err != nil {
			return nil, err
		}
		ds[i] = d
	}
	return ds, nil
}

func tupleDecoder(s *state.Snapshot) (Decoder, error) {
	ds, err := nestedDecoders(s, -1)
	if err != nil {
		return nil, err
	}
	return DecodeFunc(func(b []byte) (any, int, error) {
		t := make(Tuple, len(ds))
		i := 0
		for k, d := range ds {
			v, n, err := d.Decode(b[i:])
			if err != nil {
				return nil, 0, fmt.Errorf("tuple field f%d: %w", k, err)
			}
			t[k] = v
			i += n
		}
		return t, i, nil
	}), nil
}

func timerDecoder(s *state.Snapshot) (Decoder, error) {
	ds, err := nestedDecoders(s, 2)
	if err != nil {
		return nil, err
	}
	return DecodeFunc(func(b []byte) (any, int, error) {
		ts, err := TimerTimestamp(b)
		if err != nil {
			return nil, 0, err
		}
		k, n, err := ds[0].Decode(b[8:])
		if err != nil {
			return nil, 0, fmt.Errorf("timer key: %w", err)
		}
		ns, m, err := ds[1].Decode(b[8+n:])
		if err != nil {
			return nil, 0, fmt.Errorf("timer namespace: %w", err)
		}
		return Timer{Timestamp: ts, Key: k, Namespace: ns}, 8 + n + m, nil
	}), nil
}

// count reads the i32 element count of list and map serializers.
func count(b []byte, what string) (int, error) {
	if len(b) < 4 {
		return 0, short(what+" size", 4, len(b))
	}
	n := int(int32(binary.BigEndian.Uint32(b)))
	if n < 0 || n > len(b)-4 {
		return 0, fmt.Errorf("%s: size %d with %d bytes left", what, n, len(b)-4)
	}
	return n, nil
}

// listDecoder decodes ListSerializer bytes (heap layout and nested lists):
// i32 size, elements; with nullFlags (Scala collections, Java arrays) each
// element is behind a non-null flag.
func listDecoder(s *state.Snapshot, nullFlags bool) (Decoder, error) {
	ds, err := nestedDecoders(s, 1)
	if err != nil {
		return nil, err
	}
	if nullFlags {
		ds[0] = flagged(nil, ds[0], func(_ bool, v any) any { return v })
	}
	return DecodeFunc(func(b []byte) (any, int, error) {
		n, err := count(b, "list")
		if err != nil {
			return nil, 0, err
		}
		l := make(List, 0, n)
		i := 4
		for k := 0; k < n; k++ {
			v, m, err := ds[0].Decode(b[i:])
			if err != nil {
				return nil, 0, fmt.Errorf("list element %d: %w", k, err)
			}
			l = append(l, v)
			i += m
		}
		return l, i, nil
	}), nil
}

// mapDecoder decodes MapSerializer bytes: i32 size, then per entry key,
// null flag, value unless null.
func mapDecoder(s *state.Snapshot) (Decoder, error) {
	ds, err := nestedDecoders(s, 2)
	if err != nil {
		return nil, err
	}
	return DecodeFunc(func(b []byte) (any, int, error) {
		n, err := count(b, "map")
		if err != nil {
			return nil, 0, err
		}
		m := make(Map, 0, n)
		i := 4
		for k := 0; k < n; k++ {
			key, a, err := ds[0].Decode(b[i:])
			if err != nil {
				return nil, 0, fmt.Errorf("map key %d: %w", k, err)
			}
			i += a
			if i >= len(b) {
				return nil, 0, short("map null flag", 1, 0)
			}
			null := b[i] != 0
			i++
			e := MapEntry{Key: key, Null: null}
			if !null {
				v, c, err := ds[1].Decode(b[i:])
				if err != nil {
					return nil, 0, fmt.Errorf("map value %d: %w", k, err)
				}
				e.Value = v
				i += c
			}
			m = append(m, e)
		}
		return m, i, nil
	}), nil
}

// flagged decodes a boolean byte, then what ifFalse or ifTrue decodes (nil:
// nothing follows), and wraps the two with wrap.
func flagged(ifFalse, ifTrue Decoder, wrap func(flag bool, v any) any) Decoder {
	return DecodeFunc(func(b []byte) (any, int, error) {
		if len(b) < 1 {
			return nil, 0, short("flag", 1, 0)
		}
		flag := b[0] != 0
		d := ifFalse
		if flag {
			d = ifTrue
		}
		if d == nil {
			return wrap(flag, nil), 1, nil
		}
		v, n, err := d.Decode(b[1:])
		if err != nil {
			return nil, 0, err
		}
		return wrap(flag, v), 1 + n, nil
	})
}

// enumNames maps the ordinals or ids an enum snapshot lists to names.
func enumNames(s *state.Snapshot) map[int32]string {
	names := map[int32]string{}
	var ids []int32
	var strs []string
	for _, p := range s.Parts {
		switch p.Name {
		case "constant", "valueName":
			strs = append(strs, p.Str)
		case "valueId":
			ids = append(ids, int32(p.Int))
		}
	}
	for i, n := range strs {
		id := int32(i)
		if i < len(ids) {
			id = ids[i]
		}
		names[id] = n
	}
	return names
}

func eitherDecoder(s *state.Snapshot) (Decoder, error) {
	ds, err := nestedDecoders(s, 2)
	if err != nil {
		return nil, err
	}
	return DecodeFunc(func(b []byte) (any, int, error) {
		if len(b) < 1 {
			return nil, 0, short("Either tag", 1, 0)
		}
		left := b[0] != 0
		d := ds[1]
		if left {
			d = ds[0]
		}
		v, n, err := d.Decode(b[1:])
		if err != nil {
			return nil, 0, err
		}
		return Either{Left: left, Value: v}, 1 + n, nil
	}), nil
}

func pojoDecoder(s *state.Snapshot) (Decoder, error) {
	nf := 0
	if p, ok := s.Param("fieldCount"); ok {
		nf = int(p.Int)
	}
	var names []string
	for _, p := range PojoFieldNames(s) {
		names = append(names, p)
	}
	nested := s.Nested()
	if nf > len(nested) || nf != len(names) {
		return nil, fmt.Errorf("%s: %d fields, %d names, %d nested serializers", s.Class, nf, len(names), len(nested))
	}
	ds := make([]Decoder, nf)
	for i := range ds {
		d, err := For(nested[i])
		if err != nil {
			return nil, err
		}
		ds[i] = d
	}
	class := s.Str("pojoClass")
	return DecodeFunc(func(b []byte) (any, int, error) {
		if len(b) < 1 {
			return nil, 0, short("POJO flags", 1, 0)
		}
		switch b[0] {
		case 1:
			return nil, 1, nil
		case 2:
		default:
			return nil, 0, fmt.Errorf("POJO value of a subclass (flags %#x) is not decoded", b[0])
		}
		p := Pojo{Class: class, Fields: make([]PojoField, nf)}
		i := 1
		for k, d := range ds {
			p.Fields[k].Name = names[k]
			if i >= len(b) {
				return nil, 0, short("POJO field null flag", 1, 0)
			}
			null := b[i] != 0
			i++
			if null {
				continue
			}
			v, n, err := d.Decode(b[i:])
			if err != nil {
				return nil, 0, fmt.Errorf("POJO field %s: %w", names[k], err)
			}
			p.Fields[k].Value = v
			i += n
		}
		return p, i, nil
	}), nil
}

// PojoFieldNames are a POJO snapshot's field names in serialization order.
func PojoFieldNames(s *state.Snapshot) []string {
	var out []string
	var walk func([]state.Part)
	walk = func(ps []state.Part) {
		for _, p := range ps {
			if p.Name == "fieldName" {
				out = append(out, p.Str)
			}
			walk(p.Sub) // legacy configs keep names in a framed block
		}
	}
	walk(s.Parts)
	return out
}
