package state

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"

	"github.com/fsnap/fsnap/format"
	"github.com/fsnap/fsnap/format/javaser"
)

// Layout is the arrangement of key-group blocks in a keyed state stream.
type Layout uint8

const (
	// LayoutUnified is the savepoint format (FullSnapshotAsyncWriter):
	// per non-empty key group, runs of (key, value) entries per state,
	// composite keys, end-of-group mark; offset 0 marks empty groups.
	LayoutUnified Layout = iota + 1
	// LayoutHeap is the heap backend's checkpoint format: per key group
	// its index, then every state's entries as plain serializer bytes.
	LayoutHeap
)

func (l Layout) String() string {
	switch l {
	case LayoutUnified:
		return "unified"
	case LayoutHeap:
		return "heap"
	}
	return fmt.Sprintf("Layout(%d)", uint8(l))
}

const endOfKeyGroup = 0xFFFF

// KeyGroups says where the blocks of a keyed stream are: the first key group
// of the handle's range and one absolute offset per key group.
type KeyGroups struct {
	First   int32
	Offsets []int64
}

// KeyGroupsOf returns the key groups of a metadata handle.
func KeyGroupsOf(h *format.KeyGroupsHandle) KeyGroups {
	return KeyGroups{First: h.Range.Start, Offsets: h.Offsets}
}

// KeyedStream is an opened keyed state stream: its header, its layout and
// where its key groups are. It reads from an io.ReaderAt and holds no data
// beyond the header.
type KeyedStream struct {
	Header *KeyedHeader
	Layout Layout
	Groups KeyGroups
	// PrefixBytes is the key-group prefix width of composite keys (1 when
	// max parallelism ≤ 128, else 2).
	PrefixBytes int

	name string
	r    io.ReaderAt
	size int64

	states []stateLayout
}

// KeyedOptions are the facts about a keyed stream that only the metadata
// knows.
type KeyedOptions struct {
	// Name identifies the stream in errors (a file path or handle name).
	Name string
	// MaxParallelism of the operator; it fixes the key-group prefix width.
	MaxParallelism int32
}

// StreamError is an error inside a named state stream.
type StreamError struct {
	Name     string
	KeyGroup int32 // -1 when not inside a key group
	Err      error
}

func (e *StreamError) Error() string {
	if e.KeyGroup >= 0 {
		return fmt.Sprintf("state stream %s: key group %d: %v", e.Name, e.KeyGroup, e.Err)
	}
	return fmt.Sprintf("state stream %s: %v", e.Name, e.Err)
}

func (e *StreamError) Unwrap() error { return e.Err }

// OpenKeyed reads the header of a keyed stream of size bytes, checks the
// key-group offsets against it and sniffs the layout.
func OpenKeyed(r io.ReaderAt, size int64, groups KeyGroups, opts KeyedOptions) (*KeyedStream, error) {
	s := &KeyedStream{Groups: groups, name: opts.Name, r: r, size: size}
	if opts.MaxParallelism <= 0 {
		return nil, s.errf(-1, "max parallelism %d: the key-group prefix width is unknown", opts.MaxParallelism)
	}
	s.PrefixBytes = PrefixBytes(opts.MaxParallelism)
	// The header ends where the first block begins.
	first := size
	for i, o := range groups.Offsets {
		kg := groups.First + int32(i)
		if o < 0 || o > size {
			return nil, s.errf(kg, "offset %d lies outside the %d-byte stream", o, size)
		}
		if o > 0 && o < first {
			first = o
		}
	}
	hb, err := readPrefix(r, first)
	if err != nil {
		return nil, s.errf(-1, "reading header: %w", err)
	}
	h, err := ReadKeyedHeader(hb, 0)
	if err != nil {
		return nil, s.errf(-1, "%w", err)
	}
	s.Header = h
	for i, o := range groups.Offsets {
		if o > 0 && o < int64(len(h.Raw)) {
			return nil, s.errf(groups.First+int32(i), "offset %d lies inside the %d-byte header", o, len(h.Raw))
		}
	}
	s.states = make([]stateLayout, len(h.States))
	for i := range h.States {
		s.states[i] = newStateLayout(h, i)
	}
	if s.Layout, err = s.sniff(); err != nil {
		return nil, err
	}
	return s, nil
}

