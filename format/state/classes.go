package state

import (
	"sort"

	"github.com/fsnap/fsnap/format/internal/binio"
	"github.com/fsnap/fsnap/format/javaser"
)

// codec knows the payload layout of one family of snapshot classes.
type codec struct {
	read func(r *snapReader, s *Snapshot)
}

func javaserReadFrom(d *binio.Decoder) { javaser.SkipFrom(d) }

// Package prefixes, to keep the class table readable.
const (
	pBase    = "org.apache.flink.api.common.typeutils.base."
	pArray   = "org.apache.flink.api.common.typeutils.base.array."
	pRuntime = "org.apache.flink.api.java.typeutils.runtime."
	pState   = "org.apache.flink.runtime.state."
	pTable   = "org.apache.flink.table.runtime.typeutils."
	pCEP     = "org.apache.flink.cep.nfa."
	pTypes   = "org.apache.flink.api.common.typeutils."
	pKryo    = "org.apache.flink.api.java.typeutils.runtime.kryo."
	pScala   = "org.apache.flink.api.scala.typeutils."
)

// simpleClasses are the SimpleTypeSerializerSnapshot classes.
var simpleClasses = map[string]bool{}

// simple: SimpleTypeSerializerSnapshot. Version 3 has no payload; version 2
// (Flink 1.7) wrote the serializer class name.
var simpleCodec = codec{read: func(r *snapReader, s *Snapshot) {
	switch s.Version {
	case 3:
	case 2:
		r.utf(&s.Parts, "serializerClass")
	default:
		r.fail(s.Offset, "%s: simple serializer snapshot version %d, want 2 or 3", s.Class, s.Version)
	}
}}

// outerFunc reads a composite snapshot's outer configuration.
type outerFunc func(r *snapReader, s *Snapshot, outerVersion int32)

// compositeWith builds the codec of a CompositeTypeSerializerSnapshot
// subclass: version ≥ 3 writes magic and outer version before the outer
// snapshot; versions 1 and 2 (pre-1.8 forms) write the outer snapshot
// directly. The nested serializers follow.
func compositeWith(outer outerFunc) codec {
	return codec{read: func(r *snapReader, s *Snapshot) {
		d := r.d
		outerVersion := s.Version
		if s.Version > 2 {
			at := d.Offset()
			if m := r.i32(&s.Parts, "compositeMagic"); !d.Failed() && m != compositeMagic {
				r.fail(at, "%s: composite snapshot magic %08x, want %08x", s.Class, uint32(m), compositeMagic)
				return
			}
			outerVersion = r.i32(&s.Parts, "outerVersion")
		}
		if outer != nil && !d.Failed() {
			outer(r, s, outerVersion)
		}
		r.nestedDelegate(s)
	}}
}

var compositeCodec codec

func init() { compositeCodec = compositeWith(nil) }

// nestedDelegate reads NestedSerializersSnapshotDelegate: magic, version,
// count, nested snapshots.
func (r *snapReader) nestedDelegate(s *Snapshot) {
	d := r.d
	at := d.Offset()
	if m := r.i32(&s.Parts, "nestedMagic"); !d.Failed() && m != nestedMagic {
		r.fail(at, "%s: nested serializers magic %08x, want %08x", s.Class, uint32(m), nestedMagic)
		return
	}
	at = d.Offset()
	if v := r.i32(&s.Parts, "nestedVersion"); !d.Failed() && v != 1 {
		r.fail(at, "%s: nested serializers version %d, want 1", s.Class, v)
		return
	}
	at = d.Offset()
	n := r.i32(&s.Parts, "nestedCount")
	// Each nested snapshot takes at least a class name length and a version.
	if d.CheckCount(at, int64(n), s.Class+": nested serializer count", 6) < 0 {
		return
	}
	for i := 0; i < int(n) && !d.Failed(); i++ {
		r.nested(&s.Parts, "nested")
	}
}

func outerUTF(name string) outerFunc {
	return func(r *snapReader, s *Snapshot, _ int32) { r.utf(&s.Parts, name) }
}

func outerJava(name string) outerFunc {
	return func(r *snapReader, s *Snapshot, _ int32) { r.java(&s.Parts, name) }
}

func outerInt32(name string) outerFunc {
	return func(r *snapReader, s *Snapshot, _ int32) { r.i32(&s.Parts, name) }
}

func outerBool(name string) outerFunc {
	return func(r *snapReader, s *Snapshot, _ int32) { r.boolean(&s.Parts, name) }
}

