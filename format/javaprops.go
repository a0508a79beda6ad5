package format

import (
	"errors"
	"fmt"
	"sync"

	"github.com/fsnap/fsnap/format/internal/binio"
)

// The version 4+ trailer is what java.io.ObjectOutputStream writes for one
// CheckpointProperties object (MetadataV4Serializer and later): a Java
// serialization stream (protocol version 2, stream version 5). This file holds
// a small reader of that protocol, enough for plain serializable objects,
// enums and strings, and a writer that emits exactly the bytes Java emits for
// the classes Flink puts there.

// Java serialization constants (java.io.ObjectStreamConstants).
const (
	javaStreamMagic   = 0xACED
	javaStreamVersion = 5

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

	javaBaseWireHandle = 0x7E0000

	scWriteMethod    = 0x01
	scSerializable   = 0x02
	scExternalizable = 0x04
	scEnum           = 0x10
)

// javaMaxDepth bounds the nesting of objects and class descriptors. The
// trailer nests three deep; the bound keeps hostile input from recursing
// once per byte.
const javaMaxDepth = 32

// javaNullStream is a stream holding only a Java null (State Processor API).
var javaNullStream = []byte{0xAC, 0xED, 0x00, 0x05, tcNull}

// ---------------------------------------------------------------------------
// Classes of the trailer, as Flink 1.16–2.3 declare them. Fields are in
// Java's canonical order (ObjectStreamClass: primitives first, then objects,
// each sorted by name). CheckpointProperties declares serialVersionUID 2;
// the others do not, so theirs are the JVM-computed defaults (enums are
// always 0). All corpus trailers of 1.16–2.3 carry these exact descriptors,
// and the classes are the same in every metadata version (4–7), so one
// layout serves all.

type javaClassSpec struct {
	name   string
	suid   int64
	flags  byte
	fields []javaFieldSpec
	super  *javaClassSpec
}

type javaFieldSpec struct {
	typ  byte   // 'Z', 'L', ...
	name string // field name
	sig  string // type signature of object fields: "Ljava/lang/String;"
}

const (
	classCheckpointProperties = "org.apache.flink.runtime.checkpoint.CheckpointProperties"
	classCheckpointType       = "org.apache.flink.runtime.checkpoint.CheckpointType"
	classSavepointType        = "org.apache.flink.runtime.checkpoint.SavepointType"
	classSharingFilesStrategy = "org.apache.flink.runtime.checkpoint.SnapshotType$SharingFilesStrategy"
	classSavepointFormatType  = "org.apache.flink.core.execution.SavepointFormatType"
	classPostCheckpointAction = "org.apache.flink.runtime.checkpoint.SavepointType$PostCheckpointAction"
)

var (
	javaLangEnum = &javaClassSpec{name: "java.lang.Enum", flags: scSerializable | scEnum}

	checkpointPropertiesSpec = &javaClassSpec{
		name:  classCheckpointProperties,
		suid:  2,
		flags: scSerializable,
		fields: []javaFieldSpec{
			{'Z', "discardCancelled", ""},
			{'Z', "discardFailed", ""},
			{'Z', "discardFinished", ""},
			{'Z', "discardSubsumed", ""},
			{'Z', "discardSuspended", ""},
			{'Z', "forced", ""},
			{'Z', "unclaimed", ""},
			{'L', "checkpointType", "Lorg/apache/flink/runtime/checkpoint/SnapshotType;"},
		},
	}
	checkpointTypeSpec = &javaClassSpec{
		name:  classCheckpointType,
		suid:  javaSUID(0xd6de4f0305ae1d3a),
		flags: scSerializable,
		fields: []javaFieldSpec{
			{'L', "name", "Ljava/lang/String;"},
			{'L', "sharingFilesStrategy", "Lorg/apache/flink/runtime/checkpoint/SnapshotType$SharingFilesStrategy;"},
		},
	}
	savepointTypeSpec = &javaClassSpec{
		name:  classSavepointType,
		suid:  javaSUID(0xa087d308a45814b8),
		flags: scSerializable,
		fields: []javaFieldSpec{
			{'L', "formatType", "Lorg/apache/flink/core/execution/SavepointFormatType;"},
			{'L', "name", "Ljava/lang/String;"},
			{'L', "postCheckpointAction", "Lorg/apache/flink/runtime/checkpoint/SavepointType$PostCheckpointAction;"},
		},
	}
	sharingFilesStrategySpec = &javaClassSpec{name: classSharingFilesStrategy, flags: scSerializable | scEnum, super: javaLangEnum}
	savepointFormatTypeSpec  = &javaClassSpec{name: classSavepointFormatType, flags: scSerializable | scEnum, super: javaLangEnum}
	postCheckpointActionSpec = &javaClassSpec{name: classPostCheckpointAction, flags: scSerializable | scEnum, super: javaLangEnum}
)

