package state

import (
	"errors"
	"fmt"
	"io"
)

// A window is a growable view over a byte stream that callers parse in
// place: need(n) guarantees buf[lo:lo+n] holds the next n bytes, moving the
// unread bytes to the front and refilling from its source when needed.
// Slices into buf stay valid until the next call to need.
type window struct {
	buf    []byte
	lo, hi int
	base   int64 // stream position of buf[0]
	src    filler
	eof    bool
	hint   int // bytes the source holds at most (sizes the first buffer)
}

// filler supplies stream bytes: it writes at least one byte into dst (which
// is never empty) or returns an error (io.EOF at the end).
type filler interface {
	fill(dst []byte) (int, error)
}

const (
	minWindow = 256 << 10 // initial buffer
	maxEntry  = 1 << 31   // Flink lengths are Java ints
)

// errShort is returned by measuring functions when the bytes end before the
// value does; the window then reads more and retries.
var errShort = errors.New("value continues past the available bytes")

// reset points the window at a new source whose first byte is at position
// base. It keeps the buffer.
func (w *window) reset(src filler, base int64) {
	w.src, w.base, w.lo, w.hi, w.eof = src, base, 0, 0, false
	w.hint = minWindow
	if p, ok := src.(*plainSource); ok && p.end-p.pos < minWindow {
		w.hint = int(max(p.end-p.pos, 16))
	}
}

// pos is the stream position of buf[lo].
func (w *window) pos() int64 { return w.base + int64(w.lo) }

func (w *window) avail() int { return w.hi - w.lo }

// need makes n bytes available at buf[lo:]. It returns io.ErrUnexpectedEOF
// when the stream ends first.
func (w *window) need(n int) error {
	if w.hi-w.lo >= n {
		return nil
	}
	if n > maxEntry {
		return fmt.Errorf("%d bytes exceed the largest Flink entry", n)
	}
	if w.lo > 0 {
		copy(w.buf, w.buf[w.lo:w.hi])
		w.hi -= w.lo
		w.base += int64(w.lo)
		w.lo = 0
	}
	// Never allocate for bytes the source cannot hold: read at most what
	// a file region has left, and grow only when full, so the buffer stays
	// within twice what was actually read.
	target := n
	p, plain := w.src.(*plainSource)
	if plain && int64(target-w.hi) > p.end-p.pos {
		target = w.hi + int(p.end-p.pos)
	}
	for w.hi < target {
		if w.eof {
			return io.ErrUnexpectedEOF
		}
		if w.hi == len(w.buf) {
			nb := make([]byte, max(2*len(w.buf), w.hint))
			copy(nb, w.buf[:w.hi])
			w.buf = nb
		}
		k, err := w.src.fill(w.buf[w.hi:])
		w.hi += k
		if err == io.EOF {
			w.eof = true
		} else if err != nil {
			return err
		}
	}
	if plain && p.pos >= p.end {
		w.eof = true
	}
	if w.hi < n {
		w.eof = true
		return io.ErrUnexpectedEOF
	}
	return nil
}

// more makes at least one more byte available than now (for values whose
// length is found by parsing), doubling the read-ahead.
func (w *window) more() error {
	a := w.avail()
	return w.need(a + max(a, 4096))
}

// skip advances past n available bytes.
func (w *window) skip(n int) { w.lo += n }

// plainSource reads a file region [pos, end) through io.ReaderAt.
type plainSource struct {
	r        io.ReaderAt
	pos, end int64
}

func (s *plainSource) fill(dst []byte) (int, error) {
	if s.pos >= s.end {
		return 0, io.EOF
	}
	if rem := s.end - s.pos; int64(len(dst)) > rem {
		dst = dst[:rem]
	}
	n, err := s.r.ReadAt(dst, s.pos)
	s.pos += int64(n)
	if err == io.EOF && n > 0 {
		err = nil
	}
	if err == io.EOF {
		return 0, io.ErrUnexpectedEOF // the file is shorter than its size says
	}
	return n, err
}
