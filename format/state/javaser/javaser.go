// Package javaser reads Java object serialization streams (the bytes of
// java.io.ObjectOutputStream) far enough to find where one stream ends and to
// show simple values.
//
// Flink embeds such streams without a length prefix in a few serializer
// snapshots (RowDataSerializer's logical types, legacy serializers) and in the
// values of JavaSerializer states. Finding the end needs the whole grammar of
// the Java Object Serialization Specification (chapter 6): class
// descriptors, field values, arrays, block data and back references. Classes
// that write custom data do so in block data terminated by TC_ENDBLOCKDATA,
// so no class-specific knowledge is needed; only Externalizable classes that
// were written with the pre-1.2 protocol (no block data) cannot be walked.
package javaser

import (
	"errors"
	"fmt"
	"math"
	"strings"

	"github.com/fsnap/fsnap/format/internal/binio"
)

// Stream magic and version (ObjectStreamConstants).
const (
	Magic   = 0xACED
	Version = 5
)

// Type codes.
const (
	tcNull           = 0x70
	tcReference      = 0x71
	tcClassDesc      = 0x72
	tcObject         = 0x73
	tcString         = 0x74
	tcArray          = 0x75
	tcClass          = 0x76
	tcBlockData      = 0x77
	tcEndBlockData   = 0x78
	tcReset          = 0x79
	tcBlockDataLong  = 0x7A
	tcException      = 0x7B
	tcLongString     = 0x7C
	tcProxyClassDesc = 0x7D
	tcEnum           = 0x7E

	baseWireHandle = 0x7E0000
)

// Class descriptor flags.
const (
	scWriteMethod    = 0x01
	scSerializable   = 0x02
	scExternalizable = 0x04
	scBlockData      = 0x08
	scEnum           = 0x10
)

// maxDepth bounds nesting so hostile input cannot exhaust the stack.
const maxDepth = 512

// Object is a deserialized object: its class and the values of its
// serializable fields, superclass fields first.
type Object struct {
	Class  *ClassDesc
	Fields []Field
	// Annotations are the custom data (block data bytes and objects) that
	// writeObject/writeExternal methods added, per class in the hierarchy.
	Annotations []any
}

// Field is one field value of an Object.
type Field struct {
	Class string // declaring class
	Name  string
	Value any // nil, bool, int8, uint16 (char), int16, int32, int64, float32, float64, string, *Object, *Array, *Enum, *ClassDesc, BlockData
}

// Get returns the value of the named field (the most derived class wins).
func (o *Object) Get(name string) (any, bool) {
	for i := len(o.Fields) - 1; i >= 0; i-- {
		if o.Fields[i].Name == name {
			return o.Fields[i].Value, true
		}
	}
	return nil, false
}

// Array is a Java array.
type Array struct {
	Class  *ClassDesc // e.g. "[I", "[Ljava.lang.String;"
	Values []any      // elements, except for byte arrays
	Bytes  []byte     // byte[] contents
}

// Enum is an enum constant.
type Enum struct {
	Class *ClassDesc
	Name  string
}

// BlockData is custom data written by a class's writeObject method.
type BlockData []byte

// ClassDesc is a class descriptor.
type ClassDesc struct {
	Name       string
	SerialUID  int64
	Flags      byte
	Fields     []FieldDesc
	Super      *ClassDesc
	Proxy      bool     // dynamic proxy class
	Interfaces []string // proxy interfaces
}

// FieldDesc describes one serializable field.
type FieldDesc struct {
	Type      byte // 'B','C','D','F','I','J','S','Z','L','['
	Name      string
	ClassName string // object fields: JVM signature such as "Ljava/lang/String;"
}

func (c *ClassDesc) String() string {
	if c == nil {
		return "<null class>"
	}
	return c.Name
}

// Error is a malformed stream.
type Error = binio.Error

type reader struct {
	d       *binio.Decoder
	handles []any
	depth   int
	skip    bool // only find the end: do not keep field values
}

