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

	// legacy holds versions 1 – 5 (Flink 1.2 – 1.6) after the version
	// field, as read, so that Append writes them back unchanged.
	legacy []Part
}

// PrefixBytes is the key-group prefix width for a max parallelism.
func PrefixBytes(maxParallelism int32) int {
	if maxParallelism > 128 {
		return 2
	}
	return 1
}

// Keyed header versions. Versions 1 – 5 store serializers as Java objects
// (with config snapshots from version 3 on); see legacy.go.
const (
	KeyedVersionFlink12 = 2 // Flink 1.2 (version 1: its first releases)
	KeyedVersionFlink13 = 3 // Flink 1.3
	KeyedVersionFlink14 = 4 // Flink 1.4 – 1.5: adds the compression flag
	KeyedVersionFlink16 = 5 // Flink 1.6: generic state meta infos
	KeyedVersion        = 6 // Flink 1.7 – 2.x: serializer snapshots only
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
	switch {
	case h.Version == KeyedVersion:
		h.Compressed = readFlag(d, "compression flag")
		h.KeySerializer = r.topLevel("key serializer")
		n := r.stateCount(new([]Part))
		for i := 0; i < n && !d.Failed(); i++ {
			h.States = append(h.States, StateMeta{})
			r.stateMeta(&h.States[len(h.States)-1])
		}
	case h.Version >= 1 && h.Version < KeyedVersion:
		r.readLegacyKeyed(h)
	default:
		return nil, &VersionError{Header: "KeyedBackendSerializationProxy", Version: h.Version,
			Detail: "not a known version (1 to 6 are read); is this a keyed state stream?"}
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

// stateMeta reads StateMetaInfoSnapshotReadersWriters format 6 or 7 (7 is
// 6 on the wire).
func (r *snapReader) stateMeta(m *StateMeta) {
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
	switch {
	case h.Version == KeyedVersion:
		e.Bool(h.Compressed)
		if h.KeySerializer == nil {
			return dst, fmt.Errorf("keyed header: no key serializer")
		}
		encodeTop(e, h.KeySerializer)
	case h.Version >= 1 && h.Version < KeyedVersion && h.legacy != nil:
		// Written back as read, but for the compression flag (version 4+).
		ps := h.legacy
		if h.Compressed && h.Version < KeyedVersionFlink14 {
			return dst, fmt.Errorf("keyed header version %d has no compression flag", h.Version)
		}
		if h.Version >= KeyedVersionFlink14 && len(ps) > 0 && ps[0].Kind == PartBool {
			ps = append([]Part{ps[0]}, ps[1:]...)
			ps[0].Int = 0
			if h.Compressed {
				ps[0].Int = 1
			}
		}
		encodeParts(e, ps)
		return e.Bytes(), e.Err()
	default:
		return dst, &VersionError{Header: "KeyedBackendSerializationProxy", Version: h.Version, Detail: "cannot be written (6 is; versions 1 – 5 only as read)"}
	}
	if len(h.States) > 0x7FFF {
		return dst, fmt.Errorf("keyed header: %d states exceed a Java short", len(h.States))
	}
	e.I16(int16(len(h.States)))
	for i := range h.States {
		encodeMeta(e, &h.States[i])
	}
	return e.Bytes(), e.Err()
}

func encodeMeta(e *binio.Encoder, m *StateMeta) {
	e.UTF(m.Name, "state name")
	e.I32(int32(m.Type))
	e.Len32(len(m.Options), "options")
	for _, o := range m.Options {
		e.UTF(o.Key, "option key")
		e.UTF(o.Value, "option value")
	}
	e.Len32(len(m.Serializers), "serializers")
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

	legacy []Part // versions 1 – 4 after the version field, as read
}

// Operator header versions. Versions 1 – 4 store serializers as Java
// objects; see legacy.go.
const (
	OperatorVersionFlink13 = 2 // Flink 1.3 – 1.4 (version 1: Flink 1.2)
	OperatorVersionFlink15 = 3 // Flink 1.5: adds broadcast state
	OperatorVersionFlink16 = 4 // Flink 1.6: generic state meta infos
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
	switch {
	case h.Version == OperatorVersion || h.Version == OperatorVersionFlink17:
		if h.Version >= OperatorVersion {
			h.Compressed = readFlag(d, "compression flag")
		}
		for _, list := range []*[]StateMeta{&h.OperatorStates, &h.BroadcastStates} {
			n := r.stateCount(new([]Part))
			for i := 0; i < n && !d.Failed(); i++ {
				*list = append(*list, StateMeta{})
				r.stateMeta(&(*list)[len(*list)-1])
			}
		}
	case h.Version >= 1 && h.Version < OperatorVersionFlink17:
		r.readLegacyOperator(h)
	default:
		return nil, &VersionError{Header: "OperatorBackendSerializationProxy", Version: h.Version,
			Detail: "not a known version (1 to 6 are read); is this an operator state stream?"}
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
		if h.Version >= 1 && h.Version < OperatorVersionFlink17 && h.legacy != nil {
			encodeParts(e, h.legacy) // written back as read
			return e.Bytes(), e.Err()
		}
		return dst, &VersionError{Header: "OperatorBackendSerializationProxy", Version: h.Version, Detail: "cannot be written (5 and 6 are; versions 1 – 4 only as read)"}
	}
	for _, list := range [][]StateMeta{h.OperatorStates, h.BroadcastStates} {
		if len(list) > 0x7FFF {
			return dst, fmt.Errorf("operator header: %d states exceed a Java short", len(list))
		}
		e.I16(int16(len(list)))
		for i := range list {
			encodeMeta(e, &list[i])
		}
	}
	return e.Bytes(), e.Err()
}