// externalOuter: ExternalSerializerSnapshot's outer snapshot is a
// Java-serialized DataType. The table-planner savepoints of the corpus carry
// one more byte (0) between it and the nested serializers, which no source
// version we read writes; it is taken as a flag when, and only when, the
// nested-serializers magic follows it.
func externalOuter(r *snapReader, s *Snapshot, _ int32) {
	r.java(&s.Parts, "dataType")
	b := r.d.Buffer()[r.d.Pos():]
	if len(b) >= 5 && be32(b) != nestedMagic && b[0] <= 1 && be32(b[1:]) == nestedMagic {
		r.boolean(&s.Parts, "flag")
	}
}

// fields: a fixed list of parts.
func fieldsCodec(read func(r *snapReader, s *Snapshot)) codec { return codec{read: read} }

// rowData: RowDataSerializerSnapshot: i32 arity, one Java-serialized
// LogicalType per field, then the nested field serializers.
var rowDataCodec = codec{read: func(r *snapReader, s *Snapshot) {
	d := r.d
	at := d.Offset()
	n := r.i32(&s.Parts, "arity")
	if d.CheckCount(at, int64(n), "row arity", 4) < 0 {
		return
	}
	for i := 0; i < int(n) && !d.Failed(); i++ {
		r.java(&s.Parts, "logicalType")
	}
	r.nestedDelegate(s)
}}

// pojo: PojoSerializerSnapshot version 2: UTF class, then three
// LinkedOptionalMaps (fields, registered subclasses, non-registered
// subclasses) whose keys and values are length-framed.
var pojoCodec = codec{read: func(r *snapReader, s *Snapshot) {
	if s.Version != 2 {
		r.fail(s.Offset, "%s: version %d, want 2", s.Class, s.Version)
		return
	}
	r.utf(&s.Parts, "pojoClass")
	// A serializer fsnap does not decode stays opaque within its frame.
	snap := func(what string) func(sub *snapReader, ps *[]Part) {
		return func(sub *snapReader, ps *[]Part) { sub.framedSnapshot(ps, sub.d.Remaining(), what, false) }
	}
	// Field keys (declaring class and name) stay bytes; the name leads each entry.
	r.optionalMap(s, "field", nil, snap("field"))
	r.optionalMap(s, "registeredSubclass", nil, snap("registeredSubclass"))
	r.optionalMap(s, "nonRegisteredSubclass", nil, snap("nonRegisteredSubclass"))
}}

// optionalMap reads a LinkedOptionalMap (PojoSerializerSnapshot,
// KryoSerializerSnapshot): i64 header, i32 n, then per entry the key's
// name and, each behind a presence flag and an i32 length, the key and the
// value; key and value read them within their frames (nil: kept as bytes).
func (r *snapReader) optionalMap(s *Snapshot, what string, key, value func(sub *snapReader, ps *[]Part)) {
	d := r.d
	at := d.Offset()
	if h := r.i64(&s.Parts, what+"MapHeader"); !d.Failed() && h != optionalMapHdr {
		r.fail(at, "%s: %s map header %x, want %x", s.Class, what, h, optionalMapHdr)
		return
	}
	at = d.Offset()
	n := r.i32(&s.Parts, what+"Count")
	if d.CheckCount(at, int64(n), what+" count", 4) < 0 {
		return
	}
	raw := func(sub *snapReader, ps *[]Part) {
		if sub.d.Remaining() > 0 {
			*ps = append(*ps, Part{Kind: PartBytes, Name: "bytes", Bytes: sub.d.Bytes(sub.d.Remaining(), "bytes")})
		}
	}
	if key == nil {
		key = raw
	}
	if value == nil {
		value = raw
	}
	for i := 0; i < int(n) && !d.Failed(); i++ {
		r.utf(&s.Parts, what+"Name")
		if r.boolean(&s.Parts, what+"HasKey") {
			r.framed(&s.Parts, what+"Key", key)
		}
		if r.boolean(&s.Parts, what+"HasValue") {
			r.framed(&s.Parts, what+"Value", value)
		}
	}
}

// kryoRegistration reads KryoRegistrationSerializationProxy: UTF registered
// class, i32 definition type (0 unspecified, 1 serializer class, 2 a
// Java-serialized serializer instance) and what that type adds.
func (sub *snapReader) kryoRegistration(ps *[]Part) {
	sub.utf(ps, "registeredClass")
	switch sub.i32(ps, "serializerDefinitionType") {
	case 1:
		sub.utf(ps, "serializerClass")
	case 2:
		sub.java(ps, "serializerInstance")
	}
	if d := sub.d; !d.Failed() && d.Remaining() > 0 { // a type of a later release
		*ps = append(*ps, Part{Kind: PartBytes, Name: "rest", Bytes: d.Bytes(d.Remaining(), "rest")})
	}
}

