package format

import (
	"errors"
	"fmt"
	"sync"

	"github.com/fsnap/fsnap/format/internal/binio"
	"github.com/fsnap/fsnap/format/javaser"
)

// The version 4+ trailer is what java.io.ObjectOutputStream writes for one
// CheckpointProperties object (MetadataV4Serializer and later): a Java
// serialization stream (protocol version 2, stream version 5). It is read
// with the generic reader of package javaser and mapped onto
// CheckpointProperties; the writer here emits exactly the bytes Java emits
// for the classes Flink puts there.

// javaStreamHeader opens every stream: magic and version.
var javaStreamHeader = []byte{javaser.Magic >> 8, javaser.Magic & 0xFF, 0, javaser.Version}

// javaNullStream is a stream holding only a Java null (State Processor API).
var javaNullStream = append(javaStreamHeader[:4:4], javaser.TCNull)

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
	javaLangEnum = &javaClassSpec{name: "java.lang.Enum", flags: javaser.SCSerializable | javaser.SCEnum}

	checkpointPropertiesSpec = &javaClassSpec{
		name:  classCheckpointProperties,
		suid:  2,
		flags: javaser.SCSerializable,
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
		flags: javaser.SCSerializable,
		fields: []javaFieldSpec{
			{'L', "name", "Ljava/lang/String;"},
			{'L', "sharingFilesStrategy", "Lorg/apache/flink/runtime/checkpoint/SnapshotType$SharingFilesStrategy;"},
		},
	}
	savepointTypeSpec = &javaClassSpec{
		name:  classSavepointType,
		suid:  javaSUID(0xa087d308a45814b8),
		flags: javaser.SCSerializable,
		fields: []javaFieldSpec{
			{'L', "formatType", "Lorg/apache/flink/core/execution/SavepointFormatType;"},
			{'L', "name", "Ljava/lang/String;"},
			{'L', "postCheckpointAction", "Lorg/apache/flink/runtime/checkpoint/SavepointType$PostCheckpointAction;"},
		},
	}
	sharingFilesStrategySpec = &javaClassSpec{name: classSharingFilesStrategy, flags: javaser.SCSerializable | javaser.SCEnum, super: javaLangEnum}
	savepointFormatTypeSpec  = &javaClassSpec{name: classSavepointFormatType, flags: javaser.SCSerializable | javaser.SCEnum, super: javaLangEnum}
	postCheckpointActionSpec = &javaClassSpec{name: classPostCheckpointAction, flags: javaser.SCSerializable | javaser.SCEnum, super: javaLangEnum}
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
// Reader: javaser parses the stream, fromJava maps the object graph onto
// CheckpointProperties.

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
	v.Type = v.Type.clone() // the cache outlives the input it was decoded from
	c.mu.Lock()
	if len(c.m) >= trailerCacheSize {
		clear(c.m)
	}
	c.m[string(b)] = v
	c.mu.Unlock()
}

func decodePropertiesUncached(b []byte, base int64) (*CheckpointProperties, error) {
	d := binio.NewDecoder(b, base)
	top := javaser.ReadFrom(d)
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
	o, ok := top.(*javaser.Object)
	if !ok || o == nil || o.Class == nil || o.Class.Name != classCheckpointProperties {
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
		v, _ := o.Field(classCheckpointProperties, f.name)
		b, ok := v.(bool) // only a boolean field holds a bool
		if !ok {
			d.FailAt(o.Offset, "CheckpointProperties: no boolean field %s", f.name)
			return d.Err()
		}
		*f.dst = b
	}
	v, ok := o.Field(classCheckpointProperties, "checkpointType")
	if !ok {
		d.FailAt(o.Offset, "CheckpointProperties: no field checkpointType")
		return d.Err()
	}
	t, ok := v.(*javaser.Object)
	if !ok {
		d.FailAt(o.Offset, "CheckpointProperties.checkpointType is %s, want a CheckpointType or SavepointType", javaDescribe(v))
		return d.Err()
	}
	var err error
	fail := func(format string, args ...any) {
		if err == nil {
			d.FailAt(t.Offset, format, args...)
			err = d.Err()
		}
	}
	str := func(class, field string) string {
		v, ok := t.Field(class, field)
		if s, isStr := v.(string); isStr {
			return s
		}
		fail("%s.%s is %s, want a string", class, field, javaDescribeField(v, ok))
		return ""
	}
	enum := func(class, field, enumClass string) string {
		v, ok := t.Field(class, field)
		if e, isEnum := v.(*javaser.Enum); isEnum && e.Class.Name == enumClass {
			return e.Name
		}
		fail("%s.%s is %s, want an enum %s", class, field, javaDescribeField(v, ok), enumClass)
		return ""
	}
	switch t.Class.Name {
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
		d.FailAt(t.Offset, "CheckpointProperties.checkpointType has class %s, want %s or %s", t.Class.Name, classCheckpointType, classSavepointType)
		return d.Err()
	}
	return err
}

func javaDescribeField(v any, ok bool) string {
	if !ok {
		return "missing"
	}
	return javaDescribe(v)
}

// javaDescribe names the kind of a decoded value for error messages.
func javaDescribe(v any) string {
	// Hostile bytes can make typed nil pointers (a class whose descriptor
	// is null): say so rather than dereference them.
	switch v := v.(type) {
	case nil:
		return "null"
	case string:
		return "a string"
	case *javaser.Object:
		if v == nil || v.Class == nil {
			return "an object of no class"
		}
		return "an object of class " + v.Class.Name
	case *javaser.Enum:
		if v == nil || v.Class == nil {
			return "an enum constant of no class"
		}
		return "enum constant " + v.Class.Name + "." + v.Name
	case *javaser.Array:
		if v == nil || v.Class == nil {
			return "an array of no class"
		}
		return "an array of class " + v.Class.String()
	case *javaser.ClassDesc:
		if v == nil {
			return "a class with no descriptor"
		}
		return "the class " + v.Name
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
	w.e.Raw(javaStreamHeader)

	w.e.U8(javaser.TCObject)
	w.classDesc(checkpointPropertiesSpec)
	w.assign()
	for _, b := range []bool{p.DiscardCancelled, p.DiscardFailed, p.DiscardFinished,
		p.DiscardSubsumed, p.DiscardSuspended, p.Forced, p.Unclaimed} {
		w.e.Bool(b)
	}
	w.e.U8(javaser.TCObject)
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
	w.e.U8(javaser.TCReference)
	w.e.I32(javaser.BaseWireHandle + h)
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
		w.e.U8(javaser.TCNull)
		return
	}
	if h, ok := w.classes[c.name]; ok {
		w.reference(h)
		return
	}
	w.e.U8(javaser.TCClassDesc)
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
	w.e.U8(javaser.TCEndBlockData) // annotateClass writes nothing
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
	w.e.U8(javaser.TCString)
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
	w.e.U8(javaser.TCEnum)
	w.classDesc(c)
	remember(&w.enums, key, w.assign())
	w.newString(name, c.name)
}
