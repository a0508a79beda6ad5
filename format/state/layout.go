package state

import (
	"encoding/binary"
	"errors"
	"fmt"
	"strings"

	"github.com/fsnap/fsnap/format/javaser"
	"github.com/fsnap/fsnap/format/state/avro"
)

// ValueLayout tells how one serializer lays out a value on the wire: enough
// to find where a serialized value ends, which streams without lengths (heap
// key groups, composite keys, broadcast and list operator state) need.
type ValueLayout struct {
	Snapshot *Snapshot
	// FlinkLength is what the serializer's TypeSerializer.getLength()
	// returns: ≥ 0 for serializers Flink treats as fixed-length (0 for
	// VoidNamespace and windows, which still write bytes), -1 otherwise. It
	// decides whether composite keys carry length suffixes.
	FlinkLength int
	// Size is the exact serialized size when every value has the same size,
	// else -1.
	Size int

	measure func(b []byte) (int, error)
}

// Measure returns the length of the serialized value at the start of b.
func (l *ValueLayout) Measure(b []byte) (int, error) {
	if l.Size >= 0 {
		if len(b) < l.Size {
			return 0, errShort
		}
		return l.Size, nil
	}
	return l.measure(b)
}

// NoLayoutError reports a serializer whose wire format this package cannot
// measure.
type NoLayoutError struct{ Class string }

func (e *NoLayoutError) Error() string {
	return fmt.Sprintf("values of serializer snapshot %s cannot be measured (format unknown to fsnap)", e.Class)
}

func fixed(s *Snapshot, flinkLen, size int) *ValueLayout {
	return &ValueLayout{Snapshot: s, FlinkLength: flinkLen, Size: size}
}

func variable(s *Snapshot, m func(b []byte) (int, error)) *ValueLayout {
	return &ValueLayout{Snapshot: s, FlinkLength: -1, Size: -1, measure: m}
}

var errTruncated = errShort

// lenPrefixed measures i32 length + length*unit bytes (-1 allowed as null
// when nullOK).
func lenPrefixed(unit int, nullOK bool) func(b []byte) (int, error) {
	return func(b []byte) (int, error) {
		if len(b) < 4 {
			return 0, errTruncated
		}
		n := int64(int32(binary.BigEndian.Uint32(b)))
		if n < 0 {
			if nullOK && n == -1 {
				return 4, nil
			}
			return 0, fmt.Errorf("negative length %d", n)
		}
		total := 4 + n*int64(unit)
		if total > int64(len(b)) {
			return 0, errTruncated
		}
		return int(total), nil
	}
}

