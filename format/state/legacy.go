package state

import (
	"strings"

	"github.com/fsnap/fsnap/format/internal/binio"
	"github.com/fsnap/fsnap/format/javaser"
)

// Headers of Flink 1.2 – 1.6 (keyed proxy versions 1 – 5, operator proxy
// versions 1 – 4) store serializers as Java objects, from 1.3 on beside a
// TypeSerializerConfigSnapshot in a "with resilience" block whose offsets
// frame every entry. They are read field by field into the header's legacy
// parts (so Append writes them back unchanged) and their states into the
// same StateMeta shape that later versions have, the way Flink's own
// LegacyStateMetaInfoReaders map them.

// stateDescriptorTypes are StateDescriptor.Type constants by ordinal, the
// keyed state kind of meta-info formats 1 – 4.
var stateDescriptorTypes = []string{"UNKNOWN", "VALUE", "LIST", "REDUCING", "FOLDING", "AGGREGATING", "MAP"}

// operatorModes are OperatorStateHandle.Mode constants by ordinal.
var operatorModes = []string{"SPLIT_DISTRIBUTE", "UNION", "BROADCAST"}

// legacyEntry is one serializer of a "with resilience" block: its config
// snapshot (Opaque when the class is not decoded: the block's offsets still
// delimit it) and the snapshot derived from the Java-serialized serializer
// (nil when that object is not one fsnap maps).
type legacyEntry struct{ config, derived *Snapshot }

// pick chooses the snapshot that describes the entry best: the config
// snapshot when its layout is known, else the derived one when its layout
// is, else whichever exists.
func (e legacyEntry) pick() *Snapshot {
	if e.config != nil && !e.config.Opaque {
		if _, err := LayoutOf(e.config); err == nil || e.derived == nil {
			return e.config
		}
	}
	if e.derived != nil {
		if _, err := LayoutOf(e.derived); err == nil || e.config == nil || e.config.Opaque {
			return e.derived
		}
	}
	if e.config != nil {
		return e.config
	}
	return e.derived
}

// readLegacyKeyed reads a KeyedBackendSerializationProxy of versions 1 – 5
// after its version field.
func (r *snapReader) readLegacyKeyed(h *KeyedHeader) {
	d := r.d
	ps := &h.legacy
	if h.Version >= 4 {
		h.Compressed = r.flag(ps, "compression flag")
	}
	if h.Version >= 3 {
		if es := r.resilienceBlock(ps, "keySerializer", 1); len(es) == 1 {
			h.KeySerializer = es[0].pick()
		}
	} else {
		h.KeySerializer = r.legacySerializer(ps, "keySerializer")
	}
	n := r.stateCount(ps)
	for i := 0; i < n && !d.Failed(); i++ {
		h.States = append(h.States, StateMeta{})
		m := &h.States[len(h.States)-1]
		switch {
		case h.Version == KeyedVersionFlink16:
			r.metaFormat5(ps, m)
		default:
			r.keyedMetaV1toV4(ps, m, h.Version >= 3)
		}
	}
}

// readLegacyOperator reads an OperatorBackendSerializationProxy of versions
// 1 – 4 after its version field.
func (r *snapReader) readLegacyOperator(h *OperatorHeader) {
	d := r.d
	ps := &h.legacy
	lists := []*[]StateMeta{&h.OperatorStates}
	if h.Version >= 3 { // broadcast state came with 1.5
		lists = append(lists, &h.BroadcastStates)
	}
	total := 0
	for _, list := range lists {
		n := r.stateCount(ps)
		for i := 0; i < n && !d.Failed(); i++ {
			*list = append(*list, StateMeta{})
			m := &(*list)[len(*list)-1]
			if h.Version == 4 {
				r.metaFormat5(ps, m)
			} else {
				r.operatorMetaV1toV3(ps, m, h.Version >= 2)
			}
		}
		total += n
	}
	// Flink 1.2 – 1.4 wrote the number of registered states after the
	// header (DefaultOperatorStateBackend); element offsets start after it.
	if h.Version <= 2 && !d.Failed() {
		at := d.Offset()
		if c := r.i32(ps, "registeredStates"); !d.Failed() && int(c) != total {
			r.fail(at, "operator header version %d: %d registered states after the header, but it names %d", h.Version, c, total)
		}
	}
}

