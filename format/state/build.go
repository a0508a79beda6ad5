package state

// Constructors for headers that writers (fixtures, converters) build from
// scratch. They produce what Flink 1.7 – 2.x writes.

// Snapshot classes of common serializers.
const (
	LongSnapshotClass           = pBase + "LongSerializer$LongSerializerSnapshot"
	IntSnapshotClass            = pBase + "IntSerializer$IntSerializerSnapshot"
	StringSnapshotClass         = pBase + "StringSerializer$StringSerializerSnapshot"
	BooleanSnapshotClass        = pBase + "BooleanSerializer$BooleanSerializerSnapshot"
	DoubleSnapshotClass         = pBase + "DoubleSerializer$DoubleSerializerSnapshot"
	BytesSnapshotClass          = pArray + "BytePrimitiveArraySerializer$BytePrimitiveArraySerializerSnapshot"
	VoidNamespaceSnapshotClass  = pState + "VoidNamespaceSerializer$VoidNamespaceSerializerSnapshot"
	TupleSnapshotClass          = pRuntime + "TupleSerializerSnapshot"
	ListSnapshotClass           = pBase + "ListSerializerSnapshot"
	MapSnapshotClass            = pBase + "MapSerializerSnapshot"
	TimerSnapshotClass          = "org.apache.flink.streaming.api.operators.TimerSerializerSnapshot"
	KryoSnapshotClass           = pKryo + "KryoSerializerSnapshot"
	ScalaCaseClassSnapshotClass = pScala + "ScalaCaseClassSerializerSnapshot"
)

// SimpleSnapshot is the snapshot of a parameterless serializer
// (SimpleTypeSerializerSnapshot version 3: no payload).
func SimpleSnapshot(class string) *Snapshot {
	return &Snapshot{ProxyVersion: topProxyVersion, Class: class, Version: 3}
}

// CompositeSnapshot is a CompositeTypeSerializerSnapshot (version 3) with the
// given outer snapshot version and parts and nested serializers.
func CompositeSnapshot(class string, outerVersion int32, outer []Part, nested ...*Snapshot) *Snapshot {
	s := &Snapshot{ProxyVersion: topProxyVersion, Class: class, Version: 3}
	s.Parts = append(s.Parts,
		Part{Kind: PartInt32, Name: "compositeMagic", Int: compositeMagic},
		Part{Kind: PartInt32, Name: "outerVersion", Int: int64(outerVersion)})
	s.Parts = append(s.Parts, outer...)
	s.Parts = append(s.Parts,
		Part{Kind: PartInt32, Name: "nestedMagic", Int: nestedMagic},
		Part{Kind: PartInt32, Name: "nestedVersion", Int: 1},
		Part{Kind: PartInt32, Name: "nestedCount", Int: int64(len(nested))})
	for _, n := range nested {
		c := *n
		c.ProxyVersion = 0
		s.Parts = append(s.Parts, Part{Kind: PartNested, Name: "nested", Snap: &c})
	}
	return s
}

// TupleSnapshot is the snapshot of a TupleSerializer for tupleClass
// ("org.apache.flink.api.java.tuple.Tuple2", …).
func TupleSnapshot(tupleClass string, fields ...*Snapshot) *Snapshot {
	return CompositeSnapshot(TupleSnapshotClass, 2, []Part{{Kind: PartUTF, Name: "tupleClass", Str: tupleClass}}, fields...)
}

// ListSnapshot, MapSnapshot and TimerSnapshot are the snapshots of
// ListSerializer, MapSerializer and TimerSerializer.
func ListSnapshot(elem *Snapshot) *Snapshot {
	return CompositeSnapshot(ListSnapshotClass, 1, nil, elem)
}

func MapSnapshot(key, value *Snapshot) *Snapshot {
	return CompositeSnapshot(MapSnapshotClass, 1, nil, key, value)
}

func TimerSnapshot(key, namespace *Snapshot) *Snapshot {
	return CompositeSnapshot(TimerSnapshotClass, 2, nil, key, namespace)
}

// KeyValueStateMeta describes a keyed state of kind VALUE, LIST, MAP,
// REDUCING or AGGREGATING. value is the state serializer (for LIST a
// ListSnapshot, for MAP a MapSnapshot).
func KeyValueStateMeta(name, kind string, namespace, value *Snapshot) StateMeta {
	return StateMeta{Name: name, Type: KeyValueState,
		Options:     []Option{{OptKeyedStateType, kind}},
		Serializers: []NamedSnapshot{{ValueSerializerKey, value}, {NamespaceSerializerKey, namespace}}}
}

// TimerStateMeta describes a timer queue ("_timer_state/event_<service>").
func TimerStateMeta(name string, element *Snapshot) StateMeta {
	return StateMeta{Name: name, Type: PriorityQueueState, Serializers: []NamedSnapshot{{ValueSerializerKey, element}}}
}

// NewKeyedHeader builds a version 6 header.
func NewKeyedHeader(compressed bool, key *Snapshot, states ...StateMeta) *KeyedHeader {
	return &KeyedHeader{Version: KeyedVersion, Compressed: compressed, KeySerializer: key, States: states}
}

// IsList reports whether s is a serializer snapshot of Flink's list
// serializers as keyed LIST state uses them (ListSerializer, its 1.3 – 1.7
// config, ArrayListSerializer): i32 size, then the elements, no null mask.
func IsList(s *Snapshot) bool {
	if s == nil || len(s.Nested()) != 1 {
		return false
	}
	if p, _ := s.Param("hasNullMask"); p.Int != 0 {
		return false
	}
	switch s.Class {
	case ListSnapshotClass, pBase + "CollectionSerializerConfigSnapshot", pState + "ArrayListSerializerSnapshot":
		return true
	}
	return false
}

// IsMap reports whether s is a MapSerializer snapshot (or its 1.3 – 1.7
// config): keyed MAP state's value serializer.
func IsMap(s *Snapshot) bool {
	return s != nil && len(s.Nested()) == 2 && (s.Class == MapSnapshotClass || s.Class == pBase+"MapSerializerConfigSnapshot")
}
