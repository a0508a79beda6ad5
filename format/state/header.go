package state

import (
	"errors"
	"fmt"

	"github.com/fsnap/fsnap/format/internal/binio"
)

// Error is malformed state-file bytes: what failed and the absolute byte
// offset in the stream (file) where the failing field starts.
type Error struct {
	Offset int64
	Msg    string
}

func (e *Error) Error() string { return fmt.Sprintf("offset %d (0x%x): %s", e.Offset, e.Offset, e.Msg) }

// ErrUnsupportedVersion is wrapped by errors about header versions this
// package does not read.
var ErrUnsupportedVersion = errors.New("unsupported state header version")

// VersionError reports a stream header version that is recognised but not
// read (or not known at all).
type VersionError struct {
	Header  string // "KeyedBackendSerializationProxy" or "OperatorBackendSerializationProxy"
	Version int32
	Detail  string
}

func (e *VersionError) Error() string {
	return fmt.Sprintf("%s version %d: %s", e.Header, e.Version, e.Detail)
}

func (e *VersionError) Unwrap() error { return ErrUnsupportedVersion }

// BackendStateType is StateMetaInfoSnapshot.BackendStateType.
type BackendStateType int32

const (
	KeyValueState      BackendStateType = 0
	OperatorState      BackendStateType = 1
	BroadcastState     BackendStateType = 2
	PriorityQueueState BackendStateType = 3
)

func (t BackendStateType) String() string {
	switch t {
	case KeyValueState:
		return "KEY_VALUE"
	case OperatorState:
		return "OPERATOR"
	case BroadcastState:
		return "BROADCAST"
	case PriorityQueueState:
		return "PRIORITY_QUEUE"
	}
	return fmt.Sprintf("BackendStateType(%d)", int32(t))
}

// Option and serializer keys of StateMetaInfoSnapshot.
const (
	OptKeyedStateType   = "KEYED_STATE_TYPE"
	OptDistributionMode = "OPERATOR_STATE_DISTRIBUTION_MODE"

	KeySerializerKey       = "KEY_SERIALIZER"
	NamespaceSerializerKey = "NAMESPACE_SERIALIZER"
	ValueSerializerKey     = "VALUE_SERIALIZER"
)

// Option is one (key, value) option of a state meta info.
type Option struct{ Key, Value string }

// NamedSnapshot is one serializer of a state meta info.
type NamedSnapshot struct {
	Key      string // VALUE_SERIALIZER, NAMESPACE_SERIALIZER, KEY_SERIALIZER
	Snapshot *Snapshot
}

// StateMeta is a StateMetaInfoSnapshot: one state named in a header.
type StateMeta struct {
	Name        string
	Type        BackendStateType
	Options     []Option        // in file order (a Java HashMap's order)
	Serializers []NamedSnapshot // in file order
	Offset      int64           // where the meta info starts

	// legacy holds meta-info format 5 (Flink 1.6) serializers as read, so
	// they are written back unchanged.
	legacy []Part
}

// Option returns the value of an option, or "".
func (m *StateMeta) Option(key string) string {
	for _, o := range m.Options {
		if o.Key == key {
			return o.Value
		}
	}
	return ""
}

// Serializer returns the snapshot stored under key, or nil.
func (m *StateMeta) Serializer(key string) *Snapshot {
	for _, s := range m.Serializers {
		if s.Key == key {
			return s.Snapshot
		}
	}
	return nil
}

// Kind is the state's kind for display: VALUE, LIST, MAP, REDUCING,
// AGGREGATING, FOLDING (keyed), PRIORITY_QUEUE (timers), SPLIT_DISTRIBUTE,
// UNION (operator lists), BROADCAST.
func (m *StateMeta) Kind() string {
	switch m.Type {
	case KeyValueState:
		if k := m.Option(OptKeyedStateType); k != "" {
			return k
		}
	case OperatorState, BroadcastState:
		if k := m.Option(OptDistributionMode); k != "" {
			return k
		}
	}
	return m.Type.String()
}

