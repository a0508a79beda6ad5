package store

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"iter"
	"os"
	"path"
	"strings"
	"syscall"
	"time"

	"cloud.google.com/go/storage"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"gocloud.dev/blob"
	"gocloud.dev/gcerrors"
)

// Object describes one object, or a common prefix when listing with a
// delimiter (IsDir).
type Object struct {
	Key     string // full key in the bucket
	Size    int64
	ModTime time.Time
	// MD5 is nil when the store does not give it (local files, multipart
	// S3 objects). An S3 listing takes it from the ETag, which is not the
	// MD5 of an object encrypted with KMS or a customer key (see
	// OpaqueETag); Stat leaves it out for those.
	MD5       []byte
	CRC32C    uint32 // valid when HasCRC32C (GCS gives it)
	HasCRC32C bool
	ETag      string // from Stat only; "" when listing, or when it says nothing of the bytes (encrypted S3 objects)
	IsDir     bool
}

// IsNotExist reports whether err says that an object or bucket does not
// exist: a store's NotFound, or a local key below a file (a file given as
// a snapshot directory), which the local store reports as another error.
func IsNotExist(err error) bool {
	return gcerrors.Code(err) == gcerrors.NotFound || errors.Is(err, syscall.ENOTDIR)
}

// Stat returns the attributes of the object at key.
func (l *Location) Stat(ctx context.Context, key string) (Object, error) {
	a, err := l.Bucket.Attributes(ctx, key)
	if err != nil {
		return Object{}, l.Wrap(key, err)
	}
	o := Object{Key: key, Size: a.Size, ModTime: a.ModTime, MD5: a.MD5, ETag: a.ETag}
	var ga storage.ObjectAttrs
	if a.As(&ga) {
		o.CRC32C, o.HasCRC32C = ga.CRC32C, true
	}
	var ho s3.HeadObjectOutput
	if a.As(&ho) && OpaqueETag(ho.ServerSideEncryption, ho.SSECustomerAlgorithm) {
		o.MD5, o.ETag = nil, ""
	}
	return o, nil
}

// Exists reports whether an object is stored at key.
func (l *Location) Exists(ctx context.Context, key string) (bool, error) {
	ok, err := l.Bucket.Exists(ctx, key)
	if IsNotExist(err) {
		return false, nil
	}
	return ok, l.Wrap(key, err)
}

// ReadAll reads the whole object at key, refusing objects larger than limit
// bytes before reading them (and, should the store misreport the size,
// while reading).
func (l *Location) ReadAll(ctx context.Context, key string, limit int64) ([]byte, error) {
	r, err := l.Bucket.NewReader(ctx, key, nil)
	if err != nil {
		return nil, l.Wrap(key, err)
	}
	defer r.Close()
	if r.Size() > limit {
		return nil, l.Wrap(key, fmt.Errorf("%d bytes, more than the limit of %d", r.Size(), limit))
	}
	var buf bytes.Buffer
	buf.Grow(int(max(r.Size(), 0)) + bytes.MinRead) // one allocation when the size is right
	if _, err := buf.ReadFrom(io.LimitReader(r, limit+1)); err != nil {
		return nil, l.Wrap(key, err)
	}
	if int64(buf.Len()) > limit {
		return nil, l.Wrap(key, fmt.Errorf("longer than the limit of %d bytes", limit))
	}
	return buf.Bytes(), nil
}

// ReadAllReleasable is ReadAll for a large object read whole, used, and
// given back early (the _metadata a command loads, whose model copies what
// it keeps). A large local file is read into memory outside Go's heap, in
// one call: a page fault costs ~10 µs on a virtual machine, and a 100 MB
// file read into the heap takes 25,000 of them. release(n) gives back the
// memory of b's first n bytes (whole pages), all of it once n is len(b);
// the caller must not touch those bytes afterwards. For bytes read into
// the heap release is nil: the collector frees them.
func (l *Location) ReadAllReleasable(ctx context.Context, key string, limit int64) (b []byte, release func(n int), err error) {
	if l.Scheme == "file" {
		if b, release, ok, err := mapFile(l.NameOf(key), limit); ok {
			return b, release, l.Wrap(key, err)
		}
	}
	b, err = l.ReadAll(ctx, key, limit)
	return b, nil, err
}

// NewRangeReader reads length bytes of the object at key from offset
// (length < 0: to the end). The caller closes it. Read errors are not
// wrapped; use l.Wrap.
func (l *Location) NewRangeReader(ctx context.Context, key string, offset, length int64) (*blob.Reader, error) {
	r, err := l.Bucket.NewRangeReader(ctx, key, offset, length, nil)
	return r, l.Wrap(key, err)
}

// DefaultPageSize is ListPage's page size when size <= 0, and List's on
// S3, GCS and Azure: their own maximum per request.
const DefaultPageSize = 1000