// stateCount reads the i16 number of states that follows.
func (r *snapReader) stateCount(ps *[]Part) int {
	d := r.d
	at := d.Offset()
	n := int(d.I16("state count"))
	if d.Failed() {
		return 0
	}
	if n < 0 || n > d.Remaining()/6 {
		d.FailAt(at, "state count %d exceeds what %d remaining bytes can hold", n, d.Remaining())
		return 0
	}
	*ps = append(*ps, Part{Kind: PartInt16, Name: "stateCount", Int: int64(n)})
	return n
}

// keyedMetaV1toV4 reads KeyedBackendStateMetaInfoReaderV1V2 / V3V4: i32
// StateDescriptor.Type ordinal, UTF name, then the namespace and state
// serializers (1.2: two Java-serialized serializers; 1.3 – 1.5: a block
// with resilience holding both with their config snapshots).
func (r *snapReader) keyedMetaV1toV4(ps *[]Part, m *StateMeta, resilient bool) {
	d := r.d
	m.Offset = d.Offset()
	m.Type = KeyValueState
	at := d.Offset()
	t := r.i32(ps, "stateType")
	m.Name = r.utf(ps, "stateName")
	if d.Failed() {
		return
	}
	if t < 0 || int(t) >= len(stateDescriptorTypes) {
		r.fail(at, "state %q: state descriptor type %d is not known", m.Name, t)
		return
	}
	m.Options = []Option{{OptKeyedStateType, stateDescriptorTypes[t]}}
	var ns, val *Snapshot
	if resilient {
		es := r.resilienceBlock(ps, "serializers", 2)
		if len(es) != 2 {
			return
		}
		ns, val = es[0].pick(), es[1].pick()
	} else {
		ns = r.legacySerializer(ps, "namespaceSerializer")
		val = r.legacySerializer(ps, "stateSerializer")
	}
	m.Serializers = []NamedSnapshot{{NamespaceSerializerKey, ns}, {ValueSerializerKey, val}}
}

// operatorMetaV1toV3 reads OperatorBackendStateMetaInfoReaderV1 / V2V3: UTF
// name, u8 distribution mode, then the serializers (1.2: one Java object;
// 1.3 – 1.5: a block with resilience of one entry for list states, two,
// key and value, for broadcast states).
func (r *snapReader) operatorMetaV1toV3(ps *[]Part, m *StateMeta, resilient bool) {
	d := r.d
	m.Offset = d.Offset()
	m.Name = r.utf(ps, "stateName")
	at := d.Offset()
	mode := r.u8(ps, "distributionMode")
	if d.Failed() {
		return
	}
	if int(mode) >= len(operatorModes) {
		r.fail(at, "state %q: distribution mode %d is not known", m.Name, mode)
		return
	}
	m.Options = []Option{{OptDistributionMode, operatorModes[mode]}}
	m.Type = OperatorState
	if !resilient {
		m.Serializers = []NamedSnapshot{{ValueSerializerKey, r.derivedJava(ps, "serializer")}}
		return
	}
	es := r.resilienceBlock(ps, "serializers", 0)
	switch len(es) {
	case 1:
		m.Serializers = []NamedSnapshot{{ValueSerializerKey, es[0].pick()}}
	case 2:
		m.Type = BroadcastState
		m.Serializers = []NamedSnapshot{{KeySerializerKey, es[0].pick()}, {ValueSerializerKey, es[1].pick()}}
	default:
		if !d.Failed() {
			r.fail(m.Offset, "state %q: %d serializers, want 1 (list) or 2 (broadcast)", m.Name, len(es))
		}
	}
}

