// Package avro reads Avro data given its writer schema: enough to find where
// a datum ends (Flink's AvroSerializer writes datums without a length) and to
// show its value. It reads two encodings of every schema type: Flink's
// (DataOutputEncoder, what AvroSerializer writes into state: big-endian
// ints, longs and union indexes, i32-prefixed strings, 7-bit-group item
// counts) and the standard Avro binary encoding (zigzag varints). It does
// not resolve reader against writer schemas.
package avro

import (
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"strings"
)

// ErrShort is wrapped by errors about data that ends inside a datum.
var ErrShort = errors.New("Avro datum is truncated")

type kind uint8

const (
	kNull kind = iota
	kBoolean
	kInt
	kLong
	kFloat
	kDouble
	kBytes
	kString
	kRecord
	kEnum
	kArray
	kMap
	kUnion
	kFixed
)

// Schema is a compiled Avro schema.
type Schema struct {
	kind    kind
	name    string    // records, enums, fixed: full name
	fields  []field   // records
	symbols []string  // enums
	items   *Schema   // arrays and maps
	union   []*Schema // unions
	size    int       // fixed
}

type field struct {
	name string
	typ  *Schema
}

// Parse compiles a schema from its JSON text.
func Parse(text string) (*Schema, error) {
	var v any
	if err := json.Unmarshal([]byte(text), &v); err != nil {
		return nil, fmt.Errorf("Avro schema: %v", err)
	}
	p := &parser{named: map[string]*Schema{}}
	return p.parse(v, "", 0)
}

type parser struct{ named map[string]*Schema }

var primitives = map[string]kind{"null": kNull, "boolean": kBoolean, "int": kInt, "long": kLong,
	"float": kFloat, "double": kDouble, "bytes": kBytes, "string": kString}

func fullName(name, ns string) string {
	if strings.Contains(name, ".") || ns == "" {
		return name
	}
	return ns + "." + name
}

func (p *parser) parse(v any, ns string, depth int) (*Schema, error) {
	if depth > 64 {
		return nil, errors.New("Avro schema nested too deeply")
	}
	switch x := v.(type) {
	case string:
		if k, ok := primitives[x]; ok {
			return &Schema{kind: k}, nil
		}
		if s, ok := p.named[fullName(x, ns)]; ok {
			return s, nil
		}
		if s, ok := p.named[x]; ok {
			return s, nil
		}
		return nil, fmt.Errorf("Avro schema: unknown type %q", x)
	case []any:
		s := &Schema{kind: kUnion}
		for _, b := range x {
			bs, err := p.parse(b, ns, depth+1)
			if err != nil {
				return nil, err
			}
			s.union = append(s.union, bs)
		}
		return s, nil
	case map[string]any:
		t, _ := x["type"].(string)
		if t == "" {
			if inner, ok := x["type"]; ok {
				return p.parse(inner, ns, depth+1)
			}
			return nil, errors.New("Avro schema: object without type")
		}
		name, _ := x["name"].(string)
		if n, ok := x["namespace"].(string); ok && n != "" {
			ns = n
		}
		switch t {
		case "record", "error":
			s := &Schema{kind: kRecord, name: fullName(name, ns)}
			p.named[s.name] = s
			if i := strings.LastIndexByte(s.name, '.'); i >= 0 {
				ns = s.name[:i]
			}
			fs, _ := x["fields"].([]any)
			for _, f := range fs {
				fm, ok := f.(map[string]any)
				if !ok {
					return nil, errors.New("Avro schema: record field is not an object")
				}
				fn, _ := fm["name"].(string)
				ft, err := p.parse(fm["type"], ns, depth+1)
				if err != nil {
					return nil, err
				}
				s.fields = append(s.fields, field{fn, ft})
			}
			return s, nil
		case "enum":
			s := &Schema{kind: kEnum, name: fullName(name, ns)}
			p.named[s.name] = s
			syms, _ := x["symbols"].([]any)
			for _, y := range syms {
				str, _ := y.(string)
				s.symbols = append(s.symbols, str)
			}
			return s, nil
		case "fixed":
			s := &Schema{kind: kFixed, name: fullName(name, ns)}
			size, _ := x["size"].(float64)
			if size < 0 || size > 1<<30 {
				return nil, fmt.Errorf("Avro schema: fixed size %v", size)
			}
			s.size = int(size)
			p.named[s.name] = s
			return s, nil
		case "array", "map":
			key := "items"
			k := kArray
			if t == "map" {
				key, k = "values", kMap
			}
			it, err := p.parse(x[key], ns, depth+1)
			if err != nil {
				return nil, err
			}
			return &Schema{kind: k, items: it}, nil
		}
		return p.parse(t, ns, depth+1) // primitive with attributes (logicalType, …)
	}
	return nil, fmt.Errorf("Avro schema: unexpected %T", v)
}

