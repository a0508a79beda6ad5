package store

import (
	"context"
	"net/url"
	"strings"

	"github.com/aws/aws-sdk-go-v2/service/s3/types"

	"gocloud.dev/blob"
)

// openS3 opens an s3:// bucket with fsnap's defaults where the URL sets
// none: checksums only where S3 requires them. The SDK's default
// (when_supported) adds a CRC32 to every upload, which several
// S3-compatible stores refuse, and validates one on every download,
// logging a warning for each object stored without one (all objects
// written by older clients); fsnap checks the bytes itself (size, ETag
// MD5, Content-MD5 on upload).
func openS3(ctx context.Context, u *url.URL) (*blob.Bucket, error) {
	q := u.Query()
	for _, k := range []string{"request_checksum_calculation", "response_checksum_validation"} {
		if !q.Has(k) {
			q.Set(k, "when_required")
		}
	}
	v := *u
	v.RawQuery = q.Encode()
	return openS3Quiet(ctx, &v)
}

// S3Encryption returns the server-side encryption settings of an s3://
// location (gocloud's ssetype and kmskeyid parameters; the key only with
// a type), as the fields of requests made with the S3 client directly.
func (l *Location) S3Encryption() (types.ServerSideEncryption, *string) {
	sse := types.ServerSideEncryption(l.query.Get("ssetype"))
	if kms := l.query.Get("kmskeyid"); sse != "" && kms != "" {
		return sse, &kms
	}
	return sse, nil
}

// OpaqueETag reports whether an S3 object encrypted so has an ETag that is
// not the MD5 of its bytes: encrypted with KMS (aws:kms, aws:kms:dsse) or a
// customer-provided key. Listings cannot tell; HEAD and GET responses do.
func OpaqueETag(sse types.ServerSideEncryption, customerAlgorithm *string) bool {
	return customerAlgorithm != nil || strings.HasPrefix(string(sse), "aws:kms")
}
