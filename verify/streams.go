package verify

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"slices"
	"sort"
	"sync"

	"github.com/klauspost/compress/snappy"

	"github.com/fsnap/fsnap/format"
	"github.com/fsnap/fsnap/format/state"
	"github.com/fsnap/fsnap/format/value"
	"github.com/fsnap/fsnap/snapshot"
)

// A stream task is one state stream to read.
type streamTask struct {
	op, sub int32
	maxPar  int32
	slot    snapshot.Slot
}

func (t *streamTask) place() place { return place{op: int(t.op), sub: t.sub, slot: t.slot} }

// Limits on what is read into memory at once.
const (
	maxMetaStream  = 64 << 20 // a RocksDB meta stream (a header only)
	maxTimerBlock  = 64 << 20 // one key group of legacy timers
	maxCurrentFile = 4 << 10  // RocksDB's CURRENT
)

// streams reads the state streams: headers, and with LevelDeep everything.
func (c *checker) streams() error {
	m := c.snap.Metadata
	// Subtasks are handed out by their running count over the operators
	// (at least one place each, which counts the coordinator's state): a
	// list of tasks would hold an entry per subtask all along.
	starts := make([]int, len(m.Operators)+1)
	for i := range m.Operators {
		starts[i+1] = starts[i] + max(len(m.Operators[i].Subtasks), 1)
	}
	workers := c.opts.Concurrency
	if c.opts.Level >= LevelDeep {
		workers = c.streamWorkers()
	}
	var sstOnce sync.Map
	return parallel(c.ctx, workers, starts[len(m.Operators)], func(k int) {
		i := sort.SearchInts(starts, k+1) - 1 // starts[i] <= k < starts[i+1]
		op := &m.Operators[i]
		j := k - starts[i]
		if j == 0 && op.Coordinator != nil {
			c.opaque()
		}
		if j >= len(op.Subtasks) || op.Subtasks[j].Finished {
			return
		}
		st := &op.Subtasks[j]
		t := streamTask{op: int32(i), sub: st.Index, maxPar: op.MaxParallelism}
		if st.ManagedKeyedState != nil {
			t.slot = snapshot.SlotManagedKeyed
			c.keyedStreams(t, st.ManagedKeyedState, &sstOnce)
		}
		if st.RawKeyedState != nil {
			t.slot = snapshot.SlotRawKeyed
			c.keyedStreams(t, st.RawKeyedState, &sstOnce)
		}
		if h := st.ManagedOperatorState; h != nil && h.Delegate != nil {
			t.slot = snapshot.SlotManagedOperator
			c.operator(&t, h)
		}
		if h := st.RawOperatorState; h != nil && h.Delegate != nil {
			c.opaque() // written by user code
		}
		for range len(st.InputChannels()) + len(st.ResultSubpartitions()) + len(st.LegacyOperatorState()) {
			c.opaque()
		}
	})
}

// keyedStreams checks the streams of a keyed handle (those a changelog
// handle holds too).
func (c *checker) keyedStreams(t streamTask, h format.KeyedStateHandle, sstOnce *sync.Map) {
	switch h := h.(type) {
	case *format.KeyGroupsHandle:
		if t.slot == snapshot.SlotRawKeyed {
			c.rawKeyed(&t, h)
		} else {
			c.keyed(&t, h)
		}
	case *format.IncrementalHandle:
		c.rocks(&t, h, sstOnce)
	case *format.ChangelogHandle:
		for _, k := range h.Materialized {
			if k != nil {
				c.keyedStreams(t, k, sstOnce)
			}
		}
		for _, k := range h.NonMaterialized {
			if k != nil {
				c.keyedStreams(t, k, sstOnce)
			}
		}
	case *format.ChangelogBytesHandle, *format.ChangelogFileHandle:
		c.opaque() // change records: format not specified
	}
}

func (c *checker) opaque() { c.count.opaque.Add(1) }

func (c *checker) counted(headers, walked int, bytes, entries int64) {
	c.count.headers.Add(int64(headers))
	c.count.walked.Add(int64(walked))
	c.count.bytes.Add(bytes)
	c.count.entries.Add(entries)
}