// KeyedHeader is a KeyedBackendSerializationProxy: the header of keyed state
// streams and the whole of a RocksDB native snapshot's meta state handle.
type KeyedHeader struct {
	Version       int32
	Compressed    bool      // key-group blocks are Snappy framed streams
	KeySerializer *Snapshot // key serializer snapshot (version 5: the config snapshot)
	// States are the keyed states and priority queues; the index in this
	// list is the kv-state id used in key-group streams.
	States []StateMeta

	// Raw is the exact header bytes as read (aliases the input).
	Raw []byte

	legacyKey []Part // version 5: the key serializer block as read
}

// PrefixBytes is the key-group prefix width for a max parallelism.
func PrefixBytes(maxParallelism int32) int {
	if maxParallelism > 128 {
		return 2
	}
	return 1
}

// Keyed header versions.
const (
	KeyedVersionFlink16 = 5 // Flink 1.6
	KeyedVersion        = 6 // Flink 1.7 – 2.x
)

// ReadKeyedHeader decodes a KeyedBackendSerializationProxy at the start of b
// (base is the file offset of b[0], normally 0). On an unknown serializer
// snapshot class it returns what was read so far together with an
// *UnknownClassError.
func ReadKeyedHeader(b []byte, base int64) (*KeyedHeader, error) {
	d := binio.NewDecoder(b, base)
	r := &snapReader{d: d}
	h := &KeyedHeader{}
	h.Version = d.I32("keyed header version")
	if d.Failed() {
		return nil, convertErr(r)
	}
	switch h.Version {
	case KeyedVersion, KeyedVersionFlink16:
	case 1, 2, 3, 4:
		return nil, &VersionError{Header: "KeyedBackendSerializationProxy", Version: h.Version,
			Detail: "written by Flink 1.2 – 1.5 (serializers stored as Java objects); restore with Flink ≤ 1.8 and take a new savepoint"}
	default:
		return nil, &VersionError{Header: "KeyedBackendSerializationProxy", Version: h.Version,
			Detail: "not a known version (5 and 6 are read); is this a keyed state stream?"}
	}
	h.Compressed = readFlag(d, "compression flag")
	if h.Version == KeyedVersion {
		h.KeySerializer = r.topLevel("key serializer")
	} else {
		r.resilienceBlock(&h.legacyKey, "keySerializer")
		h.KeySerializer = firstConfig(h.legacyKey)
	}
	if d.Failed() {
		return h, convertErr(r)
	}
	at := d.Offset()
	n := int(d.I16("state count"))
	if !d.Failed() && (n < 0 || n > d.Remaining()/8) {
		d.FailAt(at, "state count %d exceeds what %d remaining bytes can hold", n, d.Remaining())
	}
	metaFormat := 6
	if h.Version == KeyedVersionFlink16 {
		metaFormat = 5
	}
	for i := 0; i < n && !d.Failed(); i++ {
		h.States = append(h.States, StateMeta{})
		r.stateMeta(&h.States[len(h.States)-1], metaFormat)
	}
	if d.Failed() {
		return h, convertErr(r)
	}
	h.Raw = b[:d.Pos()]
	return h, nil
}

// readFlag reads a Java boolean that Flink writes as 0 or 1.
func readFlag(d *binio.Decoder, what string) bool {
	at := d.Offset()
	v := d.U8(what)
	if !d.Failed() && v > 1 {
		d.FailAt(at, "%s: byte %d, want 0 or 1", what, v)
	}
	return v == 1
}

func firstConfig(ps []Part) *Snapshot {
	for _, p := range ps {
		if p.Kind == PartFramed {
			if s := firstConfig(p.Sub); s != nil {
				return s
			}
		}
		if p.Kind == PartTopLevel {
			return p.Snap
		}
	}
	return nil
}

func allConfigs(ps []Part, out []*Snapshot) []*Snapshot {
	for _, p := range ps {
		switch p.Kind {
		case PartFramed:
			out = allConfigs(p.Sub, out)
		case PartTopLevel:
			out = append(out, p.Snap)
		}
	}
	return out
}

