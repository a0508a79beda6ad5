// Package source opens a snapshot from a store: its _metadata, parsed into
// the snapshot model, and the bytes behind its stream handles. It is the one
// way fsnap's analyses reach a snapshot's files.
package source

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"os"
	"sync"

	"github.com/fsnap/fsnap/format"
	"github.com/fsnap/fsnap/store"
)

// Source reads the bytes behind a snapshot's stream handles: inline data,
// files relative to the snapshot directory, and absolute paths in the same
// store or in sibling buckets of it. It is safe for concurrent use.
type Source struct {
	Ref      *store.SnapshotRef
	resolver *store.Resolver
	files    openFiles
}

// New reads the handles of the snapshot at ref; the Source owns ref. It
// reads absolute paths only inside the snapshot's checkpoint root
// (SnapshotRef.RootScopes) and the folders allow names: a _metadata from
// elsewhere naming file:/etc/shadow gets an error (store.ErrOutside), and
// nothing is read.
func New(ref *store.SnapshotRef, allow ...store.Scope) *Source {
	r := store.NewResolver(ref.Location, false)
	r.Confine(ref.RootScopes()...)
	r.Confine(allow...)
	return &Source{Ref: ref, resolver: r}
}

// Close closes the snapshot's location and the sibling locations opened
// for absolute paths.
func (s *Source) Close() {
	s.files.close()
	s.resolver.Close()
	s.Ref.Close()
}

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
	loc, key, err := s.Resolve(ctx, p)
	if err != nil {
		return nil, "", fmt.Errorf("%s: %w", store.RedactURL(raw), err)
	}
	return loc, key, nil
}

// Resolve finds the location and key of an absolute path: in the
// snapshot's own bucket or in another bucket of the same store.
func (s *Source) Resolve(ctx context.Context, p store.FlinkPath) (*store.Location, string, error) {
	return s.resolver.Resolve(ctx, p)
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
	if o.Loc.Scheme == "file" {
		if f, err := s.files.open(o.Loc.NameOf(o.Key)); f != nil || err != nil {
			if err != nil {
				return nil, o.Loc.Wrap(o.Key, err)
			}
			return &Stream{ReaderAt: io.NewSectionReader(f, o.Offset, o.Size), Size: o.Size, Name: o.Name()}, nil
		}
	}
	r, closer, err := o.Loc.OpenRange(ctx, o.Key, o.Offset, o.Size)
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

// openFiles keeps local files open for the Source's life: a snapshot's
// handles name few files many times (300,000 handles over 82 files), and
// an open costs more than reading a header. Beyond maxOpenFiles files are
// opened per stream as before.
type openFiles struct {
	mu     sync.Mutex
	byPath map[string]*os.File
}

const maxOpenFiles = 256

// open returns the kept file at path, or nil (and no error) when no more
// files are kept.
func (o *openFiles) open(path string) (*os.File, error) {
	o.mu.Lock()
	defer o.mu.Unlock()
	if f, ok := o.byPath[path]; ok {
		return f, nil
	}
	if len(o.byPath) >= maxOpenFiles {
		return nil, nil
	}
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	if o.byPath == nil {
		o.byPath = map[string]*os.File{}
	}
	o.byPath[path] = f
	return f, nil
}

func (o *openFiles) close() {
	o.mu.Lock()
	defer o.mu.Unlock()
	for _, f := range o.byPath {
		f.Close()
	}
	o.byPath = nil
}
