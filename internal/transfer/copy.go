package transfer

import (
	"bytes"
	"context"
	"crypto/md5"
	"fmt"
	"hash"
	"hash/crc32"
	"io"
	"os"
	"strings"
	"time"

	"cloud.google.com/go/storage"
	azblobblob "github.com/Azure/azure-sdk-for-go/sdk/storage/azblob/blob"
	"github.com/Azure/azure-sdk-for-go/sdk/storage/azblob/container"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"gocloud.dev/blob"

	"github.com/fsnap/fsnap/store"
)

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// stat returns the attributes of o.
func stat(ctx context.Context, o Object) (*Attrs, error) {
	so, err := o.Loc.Stat(ctx, o.Key)
	if err != nil {
		return nil, err
	}
	return AttrsOf(so), nil
}

func ioErr(f *File, err error) error {
	return &Error{Problem: IOError, Src: f.Src.Name(), Dst: f.Dst.Name(), Err: err}
}

// hashes are the checksums of a byte stream.
type hashes struct {
	md5   hash.Hash // nil when not computed
	crc   hash.Hash32
	parts *s3Parts // nil when not computed
}

func newHashes(withMD5 bool) *hashes {
	h := &hashes{crc: crc32.New(castagnoli)}
	if withMD5 {
		h.md5 = md5.New()
	}
	return h
}

func (h *hashes) Write(p []byte) {
	h.crc.Write(p)
	if h.md5 != nil {
		h.md5.Write(p)
	}
	if h.parts != nil {
		h.parts.Write(p)
	}
}

func (h *hashes) MD5() []byte {
	if h.md5 == nil {
		return nil
	}
	return h.md5.Sum(nil)
}

// mayGiveMD5 reports whether a destination store may report an MD5 for a
// new object of n bytes, so that streaming should compute one.
func (e *Engine) mayGiveMD5(l *store.Location, n int64) bool {
	switch l.Scheme {
	case "gs", "mem", "azblob":
		return true
	case "s3":
		// Multipart uploads get no MD5 ETag (see s3Parts).
		return n < s3SinglePutLimit
	}
	return false
}

// srcSums are the checksums the source store records for a whole object.
type srcSums struct {
	md5    []byte
	crc    uint32
	hasCRC bool
}

// srcSums are those of f's source, when f copies it whole.
func (f *File) srcSums() srcSums {
	if !f.whole() || f.SrcAttrs == nil {
		return srcSums{}
	}
	return srcSums{md5: f.SrcAttrs.MD5, crc: f.SrcAttrs.CRC32C, hasCRC: f.SrcAttrs.HasCRC32C}
}

// readShort and readLong say that f's source gave fewer or more bytes
// than the n expected.
func readShort(f *File, got, n int64) error {
	return f.problem(SizeMismatch, "read %d bytes, expected %d (changed while copying?)", got, n)
}

func readLong(f *File, n int64) error {
	return f.problem(SizeMismatch, "longer than the %d bytes expected (changed while copying?)", n)
}

// checkCRC compares the CRC32C of the bytes read with the source store's.
func (s srcSums) checkCRC(f *File, crc uint32) error {
	if s.hasCRC && crc != s.crc {
		return f.problem(ChecksumMismatch, "content has CRC32C %08x, but the store records %08x: corrupt source, not copied", crc, s.crc)
	}
	return nil
}