// ListPage returns one page of about size objects whose keys start with
// prefix, in key order, and the token of the next page ("" after the last
// page). Pass token "" for the first page. With a delimiter (usually "/"),
// keys that contain it after the prefix are collapsed into one IsDir entry;
// some stores (GCS) then return a few entries more than size.
func (l *Location) ListPage(ctx context.Context, prefix, delimiter, token string, size int) ([]Object, string, error) {
	pt := blob.FirstPageToken
	if token != "" {
		pt = []byte(token)
	}
	if size <= 0 {
		size = DefaultPageSize
	}
	if l.Scheme == "file" && (delimiter == "" || delimiter == "/") {
		return l.listLocalPage(ctx, prefix, delimiter, token, size)
	}
	objs, next, err := l.Bucket.ListPage(ctx, pt, size, &blob.ListOptions{Prefix: prefix, Delimiter: delimiter})
	if err != nil {
		return nil, "", l.Wrap(prefix, err)
	}
	out := make([]Object, len(objs))
	for i, o := range objs {
		out[i] = Object{Key: o.Key, Size: o.Size, ModTime: o.ModTime, MD5: o.MD5, IsDir: o.IsDir}
		var ga storage.ObjectAttrs
		if !o.IsDir && o.As(&ga) {
			out[i].CRC32C, out[i].HasCRC32C = ga.CRC32C, true
		}
	}
	return out, string(next), nil
}

// List yields every object whose key starts with prefix, in key order, as
// ListPage would page by page, holding one page at a time (local
// directories: one directory's names), so it copes with millions of
// objects. It stops at the first error, which it yields.
func (l *Location) List(ctx context.Context, prefix, delimiter string) iter.Seq2[Object, error] {
	return func(yield func(Object, error) bool) {
		if l.Scheme == "file" && (delimiter == "" || delimiter == "/") {
			l.listLocal(ctx, prefix, delimiter, "", yield)
			return
		}
		size := DefaultPageSize
		if l.Scheme == "mem" {
			size = memListPage
		}
		token := ""
		for {
			page, next, err := l.ListPage(ctx, prefix, delimiter, token, size)
			if err != nil {
				yield(Object{}, err)
				return
			}
			for _, o := range page {
				if !yield(o, nil) {
					return
				}
			}
			if next == "" {
				return
			}
			token = next
		}
	}
}

// WriteObject writes the object at rel (relative to the location's prefix)
// with what write produces; the object appears only if write succeeds.
func (l *Location) WriteObject(ctx context.Context, rel string, write func(io.Writer) error) error {
	key, err := l.Key(rel)
	if err != nil {
		return err
	}
	// A cancelled context makes Close discard the partial object.
	wctx, cancel := context.WithCancel(ctx)
	defer cancel()
	w, err := l.Bucket.NewWriter(wctx, key, nil)
	if err != nil {
		return l.Wrap(key, err)
	}
	if err := write(w); err != nil {
		cancel()
		CloseWriter(w)
		return l.Wrap(key, err)
	}
	return l.Wrap(key, CloseWriter(w))
}

// RemoveTemps removes, on the local file system, the temporary files a
// killed writer left beside the objects at keys: fileblob writes
// "<name>.<hex time>.tmp" next to the target and renames it when done, so a
// process killed mid-write leaves one. Only names of that form for these
// keys are removed; elsewhere (object stores write atomically) it does
// nothing.
func (l *Location) RemoveTemps(keys []string) error {
	if l.Scheme != "file" {
		return nil
	}
	dirs := map[string][]string{} // directory -> base names
	for _, k := range keys {
		dir, base := path.Split("/" + k)
		dirs[dir] = append(dirs[dir], base)
	}
	var first error
	for dir, bases := range dirs {
		ents, err := os.ReadDir(dir)
		if err != nil {
			continue
		}
		for _, e := range ents {
			n := e.Name()
			if e.IsDir() || !strings.HasSuffix(n, ".tmp") {
				continue
			}
			for _, b := range bases {
				if isTempOf(n, b) {
					if err := os.Remove(dir + n); err != nil && !os.IsNotExist(err) && first == nil {
						first = l.Wrap(strings.TrimPrefix(dir+n, "/"), err)
					}
					break
				}
			}
		}
	}
	return first
}

// isTempOf reports whether name is fileblob's temporary name for base:
// base + "." + hex digits + ".tmp".
func isTempOf(name, base string) bool {
	rest, ok := strings.CutPrefix(name, base+".")
	if !ok {
		return false
	}
	hex, ok := strings.CutSuffix(rest, ".tmp")
	if !ok || hex == "" {
		return false
	}
	for _, c := range hex {
		if !('0' <= c && c <= '9' || 'a' <= c && c <= 'f') {
			return false
		}
	}
	return true
}

// CloseWriter closes a writer of any store, turning a panic of the store's
// driver into an error: gocloud's azureblob writer dereferences a pipe its
// upload goroutine set to nil when the upload failed (a dead endpoint), so
// its Close panics instead of returning the upload's error.
func CloseWriter(w *blob.Writer) (err error) {
	defer func() {
		if p := recover(); p != nil {
			err = fmt.Errorf("the upload failed (the store's writer broke down while closing: %v)", p)
		}
	}()
	return w.Close()
}