// Read decodes one serialization stream (magic, version, one object) at the
// start of b, whose first byte is at file offset base. It returns the object
// and the number of bytes the stream occupies.
func Read(b []byte, base int64) (any, int, error) {
	d := binio.NewDecoder(b, base)
	v := ReadFrom(d)
	if err := d.Err(); err != nil {
		return nil, 0, err
	}
	return v, d.Pos(), nil
}

// ReadFrom decodes one stream (magic, version, one object) from d, leaving d
// after its last byte. Errors are recorded in d.
func ReadFrom(d *binio.Decoder) any {
	start := d.Offset()
	if m := d.U16("Java serialization magic"); !d.Failed() && m != Magic {
		d.FailAt(start, "Java serialization stream: bad magic %04x, want %04x", m, Magic)
		return nil
	}
	if v := d.U16("Java serialization version"); !d.Failed() && v != Version {
		d.FailAt(start+2, "Java serialization stream: version %d, want %d", v, Version)
		return nil
	}
	r := reader{d: d}
	return r.content(false)
}

// ErrTruncated is wrapped by Skip's error when b ends inside the stream.
var ErrTruncated = errors.New("Java serialization stream is truncated")

// SkipFrom is ReadFrom without building the object: it only advances d past
// the stream, which is much cheaper.
func SkipFrom(d *binio.Decoder) {
	start := d.Offset()
	if m := d.U16("Java serialization magic"); !d.Failed() && m != Magic {
		d.FailAt(start, "Java serialization stream: bad magic %04x, want %04x", m, Magic)
		return
	}
	if v := d.U16("Java serialization version"); !d.Failed() && v != Version {
		d.FailAt(start+2, "Java serialization stream: version %d, want %d", v, Version)
		return
	}
	r := reader{d: d, skip: true}
	r.content(false)
}

// Skip returns the length of the serialization stream at the start of b.
func Skip(b []byte) (int, error) {
	d := binio.NewDecoder(b, 0)
	SkipFrom(d)
	err := d.Err()
	n := d.Pos()
	var be *binio.Error
	if errors.As(err, &be) && strings.HasPrefix(be.Msg, "truncated") {
		return 0, fmt.Errorf("%w: %v", ErrTruncated, err)
	}
	return n, err
}

func (r *reader) newHandle(v any) int {
	r.handles = append(r.handles, v)
	return len(r.handles) - 1
}

// content reads one object (or block data when allowBlock).
func (r *reader) content(allowBlock bool) any {
	d := r.d
	r.depth++
	defer func() { r.depth-- }()
	if r.depth > maxDepth {
		d.Failf("Java serialization: nesting deeper than %d", maxDepth)
		return nil
	}
	for {
		at := d.Offset()
		tc := d.U8("Java serialization type code")
		if d.Failed() {
			return nil
		}
		switch tc {
		case tcNull:
			return nil
		case tcReference:
			h := d.I32("Java serialization handle")
			i := int64(h) - baseWireHandle
			if d.Failed() {
				return nil
			}
			if i < 0 || i >= int64(len(r.handles)) {
				d.FailAt(at, "Java serialization: reference to unknown handle 0x%x", h)
				return nil
			}
			return r.handles[i]
		case tcClassDesc, tcProxyClassDesc:
			d.FailAt(at, "Java serialization: class descriptor where an object was expected") // only reached via classDesc()
			return nil
		case tcObject:
			return r.object()
		case tcString:
			s := d.UTF("Java string")
			r.newHandle(s)
			return s
		case tcLongString:
			n := d.I64("Java long string length")
			if !d.Failed() && (n < 0 || n > int64(d.Remaining())) {
				d.FailAt(at, "Java long string: length %d exceeds the %d bytes that remain", n, d.Remaining())
				return nil
			}
			b := d.Bytes(int(n), "Java long string")
			s := string(b) // modified UTF-8; kept as bytes for long strings
			r.newHandle(s)
			return s
		case tcArray:
			return r.array()
		case tcClass:
			cd := r.classDesc()
			r.newHandle(cd)
			return cd
		case tcEnum:
			cd := r.classDesc()
			e := &Enum{Class: cd}
			r.newHandle(e)
			name, ok := r.content(false).(string)
			if !ok && !d.Failed() {
				d.FailAt(at, "Java serialization: enum constant name is not a string")
			}
			e.Name = name
			return e
		case tcBlockData, tcBlockDataLong:
			if !allowBlock {
				d.FailAt(at, "Java serialization: block data where an object was expected")
				return nil
			}
			var n int
			if tc == tcBlockData {
				n = int(d.U8("block data length"))
			} else {
				n = int(d.I32("block data length"))
			}
			return BlockData(d.Bytes(n, "block data"))
		case tcReset:
			r.handles = r.handles[:0]
			continue
		case tcException:
			d.FailAt(at, "Java serialization: stream holds an exception written during serialization")
			return nil
		case tcEndBlockData:
			d.FailAt(at, "Java serialization: unexpected end of block data")
			return nil
		default:
			d.FailAt(at, "Java serialization: unknown type code 0x%02x", tc)
			return nil
		}
	}
}

