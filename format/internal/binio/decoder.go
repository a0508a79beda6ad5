// Package binio reads and writes the big-endian primitives of Java's
// DataInput/DataOutput, the encoding of every Flink state file and of
// _metadata.
//
// The Decoder keeps a sticky error: after the first failure every read returns
// a zero value and Err reports the first failure with its byte offset. Callers
// check Err before acting on a count (see Count) and once at the end, which
// keeps the format code linear while never trusting a length that the input
// cannot back.
package binio

import (
	"encoding/binary"
	"fmt"
	"unsafe"
)

// Error is a decoding failure at a byte offset of the input.
type Error struct {
	Offset int64  // absolute offset in the file where the failing field starts
	Msg    string // what was expected and what was found
}

func (e *Error) Error() string {
	return fmt.Sprintf("offset %d (0x%x): %s", e.Offset, e.Offset, e.Msg)
}

// Decoder reads big-endian values from an in-memory buffer.
type Decoder struct {
	buf  []byte
	off  int
	base int64 // file offset of buf[0], for error messages
	err  *Error
	// short records a fixed-size read past the end without a call, so the
	// fast paths stay small enough to inline; Err turns it into an Error.
	short shortRead
}

type shortRead struct {
	set  bool
	off  int
	n    int
	what string
}

// NewDecoder decodes buf, whose first byte sits at file offset base.
func NewDecoder(buf []byte, base int64) *Decoder {
	return &Decoder{buf: buf, base: base}
}

// Reset reuses d for another buffer.
func (d *Decoder) Reset(buf []byte, base int64) {
	*d = Decoder{buf: buf, base: base}
}

// Err is the first error met, or nil.
func (d *Decoder) Err() error {
	if d.err == nil && d.short.set {
		d.materialize()
	}
	if d.err == nil {
		return nil
	}
	return d.err
}

//go:noinline
func (d *Decoder) materialize() {
	s := d.short
	d.err = &Error{Offset: d.base + int64(s.off), Msg: fmt.Sprintf("truncated: %s needs %d bytes, %d remain", s.what, s.n, len(d.buf)-s.off)}
}

// truncated notes a fixed-size read of n bytes past the end (see shortRead).
func (d *Decoder) truncated(n int, what string) {
	if d.err == nil && !d.short.set {
		d.short = shortRead{true, d.off, n, what}
	}
	d.off = len(d.buf)
}

// Failed reports whether an error has been met.
func (d *Decoder) Failed() bool { return d.err != nil || d.short.set }

// Offset is the absolute file offset of the next byte to read.
func (d *Decoder) Offset() int64 { return d.base + int64(d.off) }

// Pos is the position of the next byte within the buffer.
func (d *Decoder) Pos() int { return d.off }

// Remaining is the number of unread bytes.
func (d *Decoder) Remaining() int { return len(d.buf) - d.off }

// Buffer is the whole buffer being decoded.
func (d *Decoder) Buffer() []byte { return d.buf }

// Failf records an error at the current offset (if none was recorded yet).
func (d *Decoder) Failf(format string, args ...any) {
	d.FailAt(d.Offset(), format, args...)
}

// FailAt records an error at an explicit absolute offset.
func (d *Decoder) FailAt(off int64, format string, args ...any) {
	if !d.Failed() {
		d.err = &Error{Offset: off, Msg: fmt.Sprintf(format, args...)}
	}
	d.off = len(d.buf) // stop all further reads
}

// need reports whether n more bytes can be read; it is small enough to be
// inlined, the failure path is not.
func (d *Decoder) need(n int, what string) bool {
	if !d.Failed() && n <= len(d.buf)-d.off {
		return true
	}
	return d.fail(n, what)
}

//go:noinline
func (d *Decoder) fail(n int, what string) bool {
	if !d.Failed() {
		d.Failf("truncated: %s needs %d bytes, %d remain", what, n, len(d.buf)-d.off)
	}
	return false
}

// U8 reads one unsigned byte.
func (d *Decoder) U8(what string) uint8 {
	if d.off < len(d.buf) {
		v := d.buf[d.off]
		d.off++
		return v
	}
	d.truncated(1, what)
	return 0
}