// javaSUID writes a serialVersionUID the way it appears in hex dumps.
func javaSUID(u uint64) int64 { return int64(u) }

// Enum constants the writer accepts, in declaration order.
var (
	sharingFilesStrategies = []string{"FORWARD_BACKWARD", "FORWARD", "NO_SHARING"}
	savepointFormatTypes   = []string{"CANONICAL", "NATIVE"}
	postCheckpointActions  = []string{"NONE", "SUSPEND", "TERMINATE"}
)

// ---------------------------------------------------------------------------
// Reader: a generic parser of the stream grammar, then a mapping of the
// object graph onto CheckpointProperties.

type javaClass struct {
	off    int64 // file offset of its TC_CLASSDESC
	name   string
	suid   int64
	flags  byte
	fields []javaField
	super  *javaClass
}

type javaField struct {
	typ  byte
	name string
	sig  string
}

// javaObject is an instance of a serializable class. values holds one entry
// per field of every serializable class in its chain, superclasses first.
type javaObject struct {
	off    int64
	class  *javaClass
	values []javaFieldValue
}

type javaFieldValue struct {
	owner *javaClass
	field *javaField
	value any // nil, bool, int64, uint64 (float bits), string, *javaObject, *javaEnum
}

type javaEnum struct {
	off   int64
	class *javaClass
	name  string
}

// field returns the value of the field called name declared by the class
// called owner.
func (o *javaObject) field(owner, name string) (*javaFieldValue, bool) {
	for i := range o.values {
		if v := &o.values[i]; v.owner.name == owner && v.field.name == name {
			return v, true
		}
	}
	return nil, false
}

type javaReader struct {
	d       *binio.Decoder
	handles []any // *javaClass, string, *javaObject, *javaEnum
	depth   int
}

func (r *javaReader) assign(v any) int {
	r.handles = append(r.handles, v)
	return len(r.handles) - 1
}

func (r *javaReader) enter() bool {
	r.depth++
	if r.depth > javaMaxDepth {
		r.d.Failf("Java serialization: nesting deeper than %d", javaMaxDepth)
		return false
	}
	return true
}

func (r *javaReader) leave() { r.depth-- }

// handle reads the i32 of a TC_REFERENCE and returns what it names.
func (r *javaReader) handle() (any, int64) {
	at := r.d.Offset()
	h := r.d.I32("Java back-reference handle")
	if r.d.Failed() {
		return nil, at
	}
	i := int64(h) - javaBaseWireHandle
	if i < 0 || i >= int64(len(r.handles)) {
		r.d.FailAt(at, "Java back-reference 0x%x names no earlier object (%d handles so far)", uint32(h), len(r.handles))
		return nil, at
	}
	return r.handles[i], at
}