// stream copies f through this process, hashing the bytes.
func (e *Engine) stream(ctx context.Context, f *File) Result {
	n := f.CopyLength()
	off, length := int64(0), int64(-1)
	if !f.whole() {
		off, length = f.Offset, f.Length
	}
	src := f.srcSums()
	r, err := f.Src.Loc.NewRangeReader(ctx, f.Src.Key, off, length)
	if err != nil {
		if store.IsNotExist(err) {
			return Result{Err: f.problem(Missing, "no such object")}
		}
		return Result{Err: ioErr(f, err)}
	}
	defer r.Close()
	if !s3ETagIsMD5(r) {
		src.md5 = nil
	}
	if c := e.s3PutClient(f.Dst, n); c != nil {
		return e.putS3(ctx, f, c, r, n, src)
	}

	h := newHashes(src.md5 != nil || e.mayGiveMD5(f.Dst.Loc, n))
	if f.Dst.Loc.Scheme == "s3" && (n < 0 || n >= s3SinglePutLimit) {
		// A multipart upload: its ETag is the MD5 of the parts' MD5s.
		h.parts = newS3Parts(int64(e.opts.PartSize))
	}
	wctx, cancel := context.WithCancel(ctx)
	defer cancel()
	wo := &blob.WriterOptions{ContentType: "application/octet-stream",
		BufferSize: e.opts.PartSize, MaxConcurrency: max(1, 16/e.opts.Transfers)}
	if f.Dst.Loc.Scheme == "gs" && n >= 0 && n < int64(e.opts.PartSize) {
		wo.BufferSize = -1 // one upload request instead of a resumable session
	}
	w, err := f.Dst.Loc.Bucket.NewWriter(wctx, f.Dst.Key, wo)
	if err != nil {
		return Result{Err: ioErr(f, f.Dst.Loc.Wrap(f.Dst.Key, err))}
	}
	var written int64
	abort := func(err error) Result {
		cancel() // before Close: the write is discarded, nothing appears at Dst
		store.CloseWriter(w)
		e.Stats.BytesDone.Add(-written)
		return Result{Err: err}
	}
	bp := e.bufs.Get().(*[]byte)
	defer e.bufs.Put(bp)
	buf := *bp
	for {
		nr, rerr := io.ReadFull(r, buf)
		if nr > 0 {
			if n >= 0 && written+int64(nr) > n {
				return abort(readLong(f, n))
			}
			h.Write(buf[:nr])
			if _, err := w.Write(buf[:nr]); err != nil {
				return abort(ioErr(f, f.Dst.Loc.Wrap(f.Dst.Key, err)))
			}
			written += int64(nr)
			e.Stats.BytesDone.Add(int64(nr))
		}
		if rerr == io.EOF || rerr == io.ErrUnexpectedEOF {
			break
		}
		if rerr != nil {
			return abort(ioErr(f, f.Src.Loc.Wrap(f.Src.Key, rerr)))
		}
	}
	if n >= 0 && written != n {
		return abort(readShort(f, written, n))
	}
	crc := h.crc.Sum32()
	if src.md5 != nil && !bytes.Equal(h.MD5(), src.md5) {
		return abort(f.problem(ChecksumMismatch, "content has MD5 %x, but the store records %x: corrupt source, not copied", h.MD5(), src.md5))
	}
	if err := src.checkCRC(f, crc); err != nil {
		return abort(err)
	}
	if err := store.CloseWriter(w); err != nil {
		e.Stats.BytesDone.Add(-written)
		return Result{Err: ioErr(f, f.Dst.Loc.Wrap(f.Dst.Key, err))}
	}
	if e.opts.SyncLocal && f.Dst.Loc.Scheme == "file" {
		if err := SyncPath(f.Dst.Name()); err != nil {
			return Result{Err: ioErr(f, err)}
		}
	}
	checked, err := e.checkDst(ctx, f, written, h.MD5(), crc, true, h.parts)
	if err != nil {
		return Result{Err: err}
	}
	return Result{Outcome: Copied, Bytes: written, Checked: checked, CRC32C: crc}
}

// checkDst stats the destination after a copy and compares it with what
// was written: size, and each checksum known on both sides.
// parts, when not nil, are the part digests of an S3 upload.
func (e *Engine) checkDst(ctx context.Context, f *File, size int64, md5sum []byte, crc uint32, hasCRC bool, parts *s3Parts) ([]string, error) {
	a, err := stat(ctx, f.Dst)
	if err != nil {
		return nil, ioErr(f, fmt.Errorf("checking the copy: %w", err))
	}
	bad := func(format string, args ...any) error {
		return f.problem(ChecksumMismatch, "copy differs from the source: "+format, args...)
	}
	checked := []string{"size"}
	if a.Size != size {
		return nil, bad("%d bytes at the destination, %d copied", a.Size, size)
	}
	if a.MD5 != nil && md5sum != nil {
		if !bytes.Equal(a.MD5, md5sum) {
			return nil, bad("destination MD5 %x, source %x", a.MD5, md5sum)
		}
		checked = append(checked, "md5")
	}
	if a.HasCRC32C && hasCRC {
		if a.CRC32C != crc {
			return nil, bad("destination CRC32C %08x, source %08x", a.CRC32C, crc)
		}
		checked = append(checked, "crc32c")
	}
	if a.MD5 == nil {
		if want, ok, known := parts.check(a.ETag); known && !ok {
			return nil, bad("destination ETag %s, the parts copied give %s", a.ETag, want)
		} else if known {
			checked = append(checked, "etag")
		}
	}
	return checked, nil
}

// s3MaxCopy is the largest object S3's CopyObject copies in one request.
const s3MaxCopy = 5 << 30