// metaFormat5 reads StateMetaInfoSnapshotReadersWriters format 5 (Flink
// 1.6): the format-6 fields, but the serializer keys come first and the
// serializers follow in one block with resilience.
func (r *snapReader) metaFormat5(ps *[]Part, m *StateMeta) {
	d := r.d
	m.Offset = d.Offset()
	m.Name = r.utf(ps, "stateName")
	at := d.Offset()
	m.Type = BackendStateType(r.i32(ps, "backendStateType"))
	if !d.Failed() && (m.Type < 0 || m.Type > PriorityQueueState) {
		r.fail(at, "state %q: backend state type %d is not known", m.Name, int32(m.Type))
		return
	}
	at = d.Offset()
	no := r.i32(ps, "optionCount")
	if d.CheckCount(at, int64(no), "option count", 4) < 0 {
		return
	}
	for i := 0; i < int(no) && !d.Failed(); i++ {
		k := r.utf(ps, "optionKey")
		v := r.utf(ps, "optionValue")
		m.Options = append(m.Options, Option{k, v})
	}
	at = d.Offset()
	ns := r.i32(ps, "serializerCount")
	if d.CheckCount(at, int64(ns), "serializer count", 2) < 0 {
		return
	}
	keys := make([]string, 0, ns)
	for i := 0; i < int(ns) && !d.Failed(); i++ {
		keys = append(keys, r.utf(ps, "serializerKey"))
	}
	if d.Failed() {
		return
	}
	es := r.resilienceBlock(ps, "serializers", len(keys))
	if len(es) != len(keys) {
		return
	}
	for i, k := range keys {
		m.Serializers = append(m.Serializers, NamedSnapshot{Key: k, Snapshot: es[i].pick()})
	}
}

// resilienceBlock reads TypeSerializerSerializationUtil's
// writeSerializersAndConfigsWithResilience: i32 n, n pairs of offsets, i32
// total, then a block holding, per entry, a serializer (i32 1, i32 length,
// Java bytes) and a top-level config snapshot. The offsets delimit every
// config snapshot, so one whose class is not decoded is kept as opaque
// bytes instead of stopping the header. want > 0 requires that many entries.
func (r *snapReader) resilienceBlock(ps *[]Part, what string, want int) []legacyEntry {
	d := r.d
	at := d.Offset()
	n := r.i32(ps, what+"Count")
	if d.CheckCount(at, int64(n), what+" count", 8) < 0 {
		return nil
	}
	if want > 0 && int(n) != want {
		r.fail(at, "%s: %d entries, want %d", what, n, want)
		return nil
	}
	offs := make([]int32, 0, 2*n)
	for i := 0; i < 2*int(n) && !d.Failed(); i++ {
		offs = append(offs, r.i32(ps, what+"Offset"))
	}
	if d.Failed() {
		return nil
	}
	var out []legacyEntry
	r.framed(ps, what+"Block", func(sub *snapReader, bps *[]Part) {
		sd := sub.d
		for i := 0; i < int(n) && !sd.Failed(); i++ {
			if int(offs[2*i]) != sd.Pos() {
				sub.fail(sd.Offset(), "%s %d: serializer at block offset %d, expected %d", what, i, sd.Pos(), offs[2*i])
				return
			}
			var e legacyEntry
			e.derived = sub.legacySerializer(bps, what)
			if sd.Failed() {
				return
			}
			if int(offs[2*i+1]) != sd.Pos() {
				sub.fail(sd.Offset(), "%s %d: config snapshot at block offset %d, expected %d", what, i, sd.Pos(), offs[2*i+1])
				return
			}
			end := len(sd.Buffer())
			if i+1 < int(n) {
				end = int(offs[2*i+2])
			}
			if end < sd.Pos() || end > len(sd.Buffer()) {
				sub.fail(sd.Offset(), "%s %d: next entry at block offset %d, outside %d..%d", what, i, end, sd.Pos(), len(sd.Buffer()))
				return
			}
			e.config = sub.framedConfig(bps, end-sd.Pos(), what+" config snapshot")
			out = append(out, e)
		}
	})
	if d.Failed() {
		return nil
	}
	return out
}

// legacySerializer reads TypeSerializerSerializationProxy: i32 version 1,
// then the Java-serialized serializer, length-prefixed since Flink 1.3 and
// bare before. It returns the snapshot derived from that object, if any.
func (r *snapReader) legacySerializer(ps *[]Part, what string) *Snapshot {
	d := r.d
	at := d.Offset()
	if v := r.i32(ps, "serializerProxyVersion"); !d.Failed() && v != 1 {
		r.fail(at, "%s: serializer proxy version %d, want 1", what, v)
		return nil
	}
	if d.Failed() {
		return nil
	}
	if b := d.Buffer()[d.Pos():]; len(b) >= 2 && b[0] == 0xAC && b[1] == 0xED { // Flink 1.2: no length
		return r.derivedJava(ps, "serializer")
	}
	var derived *Snapshot
	r.framed(ps, "serializer", func(jr *snapReader, jps *[]Part) {
		// Kept verbatim: it may name classes that no longer exist.
		base := jr.d.Offset()
		jb := jr.d.Bytes(jr.d.Remaining(), "serializer")
		*jps = append(*jps, Part{Kind: PartBytes, Name: "java", Bytes: jb})
		derived = DerivedSnapshot(jb, base)
	})
	return derived
}

