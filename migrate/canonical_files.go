package migrate

import (
	"bufio"
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"os"
	"path"
	"sync"

	"gocloud.dev/blob"

	"github.com/fsnap/fsnap/format"
	"github.com/fsnap/fsnap/internal/store"
)

// copyBuffer is the buffer of file copies and of converted streams.
const copyBuffer = 1 << 20

// maxMetaBytes bounds a RocksDB meta state handle read into memory (it is
// a serialization proxy: a few KiB).
const maxMetaBytes = 64 << 20

// source resolves the stream handles of the snapshot being converted.
type source struct {
	ref      *store.SnapshotRef
	mu       sync.Mutex
	siblings map[string]*store.Location // other buckets/dirs, by directory
}

// object is where a stream's bytes are: an object (or a range of one).
type object struct {
	loc    *store.Location
	key    string
	offset int64
	size   int64
}

func (o object) name() string { return o.loc.NameOf(o.key) }

// id identifies the physical bytes, to copy each only once.
func (o object) id() string {
	return fmt.Sprintf("%s|%s|%d|%d", o.loc.Display, o.key, o.offset, o.size)
}

// localPath is the object's path when it is a local file.
func (o object) localPath() (string, bool) {
	if o.loc.Scheme != "file" {
		return "", false
	}
	return "/" + o.key, true
}

// locate finds the bytes of a file-backed stream handle.
func (s *source) locate(ctx context.Context, h format.StreamHandle) (object, error) {
	switch h := h.(type) {
	case *format.RelativeFileHandle:
		key, err := s.ref.Key(h.RelativePath)
		if err != nil {
			return object{}, err
		}
		return object{loc: s.ref.Location, key: key, size: h.Size}, nil
	case *format.FileHandle:
		loc, key, err := s.absolute(ctx, h.Path)
		return object{loc: loc, key: key, size: h.Size}, err
	case *format.SegmentFileHandle:
		loc, key, err := s.absolute(ctx, h.Path)
		return object{loc: loc, key: key, offset: h.StartPos, size: h.Size}, err
	}
	return object{}, fmt.Errorf("stream handle %v has no file", h.StreamType())
}

func (s *source) absolute(ctx context.Context, raw string) (*store.Location, string, error) {
	p, err := store.ParseFlinkPath(raw)
	if err != nil {
		return nil, "", err
	}
	if key, ok := s.ref.KeyOf(p); ok {
		return s.ref.Location, key, nil
	}
	dir := path.Dir(p.Store + "://" + p.Bucket + "/" + p.Key)
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.siblings == nil {
		s.siblings = map[string]*store.Location{}
	}
	loc, ok := s.siblings[dir]
	if !ok {
		if loc, err = s.ref.OpenSibling(ctx, p); err != nil {
			return nil, "", err
		}
		s.siblings[dir] = loc
	}
	key, ok := loc.KeyOf(p)
	if !ok {
		return nil, "", fmt.Errorf("%s: not reachable from %s", store.RedactURL(raw), loc.Display)
	}
	return loc, key, nil
}

func (s *source) close() {
	for _, l := range s.siblings {
		l.Close()
	}
}

// readAll reads a whole stream handle (small ones: meta state handles).
func (s *source) readAll(ctx context.Context, h format.StreamHandle) ([]byte, error) {
	if b, ok := h.(*format.ByteStreamHandle); ok {
		return b.Data, nil
	}
	o, err := s.locate(ctx, h)
	if err != nil {
		return nil, err
	}
	if o.size > maxMetaBytes {
		return nil, fmt.Errorf("%s: %d bytes, more than the %d a meta state handle may have", o.name(), o.size, maxMetaBytes)
	}
	r, err := o.loc.NewRangeReader(ctx, o.key, o.offset, o.size)
	if err != nil {
		return nil, o.loc.Wrap(o.key, err)
	}
	defer r.Close()
	b := make([]byte, o.size)
	if _, err := io.ReadFull(r, b); err != nil {
		return nil, o.loc.Wrap(o.key, fmt.Errorf("reading %d bytes: %w", o.size, err))
	}
	return b, nil
}