// kryo: KryoSerializerSnapshot (Flink 1.7 – 2.x): UTF type class, then
// LinkedOptionalMaps of the registrations, the default serializer instances
// (Java-serialized) and the default serializer classes.
var kryoCodec = codec{read: func(r *snapReader, s *Snapshot) {
	r.utf(&s.Parts, "typeClass")
	utfKey := func(sub *snapReader, ps *[]Part) { sub.utf(ps, "class") }
	r.optionalMap(s, "registration", utfKey, func(sub *snapReader, ps *[]Part) { sub.kryoRegistration(ps) })
	r.optionalMap(s, "defaultSerializer", utfKey, func(sub *snapReader, ps *[]Part) { sub.java(ps, "serializer") })
	r.optionalMap(s, "defaultSerializerClass", utfKey, func(sub *snapReader, ps *[]Part) { sub.utf(ps, "serializerClass") })
}}

// kryoConfig: KryoSerializer$KryoSerializerConfigSnapshot (Flink 1.3 – 1.7):
// UTF type class, i32 n, n × (UTF name, registration).
var kryoConfigCodec = legacyConfig(func(r *snapReader, s *Snapshot) {
	r.utf(&s.Parts, "typeClass")
	r.registrations(s)
})

// scalaEnum: ScalaEnumSerializerSnapshot: UTF enumeration class, i32 n,
// n × (UTF name, i32 id).
var scalaEnumCodec = codec{read: func(r *snapReader, s *Snapshot) {
	d := r.d
	r.utf(&s.Parts, "enumClass")
	at := d.Offset()
	n := r.i32(&s.Parts, "valueCount")
	if d.CheckCount(at, int64(n), "enum value count", 6) < 0 {
		return
	}
	for i := 0; i < int(n) && !d.Failed(); i++ {
		r.utf(&s.Parts, "valueName")
		r.i32(&s.Parts, "valueId")
	}
}}

// avro: AvroSerializerSnapshot: runtime class and writer schema; UTF
// strings in versions 1 and 2, StringValue strings (no 64 KiB limit) in
// version 3.
var avroCodec = codec{read: func(r *snapReader, s *Snapshot) {
	switch s.Version {
	case 1: // the schema only (a 1.4 – 1.6 config snapshot read as version 1)
		r.utf(&s.Parts, "schema")
	case 2:
		r.utf(&s.Parts, "runtimeClass")
		r.utf(&s.Parts, "schema")
	case 3:
		r.stringValue(&s.Parts, "runtimeClass")
		r.stringValue(&s.Parts, "schema")
	default:
		r.fail(s.Offset, "%s: version %d, want 1 to 3", s.Class, s.Version)
	}
}}

// enum: EnumSerializerSnapshot: UTF enum class, i32 n, n constant names.
var enumCodec = codec{read: func(r *snapReader, s *Snapshot) {
	d := r.d
	r.utf(&s.Parts, "enumClass")
	at := d.Offset()
	n := r.i32(&s.Parts, "constantCount")
	if d.CheckCount(at, int64(n), "enum constant count", 2) < 0 {
		return
	}
	for i := 0; i < int(n) && !d.Failed(); i++ {
		r.utf(&s.Parts, "constant")
	}
}}

// ---- legacy (Flink ≤ 1.7) TypeSerializerConfigSnapshot forms ----

// A TypeSerializerConfigSnapshot appears in two shapes:
//   - inside Flink 1.7 snapshots, as an adapter: version 0x7a53c4f0, then the
//     Java-serialized prior serializer (i32 1, i32 length, bytes), then the
//     config's own VersionedIOReadableWritable (i32 version, data);
//   - in Flink 1.6 headers (proxy version 1), directly: the version is the
//     config's own version and its data follows.
func legacyConfig(data func(r *snapReader, s *Snapshot)) codec {
	return codec{read: func(r *snapReader, s *Snapshot) {
		d := r.d
		if s.Version == adapterVersion {
			at := d.Offset()
			if v := r.i32(&s.Parts, "serializerProxyVersion"); !d.Failed() && v != 1 {
				r.fail(at, "%s: serializer proxy version %d, want 1", s.Class, v)
				return
			}
			r.framed(&s.Parts, "priorSerializer", func(sub *snapReader, ps *[]Part) {
				sub.java(ps, "serializer")
			})
			r.i32(&s.Parts, "configVersion")
		}
		if !d.Failed() {
			data(r, s)
		}
	}}
}

