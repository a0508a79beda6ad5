package verify

import (
	"io"

	"github.com/fsnap/fsnap/format"
)

// source is an opened stream: its bytes through io.ReaderAt.
type source struct {
	name  string
	size  int64
	r     io.ReaderAt
	close func()
}

// open opens the bytes a stream handle names, through the snapshot's one
// Source, or returns false when they must not or cannot be read (the
// reason is then a finding).
func (c *checker) open(h format.StreamHandle) (*source, bool) {
	name := c.handleName(h)
	switch h.(type) {
	case *format.ByteStreamHandle, *format.EmptySegmentFileHandle:
	case *format.RelativeFileHandle, *format.FileHandle, *format.SegmentFileHandle:
		fi := c.fileOf(h)
		if fi == nil || !fi.readable {
			return nil, false
		}
	default:
		return nil, false
	}
	st, err := c.src.Open(c.ctx, h)
	if err != nil {
		c.add(StreamReadError, firstUse(c.fileOf(h).f, name), err.Error())
		return nil, false
	}
	return &source{name: name, size: st.Size, r: st.ReaderAt, close: st.Close}, true
}
