package snapshot

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"os"

	"github.com/fsnap/fsnap/format"
	"github.com/fsnap/fsnap/internal/store"
)

// Source reads the bytes behind a snapshot's stream handles: inline data,
// files relative to the snapshot directory, and absolute paths in the same
// store or in sibling buckets of it. It is safe for concurrent use.
type Source struct {
	Ref      *store.SnapshotRef
	resolver *store.Resolver
}

// NewSource reads the handles of the snapshot at ref.
func NewSource(ref *store.SnapshotRef) *Source {
	return &Source{Ref: ref, resolver: store.NewResolver(ref.Location, false)}
}

// Close closes the sibling locations it opened (not Ref).
func (s *Source) Close() { s.resolver.Close() }

// Object is where a file-backed stream's bytes are: a range of an object.
type Object struct {
	Loc    *store.Location
	Key    string
	Offset int64 // non-zero for file-merging segments
	Size   int64
}

// Name is the object's user-facing name.
func (o Object) Name() string { return o.Loc.NameOf(o.Key) }

// Locate finds the object behind a file-backed stream handle. It refuses
// relative names that could leave the snapshot directory.
func (s *Source) Locate(ctx context.Context, h format.StreamHandle) (Object, error) {
	switch h := h.(type) {
	case *format.RelativeFileHandle:
		if err := format.CheckRelativePath(h.RelativePath); err != nil {
			return Object{}, err
		}
		key, err := s.Ref.Key(h.RelativePath)
		if err != nil {
			return Object{}, err
		}
		return Object{Loc: s.Ref.Location, Key: key, Size: h.Size}, nil
	case *format.FileHandle:
		loc, key, err := s.absolute(ctx, h.Path)
		return Object{Loc: loc, Key: key, Size: h.Size}, err
	case *format.SegmentFileHandle:
		loc, key, err := s.absolute(ctx, h.Path)
		return Object{Loc: loc, Key: key, Offset: h.StartPos, Size: h.Size}, err
	}
	return Object{}, fmt.Errorf("a %v handle has no file", streamType(h))
}

func streamType(h format.StreamHandle) format.StreamHandleType {
	if h == nil {
		return format.StreamNull
	}
	return h.StreamType()
}

// absolute maps a path Flink wrote to a location and key.
func (s *Source) absolute(ctx context.Context, raw string) (*store.Location, string, error) {
	p, err := store.ParseFlinkPath(raw)
	if err != nil {
		return nil, "", err
	}
	loc, key, err := s.resolver.Resolve(ctx, p)
	if err != nil {
		return nil, "", fmt.Errorf("%s: %w", store.RedactURL(raw), err)
	}
	return loc, key, nil
}

// Stream is an opened stream: random access to its bytes.
type Stream struct {
	io.ReaderAt
	Size  int64
	Name  string
	close func()
}

// Close releases the stream.
func (st *Stream) Close() {
	if st.close != nil {
		st.close()
	}
}

// Open opens the bytes of a stream handle.
func (s *Source) Open(ctx context.Context, h format.StreamHandle) (*Stream, error) {
	switch h := h.(type) {
	case *format.ByteStreamHandle:
		return &Stream{ReaderAt: bytes.NewReader(h.Data), Size: int64(len(h.Data)), Name: "inline:" + h.Name}, nil
	case *format.EmptySegmentFileHandle:
		return &Stream{ReaderAt: bytes.NewReader(nil), Name: "empty segment"}, nil
	case *format.KeyGroupsHandle:
		return s.Open(ctx, h.Delegate)
	}
	o, err := s.Locate(ctx, h)
	if err != nil {
		return nil, err
	}
	r, closer, err := OpenRange(ctx, o.Loc, o.Key, o.Offset, o.Size)
	if err != nil {
		return nil, err
	}
	return &Stream{ReaderAt: r, Size: o.Size, Name: o.Name(), close: closer}, nil
}

// ReadAll reads a whole stream of at most limit bytes into memory.
func (s *Source) ReadAll(ctx context.Context, h format.StreamHandle, limit int64) ([]byte, error) {
	if b, ok := h.(*format.ByteStreamHandle); ok {
		return b.Data, nil
	}
	st, err := s.Open(ctx, h)
	if err != nil {
		return nil, err
	}
	defer st.Close()
	if st.Size > limit {
		return nil, fmt.Errorf("%s: %d bytes, more than the limit of %d", st.Name, st.Size, limit)
	}
	b := make([]byte, st.Size)
	if _, err := st.ReadAt(b, 0); err != nil && !(err == io.EOF && len(b) == 0) {
		return nil, fmt.Errorf("%s: %w", st.Name, err)
	}
	return b, nil
}

// OpenRange gives random access to size bytes of an object from base.
// Local files are read with pread; other stores through blockReader.
func OpenRange(ctx context.Context, l *store.Location, key string, base, size int64) (io.ReaderAt, func(), error) {
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
	l    *store.Location
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