// compositeConfig: CompositeTypeSerializerConfigSnapshot.write: the nested
// serializers and configs with resilience, then class-specific data.
func compositeConfig(tail func(r *snapReader, s *Snapshot)) codec {
	return legacyConfig(func(r *snapReader, s *Snapshot) {
		for _, e := range r.resilienceBlock(&s.Parts, "nested", 0) {
			s.picked = append(s.picked, e.pick())
		}
		if tail != nil && !r.d.Failed() {
			tail(r, s)
		}
	})
}

var codecs = map[string]*codec{}

func register(c codec, classes ...string) {
	for _, cl := range classes {
		cc := c
		codecs[cl] = &cc
	}
}

func lookupCodec(class string) *codec { return codecs[class] }

// KnownClasses lists the snapshot classes this package decodes.
func KnownClasses() []string {
	out := make([]string, 0, len(codecs))
	for c := range codecs {
		out = append(out, c)
	}
	sort.Strings(out)
	return out
}

// IsKnownClass reports whether class is decoded by this package.
func IsKnownClass(class string) bool { return codecs[class] != nil }

func init() {
	// SimpleTypeSerializerSnapshot subclasses (no parameters).
	simple := []string{}
	for _, t := range []string{"Long", "Int", "String", "Boolean", "Double", "Float", "Short", "Byte", "Char",
		"BigInt", "BigDec", "Void", "Date", "SqlDate", "SqlTime", "SqlTimestamp", "BooleanValue",
		"ByteValue", "CharValue", "DoubleValue", "FloatValue", "IntValue", "LongValue", "NullValue",
		"ShortValue", "StringValue", "LocalDate", "LocalTime", "LocalDateTime", "Instant"} {
		simple = append(simple, pBase+t+"Serializer$"+t+"SerializerSnapshot")
	}
	for _, t := range []string{"Boolean", "Byte", "Char", "Double", "Float", "Int", "Long", "Short", "String"} {
		simple = append(simple, pArray+t+"PrimitiveArraySerializer$"+t+"PrimitiveArraySerializerSnapshot")
	}
	simple = append(simple,
		pState+"VoidNamespaceSerializer$VoidNamespaceSerializerSnapshot",
		pState+"JavaSerializer$JavaSerializerSnapshot",
		"org.apache.flink.api.java.typeutils.runtime.kryo.JavaSerializer$JavaSerializerSnapshot",
		"org.apache.flink.streaming.api.windowing.windows.GlobalWindow$Serializer$GlobalWindowSerializerSnapshot",
		"org.apache.flink.streaming.api.windowing.windows.TimeWindow$Serializer$TimeWindowSerializerSnapshot",
		"org.apache.flink.table.runtime.operators.window.TimeWindow$Serializer$TimeWindowSerializerSnapshot",
		"org.apache.flink.table.runtime.operators.window.CountWindow$Serializer$CountWindowSerializerSnapshot",
		pTable+"StringDataSerializer$StringDataSerializerSnapshot",
		"org.apache.flink.table.dataview.NullSerializer$NullSerializerSnapshot",
		pCEP+"sharedbuffer.EventId$EventIdSerializer$EventIdSerializerSnapshot",
		pCEP+"DeweyNumber$DeweyNumberSerializer$DeweyNumberSerializerSnapshot",
	)
	simple = append(simple, pScala+"UnitSerializer$UnitSerializerSnapshot", pScala+"NothingSerializerSnapshot")
	register(simpleCodec, simple...)
	for _, c := range simple {
		simpleClasses[c] = true
	}

	// CompositeTypeSerializerSnapshot subclasses without outer snapshot.
	register(compositeCodec,
		pBase+"MapSerializerSnapshot",
		"org.apache.flink.streaming.api.operators.TimerSerializerSnapshot",
		pRuntime+"JavaEitherSerializerSnapshot",
		pRuntime+"EitherSerializerSnapshot",
		pTable+"RawValueDataSerializer$RawValueDataSerializerSnapshot",
		pCEP+"sharedbuffer.Lockable$LockableTypeSerializerSnapshot",
		pCEP+"sharedbuffer.LockableTypeSerializerSnapshot",
		pCEP+"sharedbuffer.NodeId$NodeIdSerializer$NodeIdSerializerSnapshot",
		pCEP+"sharedbuffer.SharedBufferEdge$SharedBufferEdgeSerializer$SharedBufferEdgeSerializerSnapshot",
		pCEP+"sharedbuffer.SharedBufferNodeSerializerSnapshotV2",
		"org.apache.flink.runtime.state.ttl.TtlStateFactory$TtlSerializerSnapshot",
		"org.apache.flink.runtime.state.ttl.TtlAwareSerializerSnapshot",
	)
	register(compositeWith(outerUTF("tupleClass")), pRuntime+"TupleSerializerSnapshot")
	register(kryoCodec, KryoSnapshotClass)
	register(kryoConfigCodec, pKryo+"KryoSerializer$KryoSerializerConfigSnapshot")

	// The Scala API (flink-scala).
	register(compositeWith(outerUTF("caseClass")), ScalaCaseClassSnapshotClass, pScala+"Tuple2CaseClassSerializerSnapshot")
	register(compositeCodec, pScala+"ScalaOptionSerializerSnapshot", pScala+"ScalaEitherSerializerSnapshot", pScala+"ScalaTrySerializerSnapshot")
	register(compositeWith(outerUTF("cbfCode")), pScala+"TraversableSerializerSnapshot")
	register(scalaEnumCodec, pScala+"ScalaEnumSerializerSnapshot")
	register(compositeWith(externalOuter), pTable+"ExternalSerializer$ExternalSerializerSnapshot")
	register(compositeWith(func(r *snapReader, s *Snapshot, v int32) {
		if v >= 2 {
			r.boolean(&s.Parts, "supportsPreviousTimestamps")
		}
	}), pCEP+"NFAStateSerializerSnapshot")
	register(compositeWith(outerUTF("componentClass")), pBase+"GenericArraySerializerSnapshot")
	// Outer version 4 (Flink 1.13+) adds the row-kind flag; 2 and 3 have none.
	register(compositeWith(func(r *snapReader, s *Snapshot, v int32) {
		if v >= 4 {
			r.boolean(&s.Parts, "supportsRowKind")
		}
	}), pRuntime+"RowSerializer$RowSerializerSnapshot")
	// GenericTypeSerializerSnapshot (version 2): the type class.
	register(fieldsCodec(func(r *snapReader, s *Snapshot) { r.utf(&s.Parts, "typeClass") }),
		pRuntime+"ValueSerializer$ValueSerializerSnapshot", pRuntime+"CopyableValueSerializer$CopyableValueSerializerSnapshot")

	register(rowDataCodec, pTable+"RowDataSerializer$RowDataSerializerSnapshot")
	register(pojoCodec, pRuntime+"PojoSerializerSnapshot")
	register(avroCodec, "org.apache.flink.formats.avro.typeutils.AvroSerializerSnapshot")
	register(enumCodec, pBase+"EnumSerializer$EnumSerializerSnapshot")

	register(fieldsCodec(func(r *snapReader, s *Snapshot) { r.i32(&s.Parts, "precision") }),
		pTable+"TimestampDataSerializer$TimestampDataSerializerSnapshot",
		pTable+"LocalZonedTimestampDataSerializer$LocalZonedTimestampDataSerializerSnapshot")
	register(fieldsCodec(func(r *snapReader, s *Snapshot) {
		r.i32(&s.Parts, "precision")
		r.i32(&s.Parts, "scale")
	}), pTable+"DecimalDataSerializer$DecimalSerializerSnapshot")

	// The corpus's custom test serializer (TypeSerializerSnapshotMigrationITCase).
	register(fieldsCodec(func(r *snapReader, s *Snapshot) { r.utf(&s.Parts, "configPayload") }),
		"org.apache.flink.test.migration.TypeSerializerSnapshotMigrationITCase$TestSerializerSnapshot")

	// Legacy config snapshots (Flink ≤ 1.7).
	register(legacyConfig(func(r *snapReader, s *Snapshot) { r.utf(&s.Parts, "serializationFormatIdentifier") }),
		pTypes+"ParameterlessTypeSerializerConfig")
	register(compositeConfig(func(r *snapReader, s *Snapshot) { r.java(&s.Parts, "tupleClass") }),
		pRuntime+"TupleSerializerConfigSnapshot")
	register(compositeConfig(nil), pRuntime+"EitherSerializerConfigSnapshot",
		"org.apache.flink.streaming.api.operators.TimerSerializer$TimerSerializerConfigSnapshot")
	// Flink 1.4 – 1.6 wrote it as a legacy config (the schema); 1.7+ as an
	// AvroSerializerSnapshot of version 2.
	register(codec{read: func(r *snapReader, s *Snapshot) {
		if s.Version == 2 {
			avroCodec.read(r, s)
			return
		}
		legacyConfig(func(r *snapReader, s *Snapshot) { r.utf(&s.Parts, "schema") }).read(r, s)
	}}, "org.apache.flink.formats.avro.typeutils.AvroSerializer$AvroSchemaSerializerConfigSnapshot")
	registerMore()
	delete(codecs, "")
}

