package transfer

import (
	"bytes"
	"context"
	"crypto/md5"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"hash/crc32"
	"io"
	"math/bits"
	"net/url"
	"slices"
	"strings"
	"sync"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"
	"github.com/aws/smithy-go"
	"gocloud.dev/blob"

	"github.com/fsnap/fsnap/store"
)

// S3 copies use the SDK client directly where gocloud would hide the
// response, which proves the stored object and so saves the HEAD that
// would check it.
//
// Server-side copies are one CopyObject; its response's ETag is compared
// with the source's MD5.
//
// S3 objects below the multipart threshold are uploaded with one
// PutObject of a pooled buffer instead of gocloud's writer. The request
// carries
// Content-MD5 — the MD5 the source store records, else one computed here —
// so S3 itself refuses bytes that differ from the source (400 BadDigest:
// nothing is stored), and the response's ETag confirms what was stored, so
// no HEAD follows. With the source's MD5 known nothing is hashed here but
// the CRC32C; the payload goes unsigned because Content-MD5 already
// protects it. Against streaming through the SDK's transfer manager this
// saves a request, an MD5 and a SHA-256 pass and a part allocation per
// object, which is most of the cost of copying many small files.
//
// Larger objects go through gocloud's writer in parts; their ETag, the MD5
// of the parts' MD5s, is computed while streaming and compared after.

// s3SinglePutLimit is the size from which the SDK's transfer manager,
// behind gocloud's writer, uploads in parts (its default
// MultipartUploadThreshold, which gocloud leaves alone); smaller objects
// take one PutObject, here as there.
const s3SinglePutLimit = 16 << 20

// putBufs pools object buffers in power-of-two size classes from 1 MiB, so
// memory follows the objects in flight rather than the part size.
type putBufs struct {
	classes [8]sync.Pool // 1 MiB << i
}

func putClass(n int64) int {
	if n <= 1<<20 {
		return 0
	}
	return bits.Len64(uint64(n-1)) - 20
}

func (p *putBufs) get(n int64) *[]byte {
	c := putClass(n)
	if c >= len(p.classes) {
		b := make([]byte, n)
		return &b
	}
	if b, ok := p.classes[c].Get().(*[]byte); ok {
		return b
	}
	b := make([]byte, 1<<(20+c))
	return &b
}

func (p *putBufs) put(b *[]byte) {
	if c := putClass(int64(cap(*b))); c < len(p.classes) && cap(*b) == 1<<(20+c) {
		p.classes[c].Put(b)
	}
}

// s3PutClient returns the client for a direct PutObject of n bytes to
// dst, or nil when the object goes through the streaming writer (in
// parts).
func (e *Engine) s3PutClient(dst Object, n int64) *s3.Client {
	if dst.Loc.Scheme != "s3" || n < 0 || n >= s3SinglePutLimit || needsS3Escape(dst.Key) {
		return nil
	}
	return s3Client(dst.Loc)
}

// needsS3Escape reports whether gocloud would escape key (control
// characters, "../"); such keys keep going through gocloud so that both
// paths store the same key.
func needsS3Escape(key string) bool {
	for i := 0; i < len(key); i++ {
		if key[i] < 32 {
			return true
		}
	}
	return strings.Contains(key, "../")
}