// Record is a decoded record.
type Record struct {
	Name   string
	Fields []Field
}

// Field is one record field.
type Field struct {
	Name  string
	Value any
}

// Get returns the value of the named field.
func (r Record) Get(name string) (any, bool) {
	for _, f := range r.Fields {
		if f.Name == name {
			return f.Value, true
		}
	}
	return nil, false
}

// Enum is an enum symbol.
type Enum struct {
	Index  int
	Symbol string
}

// MapEntry is one entry of an Avro map.
type MapEntry struct {
	Key   string
	Value any
}

type decoder struct {
	b     []byte
	i     int
	build bool
	flink bool
	depth int
}

// Encoding selects the wire encoding.
type Encoding uint8

const (
	Flink  Encoding = iota // Flink's DataOutputEncoder (AvroSerializer)
	Binary                 // standard Avro binary encoding
)

func (d *decoder) fixedInt(n int, what string) (int64, error) {
	b, err := d.take(int64(n), what)
	if err != nil {
		return 0, err
	}
	if n == 4 {
		return int64(int32(binary.BigEndian.Uint32(b))), nil
	}
	return int64(binary.BigEndian.Uint64(b)), nil
}

// intv reads an int (or enum ordinal, or union index).
func (d *decoder) intv(what string) (int64, error) {
	if d.flink {
		return d.fixedInt(4, what)
	}
	return d.varlong()
}

func (d *decoder) longv() (int64, error) {
	if d.flink {
		return d.fixedInt(8, "long")
	}
	return d.varlong()
}

// length reads a bytes/string length.
func (d *decoder) length() (int64, error) {
	if d.flink {
		return d.fixedInt(4, "length")
	}
	return d.varlong()
}

// count reads an array/map block count.
func (d *decoder) count() (int64, error) {
	if !d.flink {
		return d.varlong()
	}
	u, n := binary.Uvarint(d.b[d.i:])
	if n == 0 {
		return 0, d.short("count")
	}
	if n < 0 || u > math.MaxInt64 {
		return 0, fmt.Errorf("count at byte %d overflows", d.i)
	}
	d.i += n
	return int64(u), nil
}

func (d *decoder) short(what string) error {
	return fmt.Errorf("%s at byte %d: %w", what, d.i, ErrShort)
}

func (d *decoder) varlong() (int64, error) {
	u, n := binary.Uvarint(d.b[d.i:])
	if n == 0 {
		return 0, d.short("varint")
	}
	if n < 0 {
		return 0, fmt.Errorf("varint at byte %d overflows", d.i)
	}
	d.i += n
	return int64(u>>1) ^ -int64(u&1), nil
}

func (d *decoder) take(n int64, what string) ([]byte, error) {
	if n < 0 {
		return nil, fmt.Errorf("%s at byte %d: negative length %d", what, d.i, n)
	}
	if n > int64(len(d.b)-d.i) {
		return nil, d.short(what)
	}
	b := d.b[d.i : d.i+int(n)]
	d.i += int(n)
	return b, nil
}

