// Package javaser reads Java object serialization streams (the bytes of
// java.io.ObjectOutputStream): it builds the object graph (Read, ReadFrom)
// or only finds where a stream ends (Skip, SkipFrom).
//
// Flink embeds such streams without a length prefix in a few serializer
// snapshots (RowDataSerializer's logical types, legacy serializers), in the
// values of JavaSerializer states, and as the CheckpointProperties trailer
// of _metadata version 4+. Finding the end needs the whole grammar of the
// Java Object Serialization Specification (chapter 6): class descriptors,
// field values, arrays, block data and back references. Classes that write
// custom data do so in block data terminated by TC_ENDBLOCKDATA, so no
// class-specific knowledge is needed; only Externalizable classes written
// with the pre-1.2 protocol (no block data) cannot be walked, and are
// refused at their class descriptor.
//
// Errors are *binio.Error values naming the offset of the offending byte.
// The constants are shared with the trailer's writer in package format.
package javaser

import (
	"errors"
	"fmt"
	"math"
	"strings"

	"github.com/fsnap/fsnap/format/internal/binio"
)

// Stream magic and version (java.io.ObjectStreamConstants).
const (
	Magic   = 0xACED
	Version = 5
)

// Type codes (ObjectStreamConstants.TC_*).
const (
	TCNull           = 0x70
	TCReference      = 0x71
	TCClassDesc      = 0x72
	TCObject         = 0x73
	TCString         = 0x74
	TCArray          = 0x75
	TCClass          = 0x76
	TCBlockData      = 0x77
	TCEndBlockData   = 0x78
	TCReset          = 0x79
	TCBlockDataLong  = 0x7A
	TCException      = 0x7B
	TCLongString     = 0x7C
	TCProxyClassDesc = 0x7D
	TCEnum           = 0x7E

	// BaseWireHandle is the first handle; a TC_REFERENCE names handle
	// BaseWireHandle+i for the i-th object assigned one.
	BaseWireHandle = 0x7E0000
)

// Class descriptor flags (ObjectStreamConstants.SC_*).
const (
	SCWriteMethod    = 0x01
	SCSerializable   = 0x02
	SCExternalizable = 0x04
	SCBlockData      = 0x08
	SCEnum           = 0x10
)

// maxDepth bounds nesting so hostile input cannot exhaust the stack.
const maxDepth = 512