// derivedJava reads a bare Java-serialized serializer and returns the
// snapshot derived from it.
func (r *snapReader) derivedJava(ps *[]Part, name string) *Snapshot {
	d := r.d
	start, base := d.Pos(), d.Offset()
	r.java(ps, name)
	if d.Failed() {
		return nil
	}
	return DerivedSnapshot(d.Buffer()[start:d.Pos()], base)
}

// framedConfig reads a top-level config snapshot of exactly n bytes.
func (r *snapReader) framedConfig(ps *[]Part, n int, what string) *Snapshot {
	return r.framedSnapshot(ps, n, what, true)
}

// framedSnapshot reads a snapshot (top-level, or nested without the proxy
// version) of exactly n bytes, whose extent framing fixes. A class that is
// not decoded, or a payload that does not fill its frame, keeps its bytes
// in an Opaque snapshot naming the class, which encodes back to them.
func (r *snapReader) framedSnapshot(ps *[]Part, n int, what string, top bool) *Snapshot {
	d := r.d
	base := d.Offset()
	b := d.Bytes(n, what)
	if d.Failed() {
		return nil
	}
	kind := PartNested
	if top {
		kind = PartTopLevel
	}
	sub := &snapReader{d: binio.NewDecoder(b, base), depth: r.depth}
	var s *Snapshot
	if top {
		s = sub.topLevel(what)
	} else {
		s = sub.versioned(what)
	}
	if !sub.d.Failed() && sub.d.Remaining() == 0 && s != nil {
		*ps = append(*ps, Part{Kind: kind, Name: what, Snap: s})
		return s
	}
	od := binio.NewDecoder(b, base)
	o := &Snapshot{Offset: base, Len: n, Opaque: true}
	if top {
		o.ProxyVersion = od.I32("proxy version")
	}
	o.Class = od.UTF("snapshot class")
	o.Version = od.I32("snapshot version")
	if od.Failed() || (top && o.ProxyVersion != 1 && o.ProxyVersion != topProxyVersion) {
		r.fail(base, "%s: %d bytes that do not start with a snapshot class name and version", what, n)
		return nil
	}
	o.Parts = []Part{{Kind: PartBytes, Name: "payload", Bytes: b[od.Pos():]}}
	*ps = append(*ps, Part{Kind: kind, Name: what, Snap: o})
	return o
}

// flag reads a Java boolean written as 0 or 1.
func (r *snapReader) flag(ps *[]Part, what string) bool {
	d := r.d
	at := d.Offset()
	v := d.U8(what)
	if d.Failed() {
		return false
	}
	if v > 1 {
		d.FailAt(at, "%s: byte %d, want 0 or 1", what, v)
		return false
	}
	*ps = append(*ps, Part{Kind: PartBool, Name: what, Int: int64(v)})
	return v == 1
}

func (r *snapReader) u8(ps *[]Part, name string) uint8 {
	v := r.d.U8(name)
	*ps = append(*ps, Part{Kind: PartBool, Name: name, Int: int64(v)})
	return v
}

// ---- snapshots derived from Java-serialized serializers ----

// DerivedSnapshot describes a Java-serialized TypeSerializer (bytes b at
// file offset base) as the serializer snapshot a later Flink writes for it,
// so layouts and value decoders apply: IntSerializer becomes an
// IntSerializerSnapshot, TupleSerializer a TupleSerializerSnapshot of its
// field serializers. Serializers fsnap does not map keep their class name
// (Derived) and have no layout. It returns nil when b does not decode.
func DerivedSnapshot(b []byte, base int64) *Snapshot {
	v, _, err := javaser.Read(b, base)
	if err != nil {
		return nil
	}
	return deriveSnapshot(v, 0)
}