// classDesc reads a class descriptor (new, proxy, null or reference).
func (r *reader) classDesc() *ClassDesc {
	d := r.d
	r.depth++
	defer func() { r.depth-- }()
	if r.depth > maxDepth {
		d.Failf("Java serialization: nesting deeper than %d", maxDepth)
		return nil
	}
	at := d.Offset()
	tc := d.U8("Java class descriptor")
	if d.Failed() {
		return nil
	}
	switch tc {
	case tcNull:
		return nil
	case tcReference:
		h := d.I32("Java serialization handle")
		i := int64(h) - baseWireHandle
		if d.Failed() {
			return nil
		}
		if i < 0 || i >= int64(len(r.handles)) {
			d.FailAt(at, "Java serialization: reference to unknown handle 0x%x", h)
			return nil
		}
		cd, ok := r.handles[i].(*ClassDesc)
		if !ok {
			d.FailAt(at, "Java serialization: handle 0x%x is not a class descriptor", h)
		}
		return cd
	case tcClassDesc:
		cd := &ClassDesc{}
		cd.Name = d.UTF("Java class name")
		cd.SerialUID = d.I64("serialVersionUID")
		r.newHandle(cd)
		cd.Flags = d.U8("class descriptor flags")
		n := int(d.I16("field count"))
		if !d.Failed() && (n < 0 || n > d.Remaining()/3) {
			d.FailAt(at, "Java class %s: field count %d exceeds what remains", cd.Name, n)
			return nil
		}
		if n > 0 {
			cd.Fields = make([]FieldDesc, 0, n)
		}
		for i := 0; i < n && !d.Failed(); i++ {
			var f FieldDesc
			f.Type = d.U8("field type code")
			f.Name = d.UTF("field name")
			switch f.Type {
			case 'B', 'C', 'D', 'F', 'I', 'J', 'S', 'Z':
			case 'L', '[':
				s, ok := r.content(false).(string)
				if !ok && !d.Failed() {
					d.Failf("Java class %s field %s: type name is not a string", cd.Name, f.Name)
				}
				f.ClassName = s
			default:
				if !d.Failed() {
					d.Failf("Java class %s field %s: unknown field type code 0x%02x", cd.Name, f.Name, f.Type)
				}
			}
			cd.Fields = append(cd.Fields, f)
		}
		r.annotation()
		cd.Super = r.classDesc()
		return cd
	case tcProxyClassDesc:
		cd := &ClassDesc{Proxy: true, Flags: scSerializable}
		r.newHandle(cd)
		n := d.Count("proxy interface count", 2)
		for i := 0; i < n && !d.Failed(); i++ {
			cd.Interfaces = append(cd.Interfaces, d.UTF("proxy interface"))
		}
		r.annotation()
		cd.Super = r.classDesc()
		return cd
	}
	d.FailAt(at, "Java serialization: type code 0x%02x where a class descriptor was expected", tc)
	return nil
}

// annotation reads contents up to and including TC_ENDBLOCKDATA.
func (r *reader) annotation() []any {
	d := r.d
	var out []any
	for !d.Failed() {
		if d.Remaining() > 0 && d.Buffer()[d.Pos()] == tcEndBlockData {
			d.U8("end of block data")
			return out
		}
		v := r.content(true)
		if !r.skip {
			out = append(out, v)
		}
	}
	return out
}