// serverSide asks the store to copy f when both ends are in the same
// store; ok is false when it cannot (then the caller streams).
func (e *Engine) serverSide(ctx context.Context, f *File) (r Result, ok bool) {
	src, dst := f.Src.Loc, f.Dst.Loc
	if src.Scheme != dst.Scheme || src.Scheme == "file" {
		// Local copies stream: the bytes are hashed on the way, and
		// the kernel's copy would move them through the same page cache.
		return Result{}, false
	}
	a := f.SrcAttrs
	var err error
	switch {
	case src.Scheme == "s3" && a.Size > s3MaxCopy:
		return Result{}, false
	case src.Scheme == "s3":
		sc, dc := s3Client(src), s3Client(dst)
		if sc == nil || dc == nil || !sameS3(sc, dc) || needsS3Escape(f.Src.Key) || needsS3Escape(f.Dst.Key) {
			return Result{}, false
		}
		return e.copyS3(ctx, f, dc), true
	case src.Bucket == dst.Bucket:
		err = dst.Bucket.Copy(ctx, f.Dst.Key, f.Src.Key, nil)
	case src.Scheme == "gs":
		var c *storage.Client
		if !dst.Bucket.As(&c) {
			return Result{}, false
		}
		_, err = c.Bucket(dst.Name).Object(f.Dst.Key).CopierFrom(c.Bucket(src.Name).Object(f.Src.Key)).Run(ctx)
	case src.Scheme == "azblob":
		var sc, dc *container.Client
		if !src.Bucket.As(&sc) || !dst.Bucket.As(&dc) || accountURL(sc.URL()) != accountURL(dc.URL()) {
			return Result{}, false
		}
		err = azureCopy(ctx, sc.NewBlobClient(f.Src.Key).URL(), dc.NewBlobClient(f.Dst.Key))
	default:
		return Result{}, false
	}
	if err != nil {
		if store.IsNotExist(err) {
			return Result{Err: f.problem(Missing, "no such object")}, true
		}
		return Result{Err: ioErr(f, fmt.Errorf("server-side copy to %s: %w", f.Dst.Name(), src.Wrap(f.Src.Key, err)))}, true
	}
	checked, err := e.checkDst(ctx, f, a.Size, a.MD5, a.CRC32C, a.HasCRC32C, nil)
	if err != nil {
		return Result{Err: err}, true
	}
	return Result{Outcome: ServerSide, Bytes: a.Size, Checked: checked}, true
}

// accountURL is a container URL without the container: the service and
// storage account, within which Azure copies by itself.
func accountURL(u string) string {
	u = strings.TrimSuffix(u, "/")
	if i := strings.LastIndex(u, "/"); i >= 0 {
		return u[:i]
	}
	return u
}

// azureCopy copies a blob of the same storage account and waits for it.
func azureCopy(ctx context.Context, srcURL string, dst *azblobblob.Client) error {
	resp, err := dst.StartCopyFromURL(ctx, srcURL, nil)
	if err != nil {
		return err
	}
	status := resp.CopyStatus
	for wait := 10 * time.Millisecond; status != nil && *status == azblobblob.CopyStatusTypePending; wait = min(2*wait, time.Second) {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(wait):
		}
		p, err := dst.GetProperties(ctx, nil)
		if err != nil {
			return err
		}
		status = p.CopyStatus
	}
	if status != nil && *status != azblobblob.CopyStatusTypeSuccess {
		return fmt.Errorf("copy ended with status %s", *status)
	}
	return nil
}

func s3Client(l *store.Location) *s3.Client {
	var c *s3.Client
	if l.Bucket.As(&c) {
		return c
	}
	return nil
}

// sameS3 reports whether two clients talk to the same S3 service.
func sameS3(a, b *s3.Client) bool {
	ao, bo := a.Options(), b.Options()
	return aws.ToString(ao.BaseEndpoint) == aws.ToString(bo.BaseEndpoint) && ao.Region == bo.Region
}