// putS3 reads the n bytes of f's source from r and stores them with one
// PutObject.
func (e *Engine) putS3(ctx context.Context, f *File, c *s3.Client, r io.Reader, n int64, src srcSums) Result {
	bp := e.putBufs.get(n)
	defer e.putBufs.put(bp)
	body := (*bp)[:n]
	got, err := io.ReadFull(r, body)
	switch {
	case err == io.ErrUnexpectedEOF || err == io.EOF:
		return Result{Err: readShort(f, int64(got), n)}
	case err != nil:
		return Result{Err: ioErr(f, f.Src.Loc.Wrap(f.Src.Key, err))}
	}
	var one [1]byte
	if extra, _ := r.Read(one[:]); extra > 0 {
		return Result{Err: readLong(f, n)}
	}
	crc := crc32.Checksum(body, castagnoli)
	if err := src.checkCRC(f, crc); err != nil {
		return Result{Err: err}
	}
	sum := src.md5
	if sum == nil {
		s := md5.Sum(body)
		sum = s[:]
	}
	e.Stats.BytesDone.Add(n)
	fail := func(err error) Result {
		e.Stats.BytesDone.Add(-n)
		return Result{Err: err}
	}
	in := &s3.PutObjectInput{
		Bucket:        aws.String(f.Dst.Loc.Name),
		Key:           aws.String(f.Dst.Key),
		Body:          bytes.NewReader(body),
		ContentLength: aws.Int64(n),
		ContentMD5:    aws.String(base64.StdEncoding.EncodeToString(sum)),
		ContentType:   aws.String("application/octet-stream"),
	}
	in.ServerSideEncryption, in.SSEKMSKeyId = f.Dst.Loc.S3Encryption()
	out, err := c.PutObject(ctx, in, func(o *s3.Options) {
		o.APIOptions = append(o.APIOptions, v4.SwapComputePayloadSHA256ForUnsignedPayloadMiddleware)
	})
	if err != nil {
		if s3ErrorCode(err) == "BadDigest" {
			what := "the MD5 computed while reading"
			if src.md5 != nil {
				what = "the MD5 the source store records: corrupt source"
			}
			return fail(f.problem(ChecksumMismatch, "S3 refused the bytes: they do not match %s %x; not copied", what, sum))
		}
		return fail(ioErr(f, f.Dst.Loc.Wrap(f.Dst.Key, err)))
	}
	checked := []string{"size", "md5"}
	if etag := responseMD5(out.ETag, out.ServerSideEncryption, out.SSECustomerAlgorithm); etag != nil && !bytes.Equal(etag, sum) {
		// An encrypted object's ETag (not every store says so in the
		// response), else a store that ignored Content-MD5: then take
		// back what it stored.
		if stored, err := confirmMD5(ctx, f.Dst, etag); err != nil {
			return fail(ioErr(f, err))
		} else if stored == nil {
			return Result{Outcome: Copied, Bytes: n, Checked: checked, CRC32C: crc}
		}
		_ = f.Dst.Loc.Bucket.Delete(ctx, f.Dst.Key)
		return fail(f.problem(ChecksumMismatch, "copy differs from the source: destination MD5 %x, source %x", etag, sum))
	}
	return Result{Outcome: Copied, Bytes: n, Checked: checked, CRC32C: crc}
}

// s3ETagIsMD5 reports whether an S3 object's ETag, from which listings
// take its MD5, is the MD5 of its bytes: not so for objects encrypted with
// KMS or a customer key, which only the GET response tells.
func s3ETagIsMD5(r *blob.Reader) bool {
	var out s3.GetObjectOutput
	if !r.As(&out) {
		return true
	}
	return !store.OpaqueETag(out.ServerSideEncryption, out.SSECustomerAlgorithm)
}

// confirmMD5 returns the MD5 of o, which a listing gave as listed, after
// it failed to match: an S3 listing's MD5 is the ETag, which is no MD5
// for an encrypted object, and only a HEAD tells (Stat then gives none).
func confirmMD5(ctx context.Context, o Object, listed []byte) ([]byte, error) {
	if o.Loc.Scheme != "s3" || listed == nil {
		return listed, nil
	}
	so, err := o.Loc.Stat(ctx, o.Key)
	if err != nil {
		return nil, err
	}
	return so.MD5, nil
}

// responseMD5 returns the MD5 the ETag of a PutObject or CopyObject
// response holds, or nil when it holds none (encrypted with KMS or a
// customer key: then the ETag is not the MD5 of the bytes).
func responseMD5(etag *string, sse types.ServerSideEncryption, customerAlgorithm *string) []byte {
	if store.OpaqueETag(sse, customerAlgorithm) {
		return nil
	}
	return hexMD5(aws.ToString(etag))
}

// s3ErrorCode is the S3 error code of err ("NoSuchKey", ...), or "".
func s3ErrorCode(err error) string {
	var ae smithy.APIError
	if errors.As(err, &ae) {
		return ae.ErrorCode()
	}
	return ""
}

// hexMD5 decodes an ETag that is an MD5 (a single-part upload's), else nil.
func hexMD5(etag string) []byte {
	b, err := hex.DecodeString(strings.Trim(etag, `"`))
	if err != nil || len(b) != md5.Size {
		return nil
	}
	return b
}

