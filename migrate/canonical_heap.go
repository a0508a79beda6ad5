package migrate

import (
	"encoding/binary"
	"fmt"

	"github.com/fsnap/fsnap/format/state"
)

// heapConverter turns entries of a heap-layout stream (the heap backend's
// checkpoints and native savepoints: plain serializer bytes per state
// entry) into unified-layout entries, as Flink's HeapKeyValueStateIterator
// does for a canonical savepoint: composite keys with the key-group prefix,
// LIST values as elements joined by ',', one entry per MAP key with a null
// flag, timers as keys with empty values, and no entry for empty lists and
// maps.
type heapConverter struct {
	states []heapState
	key    []byte // composite key buffer
	val    []byte // value buffer
}

type heapState struct {
	name  string
	kind  string // VALUE, LIST, MAP, … or PRIORITY_QUEUE
	ambig bool   // composite keys carry length suffixes
	// elem measures LIST elements; mkey and mval MAP keys and values.
	elem, mkey, mval *state.ValueLayout
	err              error // why entries of this state cannot be converted
}

func newHeapConverter(h *state.KeyedHeader) *heapConverter {
	c := &heapConverter{states: make([]heapState, len(h.States))}
	keyL, keyErr := state.LayoutOf(h.KeySerializer)
	for i := range h.States {
		m := &h.States[i]
		st := &c.states[i]
		st.name, st.kind = m.Name, m.Kind()
		if m.Type == state.PriorityQueueState {
			st.kind = "PRIORITY_QUEUE"
			continue
		}
		if m.Type != state.KeyValueState {
			st.err = fmt.Errorf("state %q has backend state type %v, not a keyed state", m.Name, m.Type)
			continue
		}
		// Length suffixes depend on the key and namespace serializers'
		// lengths (keyed-state.md §5.1).
		nsL, nsErr := state.LayoutOf(m.Serializer(state.NamespaceSerializerKey))
		switch {
		case keyErr != nil:
			st.err = fmt.Errorf("state %q: the key serializer's length is needed for composite keys: %w", m.Name, keyErr)
		case nsErr != nil:
			st.err = fmt.Errorf("state %q: the namespace serializer's length is needed for composite keys: %w", m.Name, nsErr)
		default:
			st.ambig = keyL.FlinkLength < 0 && nsL.FlinkLength < 0
		}
		if st.err != nil {
			continue
		}
		v := m.Serializer(state.ValueSerializerKey)
		switch st.kind {
		case "VALUE", "REDUCING", "AGGREGATING", "FOLDING":
		case "LIST":
			if !state.IsList(v) {
				st.err = fmt.Errorf("LIST state %q: value serializer %s is not a ListSerializer", m.Name, snapClass(v))
				continue
			}
			st.elem, st.err = state.LayoutOf(v.Nested()[0])
		case "MAP":
			if !state.IsMap(v) {
				st.err = fmt.Errorf("MAP state %q: value serializer %s is not a MapSerializer", m.Name, snapClass(v))
				continue
			}
			if st.mkey, st.err = state.LayoutOf(v.Nested()[0]); st.err == nil {
				st.mval, st.err = state.LayoutOf(v.Nested()[1])
			}
		default:
			st.err = fmt.Errorf("state %q: unknown keyed state type %q", m.Name, st.kind)
		}
		if st.err != nil {
			st.err = fmt.Errorf("%s state %q: %w", st.kind, m.Name, st.err)
		}
	}
	return c
}

func snapClass(s *state.Snapshot) string {
	if s == nil {
		return "<missing>"
	}
	return s.Class
}

// add writes the unified entries of one heap entry.
func (c *heapConverter) add(w *state.UnifiedWriter, e *state.Entry) (int, error) {
	st := &c.states[e.State]
	if st.err != nil {
		return 0, st.err
	}
	if st.kind == "PRIORITY_QUEUE" {
		return 1, w.Add(e.KeyGroup, e.State, e.Key, nil)
	}
	switch st.kind {
	case "LIST":
		return c.addList(w, st, e)
	case "MAP":
		return c.addMap(w, st, e)
	}
	c.key = state.AppendCompositeKey(c.key[:0], e.Key, e.Namespace, nil, st.ambig)
	return 1, w.Add(e.KeyGroup, e.State, c.key, e.Value)
}

// addList: ListSerializer bytes (i32 count, elements) → elements joined by
// ',' (ListDelimitedSerializer), as RocksDB's merge operator stores them.
func (c *heapConverter) addList(w *state.UnifiedWriter, st *heapState, e *state.Entry) (int, error) {
	b := e.Value
	n, err := count(b, st.name)
	if err != nil || n == 0 {
		return 0, err
	}
	c.val = c.val[:0]
	i := 4
	for k := 0; k < n; k++ {
		l, err := st.elem.Measure(b[i:])
		if err != nil {
			return 0, fmt.Errorf("LIST state %q: element %d of %d: %w", st.name, k, n, err)
		}
		if k > 0 {
			c.val = append(c.val, ',')
		}
		c.val = append(c.val, b[i:i+l]...)
		i += l
	}
	if i != len(b) {
		return 0, fmt.Errorf("LIST state %q: %d bytes after %d elements", st.name, len(b)-i, n)
	}
	c.key = state.AppendCompositeKey(c.key[:0], e.Key, e.Namespace, nil, st.ambig)
	return 1, w.Add(e.KeyGroup, e.State, c.key, c.val)
}

// addMap: MapSerializer bytes (i32 count, then key, null flag, value) → one
// entry per map key: composite key + user key, value = null flag + value.
func (c *heapConverter) addMap(w *state.UnifiedWriter, st *heapState, e *state.Entry) (int, error) {
	b := e.Value
	n, err := count(b, st.name)
	if err != nil || n == 0 {
		return 0, err
	}
	i := 4
	for k := 0; k < n; k++ {
		kl, err := st.mkey.Measure(b[i:])
		if err != nil {
			return k, fmt.Errorf("MAP state %q: key of entry %d of %d: %w", st.name, k, n, err)
		}
		uk := b[i : i+kl]
		i += kl
		if i >= len(b) {
			return k, fmt.Errorf("MAP state %q: entry %d of %d ends before its null flag", st.name, k, n)
		}
		null := b[i] != 0
		i++
		c.val = append(c.val[:0], b[i-1])
		if !null {
			vl, err := st.mval.Measure(b[i:])
			if err != nil {
				return k, fmt.Errorf("MAP state %q: value of entry %d of %d: %w", st.name, k, n, err)
			}
			c.val = append(c.val, b[i:i+vl]...)
			i += vl
		}
		c.key = state.AppendCompositeKey(c.key[:0], e.Key, e.Namespace, uk, st.ambig)
		if err := w.Add(e.KeyGroup, e.State, c.key, c.val); err != nil {
			return k, err
		}
	}
	if i != len(b) {
		return n, fmt.Errorf("MAP state %q: %d bytes after %d entries", st.name, len(b)-i, n)
	}
	return n, nil
}

func count(b []byte, name string) (int, error) {
	if len(b) < 4 {
		return 0, fmt.Errorf("state %q: value of %d bytes has no element count", name, len(b))
	}
	n := int32(binary.BigEndian.Uint32(b))
	if n < 0 || int64(n) > int64(len(b)) {
		return 0, fmt.Errorf("state %q: element count %d in a %d-byte value", name, n, len(b))
	}
	return int(n), nil
}