// Bool reads a Java boolean (one byte, 0 or 1; Java accepts any non-zero as true).
func (d *Decoder) Bool(what string) bool { return d.U8(what) != 0 }

// I16 reads a signed 16-bit value.
func (d *Decoder) I16(what string) int16 {
	if d.off+2 <= len(d.buf) {
		v := binary.BigEndian.Uint16(d.buf[d.off:])
		d.off += 2
		return int16(v)
	}
	d.truncated(2, what)
	return 0
}

// U16 reads an unsigned 16-bit value.
func (d *Decoder) U16(what string) uint16 { return uint16(d.I16(what)) }

// I32 reads a signed 32-bit value.
func (d *Decoder) I32(what string) int32 {
	if d.off+4 <= len(d.buf) {
		v := binary.BigEndian.Uint32(d.buf[d.off:])
		d.off += 4
		return int32(v)
	}
	d.truncated(4, what)
	return 0
}

// I64 reads a signed 64-bit value.
func (d *Decoder) I64(what string) int64 {
	if d.off+8 <= len(d.buf) {
		v := binary.BigEndian.Uint64(d.buf[d.off:])
		d.off += 8
		return int64(v)
	}
	d.truncated(8, what)
	return 0
}

// Bytes returns the next n bytes as a sub-slice of the buffer (no copy).
func (d *Decoder) Bytes(n int, what string) []byte {
	if n < 0 {
		d.Failf("%s: negative length %d", what, n)
		return nil
	}
	if !d.need(n, what) {
		return nil
	}
	b := d.buf[d.off : d.off+n : d.off+n]
	d.off += n
	return b
}

// Skip advances over n bytes.
func (d *Decoder) Skip(n int, what string) { d.Bytes(n, what) }

// Count reads an i32 element count and checks it against the remaining bytes,
// given that every element occupies at least minSize bytes. It returns -1 on
// failure, so a hostile count never drives an allocation or a long loop.
func (d *Decoder) Count(what string, minSize int) int {
	start := d.Offset()
	n := d.I32(what)
	if d.Failed() {
		return -1
	}
	return d.CheckCount(start, int64(n), what, minSize)
}

// CheckCount validates a count read elsewhere (see Count).
func (d *Decoder) CheckCount(at int64, n int64, what string, minSize int) int {
	if d.Failed() {
		return -1
	}
	if n < 0 {
		d.FailAt(at, "%s: negative count %d", what, n)
		return -1
	}
	if minSize < 1 {
		minSize = 1
	}
	if n > int64(d.Remaining()/minSize) {
		d.FailAt(at, "%s: count %d needs at least %d bytes, %d remain", what, n, n*int64(minSize), d.Remaining())
		return -1
	}
	return int(n)
}

// UTF reads a string written by Java's DataOutput.writeUTF: an unsigned
// 16-bit byte length and modified UTF-8. ASCII strings (the common case:
// UUIDs, class and state names) are returned without copying; they alias the
// buffer, which callers must then leave unmodified.
func (d *Decoder) UTF(what string) string {
	start := d.Offset()
	if !d.need(2, what) {
		return ""
	}
	n := int(binary.BigEndian.Uint16(d.buf[d.off:]))
	d.off += 2
	b := d.Bytes(n, what)
	if d.Failed() {
		return ""
	}
	if isPlainASCII(b) {
		if len(b) == 0 {
			return ""
		}
		return unsafe.String(&b[0], len(b))
	}
	s, bad := decodeModifiedUTF8(b)
	if bad >= 0 {
		d.FailAt(start+2+int64(bad), "%s: invalid modified UTF-8", what)
		return ""
	}
	return s
}

func isPlainASCII[T string | []byte](b T) bool {
	const lo, hi = 0x0101010101010101, 0x8080808080808080
	i := 0
	for ; i+8 <= len(b); i += 8 {
		x := binary.LittleEndian.Uint64([]byte(b[i : i+8]))
		// A byte with its top bit set, or a zero byte (x-lo borrows into its top bit).
		if x&hi != 0 || (x-lo)&^x&hi != 0 {
			return false
		}
	}
	for ; i < len(b); i++ {
		if c := b[i]; c == 0 || c >= 0x80 {
			return false
		}
	}
	return true
}
