package verify

import (
	"fmt"
	"slices"

	"github.com/fsnap/fsnap/format"
	"github.com/fsnap/fsnap/snapshot"
)

// maxKeyGroups is Flink's upper bound of max parallelism
// (KeyGroupRangeAssignment.UPPER_BOUND_MAX_PARALLELISM).
const maxKeyGroups = 1 << 15

// consistency checks operators: ids, uids, parallelism, subtasks, finished
// flags.
func (c *checker) consistency() {
	m := c.snap.Metadata
	seen := make(map[format.OperatorID]int, len(m.Operators))
	subs := map[int32]bool{}
	for i := range m.Operators {
		op := &m.Operators[i]
		p := c.opPlace(i)
		if j, ok := seen[op.ID]; ok {
			c.add(DuplicateOperator, p, fmt.Sprintf("operator id %s is stored twice (operators %d and %d); Flink keeps only one of them", op.ID, j, i))
		} else {
			seen[op.ID] = i
		}
		if op.UID != "" {
			if want := format.OperatorIDFromUID(op.UID); want != op.ID {
				c.add(OperatorUIDMismatch, p, fmt.Sprintf("uid %q hashes to operator id %s, but the stored id is %s (set with setUidHash, or the file was edited)", op.UID, want, op.ID))
			}
		}
		maxOK := op.MaxParallelism >= 1 && op.MaxParallelism <= maxKeyGroups
		if !maxOK {
			c.add(MaxParallelismInvalid, p, fmt.Sprintf("max parallelism %d is outside 1..%d", op.MaxParallelism, maxKeyGroups))
		}
		switch {
		case op.Parallelism < 1:
			c.add(ParallelismInvalid, p, fmt.Sprintf("parallelism %d is less than 1", op.Parallelism))
		case maxOK && op.Parallelism > op.MaxParallelism:
			c.add(ParallelismExceedsMax, p, fmt.Sprintf("parallelism %d exceeds max parallelism %d", op.Parallelism, op.MaxParallelism))
		}
		clear(subs)
		finished, channel := 0, 0
		var channelBytes int64
		for j := range op.Subtasks {
			st := &op.Subtasks[j]
			sp := place{op: i, sub: st.Index}
			if st.Index < 0 || (op.Parallelism >= 1 && st.Index >= op.Parallelism) {
				c.add(SubtaskIndexOutOfRange, sp, fmt.Sprintf("subtask index %d is outside 0..%d (parallelism %d)", st.Index, op.Parallelism-1, op.Parallelism))
			}
			if subs[st.Index] {
				c.add(DuplicateSubtask, sp, fmt.Sprintf("subtask %d is stored twice", st.Index))
			}
			subs[st.Index] = true
			if st.Finished {
				finished++
			}
			if n, b := st.ChannelStateSize(); n > 0 {
				channel++
				channelBytes += b
			}
		}
		if channel > 0 && c.snap.Kind.Kind.IsSavepoint() {
			c.add(SavepointChannelState, p, fmt.Sprintf("%d subtasks carry %d bytes of in-flight channel state, which a savepoint never holds "+
				"(a converted unaligned checkpoint?); Flink would restore the in-flight records as if they were savepoint state", channel, channelBytes))
		}
		switch {
		case op.FullyFinished:
			c.add(OperatorFinished, p, "all subtasks had finished; Flink restores the operator as finished and does not run it again")
		case finished > 0:
			c.add(OperatorPartlyFinished, p, fmt.Sprintf("%d of %d subtasks had finished and carry no state", finished, op.Parallelism))
		}
	}
}

