package state

import (
	"encoding/binary"
	"fmt"
	"io"
	"sort"

	"github.com/fsnap/fsnap/format"
)

// OperatorStream is an opened operator state stream: its header and the
// element offsets the metadata records for it.
type OperatorStream struct {
	Header *OperatorHeader
	// States pairs every state of the header (operator states first, then
	// broadcast states, in header order) with its metadata offsets.
	States []OperatorStateRef

	name       string
	r          io.ReaderAt
	size       int64
	boundaries []int64 // sorted distinct offsets and the stream size
}

// OperatorStateRef is one state of an operator stream.
type OperatorStateRef struct {
	Meta    *StateMeta
	Mode    format.DistributionMode
	Offsets []int64
	// Layout measures one element (list states) or one value (broadcast);
	// KeyLayout measures broadcast keys. Nil when unknown.
	Layout, KeyLayout *ValueLayout
	LayoutErr         error
}

// OpenOperator reads the header of an operator state stream of size bytes
// and matches it with the metadata's states.
func OpenOperator(r io.ReaderAt, size int64, states []format.NamedOperatorState, name string) (*OperatorStream, error) {
	s := &OperatorStream{name: name, r: r, size: size}
	first := size
	for _, st := range states {
		for i, o := range st.Offsets {
			if o < 0 || o >= size {
				return nil, s.errf("state %q element %d: offset %d lies outside the %d-byte stream", st.Name, i, o, size)
			}
			first = min(first, o)
		}
	}
	hb, err := readPrefix(r, first)
	if err != nil {
		return nil, s.errf("reading header: %w", err)
	}
	h, err := ReadOperatorHeader(hb, 0)
	if err != nil {
		return nil, s.errf("%w", err)
	}
	s.Header = h
	dataStart := int64(len(h.Raw))
	if h.Compressed {
		dataStart += int64(len(SnappyStreamID))
		var id [10]byte
		if _, err := r.ReadAt(id[:], int64(len(h.Raw))); err == nil && string(id[:]) != string(SnappyStreamID) && first < size {
			return nil, s.errf("offset %d: compressed operator state does not start with the Snappy stream identifier", len(h.Raw))
		}
	}
	byName := map[string]*format.NamedOperatorState{}
	for i := range states {
		byName[states[i].Name] = &states[i]
	}
	set := map[int64]bool{size: true}
	add := func(m *StateMeta) error {
		ref := OperatorStateRef{Meta: m}
		if md := byName[m.Name]; md != nil {
			ref.Mode, ref.Offsets = md.Mode, md.Offsets
			delete(byName, m.Name)
		}
		for i, o := range ref.Offsets {
			if o < dataStart {
				return s.errf("state %q element %d: offset %d lies inside the %d-byte header", m.Name, i, o, dataStart)
			}
			set[o] = true
		}
		if m.Type == BroadcastState {
			ref.KeyLayout, ref.LayoutErr = LayoutOf(m.Serializer(KeySerializerKey))
			if ref.LayoutErr == nil {
				ref.Layout, ref.LayoutErr = LayoutOf(m.Serializer(ValueSerializerKey))
			}
		} else {
			ref.Layout, ref.LayoutErr = LayoutOf(m.Serializer(ValueSerializerKey))
		}
		s.States = append(s.States, ref)
		return nil
	}
	for i := range h.OperatorStates {
		if err := add(&h.OperatorStates[i]); err != nil {
			return nil, err
		}
	}
	for i := range h.BroadcastStates {
		if err := add(&h.BroadcastStates[i]); err != nil {
			return nil, err
		}
	}
	for n := range byName {
		return nil, s.errf("metadata names state %q, which the stream header does not", n)
	}
	for o := range set {
		s.boundaries = append(s.boundaries, o)
	}
	sort.Slice(s.boundaries, func(i, j int) bool { return s.boundaries[i] < s.boundaries[j] })
	return s, nil
}

func (s *OperatorStream) errf(format string, args ...any) error {
	return &StreamError{Name: s.name, KeyGroup: -1, Err: fmt.Errorf(format, args...)}
}

// next returns the boundary after o.
func (s *OperatorStream) next(o int64) int64 {
	i := sort.Search(len(s.boundaries), func(i int) bool { return s.boundaries[i] > o })
	if i == len(s.boundaries) {
		return s.size
	}
	return s.boundaries[i]
}

// Element is one list element or broadcast entry of operator state. Its
// byte slices are views valid until the next call to Next.
type Element struct {
	State  int   // index into OperatorStream.States
	Index  int   // element index within the state (broadcast: entry index)
	Offset int64 // file offset of the element (broadcast: of the state's block)
	Key    []byte
	Value  []byte
}