// streamErr reports an error of the state readers under the most precise
// code. phase is "header" or "walk".
func (c *checker) streamErr(p place, err error, header bool) {
	var opts []func(*Finding)
	var se *state.StreamError
	if errors.As(err, &se) && se.KeyGroup >= 0 {
		opts = append(opts, atKeyGroup(se.KeyGroup))
	}
	var uc *state.UnknownClassError
	var sn *state.SnappyError
	var fe *state.Error
	var nl *state.NoLayoutError
	var ve *state.VersionError
	code := StreamCorrupt
	switch {
	case errors.As(err, &uc):
		// A format fsnap does not read is not corruption: Flink may well
		// restore it.
		code = HeaderUnknownClass
		opts = append(opts, atOffset(uc.Offset))
		err = fmt.Errorf("%v; fsnap cannot tell where its payload ends, so the stream is not checked further (Flink may restore it; the states before it were read)", err)
	case errors.As(err, &ve) && ve.Version > 6 && ve.Version < 100:
		// Perhaps a later Flink's; an absurd version is corruption.
		code = HeaderUnsupported
		err = fmt.Errorf("%v; the stream is not checked further", err)
	case ve != nil:
		code = HeaderUnreadable
	case errors.As(err, &sn):
		code = snappyCode(sn)
		opts = append(opts, atOffset(sn.Offset))
	case errors.As(err, &nl):
		code = StreamNotWalkable
	case header && (se == nil || se.KeyGroup < 0):
		code = HeaderUnreadable
		if errors.As(err, &fe) {
			opts = append(opts, atOffset(fe.Offset))
		}
	case errors.As(err, &fe):
		opts = append(opts, atOffset(fe.Offset))
	}
	c.add(code, p, err.Error(), opts...)
}

// keyed checks a managed keyed stream: its header decodes and its offsets
// fit it; deep, every key group walks to its end mark exactly where the
// next block begins.
func (c *checker) keyed(t *streamTask, h *format.KeyGroupsHandle) {
	if c.badKeyed[h] || h.Delegate == nil || t.maxPar < 1 || t.maxPar > maxKeyGroups {
		return
	}
	src, ok := c.open(h.Delegate)
	if !ok {
		return
	}
	defer src.close()
	p := t.place()
	p.file = src.name
	ks, err := state.OpenKeyed(src.r, src.size, state.KeyGroupsOf(h), state.KeyedOptions{Name: src.name, MaxParallelism: t.maxPar})
	if err != nil {
		c.keyedOpenErr(p, err, src, h)
		return
	}
	if !c.headerFits(p, ks, src, h) || c.opts.Level < LevelDeep {
		c.counted(1, 0, 0, 0)
		return
	}
	n, ok := c.walkKeyed(p, ks, src, h, int(t.maxPar))
	if ok {
		c.counted(1, 1, src.size, n)
	} else {
		c.counted(1, 0, 0, 0)
	}
}

// headerFits checks that the header ends exactly where the first block
// begins, or, when every key group is empty, where the stream ends.
func (c *checker) headerFits(p place, ks *state.KeyedStream, src *source, h *format.KeyGroupsHandle) bool {
	hl := int64(len(ks.Header.Raw))
	first, kg := int64(0), int32(-1)
	for i, o := range h.Offsets {
		if o > 0 && (first == 0 || o < first) {
			first, kg = o, h.Range.Start+int32(i)
		}
	}
	switch {
	case first == 0 && hl != src.size:
		c.add(KeyGroupExtent, p, fmt.Sprintf("every key group is empty, but %d bytes follow the %d-byte header", src.size-hl, hl), atOffset(hl))
		return false
	case first > 0 && first != hl:
		c.add(KeyGroupExtent, p, fmt.Sprintf("the header ends at offset %d, the first block (key group %d) starts at %d", hl, kg, first),
			atKeyGroup(kg), atOffset(hl))
		return false
	}
	return true
}