// keyGroups checks, per keyed operator and slot, that the subtasks' key-group
// ranges cover 0..maxParallelism-1 exactly once, and every key-group
// handle's offsets.
func (c *checker) keyGroups() {
	m := c.snap.Metadata
	type rng struct {
		sub int32
		r   format.KeyGroupRange
	}
	type pair struct{ a, b int32 }
	// Scratch reused from operator to operator (a large checkpoint has a
	// hundred thousand).
	var (
		rs       []rng
		owner    []int32
		present  = map[int32]bool{}
		finished = map[int32]bool{}
		overlaps = newSpans[pair]()
		absent   = newSpans[int32]()
	)
	for i := range m.Operators {
		op := &m.Operators[i]
		for _, slot := range []snapshot.Slot{snapshot.SlotManagedKeyed, snapshot.SlotRawKeyed} {
			raw := slot == snapshot.SlotRawKeyed
			rs = rs[:0]
			clear(present)
			clear(finished)
			for j := range op.Subtasks {
				st := &op.Subtasks[j]
				if st.Finished {
					finished[st.Index] = true
					continue
				}
				h := st.ManagedKeyedState
				if raw {
					h = st.RawKeyedState
				}
				if h == nil {
					continue
				}
				rs = append(rs, rng{st.Index, h.KeyGroups()})
				present[st.Index] = true
			}
			if len(rs) == 0 || op.MaxParallelism < 1 || op.MaxParallelism > maxKeyGroups {
				continue
			}
			maxP := op.MaxParallelism
			owner = slices.Grow(owner[:0], int(maxP))[:maxP]
			for k := range owner {
				owner[k] = -1
			}
			overlaps.reset()
			for _, x := range rs {
				r := x.r
				lo, hi := int64(r.Start), int64(r.Start)+int64(r.Count)-1
				if r.Count < 0 || lo < 0 || hi >= int64(maxP) {
					c.add(KeyGroupsOutOfRange, place{op: i, sub: x.sub, slot: slot},
						fmt.Sprintf("key-group range %s (start %d, %d groups) lies outside 0..%d (max parallelism %d)", r, r.Start, r.Count, maxP-1, maxP))
					// The groups inside the bounds still count for coverage.
					lo, hi = max(lo, 0), min(hi, int64(maxP)-1)
				}
				for kg := int32(lo); int64(kg) <= hi; kg++ {
					if owner[kg] >= 0 {
						overlaps.add(pair{owner[kg], x.sub}, kg, kg)
						continue
					}
					owner[kg] = x.sub
				}
			}
			for _, pr := range overlaps.order {
				span := overlaps.m[pr]
				c.add(KeyGroupsOverlap, place{op: i, sub: pr.b, slot: slot},
					fmt.Sprintf("subtasks %d and %d both hold %s of %s state; a restore would apply them twice", pr.a, pr.b, kgSpan(span[0], span[1]), slotWord(slot)),
					atKeyGroup(span[0]))
			}
			// Gaps: key groups no handle holds. Flink omits subtasks
			// without any state, so a gap owned (by Flink's assignment) by
			// such a subtask is expected; one owned by a subtask that has a
			// handle is lost state.
			par := op.Parallelism
			absent.reset()
			for kg := int32(0); kg < maxP; kg++ {
				if owner[kg] != -1 {
					continue
				}
				end := kg
				for end+1 < maxP && owner[end+1] == -1 {
					end++
				}
				if par < 1 || par > maxP {
					c.add(KeyGroupsGap, place{op: i, sub: -1, slot: slot}, fmt.Sprintf("no subtask holds %s of %s state", kgSpan(kg, end), slotWord(slot)), atKeyGroup(kg))
					kg = end
					continue
				}
				// Split the run by the subtask Flink assigns each group to.
				for a := kg; a <= end; {
					idx := int32(int64(a) * int64(par) / int64(maxP))
					b := a
					for b+1 <= end && int32(int64(b+1)*int64(par)/int64(maxP)) == idx {
						b++
					}
					switch {
					case present[idx]:
						c.add(KeyGroupsGap, place{op: i, sub: idx, slot: slot},
							fmt.Sprintf("no subtask holds %s of %s state; Flink assigns %s to subtask %d, which stored other key groups, so %s state is lost", kgSpan(a, b), slotWord(slot), pick(a == b, "it", "them"), idx, pick(a == b, "its", "their")),
							atKeyGroup(a))
					case finished[idx]:
					default:
						absent.add(idx, a, b)
					}
					a = b + 1
				}
				kg = end
			}
			if !raw {
				for _, idx := range absent.order {
					span := absent.m[idx]
					c.add(KeyedSubtaskNoState, place{op: i, sub: idx, slot: slot},
						fmt.Sprintf("subtask %d stored no keyed state (Flink omits subtasks without state), so a restore has no state for %s", idx, kgSpan(span[0], span[1])))
				}
			}
		}
	}
}

// kgSpan names key groups a to b: "key group 5", "key groups 5-9".
// spans keeps, per key, the range of key groups from the first seen to
// the last, and the keys in the order first seen.
type spans[K comparable] struct {
	m     map[K][2]int32
	order []K
}

func newSpans[K comparable]() *spans[K] { return &spans[K]{m: map[K][2]int32{}} }

func (s *spans[K]) reset() {
	clear(s.m)
	s.order = s.order[:0]
}

// add extends k's span to hi, or starts it at lo.
func (s *spans[K]) add(k K, lo, hi int32) {
	span, ok := s.m[k]
	if !ok {
		s.order = append(s.order, k)
		span[0] = lo
	}
	span[1] = hi
	s.m[k] = span
}

func kgSpan(a, b int32) string {
	if a == b {
		return fmt.Sprintf("key group %d", a)
	}
	return fmt.Sprintf("key groups %d-%d", a, b)
}

func slotWord(s snapshot.Slot) string {
	if s == snapshot.SlotRawKeyed {
		return "raw keyed"
	}
	return "managed keyed"
}