// readPrefix reads the first n bytes of r in chunks, so that a size that
// _metadata declares but the file does not back costs no more memory than
// the file holds.
func readPrefix(r io.ReaderAt, n int64) ([]byte, error) {
	const chunk = 1 << 20
	var b []byte
	for int64(len(b)) < n {
		k := min(n-int64(len(b)), chunk)
		b = append(b, make([]byte, k)...)
		at := len(b) - int(k)
		got, err := r.ReadAt(b[at:], int64(at))
		if int64(got) < k {
			if err == nil || err == io.EOF {
				err = fmt.Errorf("the stream ends at offset %d, before the %d bytes its key-group offsets imply: %w", at+got, n, io.ErrUnexpectedEOF)
			}
			return nil, err
		}
	}
	return b, nil
}

func (s *KeyedStream) errf(kg int32, format string, args ...any) error {
	return &StreamError{Name: s.name, KeyGroup: kg, Err: fmt.Errorf(format, args...)}
}

// sniff tells the unified layout from the heap layout by the first block
// (keyed-state.md §1): a unified block starts with a state id and an entry
// whose key carries the key-group prefix; a heap block starts with the
// key-group index.
func (s *KeyedStream) sniff() (Layout, error) {
	for i, o := range s.Groups.Offsets {
		if o == 0 {
			continue
		}
		kg := s.Groups.First + int32(i)
		var b [32]byte
		n, err := s.r.ReadAt(b[:], o)
		if n < len(b) && err != nil && err != io.EOF {
			return 0, s.errf(kg, "reading block: %w", err)
		}
		p := b[:n]
		if s.Header.Compressed {
			switch {
			case len(p) >= 10 && string(p[:10]) == string(SnappyStreamID):
				return LayoutUnified, nil
			case len(p) >= 14 && int32(binary.BigEndian.Uint32(p)) == kg && string(p[4:14]) == string(SnappyStreamID):
				return LayoutHeap, nil
			}
			return 0, s.errf(kg, "block at offset %d starts neither a Snappy stream nor the key-group index followed by one", o)
		}
		if s.walksUnified(i) {
			return LayoutUnified, nil
		}
		if len(p) >= 6 && int32(binary.BigEndian.Uint32(p)) == kg && int(binary.BigEndian.Uint16(p[4:])) < len(s.Header.States) {
			return LayoutHeap, nil
		}
		return 0, s.errf(kg, "block at offset %d is neither a unified nor a heap key-group block", o)
	}
	return LayoutUnified, nil // no data at all
}

// walksUnified reports whether key group gi parses as a unified block:
// entries whose keys carry the group's prefix, ending with the end mark
// exactly where the next block (or the stream) begins.
func (s *KeyedStream) walksUnified(gi int) bool {
	tmp := *s
	tmp.Layout = LayoutUnified
	it := &Iterator{s: &tmp, gi: gi}
	if !it.openGroup() {
		return false
	}
	end := s.size
	for _, o := range s.Groups.Offsets[gi+1:] {
		if o > 0 {
			end = o
			break
		}
	}
	for {
		_, done := it.nextUnified()
		if it.err != nil {
			return false
		}
		if done {
			return it.w.pos() == end
		}
	}
}

// stateLayout is what the iterator needs to split one state's entries.
type stateLayout struct {
	pq      bool
	isMap   bool
	key, ns *ValueLayout // nil when unknown
	value   *ValueLayout // heap layout: the state serializer
	ambig   bool         // composite key parts carry length suffixes
	// keySize and nsSize are the fixed sizes of key and namespace when both
	// are fixed (no suffixes then), else -1.
	keySize, nsSize int
	splitErr        error // why composite keys of this state are not split
	heapErr         error // why heap entries of this state cannot be read
}

func newStateLayout(h *KeyedHeader, id int) stateLayout {
	m := &h.States[id]
	var st stateLayout
	st.pq = m.Type == PriorityQueueState
	st.isMap = m.Option(OptKeyedStateType) == "MAP"
	var kerr, nerr, verr error
	st.key, kerr = LayoutOf(h.KeySerializer)
	if !st.pq {
		st.ns, nerr = LayoutOf(m.Serializer(NamespaceSerializerKey))
	}
	st.value, verr = LayoutOf(m.Serializer(ValueSerializerKey))
	if st.pq {
		st.heapErr = verr
		return st
	}
	st.heapErr = errors.Join(nerr, kerr, verr)
	st.keySize, st.nsSize = -1, -1
	if st.key != nil && st.ns != nil && st.key.Size >= 0 && st.ns.Size >= 0 && (st.key.FlinkLength >= 0 || st.ns.FlinkLength >= 0) {
		st.keySize, st.nsSize = st.key.Size, st.ns.Size
	}
	switch {
	case st.key != nil && st.ns != nil:
		st.ambig = st.key.FlinkLength < 0 && st.ns.FlinkLength < 0
	case st.ns != nil && st.ns.FlinkLength >= 0 && st.ns.Size >= 0 && !st.isMap:
		// The namespace ends the key: split from the end.
	default:
		st.splitErr = fmt.Errorf("state %q: composite keys are not split: %w", m.Name, errors.Join(kerr, nerr))
	}
	return st
}