// keyedOpenErr tells an offset inside the header from other failures of
// OpenKeyed (which takes the header to end where the first block begins):
// it decodes the header from the stream's start on its own.
func (c *checker) keyedOpenErr(p place, err error, src *source, h *format.KeyGroupsHandle) {
	hb := make([]byte, min(src.size, maxMetaStream))
	if _, rerr := src.r.ReadAt(hb, 0); rerr == nil || rerr == io.EOF {
		if kh, herr := state.ReadKeyedHeader(hb, 0); herr == nil {
			for i, o := range h.Offsets {
				if o > 0 && o < int64(len(kh.Raw)) {
					kg := h.Range.Start + int32(i)
					c.add(KeyGroupOffsetInHeader, p, fmt.Sprintf("key group %d has offset %d, inside the %d-byte stream header", kg, o, len(kh.Raw)),
						atKeyGroup(kg), atOffset(o))
					return
				}
			}
		}
	}
	c.streamErr(p, err, true)
}

// walkKeyed reads every entry and checks every block's extent: the bytes
// from a block's offset to the next block (or the end of the stream) are
// exactly what its entries and marks occupy. It returns the entries read.
func (c *checker) walkKeyed(p place, ks *state.KeyedStream, src *source, h *format.KeyGroupsHandle, maxPar int) (int64, bool) {
	// Keys whose hashCode fsnap knows must lie in the key group Flink
	// assigns them: a flipped key byte usually moves a key elsewhere.
	hash := value.KeyHasher(ks.Header.KeySerializer)
	misplaced := 0
	offs, first := h.Offsets, h.Range.Start
	ns := int64(len(ks.Header.States))
	heap := ks.Layout == state.LayoutHeap
	sums := make([]int64, len(offs))
	ends := make([]int64, len(offs))
	next := src.size
	for g := len(offs) - 1; g >= 0; g-- {
		ends[g] = next
		if offs[g] > 0 {
			next = offs[g]
		}
	}
	checked := 0
	// check verifies the extents of the groups before upto, whose entries
	// have all been read.
	check := func(upto int) bool {
		for ; checked < upto; checked++ {
			g := checked
			if offs[g] == 0 {
				continue
			}
			off, end := offs[g], ends[g]
			want := 2 + sums[g] // unified: first state id, entries with their marks
			if heap {
				off += 4 // the key-group index, never compressed
				want = 6*ns + sums[g]
			}
			kg := first + int32(g)
			if ks.Header.Compressed {
				got, err := snappyExtent(src.r, off, end)
				if err != nil {
					c.add(SnappyCorrupt, p, fmt.Sprintf("key group %d: %v", kg, err), atKeyGroup(kg), atOffset(offs[g]))
					return false
				}
				if got != want {
					c.add(KeyGroupExtent, p, fmt.Sprintf("key group %d: its Snappy block up to offset %d decompresses to %d bytes, its entries and marks take %d",
						kg, end, got, want), atKeyGroup(kg), atOffset(offs[g]))
					return false
				}
				continue
			}
			if end-off != want {
				c.add(KeyGroupExtent, p, fmt.Sprintf("key group %d: its entries and marks end at offset %d, but the next block (or the stream end) is at %d",
					kg, off+want, end), atKeyGroup(kg), atOffset(off+want))
				return false
			}
		}
		return true
	}
	unwalkable := heapUnmeasurable(ks)
	it := ks.Iter()
	var n int64
	cur := -1
	for it.Next() {
		e := it.Entry()
		g := int(e.KeyGroup - first)
		if g != cur {
			if !check(g) {
				return n, false
			}
			cur = g
		}
		sums[g] += int64(e.Size)
		n++
		if hash != nil && e.Split && ks.Header.States[e.State].Type != state.PriorityQueueState {
			if kh, ok := hash(e.Key); ok {
				if want := value.KeyGroupOf(kh, maxPar); want != int(e.KeyGroup) {
					if misplaced++; misplaced <= 10 {
						c.add(KeyInWrongGroup, p, fmt.Sprintf("state %q: a key in key group %d hashes to key group %d (a corrupt key, or bytes that are not this state's)",
							ks.Header.States[e.State].Name, e.KeyGroup, want), atKeyGroup(e.KeyGroup), atOffset(e.Offset))
					}
				}
			}
		}
	}
	if err := it.Err(); err != nil {
		if unwalkable != "" {
			var opts []func(*Finding)
			where := ""
			var se *state.StreamError
			if errors.As(err, &se) && se.KeyGroup >= 0 {
				opts = append(opts, atKeyGroup(se.KeyGroup))
				where = fmt.Sprintf(" up to key group %d", se.KeyGroup)
			}
			c.add(StreamNotWalkable, p, fmt.Sprintf("%s; the stream was walked%s (%d entries)", unwalkable, where, n), opts...)
			return n, false
		}
		if ks.Header.Compressed {
			// The iterator may report a bad chunk as a short block: find
			// the chunk that is wrong.
			var se *state.StreamError
			if errors.As(err, &se) && se.KeyGroup >= first && int(se.KeyGroup-first) < len(offs) {
				g := int(se.KeyGroup - first)
				if off := offs[g]; off > 0 {
					if heap {
						off += 4
					}
					if sn := snappyDiagnose(src.r, off, ends[g]); sn != nil {
						c.add(snappyCode(sn), p, fmt.Sprintf("key group %d: %v", se.KeyGroup, sn), atKeyGroup(se.KeyGroup), atOffset(sn.Offset))
						return n, false
					}
				}
			}
		}
		c.streamErr(p, err, false)
		return n, false
	}
	return n, check(len(offs))
}