// OperatorIterator walks every element of every state of an operator stream.
type OperatorIterator struct {
	s   *OperatorStream
	w   window
	src plainSource
	sn  snappySource

	si, ei int // state and element (or entry) index
	left   int // broadcast entries left
	e      Element
	err    error
}

// Iter starts an iteration.
func (s *OperatorStream) Iter() *OperatorIterator { return &OperatorIterator{s: s, left: -1} }

// Element returns the current element.
func (it *OperatorIterator) Element() *Element { return &it.e }

// Err is the error that stopped the iteration.
func (it *OperatorIterator) Err() error { return it.err }

func (it *OperatorIterator) failf(format string, args ...any) bool {
	if it.err == nil {
		ref := &it.s.States[it.si]
		it.err = &StreamError{Name: it.s.name, KeyGroup: -1, Err: fmt.Errorf("state %q: "+format, append([]any{ref.Meta.Name}, args...)...)}
	}
	return false
}

// open positions the window on the region [off, next boundary).
func (it *OperatorIterator) open(off int64) {
	end := it.s.next(off)
	if it.s.Header.Compressed {
		it.sn.start(it.s.r, off, end, false)
		it.w.reset(&it.sn, 0)
	} else {
		it.src = plainSource{r: it.s.r, pos: off, end: end}
		it.w.reset(&it.src, off)
	}
}

// readAll makes the whole region available in the window.
func (it *OperatorIterator) readAll() error {
	for !it.w.eof {
		if err := it.w.more(); err != nil && err != io.ErrUnexpectedEOF {
			return err
		}
	}
	return nil
}

// Next advances to the next element.
func (it *OperatorIterator) Next() bool {
	s := it.s
	for it.err == nil && it.si < len(s.States) {
		ref := &s.States[it.si]
		if ref.Meta.Type == BroadcastState {
			if ok := it.nextBroadcast(ref); ok || it.err != nil {
				return ok
			}
			it.si, it.ei, it.left = it.si+1, 0, -1
			continue
		}
		if it.ei >= len(ref.Offsets) {
			it.si, it.ei = it.si+1, 0
			continue
		}
		off := ref.Offsets[it.ei]
		it.open(off)
		if err := it.readAll(); err != nil {
			return it.failf("element %d at offset %d: %w", it.ei, off, err)
		}
		b := it.w.buf[it.w.lo:it.w.hi]
		if ref.Layout != nil {
			n, err := ref.Layout.Measure(b)
			if err != nil {
				return it.failf("element %d at offset %d: %w", it.ei, off, err)
			}
			if n != len(b) {
				return it.failf("element %d at offset %d: the serializer reads %d bytes, the element spans %d", it.ei, off, n, len(b))
			}
		}
		it.e = Element{State: it.si, Index: it.ei, Offset: off, Value: b}
		it.ei++
		return true
	}
	return false
}

func (it *OperatorIterator) nextBroadcast(ref *OperatorStateRef) bool {
	if len(ref.Offsets) == 0 {
		return false
	}
	if len(ref.Offsets) != 1 {
		return it.failf("broadcast state has %d offsets, want 1", len(ref.Offsets))
	}
	w := &it.w
	if it.left < 0 {
		if ref.LayoutErr != nil {
			return it.failf("entries cannot be split: %v", ref.LayoutErr)
		}
		it.open(ref.Offsets[0])
		if err := it.readAll(); err != nil {
			return it.failf("offset %d: %w", ref.Offsets[0], err)
		}
		if w.avail() < 4 {
			return it.failf("offset %d: truncated entry count", ref.Offsets[0])
		}
		n := int32(binary.BigEndian.Uint32(w.buf[w.lo:]))
		if n < 0 || int(n) > w.avail()/2 {
			return it.failf("offset %d: entry count %d", ref.Offsets[0], n)
		}
		w.skip(4)
		it.left = int(n)
	}
	if it.left == 0 {
		if w.avail() != 0 {
			return it.failf("%d bytes follow the last entry", w.avail())
		}
		return false
	}
	b := w.buf[w.lo:w.hi]
	k, err := ref.KeyLayout.Measure(b)
	if err != nil {
		return it.failf("entry %d key: %w", it.ei, err)
	}
	v, err := ref.Layout.Measure(b[k:])
	if err != nil {
		return it.failf("entry %d value: %w", it.ei, err)
	}
	it.e = Element{State: it.si, Index: it.ei, Offset: ref.Offsets[0], Key: b[:k], Value: b[k : k+v]}
	w.skip(k + v)
	it.ei++
	it.left--
	return true
}
