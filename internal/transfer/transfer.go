// Package transfer copies objects between stores for fsnap's relocation: in
// parallel, streaming (memory bounded by the number of transfers, not by
// object sizes), server-side when both ends are in the same store, checked
// after every copy, and resumable: an object already at its destination
// with the same content is left alone.
//
// Checks. Before a copy the source must exist with the size the caller
// expects (the size _metadata records). While streaming, the bytes are
// hashed (CRC32C always, MD5 when a store may compare it) and, when the
// source store gives a checksum, compared with it at the end of the stream;
// a mismatch aborts the write, so no object appears at the destination.
// After a copy the destination's size must match, and so must every
// checksum both sides know (MD5 from S3 single-part ETags, GCS, Azure and
// memory; CRC32C from GCS). Local files give no checksum: there the check
// is the size, and the CRC32C of the streamed bytes is reported. Objects
// below the multipart threshold bound for S3 go up in one PutObject
// carrying Content-MD5 instead (s3.go): S3 itself refuses bytes that
// differ, and its response's ETag confirms the stored object; larger ones
// are checked against their multipart ETag, computed while streaming.
//
// An S3 object's listed MD5 is its ETag, which is not the MD5 of its bytes
// when it is encrypted with KMS or a customer key; the GET response tells,
// and such an MD5 is then not used.
//
// Resuming. An existing destination object counts as present when its
// size matches and a checksum common to both sides matches; when the
// stores give no common checksum, the missing side is hashed by reading it.
// An existing object with other content is an error, never overwritten.
package transfer

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"

	"github.com/fsnap/fsnap/store"
)

// Object is one end of a copy: a key in a store location.
type Object struct {
	Loc *store.Location
	Key string
}

// Name is the object's name for messages (no secrets).
func (o Object) Name() string { return o.Loc.NameOf(o.Key) }

// Attrs are what a store tells about an object, from a listing or a stat.
type Attrs struct {
	Size      int64
	MD5       []byte // nil when the store gives none
	CRC32C    uint32
	HasCRC32C bool
	// ETag is an S3 object's ETag from a HEAD ("" from listings, and for
	// encrypted objects, whose ETag says nothing of the bytes).
	ETag string
}

// AttrsOf converts a store listing entry.
func AttrsOf(o store.Object) *Attrs {
	return &Attrs{Size: o.Size, MD5: o.MD5, CRC32C: o.CRC32C, HasCRC32C: o.HasCRC32C, ETag: o.ETag}
}

// File is one copy to make.
type File struct {
	Src, Dst Object
	// Offset and Length select a byte range of Src to copy into Dst
	// (Length < 0: the whole object, Offset then 0).
	Offset, Length int64
	// Size is the size the caller expects of the whole source object, or -1
	// when unknown. For a range copy the source must be at least
	// Offset+Length long instead.
	Size int64
	// MinSize, for a whole copy of unknown Size, is the least size the
	// source must have (a file-merging file must reach its last segment).
	MinSize int64
	// Shared marks a destination other snapshots of the same run may also
	// copy (a mapped shared/ file): the engine copies it once and
	// remembers the outcome.
	Shared bool
	// SrcAttrs and DstAttrs may be given from listings, saving a stat.
	// DstListed with DstAttrs nil says the destination is known absent.
	SrcAttrs  *Attrs
	DstAttrs  *Attrs
	DstListed bool
}

// whole reports whether the copy is of the entire source object.
func (f *File) whole() bool { return f.Length < 0 }

// CopyLength is the number of bytes the copy writes, when known.
func (f *File) CopyLength() int64 {
	if !f.whole() {
		return f.Length
	}
	if f.SrcAttrs != nil {
		return f.SrcAttrs.Size
	}
	return f.Size
}

// Outcome is what happened to one file.
type Outcome string

const (
	Copied     Outcome = "copied"      // streamed through this process
	ServerSide Outcome = "server-side" // copied by the store itself
	Present    Outcome = "present"     // already at the destination, verified
	Failed     Outcome = "failed"
	NotRun     Outcome = "not-run" // stopped before its turn by an earlier failure
)

// Result is the outcome of one File.
type Result struct {
	Outcome Outcome
	Bytes   int64 // bytes at the destination
	// Checked lists what was compared: "size", "md5", "crc32c",
	// "md5(read)" when a side was read to hash it.
	Checked []string
	// CRC32C of the streamed bytes (Copied only).
	CRC32C uint32
	Err    error
}

// Problem classifies a failure.
type Problem string

const (
	Missing          Problem = "missing"           // the source does not exist
	SizeMismatch     Problem = "size-mismatch"     // the source's size is not the expected one
	ChecksumMismatch Problem = "checksum-mismatch" // bytes differ from a store's checksum
	Conflict         Problem = "conflict"          // the destination holds other content
	IOError          Problem = "io"                // the store failed (network, permissions, ...)
)