// heapUnmeasurable says which state of a heap-layout stream has values
// whose extent fsnap cannot find (the heap layout has no lengths), or "".
func heapUnmeasurable(ks *state.KeyedStream) string {
	if ks.Layout != state.LayoutHeap {
		return ""
	}
	for i := range ks.Header.States {
		m := &ks.Header.States[i]
		sers := []*state.Snapshot{ks.Header.KeySerializer, m.Serializer(state.ValueSerializerKey)}
		if m.Type != state.PriorityQueueState {
			sers = append(sers, m.Serializer(state.NamespaceSerializerKey))
		} else {
			sers = sers[1:]
		}
		for _, ser := range sers {
			if _, err := state.LayoutOf(ser); err != nil {
				var nl *state.NoLayoutError
				what := err.Error()
				if errors.As(err, &nl) {
					what = state.ShortClass(nl.Class) + " values cannot be measured by fsnap"
				}
				return fmt.Sprintf("heap-layout state %q: %s, so its entries cannot be walked", m.Name, what)
			}
		}
	}
	return ""
}

// snappyExtent walks the Snappy framing chunks in [off, end) by their
// headers and returns the decompressed length. The chunks must start with
// the stream identifier and tile the region exactly. (The iterator checks
// the CRCs of the chunks it decodes.)
func snappyExtent(r io.ReaderAt, off, end int64) (int64, error) {
	var hdr [13]byte
	var total int64
	for pos := off; pos < end; {
		k := min(int64(len(hdr)), end-pos)
		if k < 4 {
			return 0, fmt.Errorf("offset %d: %d bytes before the next block, too few for a chunk header", pos, k)
		}
		if _, err := r.ReadAt(hdr[:k], pos); err != nil && err != io.EOF {
			return 0, fmt.Errorf("offset %d: %v", pos, err)
		}
		typ := hdr[0]
		n := int64(hdr[1]) | int64(hdr[2])<<8 | int64(hdr[3])<<16
		if pos+4+n > end {
			return 0, fmt.Errorf("offset %d: chunk of %d bytes runs past the next block at %d", pos, n, end)
		}
		if pos == off && typ != 0xff {
			return 0, fmt.Errorf("offset %d: the block does not start with the Snappy stream identifier", pos)
		}
		switch {
		case typ == 0xff:
		case typ == 0x00:
			if n < 5 || k < 9 {
				return 0, fmt.Errorf("offset %d: compressed chunk of %d bytes", pos, n)
			}
			dl, err := snappy.DecodedLen(hdr[8:min(k, 4+n)])
			if err != nil {
				return 0, fmt.Errorf("offset %d: compressed chunk: %v", pos, err)
			}
			total += int64(dl)
		case typ == 0x01:
			if n < 4 {
				return 0, fmt.Errorf("offset %d: stored chunk of %d bytes", pos, n)
			}
			total += n - 4
		case typ >= 0x80: // skippable
		default:
			return 0, fmt.Errorf("offset %d: reserved chunk type 0x%02x", pos, typ)
		}
		pos += 4 + n
	}
	return total, nil
}