// Entry is one state entry. Its byte slices are views into the iterator's
// buffer, valid until the next call to Next.
type Entry struct {
	State    int   // kv-state id: index into Header.States
	KeyGroup int32 // key group of the block the entry is in
	// Key is the serialized key. For priority-queue states (timers) it is
	// the whole element (for timers: timestamp, key, namespace). When
	// Split is false it is the whole composite key after the key-group
	// prefix (unified layout).
	Key       []byte
	Namespace []byte
	// UserKey is the map key of MAP states (unified layout).
	UserKey []byte
	// Value is the serialized value: unified layout as stored (LIST
	// elements joined by ',', MAP values with a null flag, empty for
	// timers); heap layout in the state serializer's format.
	Value []byte
	// Split reports whether Key, Namespace and UserKey were separated.
	Split bool
	// Composite is the whole stored key after the key-group prefix
	// (unified layout), with any length suffixes; nil in the heap layout.
	Composite []byte
	// Offset is the entry's position: the file offset (uncompressed), or
	// the position within the key group's decompressed stream.
	Offset int64
	// Size is the bytes the entry occupies in the (decompressed) stream,
	// with its length fields and any state-switch mark.
	Size int
}

// Iterator walks the entries of a keyed stream in file order without
// materializing it. It allocates nothing per entry.
type Iterator struct {
	s   *KeyedStream
	w   window
	src plainSource
	sn  snappySource

	gi      int   // index of the next key group to open
	kg      int32 // current key group
	inGroup bool
	state   int
	left    int // heap: states left in the group
	n       int // heap: entries left in the current state

	e   Entry
	err error

	// statistics of the current group, read by Stats
	groupStart int64
}

// Iter starts an iteration at the first key group.
func (s *KeyedStream) Iter() *Iterator {
	it := &Iterator{s: s}
	it.kg = -1
	return it
}

// Entry returns the current entry.
func (it *Iterator) Entry() *Entry { return &it.e }

// Err is the error that stopped the iteration, if any.
func (it *Iterator) Err() error { return it.err }

// SplitError explains why the composite keys of a state are not split into
// key and namespace (nil when they are).
func (s *KeyedStream) SplitError(state int) error { return s.states[state].splitErr }

func (it *Iterator) fail(err error) bool {
	if it.err == nil {
		it.err = &StreamError{Name: it.s.name, KeyGroup: it.kg, Err: err}
	}
	return false
}

func (it *Iterator) failf(format string, args ...any) bool {
	return it.fail(fmt.Errorf(format, args...))
}

// needFail reports a failed need: the end of the data, or the error of the
// source (a corrupt Snappy chunk, a read error).
func (it *Iterator) needFail(err error, what string) bool {
	if err == io.ErrUnexpectedEOF {
		return it.failf("%s: %s", it.at(), what)
	}
	return it.failf("%s: %w", it.at(), err)
}

// at describes the current position for errors.
func (it *Iterator) at() string {
	if it.s.Header.Compressed {
		return fmt.Sprintf("position %d of the Snappy stream at offset %d", it.w.pos(), it.s.Groups.Offsets[it.gi-1])
	}
	return fmt.Sprintf("offset %d", it.w.pos())
}

// Next advances to the next entry.
func (it *Iterator) Next() bool {
	if it.err != nil {
		return false
	}
	for {
		if !it.inGroup {
			if !it.openGroup() {
				return false
			}
			continue
		}
		var ok, done bool
		if it.s.Layout == LayoutUnified {
			ok, done = it.nextUnified()
		} else {
			ok, done = it.nextHeap()
		}
		if it.err != nil {
			return false
		}
		if done {
			it.inGroup = false
		}
		if ok {
			return true
		}
	}
}