// content reads one object (TC_OBJECT, TC_STRING, TC_ENUM, TC_NULL or
// TC_REFERENCE to one of those).
func (r *javaReader) content(what string) any {
	if !r.enter() {
		return nil
	}
	defer r.leave()
	at := r.d.Offset()
	tc := r.d.U8(what)
	if r.d.Failed() {
		return nil
	}
	switch tc {
	case tcNull:
		return nil
	case tcReference:
		v, at := r.handle()
		if _, ok := v.(*javaClass); ok {
			r.d.FailAt(at, "%s: back-reference to a class descriptor where an object was expected", what)
			return nil
		}
		return v
	case tcString:
		s := r.d.UTF(what)
		if r.d.Failed() {
			return nil
		}
		r.assign(s)
		return s
	case tcEnum:
		c := r.classDesc("Java enum class descriptor")
		if r.d.Failed() {
			return nil
		}
		if c == nil || c.flags&scEnum == 0 {
			r.d.FailAt(at, "%s: TC_ENUM whose class is not an enum", what)
			return nil
		}
		e := &javaEnum{off: at, class: c}
		r.assign(e)
		// ObjectInputStream.readEnum reads the constant name as a fresh
		// TC_STRING, never a reference.
		if r.d.U8("Java enum constant") != tcString && !r.d.Failed() {
			r.d.FailAt(r.d.Offset()-1, "%s: name of %s constant is not a TC_STRING", what, c.name)
		}
		e.name = r.d.UTF("Java enum constant name")
		if r.d.Failed() {
			return nil
		}
		r.assign(e.name)
		return e
	case tcObject:
		c := r.classDesc("Java class descriptor")
		if r.d.Failed() {
			return nil
		}
		switch {
		case c == nil:
			r.d.FailAt(at, "%s: TC_OBJECT with a null class descriptor", what)
			return nil
		case c.flags&scEnum != 0:
			r.d.FailAt(at, "%s: TC_OBJECT of enum class %s", what, c.name)
			return nil
		case c.flags&scSerializable == 0:
			r.d.FailAt(at, "%s: class %s is not serializable (flags 0x%02x)", what, c.name, c.flags)
			return nil
		}
		o := &javaObject{off: at, class: c}
		r.assign(o)
		r.classData(o, c)
		return o
	case tcLongString, tcArray, tcClass, tcClassDesc, tcProxyClassDesc, tcReset, tcException, tcBlockData, tcBlockDataLong, tcEndBlockData:
		r.d.FailAt(at, "%s: Java serialization type code 0x%02x is not expected in CheckpointProperties", what, tc)
	default:
		r.d.FailAt(at, "%s: invalid Java serialization type code 0x%02x", what, tc)
	}
	return nil
}

// classData reads the field values of o for c and its superclasses,
// outermost superclass first (ObjectInputStream.readSerialData).
func (r *javaReader) classData(o *javaObject, c *javaClass) {
	if c == nil || r.d.Failed() {
		return
	}
	if !r.enter() {
		return
	}
	defer r.leave()
	r.classData(o, c.super)
	if c.flags&scSerializable == 0 {
		return // a non-serializable superclass contributes no data
	}
	for i := range c.fields {
		f := &c.fields[i]
		fv := javaFieldValue{owner: c, field: f}
		switch f.typ {
		case 'Z':
			fv.value = r.d.Bool("Java field value")
		case 'B':
			fv.value = int64(int8(r.d.U8("Java field value")))
		case 'C':
			fv.value = int64(r.d.U16("Java field value"))
		case 'S':
			fv.value = int64(r.d.I16("Java field value"))
		case 'I':
			fv.value = int64(r.d.I32("Java field value"))
		case 'J':
			fv.value = r.d.I64("Java field value")
		case 'F':
			fv.value = uint64(uint32(r.d.I32("Java field value")))
		case 'D':
			fv.value = uint64(r.d.I64("Java field value"))
		default: // 'L', '['
			fv.value = r.content("Java field value")
		}
		if r.d.Failed() {
			return
		}
		o.values = append(o.values, fv)
	}
	if c.flags&scWriteMethod != 0 {
		r.annotation("Java writeObject data")
	}
}