// snappyDiagnose decodes the Snappy stream of one key group's block
// [off, end), checking every chunk's CRC, and returns the first bad chunk's
// error (nil when all are good). Only used to explain a failed walk: bounded
// by the block, a chunk that runs into the next block is found as such.
func snappyDiagnose(r io.ReaderAt, off, end int64) *state.SnappyError {
	_, err := io.Copy(io.Discard, state.NewSnappyReader(r, off, end, true))
	var sn *state.SnappyError
	if errors.As(err, &sn) {
		return sn
	}
	return nil
}

// snappyCode is the finding code of a Snappy error.
func snappyCode(sn *state.SnappyError) Code {
	if sn.Checksum {
		return SnappyChecksum
	}
	return SnappyCorrupt
}

// rawKeyed checks raw keyed state. Its format is the operator's own; fsnap
// reads the one Flink itself wrote there: legacy heap timers
// (InternalTimerServiceSerializationProxy, before Flink 1.10), one proxy per
// key group filling the block exactly.
func (c *checker) rawKeyed(t *streamTask, h *format.KeyGroupsHandle) {
	if c.badKeyed[h] || h.Delegate == nil {
		return
	}
	src, ok := c.open(h.Delegate)
	if !ok {
		return
	}
	defer src.close()
	p := t.place()
	p.file = src.name
	// Block g spans from its offset to the next larger offset.
	type blk struct {
		kg       int32
		off, end int64
	}
	var blocks []blk
	for i, o := range h.Offsets {
		end := src.size
		for _, q := range h.Offsets[i+1:] {
			if q > o {
				end = q
				break
			}
		}
		if end > o {
			blocks = append(blocks, blk{h.Range.Start + int32(i), o, end})
		}
	}
	if len(blocks) == 0 {
		c.opaque()
		return
	}
	var start [512]byte
	n, _ := src.r.ReadAt(start[:min(int64(len(start)), blocks[0].end-blocks[0].off)], blocks[0].off)
	if !state.LooksLikeTimerServices(start[:n]) {
		c.opaque() // not timers: user bytes
		return
	}
	if c.opts.Level < LevelDeep {
		blocks = blocks[:1]
	}
	var timers int64
	for _, b := range blocks {
		if b.end-b.off > maxTimerBlock {
			c.add(StreamNotWalkable, p, fmt.Sprintf("key group %d: a %d-byte block of timers is more than fsnap reads at once (%d)", b.kg, b.end-b.off, maxTimerBlock), atKeyGroup(b.kg))
			return
		}
		buf := make([]byte, b.end-b.off)
		if _, err := src.r.ReadAt(buf, b.off); err != nil && err != io.EOF {
			c.add(StreamReadError, p, fmt.Sprintf("key group %d: %v", b.kg, err), atKeyGroup(b.kg))
			return
		}
		svcs, n, err := state.ReadTimerServices(buf, b.off)
		switch {
		case errors.Is(err, state.ErrUnsupportedVersion):
			c.add(TimersUnsupported, p, fmt.Sprintf("key group %d: legacy timers: %v", b.kg, err), atKeyGroup(b.kg), atOffset(b.off))
			return
		case err != nil:
			c.add(RawKeyedTimersCorrupt, p, fmt.Sprintf("key group %d: legacy timers: %v", b.kg, err), atKeyGroup(b.kg), atOffset(b.off))
			return
		case n != len(buf):
			c.add(RawKeyedTimersCorrupt, p, fmt.Sprintf("key group %d: the legacy timer services end at offset %d, the block at %d", b.kg, b.off+int64(n), b.end),
				atKeyGroup(b.kg), atOffset(b.off+int64(n)))
			return
		}
		for _, s := range svcs {
			timers += int64(len(s.EventTimers) + len(s.ProcessingTimers))
		}
	}
	if c.opts.Level >= LevelDeep {
		c.counted(1, 1, src.size, timers)
	} else {
		c.counted(1, 0, 0, 0)
	}
}