// samePresent decides whether an existing destination holds the bytes f
// would copy: size, then every checksum known on both sides, else a hash
// of the side(s) that lack one, computed by reading.
func (e *Engine) samePresent(ctx context.Context, f *File, dst *Attrs) ([]string, error) {
	want := f.CopyLength()
	conflict := func(format string, args ...any) error { return f.problem(Conflict, format, args...) }
	if dst.Size != want {
		return nil, conflict("%d bytes, the source has %d", dst.Size, want)
	}
	checked := []string{"size"}
	src := f.srcSums()
	srcMD5, srcCRC, hasSrcCRC := src.md5, src.crc, src.hasCRC
	srcConfirmed := false // srcMD5 checked by HEAD already (see confirmMD5)
	if srcMD5 != nil && dst.MD5 != nil && !bytes.Equal(srcMD5, dst.MD5) {
		// Not a conflict if either is an encrypted S3 object's ETag.
		var err error
		if srcMD5, err = confirmMD5(ctx, f.Src, srcMD5); err != nil {
			return nil, ioErr(f, err)
		}
		srcConfirmed = true
		d := *dst
		if d.MD5, err = confirmMD5(ctx, f.Dst, dst.MD5); err != nil {
			return nil, ioErr(f, err)
		}
		dst = &d
	}
	compared := false
	if srcMD5 != nil && dst.MD5 != nil {
		if !bytes.Equal(srcMD5, dst.MD5) {
			return nil, conflict("MD5 %x, the source has %x", dst.MD5, srcMD5)
		}
		checked, compared = append(checked, "md5"), true
	}
	if hasSrcCRC && dst.HasCRC32C {
		if srcCRC != dst.CRC32C {
			return nil, conflict("CRC32C %08x, the source has %08x", dst.CRC32C, srcCRC)
		}
		checked, compared = append(checked, "crc32c"), true
	}
	if compared {
		return checked, nil
	}
	// No common checksum: hash what is missing by reading it.
	if srcMD5 != nil && dst.MD5 == nil && !dst.HasCRC32C && !srcConfirmed {
		var err error
		if srcMD5, err = confirmMD5(ctx, f.Src, srcMD5); err != nil {
			return nil, ioErr(f, err)
		}
	}
	srcObj := func(md bool) (*hashes, error) {
		off, l := int64(0), int64(-1)
		if !f.whole() {
			off, l = f.Offset, f.Length
		}
		return e.readHash(ctx, f.Src, off, l, md)
	}
	dstObj := func(md bool) (*hashes, error) { return e.readHash(ctx, f.Dst, 0, -1, md) }
	var sh, dh *hashes
	var err error
	switch {
	case dst.MD5 != nil:
		if sh, err = srcObj(true); err == nil && !bytes.Equal(sh.MD5(), dst.MD5) {
			return nil, conflict("MD5 %x, the source has %x", dst.MD5, sh.MD5())
		}
		checked = append(checked, "md5(read)")
	case dst.HasCRC32C:
		if sh, err = srcObj(false); err == nil && sh.crc.Sum32() != dst.CRC32C {
			return nil, conflict("CRC32C %08x, the source has %08x", dst.CRC32C, sh.crc.Sum32())
		}
		checked = append(checked, "crc32c(read)")
	case srcMD5 != nil:
		if dh, err = dstObj(true); err == nil && !bytes.Equal(dh.MD5(), srcMD5) {
			return nil, conflict("MD5 %x, the source has %x", dh.MD5(), srcMD5)
		}
		checked = append(checked, "md5(read)")
	case hasSrcCRC:
		if dh, err = dstObj(false); err == nil && dh.crc.Sum32() != srcCRC {
			return nil, conflict("CRC32C %08x, the source has %08x", dh.crc.Sum32(), srcCRC)
		}
		checked = append(checked, "crc32c(read)")
	default:
		if sh, err = srcObj(false); err != nil {
			break
		}
		if dh, err = dstObj(false); err == nil && sh.crc.Sum32() != dh.crc.Sum32() {
			return nil, conflict("CRC32C %08x, the source has %08x", dh.crc.Sum32(), sh.crc.Sum32())
		}
		checked = append(checked, "crc32c(read both)")
	}
	if err != nil {
		if ProblemOf(err) != "" {
			return nil, err
		}
		return nil, ioErr(f, err)
	}
	return checked, nil
}

// readHash reads a range of o (length < 0: to the end) and hashes it.
func (e *Engine) readHash(ctx context.Context, o Object, off, length int64, withMD5 bool) (*hashes, error) {
	r, err := o.Loc.NewRangeReader(ctx, o.Key, off, length)
	if err != nil {
		return nil, err
	}
	defer r.Close()
	h := newHashes(withMD5)
	bp := e.bufs.Get().(*[]byte)
	defer e.bufs.Put(bp)
	buf := *bp
	for {
		n, err := io.ReadFull(r, buf)
		h.Write(buf[:n])
		if err == io.EOF || err == io.ErrUnexpectedEOF {
			return h, nil
		}
		if err != nil {
			return nil, o.Loc.Wrap(o.Key, err)
		}
	}
}

// SyncPath makes a local file or directory durable (fsync).
func SyncPath(path string) error {
	fh, err := os.Open(path)
	if err != nil {
		return err
	}
	err = fh.Sync()
	if cerr := fh.Close(); err == nil {
		err = cerr
	}
	return err
}