// openGroup positions the window at the next key group with data.
func (it *Iterator) openGroup() bool {
	s := it.s
	for it.gi < len(s.Groups.Offsets) {
		off := s.Groups.Offsets[it.gi]
		it.kg = s.Groups.First + int32(it.gi)
		it.gi++
		if off == 0 && s.Layout == LayoutUnified {
			continue
		}
		if off == 0 {
			return it.failf("heap key group has no offset")
		}
		it.groupStart = off
		dataOff := off
		if s.Layout == LayoutHeap {
			var b [4]byte
			if _, err := s.r.ReadAt(b[:], off); err != nil {
				return it.failf("offset %d: reading key-group index: %w", off, err)
			}
			if got := int32(binary.BigEndian.Uint32(b[:])); got != it.kg {
				return it.failf("offset %d: block holds key group %d", off, got)
			}
			dataOff += 4
		}
		if s.Header.Compressed {
			it.sn.start(s.r, dataOff, s.size, true)
			it.w.reset(&it.sn, 0)
		} else if it.src.r != nil && dataOff >= it.w.base+int64(it.w.lo) && dataOff <= it.w.base+int64(it.w.hi) && it.src.pos == it.w.base+int64(it.w.hi) {
			// The next block follows in the buffer already read.
			it.w.lo = int(dataOff - it.w.base)
		} else {
			it.src = plainSource{r: s.r, pos: dataOff, end: s.size}
			it.w.reset(&it.src, dataOff)
		}
		it.inGroup = true
		if s.Layout == LayoutUnified {
			if err := it.w.need(2); err != nil {
				return it.needFail(err, "truncated block")
			}
			it.state = int(binary.BigEndian.Uint16(it.w.buf[it.w.lo:]))
			if it.state >= len(s.Header.States) {
				return it.failf("%s: state id %d, the header names %d states", it.at(), it.state, len(s.Header.States))
			}
			it.w.skip(2)
		} else {
			it.left = len(s.Header.States)
			it.n = 0
		}
		return true
	}
	return false
}

// nextUnified reads one entry of a unified block. done reports the end of
// the key group.
func (it *Iterator) nextUnified() (ok, done bool) {
	w := &it.w
	start := w.pos()
	if err := w.need(4); err != nil {
		return it.needFail(err, "truncated entry"), false
	}
	kl := int64(int32(binary.BigEndian.Uint32(w.buf[w.lo:])))
	pb := it.s.PrefixBytes
	if kl < int64(pb) || kl > maxEntry-8 {
		return it.failf("%s: key length %d", it.at(), kl), false
	}
	if err := w.need(int(kl) + 8); err != nil {
		return it.needFail(err, fmt.Sprintf("key of %d bytes is truncated", kl)), false
	}
	vl := int64(int32(binary.BigEndian.Uint32(w.buf[w.lo+4+int(kl):])))
	if vl < 0 || 8+kl+vl > maxEntry {
		return it.failf("%s: value length %d", it.at(), vl), false
	}
	key := w.buf[w.lo+4 : w.lo+4+int(kl)]
	meta := key[0]&0x80 != 0
	total := int(8 + kl + vl)
	if meta {
		total += 2
	}
	if err := w.need(total); err != nil {
		return it.needFail(err, fmt.Sprintf("entry of %d bytes is truncated", total)), false
	}
	// need may have moved the buffer.
	key = w.buf[w.lo+4 : w.lo+4+int(kl)]
	value := w.buf[w.lo+8+int(kl) : w.lo+8+int(kl)+int(vl)]
	key[0] &^= 0x80 // clear the flag in our copy
	var prefix int32
	if pb == 1 {
		prefix = int32(key[0])
	} else {
		prefix = int32(binary.BigEndian.Uint16(key))
	}
	if prefix != it.kg {
		return it.failf("%s: key carries key-group prefix %d", it.at(), prefix), false
	}
	e := &it.e
	e.State, e.KeyGroup, e.Value, e.Offset, e.Size = it.state, it.kg, value, start, total
	it.split(key[pb:])
	if meta {
		next := binary.BigEndian.Uint16(w.buf[w.lo+total-2:])
		if next == endOfKeyGroup {
			done = true
		} else if int(next) >= len(it.s.Header.States) {
			return it.failf("%s: state id %d, the header names %d states", it.at(), next, len(it.s.Header.States)), false
		} else {
			it.state = int(next)
		}
	}
	w.skip(total)
	return true, done
}