// readerAt opens an object for random reads. Reads are mostly sequential
// (stream iteration), so remote objects are read through one range reader
// that is reopened only when a read does not continue the previous one.
func (s *source) readerAt(ctx context.Context, o object) (io.ReaderAt, func(), error) {
	if p, ok := o.localPath(); ok && o.offset == 0 {
		f, err := os.Open(p)
		if err != nil {
			return nil, nil, err
		}
		return f, func() { f.Close() }, nil
	}
	r := &rangeReaderAt{ctx: ctx, o: o}
	return r, r.close, nil
}

type rangeReaderAt struct {
	ctx context.Context
	o   object
	r   *blob.Reader
	pos int64
}

func (x *rangeReaderAt) ReadAt(p []byte, off int64) (int, error) {
	if off < 0 {
		return 0, errors.New("negative offset")
	}
	if off >= x.o.size {
		return 0, io.EOF
	}
	want := int64(len(p))
	if rest := x.o.size - off; want > rest {
		want = rest
	}
	if x.r == nil || off != x.pos {
		x.close()
		r, err := x.o.loc.NewRangeReader(x.ctx, x.o.key, x.o.offset+off, x.o.size-off)
		if err != nil {
			return 0, x.o.loc.Wrap(x.o.key, err)
		}
		x.r, x.pos = r, off
	}
	n, err := io.ReadFull(x.r, p[:want])
	x.pos += int64(n)
	if err != nil {
		x.close()
		return n, x.o.loc.Wrap(x.o.key, err)
	}
	if want < int64(len(p)) {
		return n, io.EOF
	}
	return n, nil
}

func (x *rangeReaderAt) close() {
	if x.r != nil {
		x.r.Close()
		x.r = nil
	}
}

// sink is the destination directory: it names new files, writes them and
// remembers them, to remove them all when the conversion fails.
type sink struct {
	loc     *store.Location
	mu      sync.Mutex
	names   map[string]bool
	written []string
	bytes   int64
}

// reserve claims name (or, when taken or empty, a new UUID name).
func (d *sink) reserve(name string) string {
	d.mu.Lock()
	defer d.mu.Unlock()
	if name != "" && !d.names[name] && format.CheckRelativePath(name) == nil {
		d.names[name] = true
		return name
	}
	for {
		n := newUUID()
		if !d.names[n] {
			d.names[n] = true
			return n
		}
	}
}

// outFile is a file being written into the destination.
type outFile struct {
	d    *sink
	key  string
	name string
	w    *blob.Writer
	bw   *bufio.Writer
	n    int64
	err  error
}

func (d *sink) create(ctx context.Context, name string) (*outFile, error) {
	key, err := d.loc.Key(name)
	if err != nil {
		return nil, err
	}
	w, err := d.loc.Bucket.NewWriter(ctx, key, &blob.WriterOptions{ContentType: "application/octet-stream"})
	if err != nil {
		return nil, d.loc.Wrap(key, err)
	}
	d.mu.Lock()
	d.written = append(d.written, key)
	d.mu.Unlock()
	f := &outFile{d: d, key: key, name: name, w: w}
	f.bw = bufio.NewWriterSize(writerFunc(f.raw), copyBuffer)
	return f, nil
}

type writerFunc func([]byte) (int, error)

func (f writerFunc) Write(p []byte) (int, error) { return f(p) }

func (f *outFile) raw(p []byte) (int, error) {
	n, err := f.w.Write(p)
	f.n += int64(n)
	if err != nil {
		err = f.d.loc.Wrap(f.key, err)
	}
	return n, err
}

func (f *outFile) Write(p []byte) (int, error) { return f.bw.Write(p) }

// close flushes and commits the file; with a non-nil abort it discards it.
func (f *outFile) close(abort error) error {
	if abort == nil {
		abort = f.bw.Flush()
	}
	if abort != nil {
		// Closing a writer whose context is cancelled discards it; an
		// explicit delete follows in removeAll.
		f.w.Close()
		return abort
	}
	if err := f.w.Close(); err != nil {
		return f.d.loc.Wrap(f.key, err)
	}
	f.d.mu.Lock()
	f.d.bytes += f.n
	f.d.mu.Unlock()
	return nil
}

