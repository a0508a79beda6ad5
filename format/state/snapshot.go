package state

import (
	"fmt"
	"strings"

	"github.com/fsnap/fsnap/format/internal/binio"
)

// Snapshot is a decoded TypeSerializerSnapshot: the class that wrote it, its
// version and its payload as a sequence of typed parts (integers, strings,
// nested snapshots, Java-serialized objects, length-framed groups).
//
// Flink writes snapshot payloads without a length prefix, so every class must
// be understood to find where it ends; the parts record exactly what was read,
// so encoding a decoded snapshot gives back the same bytes whatever the class.
type Snapshot struct {
	// ProxyVersion is the TypeSerializerSnapshotSerializationProxy version
	// that precedes top-level snapshots (2; 1 for pre-1.7 config snapshots).
	// It is 0 for nested snapshots, which have no such prefix.
	ProxyVersion int32
	Class        string // snapshot class, binary name (Outer$Inner)
	Version      int32  // snapshot version as written
	Parts        []Part

	Offset int64 // file offset of the first byte (proxy version or class name)
	Len    int   // bytes the snapshot occupied when read

	// Opaque marks a snapshot whose payload was not decoded: a class fsnap
	// does not know, delimited by the framing around it (its bytes are the
	// one PartBytes part), or a Derived serializer fsnap does not map.
	Opaque bool
	// Derived is the Java class of the serializer this snapshot was built
	// from, for headers of Flink ≤ 1.6 that store serializers as Java
	// objects; such snapshots were never written as such and are not
	// encoded (the header keeps the original bytes).
	Derived string

	// picked are the nested serializers of a legacy composite config
	// snapshot (its block with resilience), as legacyEntry.pick chose them.
	picked []*Snapshot
}

// PartKind is the wire form of a Part.
type PartKind uint8

const (
	PartInt32       PartKind = iota + 1 // i32, in Int
	PartInt64                           // i64, in Int
	PartBool                            // one byte, in Int (0/1 as written)
	PartUTF                             // DataOutput.writeUTF, in Str
	PartStringValue                     // Flink StringValue encoding, in Str (Int 1: null)
	PartJava                            // a Java serialization stream (self-delimiting), in Bytes
	PartBytes                           // raw bytes whose length the context fixes, in Bytes
	PartNested                          // a nested versioned snapshot, in Snap
	PartTopLevel                        // a top-level snapshot (with proxy version), in Snap
	PartFramed                          // i32 length then Sub
	PartInt16                           // i16, in Int
)

// Part is one field of a snapshot payload.
type Part struct {
	Kind  PartKind
	Name  string // role, e.g. "tupleClass", "outerVersion", "precision"
	Int   int64
	Str   string
	Bytes []byte
	Snap  *Snapshot
	Sub   []Part
}

// Well-known magic numbers of composite snapshots.
const (
	compositeMagic  = 0x000DE704 // CompositeTypeSerializerSnapshot.MAGIC_NUMBER
	nestedMagic     = 0x001457FD // NestedSerializersSnapshotDelegate.MAGIC_NUMBER
	adapterVersion  = 0x7a53c4f0 // TypeSerializerConfigSnapshot.ADAPTER_VERSION (1.7 – 1.x)
	optionalMapHdr  = 0x4f2c69a3d70
	topProxyVersion = 2
)

// Nested returns the nested serializer snapshots in wire order (fields of a
// tuple or row, element of a list, key and value of a map, …), looking into
// framed groups.
func (s *Snapshot) Nested() []*Snapshot {
	if s.picked != nil {
		return s.picked
	}
	var out []*Snapshot
	var walk func([]Part)
	walk = func(ps []Part) {
		for i := range ps {
			switch ps[i].Kind {
			case PartNested, PartTopLevel:
				out = append(out, ps[i].Snap)
			case PartFramed:
				walk(ps[i].Sub)
			}
		}
	}
	walk(s.Parts)
	return out
}