// offsets checks the offsets of every key-group handle and operator state
// handle against their streams.
func (c *checker) offsets() {
	m := c.snap.Metadata
	for n := range m.Walk() {
		if n.Subtask < 0 {
			continue
		}
		p := place{op: n.Operator, sub: m.Operators[n.Operator].Subtasks[n.Subtask].Index, slot: n.Slot}
		if kg, ok := n.Keyed.(*format.KeyGroupsHandle); ok && n.Stream == nil {
			c.kgOffsets(p, kg, n.Slot == snapshot.SlotRawKeyed)
		} else if n.Owner != nil {
			c.operatorOffsets(p, n.Owner, n.Slot == snapshot.SlotRawOperator)
		}
	}
}

// kgOffsets checks one key-group handle: every offset lies inside its stream
// and the offsets increase with the key group. In managed keyed state offset
// 0 marks an empty key group (the unified layout; position 0 is inside the
// header); raw keyed state has no header, so 0 is a position there and
// empty groups share the next group's offset.
func (c *checker) kgOffsets(p place, h *format.KeyGroupsHandle, raw bool) {
	if h.Delegate == nil {
		return
	}
	size := h.Delegate.StateSize()
	p.file = c.handleName(h.Delegate)
	prev, prevKG := int64(-1), int32(-1)
	var outside, order []int32
	var firstOutside, firstOrder int64
	for i, o := range h.Offsets {
		kg := h.Range.Start + int32(i)
		if !raw && o == 0 {
			continue
		}
		limit := size - 1 // a block holds at least one byte
		if raw {
			limit = size
		}
		if o < 0 || o > limit {
			if len(outside) == 0 {
				firstOutside = o
			}
			outside = append(outside, kg)
			continue
		}
		if o < prev || (!raw && o == prev) {
			if len(order) == 0 {
				firstOrder = o
				order = append(order, prevKG)
			}
			order = append(order, kg)
		}
		prev, prevKG = o, kg
	}
	if len(outside) > 0 {
		more := ""
		if len(outside) > 1 {
			more = fmt.Sprintf(" (and %d more key groups)", len(outside)-1)
		}
		c.add(KeyGroupOffsetOutside, p, fmt.Sprintf("key group %d has offset %d, outside the %d-byte stream%s", outside[0], firstOutside, size, more),
			atKeyGroup(outside[0]), atOffset(firstOutside))
		c.badKeyed[h] = true
	}
	if len(order) > 0 {
		c.add(KeyGroupOffsetsOrder, p, fmt.Sprintf("key group %d has offset %d, not after key group %d's; blocks are written in key-group order (%d out of order)",
			order[1], firstOrder, order[0], len(order)-1), atKeyGroup(order[1]), atOffset(firstOrder))
		c.badKeyed[h] = true
	}
}

// operatorOffsets checks that operator state offsets lie inside the stream.
func (c *checker) operatorOffsets(p place, h *format.OperatorStateHandle, raw bool) {
	if h.Delegate == nil {
		return
	}
	size := h.Delegate.StateSize()
	p.file = c.handleName(h.Delegate)
	for _, st := range h.States {
		for k, o := range st.Offsets {
			if o < 0 || o > size || (!raw && o == size) {
				c.add(OperatorOffsetOutside, p, fmt.Sprintf("state %q element %d has offset %d, outside the %d-byte stream", st.Name, k, o, size), atOffset(o))
				c.badOper[h] = true
				return
			}
		}
	}
}

// handleName is how findings name a stream handle's bytes.
func (c *checker) handleName(h format.StreamHandle) string {
	switch h := h.(type) {
	case *format.ByteStreamHandle:
		return "inline:" + h.Name
	case *format.RelativeFileHandle:
		if format.CheckRelativePath(h.RelativePath) != nil {
			return h.RelativePath
		}
		return c.snap.Dir + "/" + h.RelativePath
	case *format.FileHandle:
		return h.Path
	case *format.SegmentFileHandle:
		return fmt.Sprintf("%s[%d+%d]", h.Path, h.StartPos, h.Size)
	case *format.KeyGroupsHandle:
		return c.handleName(h.Delegate)
	}
	return ""
}

// firstUse is the place of a file's first user.
func firstUse(f *snapshot.File, name string) place {
	if f.Refs == 0 {
		return place{op: -1, sub: -1, file: name}
	}
	u := f.First
	return place{op: u.Operator, sub: u.Subtask, slot: u.Slot, file: name}
}

func withUsers(f *snapshot.File) func(*Finding) {
	return func(x *Finding) {
		if f.Refs > 1 {
			x.Users = f.Refs
		}
	}
}

func pick(c bool, a, b string) string {
	if c {
		return a
	}
	return b
}