func convertErr(r *snapReader) error {
	err := r.d.Err()
	if err == nil {
		return nil
	}
	if r.unknown != nil {
		return r.unknown
	}
	var be *binio.Error
	if errors.As(err, &be) {
		return &Error{Offset: be.Offset, Msg: be.Msg}
	}
	return err
}

// stateMeta reads StateMetaInfoSnapshotReadersWriters format 5, 6 or 7 (7
// is 6 on the wire).
func (r *snapReader) stateMeta(m *StateMeta, format int) {
	d := r.d
	m.Offset = d.Offset()
	m.Name = d.UTF("state name")
	at := d.Offset()
	m.Type = BackendStateType(d.I32("backend state type"))
	if !d.Failed() && (m.Type < 0 || m.Type > PriorityQueueState) {
		d.FailAt(at, "state %q: backend state type %d is not known", m.Name, int32(m.Type))
		return
	}
	no := d.Count("option count", 4)
	for i := 0; i < no && !d.Failed(); i++ {
		k := d.UTF("option key")
		v := d.UTF("option value")
		m.Options = append(m.Options, Option{k, v})
	}
	ns := d.Count("serializer count", 2)
	if format == 5 {
		keys := make([]string, 0, max(ns, 0))
		for i := 0; i < ns && !d.Failed(); i++ {
			keys = append(keys, d.UTF("serializer key"))
		}
		if d.Failed() {
			return
		}
		r.resilienceBlock(&m.legacy, "serializers")
		cfgs := allConfigs(m.legacy, nil)
		for i, k := range keys {
			var s *Snapshot
			if i < len(cfgs) {
				s = cfgs[i]
			}
			m.Serializers = append(m.Serializers, NamedSnapshot{Key: k, Snapshot: s})
		}
		if !d.Failed() && len(cfgs) != len(keys) {
			d.FailAt(m.Offset, "state %q: %d serializer keys but %d serializers", m.Name, len(keys), len(cfgs))
		}
		return
	}
	for i := 0; i < ns && !d.Failed(); i++ {
		k := d.UTF("serializer key")
		m.Serializers = append(m.Serializers, NamedSnapshot{Key: k})
		m.Serializers[len(m.Serializers)-1].Snapshot = r.topLevel(fmt.Sprintf("state %q %s", m.Name, k))
	}
}

// Append encodes the header. A decoded header encodes to its Raw bytes.
func (h *KeyedHeader) Append(dst []byte) ([]byte, error) {
	e := binio.NewEncoder(dst)
	e.I32(h.Version)
	e.Bool(h.Compressed)
	switch h.Version {
	case KeyedVersion:
		if h.KeySerializer == nil {
			return dst, fmt.Errorf("keyed header: no key serializer")
		}
		encodeTop(e, h.KeySerializer)
	case KeyedVersionFlink16:
		encodeParts(e, h.legacyKey)
	default:
		return dst, &VersionError{Header: "KeyedBackendSerializationProxy", Version: h.Version, Detail: "cannot be written (5 and 6 are)"}
	}
	if len(h.States) > 0x7FFF {
		return dst, fmt.Errorf("keyed header: %d states exceed a Java short", len(h.States))
	}
	e.I16(int16(len(h.States)))
	for i := range h.States {
		encodeMeta(e, &h.States[i], h.Version == KeyedVersionFlink16)
	}
	return e.Bytes(), e.Err()
}

func encodeMeta(e *binio.Encoder, m *StateMeta, legacy bool) {
	e.UTF(m.Name, "state name")
	e.I32(int32(m.Type))
	e.Len32(len(m.Options), "options")
	for _, o := range m.Options {
		e.UTF(o.Key, "option key")
		e.UTF(o.Value, "option value")
	}
	e.Len32(len(m.Serializers), "serializers")
	if legacy {
		for _, s := range m.Serializers {
			e.UTF(s.Key, "serializer key")
		}
		encodeParts(e, m.legacy)
		return
	}
	for _, s := range m.Serializers {
		e.UTF(s.Key, "serializer key")
		if s.Snapshot == nil {
			e.Failf("state %q: serializer %s has no snapshot", m.Name, s.Key)
			return
		}
		encodeTop(e, s.Snapshot)
	}
}