// Param returns the first part with the given name, looking into framed groups.
func (s *Snapshot) Param(name string) (Part, bool) {
	var found Part
	ok := false
	var walk func([]Part)
	walk = func(ps []Part) {
		for i := range ps {
			if ok {
				return
			}
			if ps[i].Name == name && ps[i].Kind != PartFramed {
				found, ok = ps[i], true
				return
			}
			if ps[i].Kind == PartFramed {
				walk(ps[i].Sub)
			}
		}
	}
	walk(s.Parts)
	return found, ok
}

// Str returns the string parameter name, or "".
func (s *Snapshot) Str(name string) string {
	p, _ := s.Param(name)
	return p.Str
}

// ShortClass is the snapshot class without package and without the
// "Snapshot" nesting: "LongSerializer", "TupleSerializer", "TimerSerializer".
// Flink ≤ 1.6's config of a parameterless serializer shows the serializer
// it names.
func (s *Snapshot) ShortClass() string {
	if id := s.Str("serializationFormatIdentifier"); id != "" {
		return id[strings.LastIndexByte(id, '.')+1:]
	}
	return ShortClass(s.Class)
}

// ShortClass shortens a snapshot class name for display.
func ShortClass(class string) string {
	c := class
	if i := strings.LastIndexByte(c, '.'); i >= 0 {
		c = c[i+1:]
	}
	if i := strings.IndexByte(c, '$'); i >= 0 {
		// Outer$OuterSnapshot → Outer; Outer$Serializer$…Snapshot → Outer$Serializer
		parts := strings.Split(c, "$")
		keep := parts[:len(parts)-1]
		if !strings.HasSuffix(parts[len(parts)-1], "Snapshot") && !strings.HasSuffix(parts[len(parts)-1], "Config") {
			keep = parts
		}
		c = strings.Join(keep, "$")
	}
	c = strings.TrimSuffix(c, "SerializerSnapshot")
	c = strings.TrimSuffix(c, "Snapshot")
	if !strings.HasSuffix(c, "Serializer") && !strings.HasSuffix(c, "Config") && !strings.Contains(c, "$") {
		c += "Serializer"
	}
	return c
}

// String renders the snapshot as a compact type expression, e.g.
// "TupleSerializer<LongSerializer,StringSerializer>".
func (s *Snapshot) String() string {
	if s == nil {
		return "<nil>"
	}
	var b strings.Builder
	s.format(&b)
	return b.String()
}

func (s *Snapshot) format(b *strings.Builder) {
	b.WriteString(s.ShortClass())
	if n := s.Nested(); len(n) > 0 {
		b.WriteByte('<')
		for i, c := range n {
			if i > 0 {
				b.WriteByte(',')
			}
			if c == nil {
				b.WriteString("?")
				continue
			}
			c.format(b)
		}
		b.WriteByte('>')
	}
}

// Classes returns the snapshot classes of s and all nested snapshots.
func (s *Snapshot) Classes() []string {
	var out []string
	var walk func(*Snapshot)
	walk = func(x *Snapshot) {
		if x == nil {
			return
		}
		out = append(out, x.Class)
		for _, n := range x.Nested() {
			walk(n)
		}
	}
	walk(s)
	return out
}

// UnknownClassError is returned when a snapshot class is not known: its
// payload has no length, so nothing after it can be located.
type UnknownClassError struct {
	Class   string
	Version int32
	Offset  int64 // offset of the class name
}

func (e *UnknownClassError) Error() string {
	return fmt.Sprintf("offset %d (0x%x): serializer snapshot class %s (version %d) is not known; its payload has no length, so reading stops here",
		e.Offset, e.Offset, e.Class, e.Version)
}

// snapReader decodes snapshots from a binio.Decoder.
type snapReader struct {
	d       *binio.Decoder
	unknown *UnknownClassError
	depth   int
}

const maxSnapshotDepth = 64

func (r *snapReader) fail(at int64, format string, args ...any) {
	r.d.FailAt(at, format, args...)
}

