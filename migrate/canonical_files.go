package migrate

import (
	"bufio"
	"context"
	"crypto/rand"
	"fmt"
	"path"
	"sync"

	"gocloud.dev/blob"

	"github.com/fsnap/fsnap/format"
	"github.com/fsnap/fsnap/internal/transfer"
	"github.com/fsnap/fsnap/snapshot/source"
	"github.com/fsnap/fsnap/store"
)

// copyBuffer is the buffer of file copies and of converted streams.
const copyBuffer = 1 << 20

// maxMetaBytes bounds a RocksDB meta state handle read into memory (it is
// a serialization proxy: a few KiB).
const maxMetaBytes = 64 << 20

// object is where a stream's bytes are: an object (or a range of one).
type object struct{ source.Object }

func (o object) name() string { return o.Name() }

// id identifies the physical bytes, to copy each only once.
func (o object) id() string {
	return fmt.Sprintf("%s|%s|%d|%d", o.Loc.Display, o.Key, o.Offset, o.Size)
}

// localPath is the object's path when it is a local file.
func (o object) localPath() (string, bool) {
	if o.Loc.Scheme != "file" {
		return "", false
	}
	return o.Loc.NameOf(o.Key), true
}

// locate finds the bytes of a file-backed stream handle.
func (c *converter) locate(ctx context.Context, h format.StreamHandle) (object, error) {
	o, err := c.src.Locate(ctx, h)
	return object{o}, err
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
		store.CloseWriter(f.w)
		return abort
	}
	if err := store.CloseWriter(f.w); err != nil {
		return f.d.loc.Wrap(f.key, err)
	}
	f.d.mu.Lock()
	f.d.bytes += f.n
	f.d.mu.Unlock()
	return nil
}

// track remembers a key written by other means (the transfer engine).
func (d *sink) track(key string) {
	d.mu.Lock()
	d.written = append(d.written, key)
	d.mu.Unlock()
}

func (d *sink) count() (int, int64) {
	d.mu.Lock()
	defer d.mu.Unlock()
	return len(d.written), d.bytes
}

// objects are the files written so far.
func (d *sink) objects() []transfer.Object {
	d.mu.Lock()
	defer d.mu.Unlock()
	out := make([]transfer.Object, len(d.written))
	for i, k := range d.written {
		out[i] = transfer.Object{Loc: d.loc, Key: k}
	}
	return out
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
	case *format.KeyGroupsHandle: // legacy nesting (raw keyed state)
		return c.carry(x.Delegate, where, func(d format.StreamHandle) {
			n := *x
			n.Delegate = d
			set(&n)
		})
	}
	o, err := c.locate(context.Background(), h)
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
		n, err := c.copyFile(ctx, h, o, c.dst.reserve(name))
		t.result = n
		return err
	}
	t.apply = func() { set(t.result) }
	c.copies[o.id()] = t
	c.total += o.Size
	c.add(t)
	return nil
}

// copyFile copies the bytes behind h, at o, into the destination file
// name, through the checked transfer engine.
func (c *converter) copyFile(ctx context.Context, h format.StreamHandle, o object, name string) (format.StreamHandle, error) {
	key, err := c.dst.loc.Key(name)
	if err != nil {
		return nil, err
	}
	f := transfer.File{Src: transfer.Object{Loc: o.Loc, Key: o.Key}, Dst: transfer.Object{Loc: c.dst.loc, Key: key}, Length: -1, Size: o.Size}
	if _, ok := h.(*format.SegmentFileHandle); ok { // the segment's range, into a file of its own
		f.Offset, f.Length, f.Size = o.Offset, o.Size, -1
	}
	c.dst.track(key)
	res := c.engine.Copy(ctx, []transfer.File{f})[0]
	if res.Err != nil {
		return nil, res.Err
	}
	c.copied.Add(res.Bytes)
	return &format.RelativeFileHandle{RelativePath: name, Size: res.Bytes}, nil
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