func (r *reader) object() *Object {
	d := r.d
	cd := r.classDesc()
	o := &Object{Class: cd}
	r.newHandle(o)
	if d.Failed() {
		return o
	}
	if cd == nil {
		d.Failf("Java serialization: object with a null class descriptor")
		return o
	}
	// Class data is written superclass first.
	var chain []*ClassDesc
	for c := cd; c != nil; c = c.Super {
		chain = append(chain, c)
		if len(chain) > maxDepth {
			d.Failf("Java serialization: class hierarchy deeper than %d", maxDepth)
			return o
		}
	}
	for i := len(chain) - 1; i >= 0 && !d.Failed(); i-- {
		c := chain[i]
		switch {
		case c.Flags&scExternalizable != 0:
			if c.Flags&scBlockData == 0 {
				d.Failf("Java class %s is Externalizable written without block data (protocol 1); its length is unknown", c.Name)
				return o
			}
			a := r.annotation()
			if !r.skip {
				o.Annotations = append(o.Annotations, a...)
			}
		case c.Flags&scSerializable != 0:
			for _, f := range c.Fields {
				v := r.fieldValue(f.Type)
				if !r.skip {
					o.Fields = append(o.Fields, Field{Class: c.Name, Name: f.Name, Value: v})
				}
			}
			if c.Flags&scWriteMethod != 0 {
				a := r.annotation()
				if !r.skip {
					o.Annotations = append(o.Annotations, a...)
				}
			}
		}
	}
	return o
}

func (r *reader) fieldValue(t byte) any {
	d := r.d
	switch t {
	case 'B':
		return int8(d.U8("byte field"))
	case 'C':
		return uint16(d.U16("char field"))
	case 'D':
		return math.Float64frombits(uint64(d.I64("double field")))
	case 'F':
		return math.Float32frombits(uint32(d.I32("float field")))
	case 'I':
		return d.I32("int field")
	case 'J':
		return d.I64("long field")
	case 'S':
		return d.I16("short field")
	case 'Z':
		return d.Bool("boolean field")
	}
	return r.content(false)
}

func (r *reader) array() *Array {
	d := r.d
	cd := r.classDesc()
	a := &Array{Class: cd}
	r.newHandle(a)
	if d.Failed() {
		return a
	}
	if cd == nil || len(cd.Name) < 2 || cd.Name[0] != '[' {
		d.Failf("Java serialization: array with class %v", cd)
		return a
	}
	elem := cd.Name[1]
	size := 1
	switch elem {
	case 'B', 'Z':
		size = 1
	case 'C', 'S':
		size = 2
	case 'I', 'F':
		size = 4
	case 'J', 'D':
		size = 8
	case 'L', '[':
		size = 1 // every element takes at least one byte
	default:
		d.Failf("Java serialization: array class %q has unknown element type", cd.Name)
		return a
	}
	n := d.Count("array length", size)
	if n < 0 {
		return a
	}
	if elem == 'B' {
		a.Bytes = d.Bytes(n, "byte array")
		return a
	}
	if r.skip {
		switch elem {
		case 'L', '[':
			for i := 0; i < n && !d.Failed(); i++ {
				r.content(false)
			}
		default:
			d.Skip(n*size, "array")
		}
		return a
	}
	a.Values = make([]any, 0, n)
	for i := 0; i < n && !d.Failed(); i++ {
		a.Values = append(a.Values, r.fieldValue(elem))
	}
	return a
}

// Describe renders a decoded value briefly (for messages and dumps).
func Describe(v any) string {
	switch x := v.(type) {
	case nil:
		return "null"
	case string:
		return fmt.Sprintf("%q", x)
	case *Object:
		if x.Class == nil {
			return "object"
		}
		return x.Class.Name
	case *Array:
		if x.Bytes != nil {
			return fmt.Sprintf("%v[%d]", x.Class, len(x.Bytes))
		}
		return fmt.Sprintf("%v[%d]", x.Class, len(x.Values))
	case *Enum:
		return fmt.Sprintf("%v.%s", x.Class, x.Name)
	case *ClassDesc:
		return "class " + x.Name
	}
	return fmt.Sprint(v)
}