// operator checks a managed operator state stream: the header decodes and
// names the metadata's states; deep, every element is read (and measured
// by its serializer where fsnap knows it).
func (c *checker) operator(t *streamTask, h *format.OperatorStateHandle) {
	if c.badOper[h] {
		return
	}
	if c.opts.Level >= LevelDeep {
		c.operatorStream(t, h)
		return
	}
	// A header found clean is clean for every handle naming the same bytes
	// with the same states (a repeated or rescaled job): read it once.
	k := operKey{stream: c.snap.StreamOf(h.Delegate), states: statesHash(h.States)}
	c.mu.Lock()
	first, seen := c.cleanOpers[k]
	c.mu.Unlock()
	if seen && slices.EqualFunc(first.States, h.States, sameOperatorState) {
		c.counted(1, 0, 0, 0)
		return
	}
	if c.operatorStream(t, h) && !seen {
		c.mu.Lock()
		if c.cleanOpers == nil {
			c.cleanOpers = map[operKey]*format.OperatorStateHandle{}
		}
		c.cleanOpers[k] = h
		c.mu.Unlock()
	}
}

// operKey names an operator stream's bytes and the states a handle says
// they hold.
type operKey struct {
	stream snapshot.Stream
	states uint64
}

func statesHash(states []format.NamedOperatorState) uint64 {
	x := uint64(14695981039346656037)
	mix := func(v uint64) { x = (x ^ v) * 1099511628211 }
	for _, st := range states {
		for i := 0; i < len(st.Name); i++ {
			mix(uint64(st.Name[i]))
		}
		mix(uint64(st.Mode))
		for _, o := range st.Offsets {
			mix(uint64(o))
		}
	}
	return x
}

func sameOperatorState(a, b format.NamedOperatorState) bool {
	return a.Name == b.Name && a.Mode == b.Mode && slices.Equal(a.Offsets, b.Offsets)
}

// operatorStream checks an operator stream (deep: walks it) and reports
// whether it found nothing to say.
func (c *checker) operatorStream(t *streamTask, h *format.OperatorStateHandle) (clean bool) {
	src, ok := c.open(h.Delegate)
	if !ok {
		return false
	}
	defer src.close()
	p := t.place()
	p.file = src.name
	ops, err := state.OpenOperator(src.r, src.size, h.States, src.name)
	if err != nil {
		if missing := operatorStatesMissing(src, h); missing != "" {
			c.add(OperatorStatesMismatch, p, missing)
			return false
		}
		c.streamErr(p, err, true)
		return false
	}
	if c.opts.Level < LevelDeep {
		c.counted(1, 0, 0, 0)
		return true
	}
	unwalkable := ""
	for _, ref := range ops.States {
		if ref.Meta.Type == state.BroadcastState && len(ref.Offsets) > 0 && ref.LayoutErr != nil {
			unwalkable = fmt.Sprintf("broadcast state %q has entries fsnap cannot measure (%v)", ref.Meta.Name, ref.LayoutErr)
			break
		}
	}
	it := ops.Iter()
	var n int64
	for it.Next() {
		n++
	}
	if err := it.Err(); err != nil {
		if unwalkable != "" {
			c.add(StreamNotWalkable, p, fmt.Sprintf("%s; %d elements were read before it", unwalkable, n))
		} else {
			c.streamErr(p, err, false)
		}
		c.counted(1, 0, 0, 0)
		return false
	}
	c.counted(1, 1, src.size, n)
	return true
}

// operatorStatesMissing decodes the header of an operator stream that
// failed to open and says which metadata state it does not name, or "".
func operatorStatesMissing(src *source, h *format.OperatorStateHandle) string {
	first := src.size
	for _, st := range h.States {
		for _, o := range st.Offsets {
			if o >= 0 && o < first {
				first = o
			}
		}
	}
	hb := make([]byte, first)
	if _, err := src.r.ReadAt(hb, 0); err != nil && err != io.EOF {
		return ""
	}
	oh, err := state.ReadOperatorHeader(hb, 0)
	if err != nil {
		return ""
	}
	for _, st := range h.States {
		if oh.State(st.Name) == nil {
			return fmt.Sprintf("the metadata names operator state %q, which the stream header does not", st.Name)
		}
	}
	return ""
}

