package verify

import (
	"fmt"
	"io"
	"sync"

	"github.com/fsnap/fsnap/format"
	"github.com/fsnap/fsnap/format/state"
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

// small is what was read from one small stream (a RocksDB meta stream, a
// CURRENT file). Handles naming the same bytes share it: a 100 MB
// _metadata may hold 300,000 handles over a few dozen files.
type small struct {
	once sync.Once
	name string
	ok   bool // read; when false the reason is a finding already made
	data []byte
	// header is the keyed header decoded from data (for meta streams), once.
	headerOnce sync.Once
	header     *state.KeyedHeader
	headerErr  error
}

// readSmall reads the stream h names, at most limit bytes, once per
// distinct stream. Failures are findings at p, made by the first reader.
func (c *checker) readSmall(h format.StreamHandle, p place, limit int64, what string) *small {
	k := c.snap.StreamOf(h)
	v, ok := c.smalls.Load(k)
	if !ok {
		v, _ = c.smalls.LoadOrStore(k, &small{})
	}
	s := v.(*small)
	s.once.Do(func() {
		src, ok := c.open(h)
		if !ok {
			return
		}
		defer src.close()
		s.name = src.name
		p.file = src.name
		if src.size > limit {
			c.add(HeaderUnreadable, p, fmt.Sprintf("a %d-byte %s is more than fsnap reads at once (%d)", src.size, what, limit))
			return
		}
		s.data = make([]byte, src.size)
		if _, err := src.r.ReadAt(s.data, 0); err != nil && err != io.EOF {
			c.add(StreamReadError, p, err.Error())
			return
		}
		s.ok = true
	})
	return s
}

// keyedHeader decodes the stream's bytes as a keyed state header, once.
func (s *small) keyedHeader() (*state.KeyedHeader, error) {
	s.headerOnce.Do(func() { s.header, s.headerErr = state.ReadKeyedHeader(s.data, 0) })
	return s.header, s.headerErr
}