// LayoutOf returns the value layout of a serializer snapshot, or a
// *NoLayoutError naming the first class whose format is unknown.
func LayoutOf(s *Snapshot) (*ValueLayout, error) {
	if s == nil {
		return nil, &NoLayoutError{Class: "<missing>"}
	}
	if s.Opaque {
		return nil, &NoLayoutError{Class: s.Class}
	}
	switch s.Class {
	case pBase + "LongSerializer$LongSerializerSnapshot", pBase + "DoubleSerializer$DoubleSerializerSnapshot":
		return fixed(s, 8, 8), nil
	case pBase + "IntSerializer$IntSerializerSnapshot", pBase + "FloatSerializer$FloatSerializerSnapshot",
		pBase + "EnumSerializer$EnumSerializerSnapshot":
		return fixed(s, 4, 4), nil
	case pBase + "ShortSerializer$ShortSerializerSnapshot", pBase + "CharSerializer$CharSerializerSnapshot":
		return fixed(s, 2, 2), nil
	case pBase + "ByteSerializer$ByteSerializerSnapshot", pBase + "BooleanSerializer$BooleanSerializerSnapshot":
		return fixed(s, 1, 1), nil
	case pState + "VoidNamespaceSerializer$VoidNamespaceSerializerSnapshot",
		"org.apache.flink.streaming.api.windowing.windows.GlobalWindow$Serializer$GlobalWindowSerializerSnapshot",
		"org.apache.flink.table.dataview.NullSerializer$NullSerializerSnapshot":
		return fixed(s, 0, 1), nil
	case "org.apache.flink.streaming.api.windowing.windows.TimeWindow$Serializer$TimeWindowSerializerSnapshot",
		"org.apache.flink.table.runtime.operators.window.TimeWindow$Serializer$TimeWindowSerializerSnapshot":
		return fixed(s, 0, 16), nil
	case pBase + "StringSerializer$StringSerializerSnapshot":
		return variable(s, StringValueLen), nil
	case pArray + "BytePrimitiveArraySerializer$BytePrimitiveArraySerializerSnapshot",
		pTable + "StringDataSerializer$StringDataSerializerSnapshot",
		pTable + "RowDataSerializer$RowDataSerializerSnapshot",
		pTable + "BinaryRowDataSerializer$BinaryRowDataSerializerSnapshot",
		pTable + "RawValueDataSerializer$RawValueDataSerializerSnapshot":
		return variable(s, lenPrefixed(1, false)), nil
	case pArray + "IntPrimitiveArraySerializer$IntPrimitiveArraySerializerSnapshot",
		pArray + "FloatPrimitiveArraySerializer$FloatPrimitiveArraySerializerSnapshot":
		return variable(s, lenPrefixed(4, false)), nil
	case pArray + "LongPrimitiveArraySerializer$LongPrimitiveArraySerializerSnapshot",
		pArray + "DoublePrimitiveArraySerializer$DoublePrimitiveArraySerializerSnapshot":
		return variable(s, lenPrefixed(8, false)), nil
	case pState + "JavaSerializer$JavaSerializerSnapshot",
		"org.apache.flink.api.java.typeutils.runtime.kryo.JavaSerializer$JavaSerializerSnapshot":
		return variable(s, javaser.Skip), nil
	case pTable + "TimestampDataSerializer$TimestampDataSerializerSnapshot":
		if p, _ := s.Param("precision"); p.Int <= 3 {
			return fixed(s, 8, 8), nil
		}
		return fixed(s, 12, 12), nil
	case pTable + "DecimalDataSerializer$DecimalSerializerSnapshot":
		if p, _ := s.Param("precision"); p.Int <= 18 {
			return fixed(s, 8, 8), nil
		}
		return variable(s, lenPrefixed(1, false)), nil
	case pTable + "ExternalSerializer$ExternalSerializerSnapshot":
		return nestedLayout(s, 0)
	case pRuntime + "TupleSerializerSnapshot":
		return sequenceLayout(s, s.Nested())
	case "org.apache.flink.streaming.api.operators.TimerSerializerSnapshot",
		"org.apache.flink.streaming.api.operators.TimerSerializer$TimerSerializerConfigSnapshot":
		n := s.Nested()
		if len(n) != 2 {
			return nil, fmt.Errorf("%s: %d nested serializers, want 2", s.Class, len(n))
		}
		k, err := LayoutOf(n[0])
		if err != nil {
			return nil, err
		}
		ns, err := LayoutOf(n[1])
		if err != nil {
			return nil, err
		}
		l := seq(s, []*ValueLayout{fixed(nil, 8, 8), k, ns})
		return l, nil
	case ScalaCaseClassSnapshotClass, pScala + "Tuple2CaseClassSerializerSnapshot":
		return sequenceLayout(s, s.Nested())
	case pScala + "ScalaEnumSerializerSnapshot":
		return fixed(s, 4, 4), nil // the value's id as an int
	case pScala + "UnitSerializer$UnitSerializerSnapshot":
		return fixed(s, 1, 1), nil
	case pScala + "ScalaOptionSerializerSnapshot":
		el, err := nestedLayout(s, 0)
		if err != nil {
			return nil, err
		}
		return flagged(s, nil, el), nil // true: Some(elem)
	case pScala + "ScalaTrySerializerSnapshot":
		n := s.Nested()
		if len(n) != 2 {
			return nil, fmt.Errorf("%s: %d nested serializers, want 2", s.Class, len(n))
		}
		ok, err := LayoutOf(n[0])
		if err != nil {
			return nil, err
		}
		failure, err := LayoutOf(n[1])
		if err != nil {
			return nil, err
		}
		return flagged(s, failure, ok), nil // true: Success(value)
	case pScala + "TraversableSerializerSnapshot", pBase + "GenericArraySerializerSnapshot":
		// i32 n, then per element a non-null flag and the element if set.
		el, err := nestedLayout(s, 0)
		if err != nil {
			return nil, err
		}
		elem := flagged(nil, nil, el)
		return variable(s, func(b []byte) (int, error) { return countedMeasure(b, elem.Measure) }), nil
	case pBase + "ListSerializerSnapshot", pBase + "CollectionSerializerConfigSnapshot", pState + "ArrayListSerializerSnapshot":
		if p, _ := s.Param("hasNullMask"); p.Int != 0 {
			return nil, &NoLayoutError{Class: s.Class + " with a null mask"}
		}
		el, err := nestedLayout(s, 0)
		if err != nil {
			return nil, err
		}
		return variable(s, func(b []byte) (int, error) {
			return countedMeasure(b, func(b []byte) (int, error) { return el.Measure(b) })
		}), nil
	case pBase + "MapSerializerSnapshot", pBase + "MapSerializerConfigSnapshot":
		k, v, err := nestedPair(s)
		if err != nil {
			return nil, err
		}
		return variable(s, func(b []byte) (int, error) {
			return countedMeasure(b, func(b []byte) (int, error) {
				i, err := k.Measure(b)
				if err != nil {
					return 0, err
				}
				if i >= len(b) {
					return 0, errTruncated
				}
				if b[i] != 0 { // null value
					return i + 1, nil
				}
				j, err := v.Measure(b[i+1:])
				return i + 1 + j, err
			})
		}), nil
	case pTypes + "ParameterlessTypeSerializerConfig":
		// Pre-1.7 config of a parameterless serializer: its identifier is
		// the serializer class, whose modern snapshot has the same layout.
		id := s.Str("serializationFormatIdentifier")
		short := id[strings.LastIndexByte(id, '.')+1:]
		l, err := LayoutOf(&Snapshot{Class: id + "$" + short + "Snapshot", Version: 3})
		if err != nil {
			return nil, &NoLayoutError{Class: s.Class + " of " + id}
		}
		out := *l
		out.Snapshot = s
		return &out, nil
	case pRuntime + "TupleSerializerConfigSnapshot":
		return sequenceLayout(s, s.Nested())
	case pRuntime + "JavaEitherSerializerSnapshot", pRuntime + "EitherSerializerSnapshot", pRuntime + "EitherSerializerConfigSnapshot",
		pScala + "ScalaEitherSerializerSnapshot":
		l, r, err := nestedPair(s)
		if err != nil {
			return nil, err
		}
		return flagged(s, r, l), nil // true: Left
	case "org.apache.flink.runtime.state.ttl.TtlStateFactory$TtlSerializerSnapshot":
		return sequenceLayout(s, s.Nested())
	case pRuntime + "PojoSerializerSnapshot", pRuntime + "PojoSerializer$PojoSerializerConfigSnapshot":
		return pojoLayout(s)
	case "org.apache.flink.formats.avro.typeutils.AvroSerializerSnapshot",
		"org.apache.flink.formats.avro.typeutils.AvroSerializer$AvroSchemaSerializerConfigSnapshot":
		sch, err := avro.Parse(s.Str("schema"))
		if err != nil {
			return nil, fmt.Errorf("%s: %w", s.Class, err)
		}
		return variable(s, func(b []byte) (int, error) {
			n, err := sch.Measure(b, avro.Flink)
			if errors.Is(err, avro.ErrShort) {
				return 0, errShort
			}
			return n, err
		}), nil
	case "org.apache.flink.test.migration.TypeSerializerSnapshotMigrationITCase$TestSerializerSnapshot":
		// The corpus's test serializer writes a long [corpus].
		return fixed(s, -1, 8), nil
	}
	return nil, &NoLayoutError{Class: s.Class}
}

