package store

import (
	"context"
	"net/url"
	"os"
	"strconv"
	"sync"

	"gocloud.dev/blob"
	"gocloud.dev/blob/gcsblob"
	"gocloud.dev/gcp"
)

// openGCS opens a gs:// bucket. gocloud's default opener prints a warning
// on stdout when there are no Google credentials (it would corrupt -o json
// output) and then goes on without them; this one returns a clear error
// instead, and needs no credentials for anonymous=true or an emulator
// (STORAGE_EMULATOR_HOST). Other cases (universe_domain, grpc) are left to
// gocloud's opener.
func openGCS(ctx context.Context, u *url.URL) (*blob.Bucket, error) {
	q := u.Query()
	if q.Has("universe_domain") || q.Has("grpc") || q.Has("zonal") {
		return blob.OpenBucket(ctx, u.String())
	}
	anon, _ := strconv.ParseBool(q.Get("anonymous"))
	var client *gcp.HTTPClient
	if anon || q.Get("access_id") == "-" ||
		os.Getenv("STORAGE_EMULATOR_HOST") != "" || os.Getenv("STORAGE_EMULATOR_HOST_GRPC") != "" {
		client = gcp.NewAnonymousHTTPClient(httpTransport())
	} else {
		var err error
		if client, err = gcsClient(ctx); err != nil {
			return nil, err
		}
	}
	o := &gcsblob.URLOpener{Client: client}
	return o.OpenBucketURL(ctx, u)
}

var (
	gcsOnce   sync.Once
	gcsHTTP   *gcp.HTTPClient
	gcsErrVal error
)

// gcsClient returns an HTTP client with the application default
// credentials, looked up once per process.
func gcsClient(ctx context.Context) (*gcp.HTTPClient, error) {
	gcsOnce.Do(func() {
		creds, err := gcp.DefaultCredentials(ctx)
		if err != nil {
			gcsErrVal = &CredentialsError{err: err, msg: "no Google Cloud credentials found (looked for GOOGLE_APPLICATION_CREDENTIALS, " +
				"~/.config/gcloud/application_default_credentials.json from `gcloud auth application-default login`, " +
				"the GCE/GKE metadata server (Workload Identity)); add ?anonymous=true for a public bucket"}
			return
		}
		gcsHTTP, gcsErrVal = gcp.NewHTTPClient(httpTransport(), gcp.CredentialsTokenSource(creds))
	})
	return gcsHTTP, gcsErrVal
}
