package state

import (
	"encoding/binary"
	"fmt"
	"io"
)

// UnifiedWriter writes a keyed state stream in the unified (canonical
// savepoint) layout: the header, then per non-empty key group a block of
// state runs, each block a Snappy framed stream when the header says
// Compressed. It mirrors the reader: what it writes, OpenKeyed and Iter
// read back, and Flink's FullSnapshotRestoreOperation accepts.
//
// Entries are added key group by key group in ascending order; within a key
// group, entries of one state must be consecutive. Keys are composite keys
// without the key-group prefix (see AppendCompositeKey); the writer adds
// the prefix and the end-of-run marks.
type UnifiedWriter struct {
	w           *countingWriter
	h           *KeyedHeader
	prefixBytes int
	first       int32
	offsets     []int64

	kg      int32 // current key group, -1 before the first
	state   int   // state of the pending entry
	pending []byte
	has     bool // pending holds an entry
	seen    []bool
	block   io.Writer
	sn      *snappyWriter
	err     error
	closed  bool
}

type countingWriter struct {
	w io.Writer
	n int64
}

func (c *countingWriter) Write(p []byte) (int, error) {
	n, err := c.w.Write(p)
	c.n += int64(n)
	return n, err
}

// NewUnifiedWriter writes h to w and prepares key groups first to
// first+count-1 of an operator with the given max parallelism.
func NewUnifiedWriter(w io.Writer, h *KeyedHeader, first, count int32, maxParallelism int32) (*UnifiedWriter, error) {
	if count < 0 || first < 0 || maxParallelism <= 0 || first+count > maxParallelism {
		return nil, fmt.Errorf("key groups %d+%d do not fit max parallelism %d", first, count, maxParallelism)
	}
	hb, err := h.Append(nil)
	if err != nil {
		return nil, err
	}
	u := &UnifiedWriter{w: &countingWriter{w: w}, h: h, prefixBytes: PrefixBytes(maxParallelism),
		first: first, offsets: make([]int64, count), kg: -1, seen: make([]bool, len(h.States))}
	if _, err := u.w.Write(hb); err != nil {
		return nil, err
	}
	return u, nil
}

// Add appends one entry: state is the kv-state id, compositeKey the key
// bytes after the key-group prefix, value the stored value.
func (u *UnifiedWriter) Add(keyGroup int32, state int, compositeKey, value []byte) error {
	if u.err != nil {
		return u.err
	}
	if u.closed {
		return errClosed
	}
	switch {
	case keyGroup < u.first || keyGroup >= u.first+int32(len(u.offsets)):
		return u.fail(fmt.Errorf("key group %d is outside %d-%d", keyGroup, u.first, u.first+int32(len(u.offsets))-1))
	case keyGroup < u.kg:
		return u.fail(fmt.Errorf("key group %d added after %d", keyGroup, u.kg))
	case state < 0 || state >= len(u.h.States):
		return u.fail(fmt.Errorf("state id %d, the header names %d", state, len(u.h.States)))
	}
	if keyGroup != u.kg {
		if err := u.endGroup(); err != nil {
			return err
		}
		u.kg = keyGroup
		u.offsets[keyGroup-u.first] = u.w.n
		clear(u.seen)
		u.block = u.w
		if u.h.Compressed {
			if u.sn == nil {
				u.sn = newSnappyWriter(u.w)
			} else {
				u.sn.reset(u.w)
			}
			u.block = u.sn
		}
		u.writeID(state)
	} else if state != u.state {
		if u.seen[state] {
			return u.fail(fmt.Errorf("key group %d: entries of state %d are not consecutive", keyGroup, state))
		}
		u.flushPending(true, uint16(state))
	} else {
		u.flushPending(false, 0)
	}
	u.seen[state] = true
	u.state = state
	// Keep the entry until we know whether it ends its run.
	p := u.pending[:0]
	p = binary.BigEndian.AppendUint32(p, uint32(u.prefixBytes+len(compositeKey)))
	if u.prefixBytes == 1 {
		p = append(p, byte(keyGroup))
	} else {
		p = binary.BigEndian.AppendUint16(p, uint16(keyGroup))
	}
	p = append(p, compositeKey...)
	p = binary.BigEndian.AppendUint32(p, uint32(len(value)))
	p = append(p, value...)
	u.pending, u.has = p, true
	return u.err
}

func (u *UnifiedWriter) fail(err error) error {
	if u.err == nil {
		u.err = err
	}
	return u.err
}

func (u *UnifiedWriter) write(b []byte) {
	if u.err != nil {
		return
	}
	if _, err := u.block.Write(b); err != nil {
		u.err = err
	}
}

func (u *UnifiedWriter) writeID(state int) {
	var b [2]byte
	binary.BigEndian.PutUint16(b[:], uint16(state))
	u.write(b[:])
}

// flushPending writes the pending entry. When last, the entry ends its run:
// its key is flagged and mark (the next state id or the end-of-group mark)
// follows it.
func (u *UnifiedWriter) flushPending(last bool, mark uint16) {
	if !u.has {
		return
	}
	if last {
		u.pending[4] |= 0x80
		u.write(u.pending)
		var b [2]byte
		binary.BigEndian.PutUint16(b[:], mark)
		u.write(b[:])
	} else {
		u.write(u.pending)
	}
	u.has = false
}

func (u *UnifiedWriter) endGroup() error {
	if u.kg < 0 || !u.has {
		return u.err
	}
	u.flushPending(true, endOfKeyGroup)
	if u.sn != nil {
		if err := u.sn.Flush(); err != nil {
			u.fail(err)
		}
	}
	return u.err
}

// Close ends the last key group and returns the key-group offsets for the
// metadata (0 for empty groups). It does not close the underlying writer.
func (u *UnifiedWriter) Close() (KeyGroups, error) {
	if !u.closed {
		u.endGroup()
		u.closed = true
	}
	return KeyGroups{First: u.first, Offsets: u.offsets}, u.err
}

// Size is the number of bytes written so far.
func (u *UnifiedWriter) Size() int64 { return u.w.n }

// AppendCompositeKey appends a composite key without its key-group prefix
// (keyed-state.md §5.1): the key, the namespace and, for MAP states, the
// user key. When ambiguous (both key and namespace serializers are
// variable-length for Flink) key and namespace are each followed by their
// length in little-endian base-256 digits.
func AppendCompositeKey(dst, key, namespace, userKey []byte, ambiguous bool) []byte {
	dst = append(dst, key...)
	if ambiguous {
		dst = appendLenSuffix(dst, len(key))
	}
	dst = append(dst, namespace...)
	if ambiguous {
		dst = appendLenSuffix(dst, len(namespace))
	}
	return append(dst, userKey...)
}

func appendLenSuffix(dst []byte, n int) []byte {
	for {
		dst = append(dst, byte(n))
		n >>= 8
		if n == 0 {
			return dst
		}
	}
}