func (d *sink) writeBytes(ctx context.Context, name string, b []byte) error {
	f, err := d.create(ctx, name)
	if err != nil {
		return err
	}
	_, err = f.Write(b)
	return f.close(err)
}

func (d *sink) count() (int, int64) {
	d.mu.Lock()
	defer d.mu.Unlock()
	return len(d.written), d.bytes
}

// removeAll deletes every file written, best effort.
func (d *sink) removeAll(ctx context.Context) {
	d.mu.Lock()
	keys := d.written
	d.written = nil
	d.mu.Unlock()
	for _, k := range keys {
		d.loc.Bucket.Delete(ctx, k)
	}
}

// newUUID returns a random (version 4) UUID, the names Flink gives state files.
func newUUID() string {
	var b [16]byte
	rand.Read(b[:])
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	return fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:16])
}

// carry schedules copying the file behind a stream handle into the
// destination, under its own name when it is a relative file and under a new
// name otherwise; set receives the relative handle. Inline handles stay.
func (c *converter) carry(h format.StreamHandle, where string, set func(format.StreamHandle)) error {
	switch x := h.(type) {
	case nil, *format.ByteStreamHandle:
		return nil
	case *format.EmptySegmentFileHandle:
		set(&format.ByteStreamHandle{Name: newUUID(), Data: []byte{}})
		return nil
	case *format.KeyGroupsHandle: // legacy nesting
		return c.carry(x.Delegate, where, func(d format.StreamHandle) {
			n := *x
			n.Delegate = d
			set(&n)
		})
	}
	o, err := c.src.locate(context.Background(), h)
	if err != nil {
		return fmt.Errorf("%s: %w", where, err)
	}
	if t, ok := c.copies[o.id()]; ok {
		prev := t.apply
		t.apply = func() { prev(); set(t.result) }
		return nil
	}
	name := ""
	switch x := h.(type) {
	case *format.RelativeFileHandle:
		name = x.RelativePath
	case *format.FileHandle:
		name = path.Base(x.Path)
	}
	t := &task{name: where}
	t.run = func(ctx context.Context) error {
		n, err := c.copyObject(ctx, o, c.dst.reserve(name))
		t.result = n
		return err
	}
	t.apply = func() { set(t.result) }
	c.copies[o.id()] = t
	c.total += o.size
	c.add(t)
	return nil
}

// carryKeyed schedules carrying a raw keyed state handle.
func (c *converter) carryKeyed(h format.KeyedStateHandle, where string, set func(format.KeyedStateHandle)) error {
	kg, ok := h.(*format.KeyGroupsHandle)
	if !ok {
		return fmt.Errorf("%s: raw keyed state handle %v cannot be carried", where, h.KeyedType())
	}
	return c.carry(kg.Delegate, where, func(d format.StreamHandle) {
		n := *kg
		n.Delegate = d
		set(&n)
	})
}

// copyObject copies o into the destination file name.
func (c *converter) copyObject(ctx context.Context, o object, name string) (format.StreamHandle, error) {
	r, err := o.loc.NewRangeReader(ctx, o.key, o.offset, o.size)
	if err != nil {
		return nil, o.loc.Wrap(o.key, err)
	}
	defer r.Close()
	f, err := c.dst.create(ctx, name)
	if err != nil {
		return nil, err
	}
	n, err := io.CopyBuffer(struct{ io.Writer }{f}, progressReader{r, c}, make([]byte, 256<<10))
	if err == nil && n != o.size {
		err = fmt.Errorf("%s: %d bytes, the metadata says %d", o.name(), n, o.size)
	}
	if err := f.close(err); err != nil {
		return nil, err
	}
	return &format.RelativeFileHandle{RelativePath: name, Size: n}, nil
}

type progressReader struct {
	r io.Reader
	c *converter
}

func (p progressReader) Read(b []byte) (int, error) {
	n, err := p.r.Read(b)
	p.c.advance(int64(n))
	return n, err
}