// classDesc reads a class descriptor: TC_CLASSDESC, TC_NULL or TC_REFERENCE.
func (r *javaReader) classDesc(what string) *javaClass {
	if !r.enter() {
		return nil
	}
	defer r.leave()
	at := r.d.Offset()
	tc := r.d.U8(what)
	if r.d.Failed() {
		return nil
	}
	switch tc {
	case tcNull:
		return nil
	case tcReference:
		v, at := r.handle()
		c, ok := v.(*javaClass)
		if !ok && !r.d.Failed() {
			r.d.FailAt(at, "%s: back-reference to a non-class where a class descriptor was expected", what)
		}
		return c
	case tcClassDesc:
	case tcProxyClassDesc:
		r.d.FailAt(at, "%s: proxy class descriptors are not expected in CheckpointProperties", what)
		return nil
	default:
		r.d.FailAt(at, "%s: type code 0x%02x where a class descriptor was expected", what, tc)
		return nil
	}
	c := &javaClass{off: at}
	c.name = r.d.UTF("Java class name")
	c.suid = r.d.I64("Java serialVersionUID")
	r.assign(c)
	c.flags = r.d.U8("Java class flags")
	if r.d.Failed() {
		return nil
	}
	if c.flags&scSerializable != 0 && c.flags&scExternalizable != 0 {
		r.d.FailAt(r.d.Offset()-1, "%s %s: flags 0x%02x are both serializable and externalizable", what, c.name, c.flags)
		return nil
	}
	if c.flags&scExternalizable != 0 {
		r.d.FailAt(r.d.Offset()-1, "%s %s: externalizable classes are not expected in CheckpointProperties", what, c.name)
		return nil
	}
	nat := r.d.Offset()
	n := r.d.I16("Java field count")
	// Each field takes at least a type byte and a 2-byte name length.
	count := r.d.CheckCount(nat, int64(n), "Java field count", 3)
	if count < 0 {
		return nil
	}
	c.fields = make([]javaField, count)
	for i := range c.fields {
		f := &c.fields[i]
		tat := r.d.Offset()
		f.typ = r.d.U8("Java field type")
		f.name = r.d.UTF("Java field name")
		if r.d.Failed() {
			return nil
		}
		switch f.typ {
		case 'B', 'C', 'D', 'F', 'I', 'J', 'S', 'Z':
		case 'L', '[':
			f.sig = r.typeString("Java field type signature")
		default:
			r.d.FailAt(tat, "%s %s: invalid field type code 0x%02x", what, c.name, f.typ)
		}
		if r.d.Failed() {
			return nil
		}
	}
	r.annotation("Java class annotation")
	c.super = r.classDesc("Java superclass descriptor")
	if r.d.Failed() {
		return nil
	}
	return c
}

// typeString reads the type signature of an object field: a TC_STRING or a
// TC_REFERENCE to an earlier string.
func (r *javaReader) typeString(what string) string {
	at := r.d.Offset()
	switch tc := r.d.U8(what); {
	case r.d.Failed():
	case tc == tcString:
		s := r.d.UTF(what)
		if !r.d.Failed() {
			r.assign(s)
		}
		return s
	case tc == tcReference:
		v, at := r.handle()
		s, ok := v.(string)
		if !ok && !r.d.Failed() {
			r.d.FailAt(at, "%s: back-reference to a non-string", what)
		}
		return s
	default:
		r.d.FailAt(at, "%s: type code 0x%02x where a type string was expected", what, tc)
	}
	return ""
}

// annotation skips class annotations or writeObject data up to and including
// TC_ENDBLOCKDATA. ObjectOutputStream writes none for Flink's classes, but
// the grammar allows block data and objects here.
func (r *javaReader) annotation(what string) {
	if !r.enter() {
		return
	}
	defer r.leave()
	for !r.d.Failed() {
		at := r.d.Offset()
		tc := r.peek(what)
		switch tc {
		case -1:
			return
		case tcEndBlockData:
			r.d.U8(what)
			return
		case tcBlockData:
			r.d.U8(what)
			n := r.d.U8("Java block data length")
			r.d.Skip(int(n), "Java block data")
		case tcBlockDataLong:
			r.d.U8(what)
			lat := r.d.Offset()
			n := r.d.I32("Java block data length")
			if n < 0 && !r.d.Failed() {
				r.d.FailAt(lat, "%s: negative block length %d", what, n)
			}
			r.d.Skip(int(n), "Java block data")
		default:
			r.content(what)
		}
		if r.d.Offset() == at && !r.d.Failed() {
			r.d.FailAt(at, "%s: no progress", what) // cannot happen; guards the loop
		}
	}
}