// Error is a failure of one file. Problems other than IOError are about
// the data, not the stores, and do not stop other copies.
type Error struct {
	Problem Problem
	Src     string // source name
	Dst     string // destination name
	Err     error
}

func (e *Error) Error() string {
	switch e.Problem {
	case Missing:
		return fmt.Sprintf("%s: missing: %v", e.Src, e.Err)
	case Conflict:
		return fmt.Sprintf("%s: already exists with other content (%v); not overwritten", e.Dst, e.Err)
	case IOError:
		return e.Err.Error()
	}
	return fmt.Sprintf("%s: %v", e.Src, e.Err)
}

func (e *Error) Unwrap() error { return e.Err }

// ProblemOf returns the problem of err, or "" when it is not an *Error.
func ProblemOf(err error) Problem {
	var e *Error
	if errors.As(err, &e) {
		return e.Problem
	}
	return ""
}

// Options tune an Engine.
type Options struct {
	// Transfers is the number of copies in flight at once (default 16).
	Transfers int
	// NoServerSide streams every copy through this process even when the
	// store could copy by itself (to re-hash every byte).
	NoServerSide bool
	// PartSize is the upload part size of object-store writers (default
	// 8 MiB); each transfer holds at most a few parts in memory.
	PartSize int
	// SyncLocal makes local destination files durable (fsync) before a
	// copy counts as done.
	SyncLocal bool
}

// Stats counts an Engine's work; read it at any time for progress.
type Stats struct {
	FilesTotal      atomic.Int64 // files submitted
	FilesDone       atomic.Int64 // copied, server-side or present
	FilesSkipped    atomic.Int64 // present
	FilesServerSide atomic.Int64
	FilesFailed     atomic.Int64
	BytesTotal      atomic.Int64 // bytes of files submitted (when known)
	BytesDone       atomic.Int64 // bytes copied or found present
	BytesSkipped    atomic.Int64 // bytes found present
}

// Engine runs copies with a bounded number in flight, shared by all
// concurrent callers.
type Engine struct {
	opts    Options
	sem     chan struct{}
	bufs    sync.Pool
	putBufs putBufs // whole objects of direct S3 uploads
	Stats   Stats

	sharedMu sync.Mutex
	shared   map[string]*sharedCall // File.Shared destinations of this run
}

// sharedCall is the copy of a shared destination, done once.
type sharedCall struct {
	done chan struct{}
	res  Result
}

// New returns an engine.
func New(opts Options) *Engine {
	if opts.Transfers <= 0 {
		opts.Transfers = 16
	}
	if opts.PartSize <= 0 {
		opts.PartSize = 8 << 20
	}
	e := &Engine{opts: opts, sem: make(chan struct{}, opts.Transfers)}
	e.bufs.New = func() any { b := make([]byte, bufSize); return &b }
	return e
}

// Transfers is the number of copies the engine runs at once.
func (e *Engine) Transfers() int { return e.opts.Transfers }

const bufSize = 1 << 20

// forEach runs fn(i) for i in [0, n), at most Transfers at once across
// the engine, and waits for all.
func (e *Engine) forEach(ctx context.Context, n int, fn func(i int)) {
	var wg sync.WaitGroup
	for i := range n {
		select {
		case e.sem <- struct{}{}:
		case <-ctx.Done():
			// Let the remaining ones see the cancelled context.
			for j := i; j < n; j++ {
				fn(j)
			}
			wg.Wait()
			return
		}
		wg.Add(1)
		go func() {
			defer func() { <-e.sem; wg.Done() }()
			fn(i)
		}()
	}
	wg.Wait()
}

// Prepare fills in the source attributes of files (a stat each, in
// parallel, where not given) and checks that each source exists with the
// expected size. It returns one error per file (nil when fine), of type
// *Error.
func (e *Engine) Prepare(ctx context.Context, files []File) []error {
	errs := make([]error, len(files))
	e.forEach(ctx, len(files), func(i int) {
		errs[i] = e.prepare(ctx, &files[i])
	})
	return errs
}

func (e *Engine) prepare(ctx context.Context, f *File) error {
	if err := ctx.Err(); err != nil {
		return ioErr(f, err)
	}
	if f.SrcAttrs == nil {
		a, err := stat(ctx, f.Src)
		if err != nil {
			if store.IsNotExist(err) {
				return f.problem(Missing, "no such object")
			}
			return ioErr(f, err)
		}
		f.SrcAttrs = a
	}
	return checkSourceSize(f)
}

// problem is a failure of f of the given kind.
func (f *File) problem(p Problem, format string, args ...any) *Error {
	return &Error{Problem: p, Src: f.Src.Name(), Dst: f.Dst.Name(), Err: fmt.Errorf(format, args...)}
}