// flagged measures a boolean byte followed by what ifFalse or ifTrue
// measures (nil: nothing follows).
func flagged(s *Snapshot, ifFalse, ifTrue *ValueLayout) *ValueLayout {
	return variable(s, func(b []byte) (int, error) {
		if len(b) < 1 {
			return 0, errTruncated
		}
		side := ifFalse
		if b[0] != 0 {
			side = ifTrue
		}
		if side == nil {
			return 1, nil
		}
		j, err := side.Measure(b[1:])
		return 1 + j, err
	})
}

// countedMeasure measures an i32 count followed by that many elements.
func countedMeasure(b []byte, elem func([]byte) (int, error)) (int, error) {
	if len(b) < 4 {
		return 0, errTruncated
	}
	n := int32(binary.BigEndian.Uint32(b))
	if n < 0 {
		return 0, fmt.Errorf("negative element count %d", n)
	}
	i := 4
	for k := int32(0); k < n; k++ {
		if i >= len(b) {
			return 0, errTruncated
		}
		j, err := elem(b[i:])
		if err != nil {
			return 0, err
		}
		if j == 0 {
			return 0, fmt.Errorf("element %d of %d occupies no bytes", k, n)
		}
		i += j
	}
	return i, nil
}

func nestedLayout(s *Snapshot, i int) (*ValueLayout, error) {
	n := s.Nested()
	if i >= len(n) {
		return nil, fmt.Errorf("%s: missing nested serializer %d", s.Class, i)
	}
	l, err := LayoutOf(n[i])
	if err != nil {
		return nil, err
	}
	out := *l
	out.Snapshot = s
	return &out, nil
}