// Object is a deserialized object: its class and the values of its
// serializable fields, superclass fields first.
type Object struct {
	Offset int64 // file offset of its TC_OBJECT
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

// Field returns the value of the field called name declared by the class
// called class.
func (o *Object) Field(class, name string) (any, bool) {
	for i := range o.Fields {
		if f := &o.Fields[i]; f.Class == class && f.Name == name {
			return f.Value, true
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
	if !header(d) {
		return nil
	}
	r := reader{d: d, handles: make([]any, 0, 16)}
	return r.content(false)
}

// ErrTruncated is wrapped by Skip's error when b ends inside the stream.
var ErrTruncated = errors.New("Java serialization stream is truncated")

// SkipFrom is ReadFrom without building the object: it only advances d past
// the stream, which is much cheaper.
func SkipFrom(d *binio.Decoder) {
	if !header(d) {
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

// header reads the stream magic and version.
func header(d *binio.Decoder) bool {
	start := d.Offset()
	if m := d.U16("Java serialization magic"); !d.Failed() && m != Magic {
		d.FailAt(start, "Java serialization stream: bad magic %04x, want %04x", m, Magic)
	}
	if v := d.U16("Java serialization version"); !d.Failed() && v != Version {
		d.FailAt(start+2, "Java serialization stream version %d, want %d", v, Version)
	}
	return !d.Failed()
}

func (r *reader) newHandle(v any) {
	r.handles = append(r.handles, v)
}

// typeCode enters one level of nesting (the caller leaves it) and reads the
// type code at its start and its offset. Where an object may stand, resets
// before it are taken (ObjectInputStream.readObject0). TC_NULL and
// TC_REFERENCE, which may stand for an object or a class descriptor alike,
// are resolved here: done is then true and v is nil or what the reference
// names. done is also true, with an error recorded, past maxDepth or at the
// end of the input.
func (r *reader) typeCode(what string, resets bool) (tc byte, at int64, v any, done bool) {
	d := r.d
	r.depth++
	if r.depth > maxDepth {
		d.Failf("Java serialization: nesting deeper than %d", maxDepth)
		return 0, d.Offset(), nil, true
	}
	for {
		at, tc = d.Offset(), d.U8(what)
		switch {
		case d.Failed() || tc == TCNull:
			return tc, at, nil, true
		case tc == TCReference:
			v, _ = r.reference()
			return tc, at, v, true
		case tc == TCReset && resets:
			r.handles = r.handles[:0]
		default:
			return tc, at, nil, false
		}
	}
}

func (r *reader) leave() { r.depth-- }

// reference reads the handle of a TC_REFERENCE and returns what it names
// and the handle's offset.
func (r *reader) reference() (any, int64) {
	d := r.d
	at := d.Offset()
	h := d.I32("Java back-reference handle")
	if d.Failed() {
		return nil, at
	}
	i := int64(h) - BaseWireHandle
	if i < 0 || i >= int64(len(r.handles)) {
		d.FailAt(at, "Java back-reference 0x%x names no earlier object (%d handles so far)", uint32(h), len(r.handles))
		return nil, at
	}
	return r.handles[i], at
}

// newString reads the body of a TC_STRING or TC_LONGSTRING (tc, read at
// offset at) and assigns it a handle.
func (r *reader) newString(tc byte, at int64, what string) string {
	d := r.d
	var s string
	if tc == TCString {
		s = d.UTF(what)
	} else {
		n := d.I64("Java long string length")
		if !d.Failed() && (n < 0 || n > int64(d.Remaining())) {
			d.FailAt(at, "%s: long string of %d bytes, %d remain", what, n, d.Remaining())
			return ""
		}
		s = string(d.Bytes(int(n), what)) // modified UTF-8, kept as is
	}
	if d.Failed() {
		return ""
	}
	r.newHandle(s)
	return s
}

// content reads one object (or block data when allowBlock).
func (r *reader) content(allowBlock bool) any {
	d := r.d
	tc, at, v, done := r.typeCode("Java serialization type code", true)
	defer r.leave()
	if done {
		return v
	}
	switch tc {
	case TCClassDesc, TCProxyClassDesc:
		d.FailAt(at, "Java serialization: class descriptor where an object was expected")
		return nil
	case TCObject:
		return r.object(at)
	case TCString, TCLongString:
		return r.newString(tc, at, "Java string")
	case TCArray:
		return r.array()
	case TCClass:
		cd := r.classDesc()
		r.newHandle(cd)
		return cd
	case TCEnum:
		cd := r.classDesc()
		if d.Failed() {
			return nil
		}
		// ObjectInputStream.readEnum: the class must be an enum, and the
		// constant's name is a new string, never a back-reference.
		if cd == nil || cd.Flags&SCEnum == 0 {
			d.FailAt(at, "Java serialization: TC_ENUM of %v, which is not an enum class", cd)
			return nil
		}
		e := &Enum{Class: cd}
		r.newHandle(e)
		nat := d.Offset()
		switch tc := d.U8("Java enum constant name"); {
		case d.Failed():
		case tc == TCString || tc == TCLongString:
			e.Name = r.newString(tc, nat, "Java enum constant name")
		default:
			d.FailAt(nat, "Java enum %s: type code 0x%02x where the constant's name was expected", cd.Name, tc)
		}
		return e
	case TCBlockData, TCBlockDataLong:
		if !allowBlock {
			d.FailAt(at, "Java serialization: block data where an object was expected")
			return nil
		}
		var n int
		if tc == TCBlockData {
			n = int(d.U8("block data length"))
		} else {
			n = int(d.I32("block data length"))
		}
		return BlockData(d.Bytes(n, "block data"))
	case TCException:
		d.FailAt(at, "Java serialization: stream holds an exception written during serialization")
		return nil
	case TCEndBlockData:
		d.FailAt(at, "Java serialization: unexpected end of block data")
		return nil
	default:
		d.FailAt(at, "invalid Java serialization type code 0x%02x", tc)
		return nil
	}
}

// classDesc reads a class descriptor (new, proxy, null or reference). It
// returns nil when it fails.
func (r *reader) classDesc() *ClassDesc {
	d := r.d
	tc, at, v, done := r.typeCode("Java class descriptor", false)
	defer r.leave()
	if done {
		cd, ok := v.(*ClassDesc)
		if !ok && v != nil {
			// at+1: the handle after TC_REFERENCE
			d.FailAt(at+1, "Java serialization: back-reference to a non-class where a class descriptor was expected")
		}
		return cd
	}
	switch tc {
	case TCClassDesc:
		cd := &ClassDesc{}
		cd.Name = d.UTF("Java class name")
		cd.SerialUID = d.I64("Java serialVersionUID")
		r.newHandle(cd)
		fat := d.Offset()
		cd.Flags = d.U8("Java class flags")
		if d.Failed() {
			return nil
		}
		// ObjectStreamClass.readNonProxy rejects the first; the second is
		// an Externalizable class written with protocol 1, whose data
		// carries no length, so nothing after it can be found.
		switch ext := cd.Flags&SCExternalizable != 0; {
		case ext && cd.Flags&SCSerializable != 0:
			d.FailAt(fat, "Java class %s: flags 0x%02x are both serializable and externalizable", cd.Name, cd.Flags)
			return nil
		case ext && cd.Flags&SCBlockData == 0:
			d.FailAt(fat, "Java class %s: externalizable without block data (protocol 1), so its data has no known length", cd.Name)
			return nil
		}
		nat := d.Offset()
		// Each field takes at least a type byte and a 2-byte name length.
		n := d.CheckCount(nat, int64(d.I16("Java field count")), "Java field count", 3)
		if n < 0 {
			return nil
		}
		if n > 0 {
			cd.Fields = make([]FieldDesc, n)
		}
		for i := range cd.Fields {
			f := &cd.Fields[i]
			tat := d.Offset()
			f.Type = d.U8("Java field type")
			f.Name = d.UTF("Java field name")
			if d.Failed() {
				return nil
			}
			switch f.Type {
			case 'B', 'C', 'D', 'F', 'I', 'J', 'S', 'Z':
			case 'L', '[':
				f.ClassName = r.typeString(cd, f)
			default:
				d.FailAt(tat, "Java class %s field %s: invalid field type code 0x%02x", cd.Name, f.Name, f.Type)
			}
			if d.Failed() {
				return nil
			}
		}
		r.annotation()
		cd.Super = r.classDesc()
		if d.Failed() {
			return nil
		}
		return cd
	case TCProxyClassDesc:
		cd := &ClassDesc{Proxy: true, Flags: SCSerializable}
		r.newHandle(cd)
		n := d.Count("proxy interface count", 2)
		for i := 0; i < n && !d.Failed(); i++ {
			cd.Interfaces = append(cd.Interfaces, d.UTF("proxy interface"))
		}
		r.annotation()
		cd.Super = r.classDesc()
		if d.Failed() {
			return nil
		}
		return cd
	}
	d.FailAt(at, "Java serialization: type code 0x%02x where a class descriptor was expected", tc)
	return nil
}

// typeString reads the type signature of object field f of class cd: a new
// string or a back-reference to an earlier one (writeTypeString).
func (r *reader) typeString(cd *ClassDesc, f *FieldDesc) string {
	d := r.d
	at := d.Offset()
	switch tc := d.U8("Java field type signature"); {
	case d.Failed():
	case tc == TCString || tc == TCLongString:
		return r.newString(tc, at, "Java field type signature")
	case tc == TCReference:
		v, hat := r.reference()
		s, ok := v.(string)
		if !ok && !d.Failed() {
			d.FailAt(hat, "Java class %s field %s: type signature is a back-reference to a non-string", cd.Name, f.Name)
		}
		return s
	default:
		d.FailAt(at, "Java class %s field %s: type code 0x%02x where a type signature was expected", cd.Name, f.Name, tc)
	}
	return ""
}

// annotation reads contents up to and including TC_ENDBLOCKDATA.
func (r *reader) annotation() []any {
	d := r.d
	var out []any
	for !d.Failed() {
		if d.Remaining() > 0 && d.Buffer()[d.Pos()] == TCEndBlockData {
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

// object reads the class descriptor and data of the TC_OBJECT at offset at.
func (r *reader) object(at int64) *Object {
	d := r.d
	cd := r.classDesc()
	o := &Object{Offset: at, Class: cd}
	r.newHandle(o)
	if d.Failed() {
		return o
	}
	if cd == nil {
		d.FailAt(at, "Java serialization: object with a null class descriptor")
		return o
	}
	// Class data is written superclass first.
	var chain []*ClassDesc
	fields := 0
	for c := cd; c != nil; c = c.Super {
		chain = append(chain, c)
		fields += len(c.Fields)
		if len(chain) > maxDepth {
			d.Failf("Java serialization: class hierarchy deeper than %d", maxDepth)
			return o
		}
	}
	if !r.skip && fields > 0 {
		o.Fields = make([]Field, 0, fields)
	}
	for i := len(chain) - 1; i >= 0 && !d.Failed(); i-- {
		c := chain[i]
		switch {
		case c.Flags&SCExternalizable != 0:
			// Written with block data: classDesc refuses protocol 1.
			a := r.annotation()
			if !r.skip {
				o.Annotations = append(o.Annotations, a...)
			}
		case c.Flags&SCSerializable != 0:
			for _, f := range c.Fields {
				v := r.fieldValue(f.Type)
				if !r.skip {
					o.Fields = append(o.Fields, Field{Class: c.Name, Name: f.Name, Value: v})
				}
			}
			if c.Flags&SCWriteMethod != 0 {
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