// topLevel reads TypeSerializerSnapshotSerializationUtil.writeSerializerSnapshot:
// i32 proxy version, then a versioned snapshot.
func (r *snapReader) topLevel(what string) *Snapshot {
	d := r.d
	start := d.Offset()
	pv := d.I32(what + ": snapshot proxy version")
	if d.Failed() {
		return nil
	}
	if pv != 1 && pv != topProxyVersion {
		r.fail(start, "%s: serializer snapshot proxy version %d, want 1 or 2", what, pv)
		return nil
	}
	s := r.versioned(what)
	if s != nil {
		s.ProxyVersion = pv
		s.Offset = start
		s.Len = int(d.Offset() - start)
	}
	return s
}

// versioned reads TypeSerializerSnapshot.writeVersionedSnapshot: UTF class,
// i32 version, class-specific payload.
func (r *snapReader) versioned(what string) *Snapshot {
	d := r.d
	r.depth++
	defer func() { r.depth-- }()
	start := d.Offset()
	if r.depth > maxSnapshotDepth {
		r.fail(start, "%s: serializer snapshots nested deeper than %d", what, maxSnapshotDepth)
		return nil
	}
	s := &Snapshot{Offset: start}
	s.Class = d.UTF(what + ": snapshot class")
	s.Version = d.I32(what + ": snapshot version")
	if d.Failed() {
		return nil
	}
	c := lookupCodec(s.Class)
	if c == nil {
		c = r.inferCodec(s)
	}
	if c == nil {
		if r.unknown == nil {
			r.unknown = &UnknownClassError{Class: s.Class, Version: s.Version, Offset: start}
		}
		r.fail(start, "serializer snapshot class %s (version %d) is not known; its payload has no length, so reading stops here", s.Class, s.Version)
		return s
	}
	c.read(r, s)
	s.Len = int(d.Offset() - start)
	return s
}

// inferCodec recognises snapshots of unknown classes whose framing alone
// shows the layout: a CompositeTypeSerializerSnapshot with an empty outer
// snapshot (magic, outer version, then the nested-serializers magic).
func (r *snapReader) inferCodec(s *Snapshot) *codec {
	b := r.d.Buffer()[r.d.Pos():]
	if s.Version >= 3 && len(b) >= 12 && be32(b) == compositeMagic && be32(b[8:]) == nestedMagic {
		return &compositeCodec
	}
	return nil
}

func be32(b []byte) uint32 {
	return uint32(b[0])<<24 | uint32(b[1])<<16 | uint32(b[2])<<8 | uint32(b[3])
}

// Part readers: each appends the part it read.

func (r *snapReader) i32(ps *[]Part, name string) int32 {
	v := r.d.I32(name)
	*ps = append(*ps, Part{Kind: PartInt32, Name: name, Int: int64(v)})
	return v
}

func (r *snapReader) i64(ps *[]Part, name string) int64 {
	v := r.d.I64(name)
	*ps = append(*ps, Part{Kind: PartInt64, Name: name, Int: v})
	return v
}

func (r *snapReader) boolean(ps *[]Part, name string) bool {
	v := r.d.U8(name)
	*ps = append(*ps, Part{Kind: PartBool, Name: name, Int: int64(v)})
	return v != 0
}

func (r *snapReader) utf(ps *[]Part, name string) string {
	v := r.d.UTF(name)
	*ps = append(*ps, Part{Kind: PartUTF, Name: name, Str: v})
	return v
}

func (r *snapReader) stringValue(ps *[]Part, name string) string {
	d := r.d
	at := d.Offset()
	b := d.Buffer()[d.Pos():]
	v, null, n, err := ReadStringValue(b)
	if d.Failed() {
		return ""
	}
	if err != nil {
		r.fail(at, "%s: %v", name, err)
		return ""
	}
	if string(AppendStringValue(nil, v, null)) != string(b[:n]) {
		r.fail(at, "%s: StringValue encoding is not canonical", name)
		return ""
	}
	d.Skip(n, name)
	p := Part{Kind: PartStringValue, Name: name, Str: v}
	if null {
		p.Int = 1
	}
	*ps = append(*ps, p)
	return v
}

