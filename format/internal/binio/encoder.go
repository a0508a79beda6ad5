package binio

import (
	"encoding/binary"
	"fmt"
)

// Encoder appends big-endian values to a growing buffer. Like Decoder it keeps
// the first error (a string too long for writeUTF, say) and ignores later
// writes, so writers check Err once.
type Encoder struct {
	buf []byte
	err error
}

// NewEncoder starts with buf (possibly a reused slice of length 0).
func NewEncoder(buf []byte) *Encoder { return &Encoder{buf: buf} }

// Bytes returns what was written.
func (e *Encoder) Bytes() []byte { return e.buf }

// Len is the number of bytes written.
func (e *Encoder) Len() int { return len(e.buf) }

// Err is the first error met, or nil.
func (e *Encoder) Err() error { return e.err }

// Failf records an error (if none was recorded yet).
func (e *Encoder) Failf(format string, args ...any) {
	if e.err == nil {
		e.err = fmt.Errorf(format, args...)
	}
}

func (e *Encoder) U8(v uint8)   { e.buf = append(e.buf, v) }
func (e *Encoder) I16(v int16)  { e.buf = binary.BigEndian.AppendUint16(e.buf, uint16(v)) }
func (e *Encoder) I32(v int32)  { e.buf = binary.BigEndian.AppendUint32(e.buf, uint32(v)) }
func (e *Encoder) I64(v int64)  { e.buf = binary.BigEndian.AppendUint64(e.buf, uint64(v)) }
func (e *Encoder) Raw(b []byte) { e.buf = append(e.buf, b...) }

// Bool writes a Java boolean.
func (e *Encoder) Bool(v bool) {
	if v {
		e.U8(1)
	} else {
		e.U8(0)
	}
}

// Len32 writes a slice length as i32, failing for lengths Java cannot hold.
func (e *Encoder) Len32(n int, what string) {
	if n > 1<<31-1 {
		e.Failf("%s: %d elements do not fit a Java int", what, n)
	}
	e.I32(int32(n))
}

// UTF writes s as DataOutput.writeUTF does.
func (e *Encoder) UTF(s string, what string) {
	at := len(e.buf)
	e.buf = append(e.buf, 0, 0)
	var err error
	if isPlainASCII(s) {
		e.buf = append(e.buf, s...)
	} else if e.buf, err = appendModifiedUTF8(e.buf, s); err != nil {
		e.Failf("%s %q: %v", what, s, err)
		return
	}
	n := len(e.buf) - at - 2
	if n > 0xFFFF {
		e.Failf("%s: %d bytes of modified UTF-8 exceed writeUTF's 65535", what, n)
		return
	}
	binary.BigEndian.PutUint16(e.buf[at:], uint16(n))
}