// Packages of connectors and libraries whose snapshots appear in savepoints.
const (
	pStream   = "org.apache.flink.streaming."
	pScalaAPI = "org.apache.flinkx.api.serializer."   // flink-scala-api
	pFlinkADT = "io.findify.flinkadt.api.serializer." // its predecessor
	pDataView = "org.apache.flink.table.dataview."
)

// legacyVersionOf is a legacy config snapshot's own version: the snapshot
// version when read directly (proxy version 1), the one after the adapter
// fields when written through the adapter (Flink 1.7 – 1.16).
func legacyVersionOf(s *Snapshot) int32 {
	if s.Version == adapterVersion {
		p, _ := s.Param("configVersion")
		return int32(p.Int)
	}
	return s.Version
}

// registrations reads KryoRegistrationSerializerConfigSnapshot's list: i32
// n, n × (UTF tag, registration).
func (r *snapReader) registrations(s *Snapshot) {
	d := r.d
	at := d.Offset()
	n := r.i32(&s.Parts, "registrationCount")
	if d.CheckCount(at, int64(n), "kryo registration count", 8) < 0 {
		return
	}
	for i := 0; i < int(n) && !d.Failed(); i++ {
		r.utf(&s.Parts, "registrationName")
		r.utf(&s.Parts, "registeredClass")
		switch r.i32(&s.Parts, "serializerDefinitionType") {
		case 1:
			r.utf(&s.Parts, "serializerClass")
		case 2:
			r.java(&s.Parts, "serializerInstance")
		}
	}
}