func (r *snapReader) nested(ps *[]Part, name string) *Snapshot {
	s := r.versioned(name)
	*ps = append(*ps, Part{Kind: PartNested, Name: name, Snap: s})
	return s
}

// java reads one self-delimiting Java serialization stream.
func (r *snapReader) java(ps *[]Part, name string) {
	d := r.d
	start := d.Pos()
	javaserReadFrom(d)
	if d.Failed() {
		return
	}
	*ps = append(*ps, Part{Kind: PartJava, Name: name, Bytes: d.Buffer()[start:d.Pos()]})
}

// framed reads an i32 length and calls body on a decoder limited to that
// many bytes; body must consume them all.
func (r *snapReader) framed(ps *[]Part, name string, body func(sub *snapReader, ps *[]Part)) {
	d := r.d
	at := d.Offset()
	n := d.I32(name + " length")
	if d.Failed() {
		return
	}
	if n < 0 || int(n) > d.Remaining() {
		r.fail(at, "%s: length %d exceeds the %d bytes that remain", name, n, d.Remaining())
		return
	}
	base := d.Offset()
	buf := d.Bytes(int(n), name)
	sd := binio.NewDecoder(buf, base)
	sub := &snapReader{d: sd, depth: r.depth}
	var parts []Part
	body(sub, &parts)
	if sd.Failed() {
		if r.unknown == nil {
			r.unknown = sub.unknown
		}
		r.fail(sd.Offset(), "%s", stripOffset(sd.Err()))
		return
	}
	if sd.Remaining() != 0 {
		r.fail(sd.Offset(), "%s: %d bytes left unread in a %d-byte frame", name, sd.Remaining(), n)
		return
	}
	*ps = append(*ps, Part{Kind: PartFramed, Name: name, Sub: parts})
}

func stripOffset(err error) string {
	if be, ok := err.(*binio.Error); ok {
		return be.Msg
	}
	return err.Error()
}

// ---- encoding ----

// AppendTopLevel appends s as a top-level snapshot (with proxy version).
func (s *Snapshot) AppendTopLevel(dst []byte) ([]byte, error) {
	e := binio.NewEncoder(dst)
	encodeTop(e, s)
	return e.Bytes(), e.Err()
}

func encodeTop(e *binio.Encoder, s *Snapshot) {
	pv := s.ProxyVersion
	if pv == 0 {
		pv = topProxyVersion
	}
	e.I32(pv)
	encodeVersioned(e, s)
}

func encodeVersioned(e *binio.Encoder, s *Snapshot) {
	if s == nil {
		e.Failf("nil serializer snapshot")
		return
	}
	e.UTF(s.Class, "snapshot class")
	e.I32(s.Version)
	encodeParts(e, s.Parts)
}

func encodeParts(e *binio.Encoder, ps []Part) {
	for i := range ps {
		p := &ps[i]
		switch p.Kind {
		case PartInt32:
			e.I32(int32(p.Int))
		case PartInt64:
			e.I64(p.Int)
		case PartInt16:
			e.I16(int16(p.Int))
		case PartBool:
			e.U8(uint8(p.Int))
		case PartUTF:
			e.UTF(p.Str, p.Name)
		case PartStringValue:
			e.Raw(AppendStringValue(nil, p.Str, p.Int != 0))
		case PartJava, PartBytes:
			e.Raw(p.Bytes)
		case PartNested:
			encodeVersioned(e, p.Snap)
		case PartTopLevel:
			if p.Snap == nil {
				e.Failf("nil serializer snapshot")
				break
			}
			encodeTop(e, p.Snap)
		case PartFramed:
			at := e.Len()
			e.I32(0)
			encodeParts(e, p.Sub)
			n := e.Len() - at - 4
			b := e.Bytes()
			b[at], b[at+1], b[at+2], b[at+3] = byte(n>>24), byte(n>>16), byte(n>>8), byte(n)
		default:
			e.Failf("snapshot part %q has unknown kind %d", p.Name, p.Kind)
		}
	}
}