// copyS3 copies f inside one S3 service with CopyObject, through the
// destination bucket so that its settings (server-side encryption) apply.
func (e *Engine) copyS3(ctx context.Context, f *File, c *s3.Client) Result {
	a := f.SrcAttrs
	in := &s3.CopyObjectInput{
		Bucket:     aws.String(f.Dst.Loc.Name),
		Key:        aws.String(f.Dst.Key),
		CopySource: aws.String(url.QueryEscape(f.Src.Loc.Name + "/" + f.Src.Key)),
	}
	in.ServerSideEncryption, in.SSEKMSKeyId = f.Dst.Loc.S3Encryption()
	out, err := c.CopyObject(ctx, in)
	if err != nil {
		if s3ErrorCode(err) == "NoSuchKey" {
			return Result{Err: f.problem(Missing, "no such object")}
		}
		return Result{Err: ioErr(f, fmt.Errorf("server-side copy to %s: %w", f.Dst.Name(), f.Src.Loc.Wrap(f.Src.Key, err)))}
	}
	var etag []byte
	if r := out.CopyObjectResult; r != nil {
		etag = responseMD5(r.ETag, out.ServerSideEncryption, out.SSECustomerAlgorithm)
	}
	srcMD5 := a.MD5
	if etag != nil && srcMD5 != nil && !bytes.Equal(etag, srcMD5) {
		// Either may be an encrypted object's ETag (MinIO does not say
		// so in the response): HEAD both.
		if srcMD5, err = confirmMD5(ctx, f.Src, srcMD5); err != nil {
			return Result{Err: ioErr(f, err)}
		}
		etag = nil
	}
	if etag == nil || srcMD5 == nil {
		// Nothing to compare (a multipart or encrypted object): check by HEAD.
		checked, err := e.checkDst(ctx, f, a.Size, srcMD5, a.CRC32C, a.HasCRC32C, nil)
		if err != nil {
			return Result{Err: err}
		}
		return Result{Outcome: ServerSide, Bytes: a.Size, Checked: checked}
	}
	if !bytes.Equal(etag, srcMD5) {
		return Result{Err: f.problem(ChecksumMismatch, "copy differs from the source: destination MD5 %x, source %x (changed while copying?)", etag, srcMD5)}
	}
	return Result{Outcome: ServerSide, Bytes: a.Size, Checked: []string{"size", "md5"}}
}

// s3Parts computes the ETag S3 gives an object uploaded in parts of a
// fixed size: the MD5 of the parts' MD5s, a dash and the number of parts.
type s3Parts struct {
	size   int64
	cur    hash.Hash
	filled int64
	sums   []byte
}

func newS3Parts(size int64) *s3Parts { return &s3Parts{size: size, cur: md5.New()} }

func (p *s3Parts) Write(b []byte) {
	for len(b) > 0 {
		k := min(int64(len(b)), p.size-p.filled)
		p.cur.Write(b[:k])
		p.filled += k
		b = b[k:]
		if p.filled == p.size {
			p.sums = p.cur.Sum(p.sums)
			p.cur.Reset()
			p.filled = 0
		}
	}
}

// check compares the ETag S3 reports for the uploaded object with the
// bytes written: known is false when there is nothing to compare (no
// parts computed, or an ETag that is no digest).
func (p *s3Parts) check(etag string) (want string, ok, known bool) {
	etag = strings.Trim(etag, `"`)
	if p == nil || etag == "" || len(p.sums) == 0 {
		return "", false, false
	}
	sums := p.sums
	if p.filled > 0 {
		sums = p.cur.Sum(slices.Clip(sums))
	}
	if !strings.Contains(etag, "-") {
		// Exactly one part's bytes may go up in one PutObject.
		if len(sums) != md5.Size {
			return "", false, false
		}
		want = hex.EncodeToString(sums)
	} else {
		all := md5.Sum(sums)
		want = fmt.Sprintf("%x-%d", all, len(sums)/md5.Size)
		if _, parts, _ := strings.Cut(etag, "-"); parts != want[strings.IndexByte(want, '-')+1:] {
			return "", false, false // uploaded in other parts than these
		}
	}
	return want, etag == want, true
}