func sequenceLayout(s *Snapshot, nested []*Snapshot) (*ValueLayout, error) {
	ls := make([]*ValueLayout, 0, len(nested))
	for _, n := range nested {
		l, err := LayoutOf(n)
		if err != nil {
			return nil, err
		}
		ls = append(ls, l)
	}
	return seq(s, ls), nil
}

// seq lays out values one after the other (tuples, timers). Flink's length
// is the sum when every part reports a length ≥ 0.
func seq(s *Snapshot, ls []*ValueLayout) *ValueLayout {
	flink, size := 0, 0
	for _, l := range ls {
		if flink >= 0 {
			if l.FlinkLength < 0 {
				flink = -1
			} else {
				flink += l.FlinkLength
			}
		}
		if size >= 0 {
			if l.Size < 0 {
				size = -1
			} else {
				size += l.Size
			}
		}
	}
	out := &ValueLayout{Snapshot: s, FlinkLength: flink, Size: size}
	if size < 0 {
		out.measure = func(b []byte) (int, error) {
			i := 0
			for _, l := range ls {
				j, err := l.Measure(b[i:])
				if err != nil {
					return 0, err
				}
				i += j
			}
			return i, nil
		}
	}
	return out
}

// pojoLayout: PojoSerializer writes a flags byte (1 null, 2 exact class, 4
// subclass by name, 8 registered subclass tag) and, for the exact class,
// every field as a null flag plus the field serializer's bytes, in the order
// of the snapshot's field map. Subclass values cannot be measured.
func pojoLayout(s *Snapshot) (*ValueLayout, error) {
	nf := 0
	if p, ok := s.Param("fieldCount"); ok {
		nf = int(p.Int)
	}
	nested := s.Nested()
	if nf > len(nested) {
		return nil, fmt.Errorf("%s: %d fields but %d nested serializers", s.Class, nf, len(nested))
	}
	var fields []*ValueLayout
	for _, n := range nested[:nf] {
		if n == nil {
			return nil, &NoLayoutError{Class: s.Class + " (missing field serializer)"}
		}
		l, err := LayoutOf(n)
		if err != nil {
			return nil, err
		}
		fields = append(fields, l)
	}
	return variable(s, func(b []byte) (int, error) {
		if len(b) < 1 {
			return 0, errTruncated
		}
		switch b[0] {
		case 1:
			return 1, nil
		case 2:
		default:
			return 0, fmt.Errorf("POJO value written by a subclass serializer (flags %#x) cannot be measured", b[0])
		}
		i := 1
		for _, f := range fields {
			if i >= len(b) {
				return 0, errTruncated
			}
			null := b[i] != 0
			i++
			if null {
				continue
			}
			j, err := f.Measure(b[i:])
			if err != nil {
				return 0, err
			}
			i += j
		}
		return i, nil
	}), nil
}

// nestedPair is the layouts of a snapshot's two nested serializers (a
// map's key and value, an Either's left and right).
func nestedPair(s *Snapshot) (*ValueLayout, *ValueLayout, error) {
	n := s.Nested()
	if len(n) != 2 {
		return nil, nil, fmt.Errorf("%s: %d nested serializers, want 2", s.Class, len(n))
	}
	a, err := LayoutOf(n[0])
	if err != nil {
		return nil, nil, err
	}
	b, err := LayoutOf(n[1])
	return a, b, err
}