// peek returns the next byte without consuming it, or -1 (with an error) at
// the end of the input.
func (r *javaReader) peek(what string) int {
	if r.d.Remaining() < 1 {
		r.d.U8(what) // records the truncation error
		return -1
	}
	return int(r.d.Buffer()[r.d.Pos()])
}

// decodeProperties decodes the trailer of a version 4+ file: b is everything
// after the last operator state up to the end of the file, base its file
// offset. Raw is set to b, so writing the result back reproduces b even if
// it carries something this package does not model.
func decodeProperties(b []byte, base int64) (*CheckpointProperties, error) {
	if p, ok := propertiesCache.get(b); ok {
		return p, nil
	}
	p, err := decodePropertiesUncached(b, base)
	if err == nil {
		propertiesCache.put(b, p)
	}
	return p, err
}

// propertiesCache remembers decoded trailers: a fleet's snapshots carry a
// handful of distinct ones (one per kind), so most files skip the Java
// stream parser. Only successful decodes are kept, so errors and their
// offsets are always computed afresh.
var propertiesCache = trailerCache{m: map[string]CheckpointProperties{}}

type trailerCache struct {
	mu sync.Mutex
	m  map[string]CheckpointProperties // keyed by the trailer bytes; Raw unset
}

const trailerCacheSize = 64

func (c *trailerCache) get(b []byte) (*CheckpointProperties, bool) {
	c.mu.Lock()
	v, ok := c.m[string(b)]
	c.mu.Unlock()
	if !ok {
		return nil, false
	}
	v.Raw = b
	return &v, true
}

func (c *trailerCache) put(b []byte, p *CheckpointProperties) {
	v := *p
	v.Raw = nil
	c.mu.Lock()
	if len(c.m) >= trailerCacheSize {
		clear(c.m)
	}
	c.m[string(b)] = v
	c.mu.Unlock()
}

func decodePropertiesUncached(b []byte, base int64) (*CheckpointProperties, error) {
	d := binio.NewDecoder(b, base)
	magic := d.U16("Java serialization magic")
	if !d.Failed() && magic != javaStreamMagic {
		d.FailAt(base, "CheckpointProperties: Java serialization magic 0x%04x, want 0xaced", magic)
	}
	version := d.U16("Java serialization version")
	if !d.Failed() && version != javaStreamVersion {
		d.FailAt(base+2, "CheckpointProperties: Java serialization stream version %d, want 5", version)
	}
	r := &javaReader{d: d, handles: make([]any, 0, 16)}
	top := r.content("CheckpointProperties")
	if d.Failed() {
		return nil, d.Err()
	}
	if d.Remaining() > 0 {
		d.Failf("CheckpointProperties: %d bytes after the serialized object", d.Remaining())
		return nil, d.Err()
	}
	p := &CheckpointProperties{Raw: b}
	if top == nil {
		p.Null = true
		return p, nil
	}
	if err := p.fromJava(top, base+4, d); err != nil {
		return nil, err
	}
	return p, nil
}