// OperatorHeader is an OperatorBackendSerializationProxy: the header of
// operator state streams.
type OperatorHeader struct {
	Version         int32
	Compressed      bool // version 6: data is one Snappy framed stream
	OperatorStates  []StateMeta
	BroadcastStates []StateMeta
	Raw             []byte
}

// Operator header versions.
const (
	OperatorVersionFlink17 = 5 // Flink 1.7 – 1.17
	OperatorVersion        = 6 // Flink 1.18 – 2.x: adds the compression flag
)

// ReadOperatorHeader decodes an OperatorBackendSerializationProxy at the
// start of b (base is the file offset of b[0]).
func ReadOperatorHeader(b []byte, base int64) (*OperatorHeader, error) {
	d := binio.NewDecoder(b, base)
	r := &snapReader{d: d}
	h := &OperatorHeader{}
	h.Version = d.I32("operator header version")
	if d.Failed() {
		return nil, convertErr(r)
	}
	switch h.Version {
	case OperatorVersion, OperatorVersionFlink17:
	case 1, 2, 3, 4:
		return nil, &VersionError{Header: "OperatorBackendSerializationProxy", Version: h.Version,
			Detail: "written by Flink 1.2 – 1.6 (serializers stored as Java objects); restore with Flink ≤ 1.8 and take a new savepoint"}
	default:
		return nil, &VersionError{Header: "OperatorBackendSerializationProxy", Version: h.Version,
			Detail: "not a known version (5 and 6 are read); is this an operator state stream?"}
	}
	if h.Version >= OperatorVersion {
		h.Compressed = readFlag(d, "compression flag")
	}
	for _, list := range []*[]StateMeta{&h.OperatorStates, &h.BroadcastStates} {
		at := d.Offset()
		n := int(d.I16("state count"))
		if !d.Failed() && (n < 0 || n > d.Remaining()/8) {
			d.FailAt(at, "state count %d exceeds what %d remaining bytes can hold", n, d.Remaining())
		}
		for i := 0; i < n && !d.Failed(); i++ {
			*list = append(*list, StateMeta{})
			r.stateMeta(&(*list)[len(*list)-1], 6)
		}
	}
	if d.Failed() {
		return h, convertErr(r)
	}
	h.Raw = b[:d.Pos()]
	return h, nil
}

// State returns the meta info of the named operator or broadcast state.
func (h *OperatorHeader) State(name string) *StateMeta {
	for i := range h.OperatorStates {
		if h.OperatorStates[i].Name == name {
			return &h.OperatorStates[i]
		}
	}
	for i := range h.BroadcastStates {
		if h.BroadcastStates[i].Name == name {
			return &h.BroadcastStates[i]
		}
	}
	return nil
}

// Append encodes the header. A decoded header encodes to its Raw bytes.
func (h *OperatorHeader) Append(dst []byte) ([]byte, error) {
	e := binio.NewEncoder(dst)
	e.I32(h.Version)
	switch h.Version {
	case OperatorVersion:
		e.Bool(h.Compressed)
	case OperatorVersionFlink17:
		if h.Compressed {
			return dst, fmt.Errorf("operator header version 5 has no compression flag")
		}
	default:
		return dst, &VersionError{Header: "OperatorBackendSerializationProxy", Version: h.Version, Detail: "cannot be written (5 and 6 are)"}
	}
	for _, list := range [][]StateMeta{h.OperatorStates, h.BroadcastStates} {
		if len(list) > 0x7FFF {
			return dst, fmt.Errorf("operator header: %d states exceed a Java short", len(list))
		}
		e.I16(int16(len(list)))
		for i := range list {
			encodeMeta(e, &list[i], false)
		}
	}
	return e.Bytes(), e.Err()
}