// javaCount reads i32 n then n Java serialization streams.
func (r *snapReader) javaCount(s *Snapshot, what string) {
	d := r.d
	at := d.Offset()
	n := r.i32(&s.Parts, what+"Count")
	if d.CheckCount(at, int64(n), what+" count", 4) < 0 {
		return
	}
	for i := 0; i < int(n) && !d.Failed(); i++ {
		r.java(&s.Parts, what)
	}
}

// registerMore adds the classes of Flink's libraries and connectors, and
// the legacy config snapshots of Flink 1.3 – 1.7 (see
// docs/format/serializer-snapshots.md for each layout and its source).
func registerMore() {
	// Legacy composite configs: i32 version, then the nested serializers
	// with resilience.
	register(compositeConfig(nil),
		pBase+"CollectionSerializerConfigSnapshot", pBase+"MapSerializerConfigSnapshot",
		pScala+"OptionSerializer$OptionSerializerConfigSnapshot", pScala+"ScalaOptionSerializerConfigSnapshot",
		pScala+"TrySerializer$TrySerializerConfigSnapshot", pScala+"ScalaTrySerializerConfigSnapshot",
		pScala+"TraversableSerializerConfigSnapshot", pScala+"ScalaEitherSerializerConfigSnapshot",
		pRuntime+"RowSerializer$RowSerializerConfigSnapshot", pRuntime+"NullableSerializer$NullableSerializerConfigSnapshot",
		pStream+"runtime.streamrecord.StreamElementSerializer$StreamElementSerializerConfigSnapshot",
		pStream+"api.functions.sink.TwoPhaseCommitSinkFunction$StateSerializerConfigSnapshot",
		pCEP+"NFA$NFASerializerConfigSnapshot", pCEP+"NFAStateSerializerConfigSnapshot",
		pCEP+"SharedBuffer$SharedBufferSerializerConfigSnapshot", pCEP+"sharedbuffer.LockableSerializerConfigSnapshot")
	// Generic-array config: legacy (resilience, Java class) up to 1.6, a
	// version-2 snapshot (UTF class, nested delegate) in 1.7.
	register(codec{read: func(r *snapReader, s *Snapshot) {
		if s.Version == 2 {
			r.utf(&s.Parts, "componentClass")
			r.nestedDelegate(s)
			return
		}
		compositeConfig(func(r *snapReader, s *Snapshot) { r.java(&s.Parts, "componentClass") }).read(r, s)
	}}, pBase+"GenericArraySerializerConfigSnapshot")
	enumConfig := func(scala bool) codec {
		return legacyConfig(func(r *snapReader, s *Snapshot) {
			if legacyVersionOf(s) == 1 { // Flink 1.3: Java-serialized class and constants
				if scala {
					r.java(&s.Parts, "enumClass")
				} else {
					r.utf(&s.Parts, "enumClass")
				}
				r.java(&s.Parts, "constants")
				return
			}
			if scala {
				scalaEnumCodec.read(r, s)
			} else {
				enumCodec.read(r, s)
			}
		})
	}
	register(enumConfig(false), pBase+"EnumSerializer$EnumSerializerConfigSnapshot")
	register(enumConfig(true), pScala+"EnumValueSerializer$ScalaEnumSerializerConfigSnapshot")
	register(legacyConfig(func(r *snapReader, s *Snapshot) {
		r.utf(&s.Parts, "typeClass")
		r.registrations(s)
	}), pRuntime+"ValueSerializer$ValueSerializerConfigSnapshot")
	register(legacyConfig(func(r *snapReader, s *Snapshot) { r.utf(&s.Parts, "typeClass") }),
		pRuntime+"CopyableValueSerializer$CopyableValueSerializerConfigSnapshot")
	register(legacyConfig(func(r *snapReader, s *Snapshot) {
		r.utf(&s.Parts, "typeClass")
		r.registrations(s)
		r.utf(&s.Parts, "typeToInstantiate")
	}), "org.apache.flink.formats.avro.typeutils.AvroSerializer$AvroSerializerConfigSnapshot",
		pRuntime+"AvroSerializer$AvroSerializerConfigSnapshot")
	register(legacyConfig(func(r *snapReader, s *Snapshot) { r.pojoConfig(s) }), pRuntime+"PojoSerializer$PojoSerializerConfigSnapshot")

	// Composites without an outer snapshot.
	register(compositeCodec,
		pState+"ArrayListSerializerSnapshot",
		pStream+"runtime.streamrecord.StreamElementSerializer$StreamElementSerializerSnapshot",
		pTypes+"SingleThreadAccessCheckingTypeSerializer$SingleThreadAccessCheckingTypeSerializerSnapshot",
		pBase+"SetSerializerSnapshot",
		pTable+"WindowKeySerializer$WindowKeySerializerSnapshot",
		pDataView+"ListViewSerializerSnapshot", pDataView+"MapViewSerializerSnapshot", pDataView+"NullAwareMapSerializerSnapshot",
		pCEP+"NFA$MigratedNFASerializerSnapshot", pCEP+"SharedBuffer$SharedBufferSerializerSnapshot",
		pScalaAPI+"ScalaOptionSerializerSnapshot", pScalaAPI+"ScalaEitherSerializerSnapshot",
		pFlinkADT+"ScalaOptionSerializerSnapshot", pFlinkADT+"ScalaEitherSerializerSnapshot")
	// ListSerializer's outer version 2 (Flink 2.x) adds a null-mask flag.
	register(compositeWith(func(r *snapReader, s *Snapshot, v int32) {
		if v >= 2 {
			r.boolean(&s.Parts, "hasNullMask")
		}
	}), pBase+"ListSerializerSnapshot")
	register(compositeWith(func(r *snapReader, s *Snapshot, v int32) {
		if v >= 3 {
			r.boolean(&s.Parts, "hasNullMask")
		}
	}), pTable+"LinkedListSerializer$LinkedListSerializerSnapshot")
	register(compositeWith(func(r *snapReader, s *Snapshot, v int32) {
		if v >= 4 {
			r.boolean(&s.Parts, "supportsNullTransaction")
		}
	}), pStream+"api.functions.sink.TwoPhaseCommitSinkFunction$StateSerializerSnapshot")
	register(compositeWith(outerInt32("nullPaddingLength")), pRuntime+"NullableSerializer$NullableSerializerSnapshot")
	caseClass := compositeWith(func(r *snapReader, s *Snapshot, v int32) {
		r.utf(&s.Parts, "caseClass")
		if v >= 3 {
			r.boolean(&s.Parts, "isCaseClassImmutable")
		}
	})
	register(caseClass, pScalaAPI+"ScalaCaseClassSerializerSnapshot", pFlinkADT+"ScalaCaseClassSerializerSnapshot")
	register(compositeWith(func(r *snapReader, s *Snapshot, _ int32) {
		d := r.d
		at := d.Offset()
		n := r.i32(&s.Parts, "subtypeCount")
		if d.CheckCount(at, int64(n), "subtype count", 1) < 0 {
			return
		}
		for i := 0; i < int(n) && !d.Failed(); i++ {
			r.stringValue(&s.Parts, "subtype")
		}
	}), pScalaAPI+"CoproductSerializer$CoproductSerializerSnapshot", pFlinkADT+"CoproductSerializer$CoproductSerializerSnapshot")
	for _, p := range []string{pScalaAPI, pFlinkADT} {
		register(fieldsCodec(func(r *snapReader, s *Snapshot) {
			r.utf(&s.Parts, "serializerClass")
			r.utf(&s.Parts, "elementClass")
			r.nested(&s.Parts, "nested")
		}), p+"CollectionSerializerSnapshot")
		register(fieldsCodec(func(r *snapReader, s *Snapshot) {
			r.nested(&s.Parts, "nested")
			r.nested(&s.Parts, "nested")
		}), p+"MapSerializer$MapSerializerSnapshot")
		register(fieldsCodec(func(r *snapReader, s *Snapshot) {
			r.utf(&s.Parts, "mapperClass")
			r.nested(&s.Parts, "nested")
		}), p+"MappedSerializer$MappedSerializerSnapshot")
		register(fieldsCodec(func(r *snapReader, s *Snapshot) { r.utf(&s.Parts, "objectClass") }),
			p+"ScalaCaseObjectSerializer$ScalaCaseObjectSerializerSnapshot")
		register(simpleCodec, p+"UnitSerializer$UnitSerializerSnapshot", p+"NothingSerializerSnapshot")
	}

	// Table runtime.
	register(rowDataCodec, pTable+"BaseRowSerializer$BaseRowSerializerSnapshot")
	register(fieldsCodec(func(r *snapReader, s *Snapshot) { r.i32(&s.Parts, "numFields") }),
		pTable+"BinaryRowDataSerializer$BinaryRowDataSerializerSnapshot", pTable+"BinaryRowSerializer$BinaryRowSerializerSnapshot")
	register(fieldsCodec(func(r *snapReader, s *Snapshot) {
		r.i32(&s.Parts, "precision")
		r.i32(&s.Parts, "scale")
	}), pTable+"DecimalSerializer$DecimalSerializerSnapshot")
	register(fieldsCodec(func(r *snapReader, s *Snapshot) { r.i32(&s.Parts, "precision") }),
		pTable+"SqlTimestampSerializer$SqlTimestampSerializerSnapshot")
	register(fieldsCodec(func(r *snapReader, s *Snapshot) {
		r.java(&s.Parts, "elementType")
		r.java(&s.Parts, "elementSerializer")
	}), pTable+"ArrayDataSerializer$ArrayDataSerializerSnapshot", pTable+"BaseArraySerializer$BaseArraySerializerSnapshot")
	register(fieldsCodec(func(r *snapReader, s *Snapshot) {
		for _, n := range []string{"keyType", "valueType", "keySerializer", "valueSerializer"} {
			r.java(&s.Parts, n)
		}
	}), pTable+"MapDataSerializer$MapDataSerializerSnapshot", pTable+"BaseMapSerializer$BaseMapSerializerSnapshot")
	register(fieldsCodec(func(r *snapReader, s *Snapshot) {
		r.java(&s.Parts, "comparator")
		r.nestedDelegate(s)
	}), pTable+"SortedMapSerializerSnapshot")
	register(simpleCodec, pTable+"BinaryStringSerializer$BinaryStringSerializerSnapshot", pRuntime+"Tuple0SerializerSnapshot")

	// Connectors: the Kafka producers' simple serializers, and
	// SimpleVersionedSerializer proxies (version = the wrapped serializer's;
	// payload a length-prefixed Java stream).
	for _, producer := range []string{"FlinkKafkaProducer", "FlinkKafkaProducer011"} {
		base := pStream + "connectors.kafka." + producer + "$"
		for _, n := range []string{"TransactionStateSerializer", "ContextStateSerializer", "NextTransactionalIdHintSerializer"} {
			register(simpleCodec, base+n+"$"+n+"Snapshot")
			simpleClasses[base+n+"$"+n+"Snapshot"] = true
		}
	}
	register(fieldsCodec(func(r *snapReader, s *Snapshot) {
		r.framed(&s.Parts, "supplier", func(sub *snapReader, ps *[]Part) { sub.java(ps, "supplier") })
	}), "org.apache.flink.core.io.SimpleVersionedSerializerTypeSerializerProxy$SimpleVersionedSerializerTypeSerializerProxySnapshot")
}