// derivedSimple maps serializer classes whose snapshot class is not
// Class$ShortSnapshot.
var derivedSimple = map[string]string{
	"org.apache.flink.streaming.api.windowing.windows.GlobalWindow$Serializer": "org.apache.flink.streaming.api.windowing.windows.GlobalWindow$Serializer$GlobalWindowSerializerSnapshot",
	"org.apache.flink.streaming.api.windowing.windows.TimeWindow$Serializer":   "org.apache.flink.streaming.api.windowing.windows.TimeWindow$Serializer$TimeWindowSerializerSnapshot",
	pState + "JavaSerializer": pState + "JavaSerializer$JavaSerializerSnapshot",
	"org.apache.flink.api.java.typeutils.runtime.kryo.JavaSerializer": "org.apache.flink.api.java.typeutils.runtime.kryo.JavaSerializer$JavaSerializerSnapshot",
}

func deriveSnapshot(v any, depth int) *Snapshot {
	o, ok := v.(*javaser.Object)
	if !ok || o.Class == nil || depth > maxSnapshotDepth {
		return nil
	}
	class := o.Class.Name
	out := func(s *Snapshot) *Snapshot {
		s.ProxyVersion = 0
		s.Derived = class
		return s
	}
	if c, ok := derivedSimple[class]; ok {
		return out(&Snapshot{Class: c, Version: 3})
	}
	short := class[strings.LastIndexByte(class, '.')+1:]
	if c := class + "$" + short + "Snapshot"; simpleClasses[c] {
		return out(&Snapshot{Class: c, Version: 3})
	}
	nested := func(names ...string) []*Snapshot {
		var ns []*Snapshot
		for _, n := range names {
			f, _ := o.Get(n)
			s := deriveSnapshot(f, depth+1)
			if s == nil {
				return nil
			}
			ns = append(ns, s)
		}
		return ns
	}
	isA := func(super string) bool {
		for c := o.Class; c != nil; c = c.Super {
			if c.Name == super {
				return true
			}
		}
		return false
	}
	switch {
	case isA(pRuntime + "TupleSerializerBase"):
		fs, _ := o.Get("fieldSerializers")
		arr, _ := fs.(*javaser.Array)
		tc, _ := o.Get("tupleClass")
		cd, _ := tc.(*javaser.ClassDesc)
		if arr == nil || cd == nil {
			break
		}
		var fields []*Snapshot
		for _, f := range arr.Values {
			s := deriveSnapshot(f, depth+1)
			if s == nil {
				return out(&Snapshot{Class: class, Opaque: true})
			}
			fields = append(fields, s)
		}
		if strings.HasPrefix(class, pRuntime) {
			return out(TupleSnapshot(cd.Name, fields...))
		}
		// Scala case classes and tuples (CaseClassSerializer subclasses).
		return out(CompositeSnapshot(ScalaCaseClassSnapshotClass, 2, []Part{{Kind: PartUTF, Name: "caseClass", Str: cd.Name}}, fields...))
	case class == pBase+"ListSerializer" || class == pState+"ArrayListSerializer":
		if ns := nested("elementSerializer"); ns != nil {
			return out(ListSnapshot(ns[0]))
		}
	case class == pBase+"MapSerializer":
		if ns := nested("keySerializer", "valueSerializer"); ns != nil {
			return out(MapSnapshot(ns[0], ns[1]))
		}
	case class == pRuntime+"EitherSerializer":
		if ns := nested("leftSerializer", "rightSerializer"); ns != nil {
			return out(CompositeSnapshot(pRuntime+"JavaEitherSerializerSnapshot", 1, nil, ns...))
		}
	case class == pScala+"OptionSerializer":
		if ns := nested("elemSerializer"); ns != nil {
			return out(CompositeSnapshot(pScala+"ScalaOptionSerializerSnapshot", 1, nil, ns...))
		}
	case class == pScala+"EitherSerializer":
		if ns := nested("leftSerializer", "rightSerializer"); ns != nil {
			return out(CompositeSnapshot(pScala+"ScalaEitherSerializerSnapshot", 1, nil, ns...))
		}
	case class == pScala+"TrySerializer":
		if ns := nested("elemSerializer", "throwableSerializer"); ns != nil {
			return out(CompositeSnapshot(pScala+"ScalaTrySerializerSnapshot", 1, nil, ns...))
		}
	case class == pScala+"EnumValueSerializer":
		return out(&Snapshot{Class: pScala + "ScalaEnumSerializerSnapshot", Version: 3})
	case isA(pScala + "TraversableSerializer"):
		code, _ := o.Get("cbfCode")
		c, _ := code.(string)
		if ns := nested("elementSerializer"); ns != nil {
			return out(CompositeSnapshot(pScala+"TraversableSerializerSnapshot", 2, []Part{{Kind: PartUTF, Name: "cbfCode", Str: c}}, ns...))
		}
	case class == pKryo+"KryoSerializer":
		t, _ := o.Get("type")
		cd, _ := t.(*javaser.ClassDesc)
		s := &Snapshot{Class: KryoSnapshotClass, Version: 2}
		if cd != nil {
			s.Parts = []Part{{Kind: PartUTF, Name: "typeClass", Str: cd.Name}}
		}
		return out(s)
	case class == pRuntime+"PojoSerializer":
		t, _ := o.Get("clazz")
		s := &Snapshot{Class: class, Opaque: true}
		if cd, _ := t.(*javaser.ClassDesc); cd != nil {
			s.Parts = []Part{{Kind: PartUTF, Name: "pojoClass", Str: cd.Name}}
		}
		return out(s)
	}
	return out(&Snapshot{Class: class, Opaque: true})
}