func (d *decoder) read(s *Schema) (any, error) {
	d.depth++
	defer func() { d.depth-- }()
	if d.depth > 256 {
		return nil, errors.New("Avro datum nested too deeply")
	}
	switch s.kind {
	case kNull:
		return nil, nil
	case kBoolean:
		b, err := d.take(1, "boolean")
		if err != nil {
			return nil, err
		}
		return b[0] != 0, nil
	case kInt:
		v, err := d.intv("int")
		return int32(v), err
	case kLong:
		return d.longv()
	case kFloat:
		b, err := d.take(4, "float")
		if err != nil {
			return nil, err
		}
		if d.flink {
			return math.Float32frombits(binary.BigEndian.Uint32(b)), nil
		}
		return math.Float32frombits(binary.LittleEndian.Uint32(b)), nil
	case kDouble:
		b, err := d.take(8, "double")
		if err != nil {
			return nil, err
		}
		if d.flink {
			return math.Float64frombits(binary.BigEndian.Uint64(b)), nil
		}
		return math.Float64frombits(binary.LittleEndian.Uint64(b)), nil
	case kBytes, kString:
		n, err := d.length()
		if err != nil {
			return nil, err
		}
		b, err := d.take(n, "bytes")
		if err != nil || !d.build {
			return nil, err
		}
		if s.kind == kString {
			return string(b), nil
		}
		return b, nil
	case kFixed:
		b, err := d.take(int64(s.size), "fixed")
		return b, err
	case kEnum:
		v, err := d.intv("enum")
		if err != nil {
			return nil, err
		}
		if v < 0 || v >= int64(len(s.symbols)) {
			return nil, fmt.Errorf("enum %s: index %d of %d symbols", s.name, v, len(s.symbols))
		}
		return Enum{int(v), s.symbols[v]}, nil
	case kRecord:
		var r Record
		if d.build {
			r = Record{Name: s.name, Fields: make([]Field, len(s.fields))}
		}
		for k, f := range s.fields {
			v, err := d.read(f.typ)
			if err != nil {
				return nil, fmt.Errorf("%s.%s: %w", s.name, f.name, err)
			}
			if d.build {
				r.Fields[k] = Field{f.name, v}
			}
		}
		return r, nil
	case kUnion:
		v, err := d.intv("union index")
		if err != nil {
			return nil, err
		}
		if v < 0 || v >= int64(len(s.union)) {
			return nil, fmt.Errorf("union branch %d of %d", v, len(s.union))
		}
		return d.read(s.union[v])
	case kArray, kMap:
		var arr []any
		var m []MapEntry
		for {
			n, err := d.count()
			if err != nil {
				return nil, err
			}
			if n == 0 {
				break
			}
			if n < 0 {
				n = -n
				if _, err := d.varlong(); err != nil { // block size in bytes
					return nil, err
				}
			}
			// Every item takes at least a byte, except nulls; bound both.
			if n > int64(len(d.b)-d.i)+1 {
				return nil, d.short("block")
			}
			for k := int64(0); k < n; k++ {
				var key string
				if s.kind == kMap {
					kl, err := d.length()
					if err != nil {
						return nil, err
					}
					kb, err := d.take(kl, "map key")
					if err != nil {
						return nil, err
					}
					key = string(kb)
				}
				v, err := d.read(s.items)
				if err != nil {
					return nil, err
				}
				if d.build {
					if s.kind == kMap {
						m = append(m, MapEntry{key, v})
					} else {
						arr = append(arr, v)
					}
				}
			}
		}
		if s.kind == kMap {
			return m, nil
		}
		return arr, nil
	}
	return nil, fmt.Errorf("unknown Avro kind %d", s.kind)
}

// Measure returns the length of the datum at the start of b.
func (s *Schema) Measure(b []byte, enc Encoding) (int, error) {
	d := decoder{b: b, flink: enc == Flink}
	_, err := d.read(s)
	return d.i, err
}

// Decode decodes the datum at the start of b and returns it with its length.
// Records decode to Record, enums to Enum, maps to []MapEntry, arrays to
// []any, strings to string, bytes and fixed to []byte.
func (s *Schema) Decode(b []byte, enc Encoding) (any, int, error) {
	d := decoder{b: b, build: true, flink: enc == Flink}
	v, err := d.read(s)
	return v, d.i, err
}
