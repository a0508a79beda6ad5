package store

import (
	"context"
	"fmt"
	"io"
	"os"
)

// OpenRange gives random access to size bytes of an object from base.
// Local files are read with pread; other stores through blockReader.
func (l *Location) OpenRange(ctx context.Context, key string, base, size int64) (io.ReaderAt, func(), error) {
	if l.Scheme == "file" {
		f, err := os.Open(l.NameOf(key))
		if err != nil {
			return nil, nil, l.Wrap(key, err)
		}
		return io.NewSectionReader(f, base, size), func() { f.Close() }, nil
	}
	b := &blockReader{ctx: ctx, l: l, key: key, base: base, size: size}
	return b, b.close, nil
}

// blockReader turns ranged GETs into io.ReaderAt for the state readers,
// which read mostly forward with small steps back (a Snappy block's
// read-ahead, a chunk walk over a block just read). It keeps one streaming
// response open and caches the last few blocks of blockSize bytes, so a
// forward scan costs few requests and short steps back cost none.
type blockReader struct {
	ctx  context.Context
	l    *Location
	key  string
	base int64 // object offset of the stream's byte 0
	size int64

	rc    io.ReadCloser
	rpos  int64 // stream position of rc
	rend  int64 // where rc's response ends
	span  int64 // length of the next request
	cache [cachedBlocks]block
	tick  uint64
	opens int // requests made (for tests and benchmarks)
}

const (
	blockSize    = 1 << 20
	cachedBlocks = 4
	maxSpan      = 64 << 20
)

type block struct {
	idx  int64 // block index + 1; 0 = empty slot
	data []byte
	used uint64
}

func (b *blockReader) ReadAt(p []byte, off int64) (int, error) {
	if off < 0 {
		return 0, fmt.Errorf("negative offset %d", off)
	}
	n := 0
	for n < len(p) {
		o := off + int64(n)
		if o >= b.size {
			return n, io.EOF
		}
		bi := o / blockSize
		data, err := b.block(bi)
		if err != nil {
			return n, err
		}
		n += copy(p[n:], data[o-bi*blockSize:])
	}
	return n, nil
}

// block returns block bi, from the cache or the store.
func (b *blockReader) block(bi int64) ([]byte, error) {
	b.tick++
	var slot *block
	for i := range b.cache {
		s := &b.cache[i]
		if s.idx == bi+1 {
			s.used = b.tick
			return s.data, nil
		}
		if slot == nil || s.used < slot.used {
			slot = s
		}
	}
	start := bi * blockSize
	length := min(blockSize, b.size-start)
	if b.rc == nil || b.rpos > start || start-b.rpos > 2*blockSize || start+length > b.rend {
		// A scan that goes on asks for twice as much each time (up to
		// maxSpan); a jump starts small again, so reading a header costs
		// one block, not the rest of the file.
		if b.rc != nil && start == b.rend {
			b.span = min(2*b.span, maxSpan)
		} else {
			b.span = blockSize
		}
		if b.rc != nil {
			b.rc.Close()
		}
		n := min(b.span, b.size-start)
		r, err := b.l.NewRangeReader(b.ctx, b.key, b.base+start, n)
		if err != nil {
			b.rc = nil
			return nil, err
		}
		b.rc, b.rpos, b.rend = r, start, start+n
		b.opens++
	}
	if b.rpos < start {
		if _, err := io.CopyN(io.Discard, b.rc, start-b.rpos); err != nil {
			return nil, b.fail(err)
		}
		b.rpos = start
	}
	if int64(cap(slot.data)) < length {
		slot.data = make([]byte, length)
	}
	slot.data = slot.data[:length]
	slot.idx = 0
	if _, err := io.ReadFull(b.rc, slot.data); err != nil {
		return nil, b.fail(err)
	}
	b.rpos += length
	slot.idx, slot.used = bi+1, b.tick
	return slot.data, nil
}

func (b *blockReader) fail(err error) error {
	b.rc.Close()
	b.rc = nil
	if err == io.EOF {
		err = io.ErrUnexpectedEOF // shorter than its size: changed since Stat
	}
	return b.l.Wrap(b.key, err)
}

func (b *blockReader) close() {
	if b.rc != nil {
		b.rc.Close()
		b.rc = nil
	}
}
