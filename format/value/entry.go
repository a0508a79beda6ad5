package value

import (
	"fmt"

	"github.com/fsnap/fsnap/format/state"
)

// Decoded is a decoded state entry.
type Decoded struct {
	Key       any
	Namespace any
	UserKey   any // MAP states in the unified layout
	Value     any // timers: the Timer; LIST: a List; MAP (heap): a Map
}

// StateDecoder decodes the entries of one state of a keyed stream.
type StateDecoder struct {
	Meta   *state.StateMeta
	layout state.Layout
	kind   string // VALUE, LIST, MAP, …, PRIORITY_QUEUE

	key, ns, value Decoder
	elem           Decoder // LIST element (unified)
	mapKey, mapVal Decoder // MAP user key and value (unified)
}

// ForState builds the decoder for state id of a keyed stream.
func ForState(s *state.KeyedStream, id int) (*StateDecoder, error) {
	h := s.Header
	if id < 0 || id >= len(h.States) {
		return nil, fmt.Errorf("state id %d: the header names %d states", id, len(h.States))
	}
	m := &h.States[id]
	d := &StateDecoder{Meta: m, layout: s.Layout, kind: m.Kind()}
	var err error
	vs := m.Serializer(state.ValueSerializerKey)
	if m.Type == state.PriorityQueueState {
		d.value, err = For(vs)
		return d, err
	}
	if d.key, err = For(h.KeySerializer); err != nil {
		return nil, fmt.Errorf("state %q key: %w", m.Name, err)
	}
	if d.ns, err = For(m.Serializer(state.NamespaceSerializerKey)); err != nil {
		return nil, fmt.Errorf("state %q namespace: %w", m.Name, err)
	}
	if s.Layout == state.LayoutUnified && (d.kind == "LIST" || d.kind == "MAP") {
		n := vs.Nested()
		if d.kind == "LIST" && len(n) == 1 {
			d.elem, err = For(n[0])
		} else if d.kind == "MAP" && len(n) == 2 {
			if d.mapKey, err = For(n[0]); err == nil {
				d.mapVal, err = For(n[1])
			}
		} else {
			err = fmt.Errorf("%s state serializer %s has %d nested serializers", d.kind, vs.ShortClass(), len(n))
		}
		if err != nil {
			return nil, fmt.Errorf("state %q value: %w", m.Name, err)
		}
		return d, nil
	}
	if d.value, err = For(vs); err != nil {
		return nil, fmt.Errorf("state %q value: %w", m.Name, err)
	}
	return d, nil
}

// whole decodes exactly the bytes of b.
func whole(d Decoder, b []byte, what string) (any, error) {
	v, n, err := d.Decode(b)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", what, err)
	}
	if n != len(b) {
		return nil, fmt.Errorf("%s: decoded %d of %d bytes", what, n, len(b))
	}
	return v, nil
}

// Decode decodes an entry of the state.
func (d *StateDecoder) Decode(e *state.Entry) (Decoded, error) {
	var out Decoded
	var err error
	if d.Meta.Type == state.PriorityQueueState {
		out.Value, err = whole(d.value, e.Key, "element")
		return out, err
	}
	if !e.Split {
		return out, fmt.Errorf("state %q: composite key is not split into key and namespace", d.Meta.Name)
	}
	if out.Key, err = whole(d.key, e.Key, "key"); err != nil {
		return out, err
	}
	if out.Namespace, err = whole(d.ns, e.Namespace, "namespace"); err != nil {
		return out, err
	}
	switch {
	case d.elem != nil:
		out.Value, err = ListElements(e.Value, d.elem)
	case d.mapKey != nil:
		if out.UserKey, err = whole(d.mapKey, e.UserKey, "map key"); err != nil {
			return out, err
		}
		out.Value, err = MapValue(e.Value, d.mapVal)
	default:
		out.Value, err = whole(d.value, e.Value, "value")
	}
	return out, err
}

// ListElements decodes a LIST state value of the unified layout: elements
// joined by one ',' byte (ListDelimitedSerializer).
func ListElements(b []byte, elem Decoder) (List, error) {
	var l List
	for i := 0; i < len(b); {
		if len(l) > 0 {
			if b[i] != ',' {
				return nil, fmt.Errorf("list element %d: delimiter %#x, want ','", len(l), b[i])
			}
			i++
		}
		v, n, err := elem.Decode(b[i:])
		if err != nil {
			return nil, fmt.Errorf("list element %d: %w", len(l), err)
		}
		l = append(l, v)
		i += n
	}
	return l, nil
}

// MapValue decodes a MAP state value of the unified layout: a null flag,
// then the value unless null (nil is returned for null).
func MapValue(b []byte, val Decoder) (any, error) {
	if len(b) < 1 {
		return nil, short("map value null flag", 1, 0)
	}
	if b[0] != 0 {
		if len(b) != 1 {
			return nil, fmt.Errorf("map value: %d bytes after a null flag", len(b)-1)
		}
		return nil, nil
	}
	return whole(val, b[1:], "map value")
}