// fromJava fills p from the object graph; at is the offset of top.
func (p *CheckpointProperties) fromJava(top any, at int64, d *binio.Decoder) error {
	o, ok := top.(*javaObject)
	if !ok || o.class.name != classCheckpointProperties {
		d.FailAt(at, "CheckpointProperties: stream holds %s, want %s", javaDescribe(top), classCheckpointProperties)
		return d.Err()
	}
	for _, f := range []struct {
		name string
		dst  *bool
	}{
		{"discardCancelled", &p.DiscardCancelled},
		{"discardFailed", &p.DiscardFailed},
		{"discardFinished", &p.DiscardFinished},
		{"discardSubsumed", &p.DiscardSubsumed},
		{"discardSuspended", &p.DiscardSuspended},
		{"forced", &p.Forced},
		{"unclaimed", &p.Unclaimed},
	} {
		v, ok := o.field(classCheckpointProperties, f.name)
		if !ok || v.field.typ != 'Z' {
			d.FailAt(o.off, "CheckpointProperties: no boolean field %s", f.name)
			return d.Err()
		}
		*f.dst = v.value.(bool)
	}
	v, ok := o.field(classCheckpointProperties, "checkpointType")
	if !ok {
		d.FailAt(o.off, "CheckpointProperties: no field checkpointType")
		return d.Err()
	}
	t, ok := v.value.(*javaObject)
	if !ok {
		d.FailAt(o.off, "CheckpointProperties.checkpointType is %s, want a CheckpointType or SavepointType", javaDescribe(v.value))
		return d.Err()
	}
	var err error
	fail := func(format string, args ...any) {
		if err == nil {
			d.FailAt(t.off, format, args...)
			err = d.Err()
		}
	}
	str := func(class, field string) string {
		v, ok := t.field(class, field)
		if ok {
			if s, isStr := v.value.(string); isStr {
				return s
			}
		}
		fail("%s.%s is %s, want a string", class, field, javaDescribeField(v, ok))
		return ""
	}
	enum := func(class, field, enumClass string) string {
		v, ok := t.field(class, field)
		if ok {
			if e, isEnum := v.value.(*javaEnum); isEnum && e.class.name == enumClass {
				return e.name
			}
		}
		fail("%s.%s is %s, want an enum %s", class, field, javaDescribeField(v, ok), enumClass)
		return ""
	}
	switch t.class.name {
	case classCheckpointType:
		p.Type.Name = str(classCheckpointType, "name")
		p.Type.SharingFilesStrategy = enum(classCheckpointType, "sharingFilesStrategy", classSharingFilesStrategy)
	case classSavepointType:
		p.Type.Savepoint = true
		p.Type.FormatType = enum(classSavepointType, "formatType", classSavepointFormatType)
		p.Type.Name = str(classSavepointType, "name")
		p.Type.PostCheckpointAction = enum(classSavepointType, "postCheckpointAction", classPostCheckpointAction)
		// SavepointType.getSharingFilesStrategy is constant, not a field.
		p.Type.SharingFilesStrategy = "NO_SHARING"
	default:
		d.FailAt(t.off, "CheckpointProperties.checkpointType has class %s, want %s or %s", t.class.name, classCheckpointType, classSavepointType)
		return d.Err()
	}
	return err
}

func javaDescribeField(v *javaFieldValue, ok bool) string {
	if !ok {
		return "missing"
	}
	return javaDescribe(v.value)
}

func javaDescribe(v any) string {
	switch v := v.(type) {
	case nil:
		return "null"
	case string:
		return "a string"
	case *javaObject:
		return "an object of class " + v.class.name
	case *javaEnum:
		return "enum constant " + v.class.name + "." + v.name
	default:
		return fmt.Sprintf("a primitive %T", v)
	}
}

// ---------------------------------------------------------------------------
// Writer.

// appendProperties appends the trailer for p to dst. With p.Raw set it
// appends Raw unchanged; otherwise it serializes the fields as
// ObjectOutputStream would for Flink's classes. The layout is the same for
// every metadata version that has a trailer (4–7).
func appendProperties(dst []byte, p *CheckpointProperties) ([]byte, error) {
	if p == nil {
		return dst, errors.New("CheckpointProperties: nil")
	}
	if p.Raw != nil {
		return append(dst, p.Raw...), nil
	}
	if p.Null {
		return append(dst, javaNullStream...), nil
	}
	t := &p.Type
	if t.Savepoint {
		if err := checkConstant("SavepointType.formatType", t.FormatType, savepointFormatTypes); err != nil {
			return dst, err
		}
		if err := checkConstant("SavepointType.postCheckpointAction", t.PostCheckpointAction, postCheckpointActions); err != nil {
			return dst, err
		}
		if t.SharingFilesStrategy != "" && t.SharingFilesStrategy != "NO_SHARING" {
			return dst, fmt.Errorf("CheckpointProperties: a SavepointType shares no files, got sharing strategy %q", t.SharingFilesStrategy)
		}
	} else {
		if err := checkConstant("CheckpointType.sharingFilesStrategy", t.SharingFilesStrategy, sharingFilesStrategies); err != nil {
			return dst, err
		}
		if t.FormatType != "" || t.PostCheckpointAction != "" {
			return dst, fmt.Errorf("CheckpointProperties: a CheckpointType has no format type or post-checkpoint action (got %q, %q)", t.FormatType, t.PostCheckpointAction)
		}
	}

	w := javaWriter{e: binio.NewEncoder(dst)}
	w.e.I16(int16(-0x5313)) // 0xACED
	w.e.I16(javaStreamVersion)

	w.e.U8(tcObject)
	w.classDesc(checkpointPropertiesSpec)
	w.assign()
	for _, b := range []bool{p.DiscardCancelled, p.DiscardFailed, p.DiscardFinished,
		p.DiscardSubsumed, p.DiscardSuspended, p.Forced, p.Unclaimed} {
		w.e.Bool(b)
	}
	w.e.U8(tcObject)
	if t.Savepoint {
		w.classDesc(savepointTypeSpec)
		w.assign()
		w.enum(savepointFormatTypeSpec, t.FormatType)
		w.string(t.Name, "SavepointType.name")
		w.enum(postCheckpointActionSpec, t.PostCheckpointAction)
	} else {
		w.classDesc(checkpointTypeSpec)
		w.assign()
		w.string(t.Name, "CheckpointType.name")
		w.enum(sharingFilesStrategySpec, t.SharingFilesStrategy)
	}
	return w.e.Bytes(), w.e.Err()
}

