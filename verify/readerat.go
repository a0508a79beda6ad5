package verify

import (
	"bytes"
	"io"

	"github.com/fsnap/fsnap/format"
	"github.com/fsnap/fsnap/snapshot"
)

// source is an opened stream: its bytes through io.ReaderAt.
type source struct {
	name  string
	size  int64
	r     io.ReaderAt
	close func()
}

// open opens the bytes a stream handle names, or returns false when they
// must not or cannot be read (the reason is already a finding).
func (c *checker) open(h format.StreamHandle) (*source, bool) {
	name := c.handleName(h)
	switch h := h.(type) {
	case *format.ByteStreamHandle:
		return &source{name: name, size: int64(len(h.Data)), r: bytes.NewReader(h.Data), close: func() {}}, true
	case *format.EmptySegmentFileHandle:
		return &source{name: name, r: bytes.NewReader(nil), close: func() {}}, true
	case *format.RelativeFileHandle, *format.FileHandle, *format.SegmentFileHandle:
		fi := c.fileOf(h)
		if fi == nil || !fi.readable {
			return nil, false
		}
		base, size := int64(0), h.StateSize()
		if s, ok := h.(*format.SegmentFileHandle); ok {
			base = s.StartPos
		}
		r, closer, err := snapshot.OpenRange(c.ctx, fi.loc, fi.key, base, size)
		if err != nil {
			c.add(StreamReadError, firstUse(fi.f, name), err.Error())
			return nil, false
		}
		return &source{name: name, size: size, r: r, close: closer}, true
	}
	return nil, false
}