// pojoConfig reads PojoSerializerConfigSnapshot's body (Flink 1.3 – 1.7):
// UTF class; for the fields, the registered and the non-registered
// subclasses, i32 n and n pairs of (serializer, snapshot) offsets; then a
// framed buffer holding per entry its name (before the offsets), the
// Java-serialized serializer and the config snapshot. A snapshot ends where
// the next entry's name begins, which fixes the extent of one fsnap cannot
// decode.
func (r *snapReader) pojoConfig(s *Snapshot) {
	d := r.d
	r.utf(&s.Parts, "pojoClass")
	var offs [][2]int32
	var kinds []string
	for _, what := range []string{"field", "registeredSubclass", "nonRegisteredSubclass"} {
		at := d.Offset()
		n := r.i32(&s.Parts, what+"Count")
		if d.CheckCount(at, int64(n), what+" count", 8) < 0 {
			return
		}
		for i := 0; i < int(n) && !d.Failed(); i++ {
			offs = append(offs, [2]int32{r.i32(&s.Parts, what+"SerializerOffset"), r.i32(&s.Parts, what+"SnapshotOffset")})
			kinds = append(kinds, what)
		}
	}
	if d.Failed() {
		return
	}
	r.framed(&s.Parts, "pojoBlock", func(sub *snapReader, ps *[]Part) {
		sd := sub.d
		buf := sd.Buffer()
		for i, o := range offs {
			sub.utf(ps, kinds[i]+"Name")
			if !sd.Failed() && int(o[0]) != sd.Pos() {
				sub.fail(sd.Offset(), "%s %d: serializer at offset %d, expected %d", kinds[i], i, sd.Pos(), o[0])
			}
			var derived *Snapshot
			if o[0] != o[1] && !sd.Failed() {
				derived = sub.legacySerializer(ps, kinds[i])
			}
			if !sd.Failed() && int(o[1]) != sd.Pos() {
				sub.fail(sd.Offset(), "%s %d: snapshot at offset %d, expected %d", kinds[i], i, sd.Pos(), o[1])
			}
			if sd.Failed() {
				return
			}
			end := len(buf)
			if i+1 < len(offs) {
				end = nameStart(buf, sd.Pos(), int(offs[i+1][0]))
			}
			if end < 0 {
				sub.fail(sd.Offset(), "%s %d: no entry name ends at offset %d", kinds[i], i+1, offs[i+1][0])
				return
			}
			cfg := sub.framedConfig(ps, end-sd.Pos(), kinds[i]+" config snapshot")
			if kinds[i] == "field" {
				s.picked = append(s.picked, legacyEntry{cfg, derived}.pick())
			}
		}
	})
}

// nameStart finds where a writeUTF string that ends at end begins, at or
// after from: the position e whose u16 length reaches exactly end. Shorter
// names are tried first; -1 when none fits.
func nameStart(b []byte, from, end int) int {
	if end > len(b) {
		return -1
	}
	for e := end - 2; e >= from; e-- {
		if int(b[e])<<8|int(b[e+1]) == end-e-2 {
			return e
		}
	}
	return -1
}