func checkConstant(what, v string, allowed []string) error {
	for _, a := range allowed {
		if v == a {
			return nil
		}
	}
	return fmt.Errorf("CheckpointProperties: %s %q is not one of %q", what, v, allowed)
}

// javaWriter mirrors ObjectOutputStream's handle table. Flink's strings here
// are literals, interned by the JVM, so identity (what Java compares) is the
// same as equality of value.
type javaWriter struct {
	e       *binio.Encoder
	next    int32
	classes map[string]int32
	strings map[string]int32
	enums   map[string]int32
}

func (w *javaWriter) assign() int32 {
	h := w.next
	w.next++
	return h
}

func (w *javaWriter) reference(h int32) {
	w.e.U8(tcReference)
	w.e.I32(javaBaseWireHandle + h)
}

func remember(m *map[string]int32, k string, h int32) {
	if *m == nil {
		*m = make(map[string]int32)
	}
	(*m)[k] = h
}

// classDesc is ObjectOutputStream.writeClassDesc for a non-proxy class.
func (w *javaWriter) classDesc(c *javaClassSpec) {
	if c == nil {
		w.e.U8(tcNull)
		return
	}
	if h, ok := w.classes[c.name]; ok {
		w.reference(h)
		return
	}
	w.e.U8(tcClassDesc)
	w.e.UTF(c.name, "class name")
	w.e.I64(c.suid)
	remember(&w.classes, c.name, w.assign())
	w.e.U8(c.flags)
	w.e.I16(int16(len(c.fields)))
	for _, f := range c.fields {
		w.e.U8(f.typ)
		w.e.UTF(f.name, "field name")
		if f.sig != "" {
			w.string(f.sig, "type signature")
		}
	}
	w.e.U8(tcEndBlockData) // annotateClass writes nothing
	w.classDesc(c.super)
}

// string is writeObject of a String (and writeTypeString): a back-reference
// when the same string was written before, else a new TC_STRING.
func (w *javaWriter) string(s, what string) {
	if h, ok := w.strings[s]; ok {
		w.reference(h)
		return
	}
	w.newString(s, what)
}

func (w *javaWriter) newString(s, what string) {
	w.e.U8(tcString)
	w.e.UTF(s, what)
	remember(&w.strings, s, w.assign())
}

// enum is ObjectOutputStream.writeEnum. The constant's name is always a new
// TC_STRING (writeString does not look it up), but later equal strings refer
// to it.
func (w *javaWriter) enum(c *javaClassSpec, name string) {
	key := c.name + "." + name
	if h, ok := w.enums[key]; ok {
		w.reference(h)
		return
	}
	w.e.U8(tcEnum)
	w.classDesc(c)
	remember(&w.enums, key, w.assign())
	w.newString(name, c.name)
}