// split separates a composite key (after the prefix) into key, namespace
// and user key (keyed-state.md §5.1).
func (it *Iterator) split(ck []byte) {
	e := &it.e
	st := &it.s.states[it.state]
	e.Key, e.Namespace, e.UserKey, e.Split, e.Composite = ck, nil, nil, false, ck
	if st.pq {
		e.Split = true
		return
	}
	if st.splitErr != nil {
		return
	}
	if k, n := st.keySize, st.nsSize; k >= 0 && n >= 0 { // fixed sizes: no measuring
		if k+n == len(ck) || (st.isMap && k+n <= len(ck)) {
			e.Key, e.Namespace, e.Split = ck[:k], ck[k:k+n], true
			if st.isMap {
				e.UserKey = ck[k+n:]
			}
		}
		return
	}
	if st.key == nil { // namespace of fixed size closes the key
		n := st.ns.Size
		if n > len(ck) {
			return
		}
		e.Key, e.Namespace, e.Split = ck[:len(ck)-n], ck[len(ck)-n:], true
		return
	}
	k, err := st.key.Measure(ck)
	if err != nil {
		return
	}
	i := k
	if st.ambig {
		i += suffixLen(k)
	}
	if i > len(ck) {
		return
	}
	n, err := st.ns.Measure(ck[i:])
	if err != nil {
		return
	}
	j := i + n
	if st.ambig {
		j += suffixLen(n)
	}
	if j > len(ck) || (!st.isMap && j != len(ck)) {
		return
	}
	e.Key, e.Namespace, e.Split = ck[:k], ck[i:i+n], true
	if st.isMap {
		e.UserKey = ck[j:]
	}
}

// suffixLen is the number of base-256 digits Flink writes after an
// ambiguous composite-key part of n bytes (at least one).
func suffixLen(n int) int {
	d := 1
	for n >>= 8; n > 0; n >>= 8 {
		d++
	}
	return d
}

// nextHeap reads one entry of a heap block.
func (it *Iterator) nextHeap() (ok, done bool) {
	w := &it.w
	for it.n == 0 {
		if it.left == 0 {
			return false, true
		}
		if err := w.need(6); err != nil {
			return it.needFail(err, "truncated state header"), false
		}
		id := int(binary.BigEndian.Uint16(w.buf[w.lo:]))
		n := int32(binary.BigEndian.Uint32(w.buf[w.lo+2:]))
		if id >= len(it.s.Header.States) {
			return it.failf("%s: state id %d, the header names %d states", it.at(), id, len(it.s.Header.States)), false
		}
		if n < 0 {
			return it.failf("%s: state %d: negative entry count %d", it.at(), id, n), false
		}
		w.skip(6)
		it.left--
		it.state, it.n = id, int(n)
		if n > 0 && it.s.states[id].heapErr != nil {
			return it.failf("%s: entries of state %q cannot be read: %v", it.at(), it.s.Header.States[id].Name, it.s.states[id].heapErr), false
		}
	}
	st := &it.s.states[it.state]
	start := w.pos()
	var total int
	var cut [3]int
	for {
		b := w.buf[w.lo:w.hi]
		var err error
		if st.pq {
			cut[0], err = st.value.Measure(b)
			total = cut[0]
		} else {
			total, err = measureParts(b, st.ns, st.key, st.value, &cut)
		}
		if err == nil {
			break
		}
		if w.eof || !isShort(err) {
			return it.failf("%s: state %q: %w", it.at(), it.s.Header.States[it.state].Name, err), false
		}
		if err := w.more(); err != nil && err != io.ErrUnexpectedEOF {
			return it.fail(err), false
		}
	}
	if total == 0 {
		return it.failf("%s: state %q: entry occupies no bytes", it.at(), it.s.Header.States[it.state].Name), false
	}
	b := w.buf[w.lo : w.lo+total]
	e := &it.e
	e.State, e.KeyGroup, e.Offset, e.Split, e.UserKey, e.Size, e.Composite = it.state, it.kg, start, true, nil, total, nil
	if st.pq {
		e.Key, e.Namespace, e.Value = b, nil, nil
	} else {
		e.Namespace, e.Key, e.Value = b[:cut[0]], b[cut[0]:cut[1]], b[cut[1]:]
	}
	w.skip(total)
	it.n--
	return true, false
}

// measureParts measures namespace, key and value one after the other.
func measureParts(b []byte, ns, key, val *ValueLayout, cut *[3]int) (int, error) {
	i := 0
	for k, l := range [3]*ValueLayout{ns, key, val} {
		if i > len(b) {
			return 0, errShort
		}
		n, err := l.Measure(b[i:])
		if err != nil {
			return 0, err
		}
		i += n
		cut[k] = i
	}
	return i, nil
}

// isShort reports whether a measuring error means the bytes ended early.
func isShort(err error) bool {
	return errors.Is(err, errShort) || errors.Is(err, javaser.ErrTruncated)
}