// RocksDB SST footers end with one of these magic numbers.
var sstMagic = map[uint64]string{
	0x88e241b785f4cff7: "block-based table",
	0xdb4775248b80fb57: "legacy block-based table",
	0x8242229663bf9564: "plain table",
	0x4f7a4f7a4f7a4f7a: "cuckoo table",
}

// rocks checks a RocksDB native handle: the meta stream decodes, the file
// list has CURRENT and the MANIFEST that CURRENT names; deep, every SST
// ends with a table magic number.
func (c *checker) rocks(t *streamTask, h *format.IncrementalHandle, sstOnce *sync.Map) {
	p := t.place()
	if h.MetaStateHandle == nil {
		return
	}
	meta := c.readSmall(h.MetaStateHandle, p, maxMetaStream, "RocksDB meta stream")
	if !meta.ok {
		return
	}
	p.file = meta.name
	hd, err := meta.keyedHeader()
	if err != nil {
		c.streamErr(p, err, true)
		return
	}
	if err := state.CheckRocksDBMeta(hd, int64(len(meta.data))); err != nil {
		c.streamErr(p, err, true)
		return
	}
	c.counted(1, 0, 0, 0)
	// The handle's files, without building a RocksDBSnapshot per handle:
	// a large checkpoint has hundreds of thousands of them.
	var current format.StreamHandle
	manifests, files := 0, 0
	for f := range h.Files() {
		files++
		switch state.KindOfRocksDBFile(f.LocalPath) {
		case state.RocksCurrent:
			current = f.Handle
		case state.RocksManifest:
			manifests++
		}
	}
	if current == nil || manifests == 0 {
		c.add(RocksDBFilesIncomplete, p, fmt.Sprintf("the RocksDB snapshot lists %d files but no CURRENT or no MANIFEST; RocksDB cannot open it", files))
		return
	}
	if cs := c.readSmall(current, p, maxCurrentFile, "CURRENT file"); cs.ok {
		name := bytes.TrimSuffix(cs.data, []byte("\n"))
		if !listsManifest(h, name) {
			c.add(RocksDBCurrentMismatch, p, fmt.Sprintf("CURRENT names %q, which is not among the snapshot's files", name))
		}
	}
	if c.opts.Level < LevelDeep {
		return
	}
	for f := range h.Files() {
		c.checkSST(p, *f, sstOnce)
	}
}

// listsManifest says whether h lists the MANIFEST file name.
func listsManifest(h *format.IncrementalHandle, name []byte) bool {
	for f := range h.Files() {
		if f.LocalPath == string(name) && state.KindOfRocksDBFile(f.LocalPath) == state.RocksManifest {
			return true
		}
	}
	return false
}

// checkSST checks, once per file, that an SST file ends with a table magic.
func (c *checker) checkSST(p place, f format.NamedHandle, sstOnce *sync.Map) {
	if state.KindOfRocksDBFile(f.LocalPath) != state.RocksSST {
		return
	}
	if fi := c.fileOf(f.Handle); fi != nil {
		if _, done := sstOnce.LoadOrStore(fi, true); done {
			return
		}
	}
	fs, ok := c.open(f.Handle)
	if !ok {
		return
	}
	var tail [8]byte
	var err error
	if fs.size >= 8 {
		_, err = fs.r.ReadAt(tail[:], fs.size-8)
	}
	fs.close()
	if err != nil && err != io.EOF {
		c.add(StreamReadError, p, fmt.Sprintf("%s: %v", f.LocalPath, err))
		return
	}
	if _, ok := sstMagic[binary.LittleEndian.Uint64(tail[:])]; !ok || fs.size < 8 {
		fp := p
		fp.file = fs.name
		c.add(RocksDBSSTCorrupt, fp, fmt.Sprintf("%s (%d bytes) does not end with a RocksDB table magic number", f.LocalPath, fs.size))
	}
}