func checkSourceSize(f *File) error {
	a := f.SrcAttrs
	switch {
	case f.whole() && f.Size >= 0 && a.Size != f.Size:
		return f.problem(SizeMismatch, "size %d bytes, but _metadata records %d", a.Size, f.Size)
	case f.whole() && f.Size < 0 && a.Size < f.MinSize:
		return f.problem(SizeMismatch, "size %d bytes, but _metadata has a segment up to byte %d", a.Size, f.MinSize)
	case !f.whole() && a.Size < f.Offset+f.Length:
		return f.problem(SizeMismatch, "size %d bytes, but _metadata has a segment up to byte %d", a.Size, f.Offset+f.Length)
	}
	return nil
}

// Copy copies files, at most Transfers at once, and returns one result per
// file. Sources are prepared first where Prepare was not called. After a
// store failure (IOError) the copies not yet started are not run; data
// problems (missing, size, checksum, conflict) fail only their file.
func (e *Engine) Copy(ctx context.Context, files []File) []Result {
	res := make([]Result, len(files))
	var total int64
	for i := range files {
		total += max(files[i].CopyLength(), 0)
	}
	e.Stats.FilesTotal.Add(int64(len(files)))
	e.Stats.BytesTotal.Add(total)
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	e.forEach(ctx, len(files), func(i int) {
		f := &files[i]
		if ctx.Err() != nil {
			res[i] = Result{Outcome: NotRun, Err: context.Cause(ctx)}
			e.Stats.FilesFailed.Add(1)
			return
		}
		r := e.copyOnce(ctx, f)
		if r.Err != nil {
			r.Outcome = Failed
			e.Stats.FilesFailed.Add(1)
			if ProblemOf(r.Err) == IOError && ctx.Err() == nil {
				cancel(r.Err)
			}
		}
		res[i] = r
	})
	return res
}

// copyOnce copies f, or for a Shared destination another snapshot of this
// run already copied (or is copying), reuses that outcome.
func (e *Engine) copyOnce(ctx context.Context, f *File) Result {
	if !f.Shared {
		return e.copyOne(ctx, f)
	}
	key := f.Dst.Name()
	e.sharedMu.Lock()
	if e.shared == nil {
		e.shared = map[string]*sharedCall{}
	}
	c, ok := e.shared[key]
	if !ok {
		c = &sharedCall{done: make(chan struct{})}
		e.shared[key] = c
	}
	e.sharedMu.Unlock()
	if !ok {
		c.res = e.copyOne(ctx, f)
		if c.res.Err != nil { // let a later snapshot try again
			e.sharedMu.Lock()
			delete(e.shared, key)
			e.sharedMu.Unlock()
		}
		close(c.done)
		return c.res
	}
	select {
	case <-c.done:
	case <-ctx.Done():
		return Result{Err: ioErr(f, ctx.Err())}
	}
	if c.res.Err != nil {
		return c.res
	}
	// Same source and destination: check only that the sizes agree.
	if err := e.prepare(ctx, f); err != nil {
		return Result{Err: err}
	}
	if n := f.CopyLength(); n != c.res.Bytes {
		return Result{Err: f.problem(Conflict, "copied earlier in this run with %d bytes, now %d expected", c.res.Bytes, n)}
	}
	e.Stats.FilesDone.Add(1)
	e.Stats.FilesSkipped.Add(1)
	e.Stats.BytesDone.Add(c.res.Bytes)
	e.Stats.BytesSkipped.Add(c.res.Bytes)
	return Result{Outcome: Present, Bytes: c.res.Bytes, Checked: []string{"copied earlier in this run"}}
}

func (e *Engine) copyOne(ctx context.Context, f *File) Result {
	if err := e.prepare(ctx, f); err != nil {
		return Result{Err: err}
	}
	want := f.CopyLength()
	// Resume: is it there already?
	dst := f.DstAttrs
	if dst == nil && !f.DstListed {
		a, err := stat(ctx, f.Dst)
		switch {
		case err == nil:
			dst = a
		case !store.IsNotExist(err):
			return Result{Err: ioErr(f, err)}
		}
	}
	if dst != nil {
		checked, err := e.samePresent(ctx, f, dst)
		if err != nil {
			return Result{Err: err}
		}
		e.Stats.FilesDone.Add(1)
		e.Stats.FilesSkipped.Add(1)
		e.Stats.BytesDone.Add(want)
		e.Stats.BytesSkipped.Add(want)
		return Result{Outcome: Present, Bytes: want, Checked: checked}
	}
	if !e.opts.NoServerSide && f.whole() {
		if r, ok := e.serverSide(ctx, f); ok {
			if r.Err == nil {
				e.Stats.FilesDone.Add(1)
				e.Stats.FilesServerSide.Add(1)
				e.Stats.BytesDone.Add(r.Bytes)
			}
			return r
		}
	}
	r := e.stream(ctx, f)
	if r.Err == nil {
		e.Stats.FilesDone.Add(1)
	}
	return r
}
