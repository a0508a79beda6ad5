package store

import (
	"errors"
	"fmt"
	"net/url"
	"strings"
)

// Locations given as arguments may be written as Flink writes them, so that
// users can paste what their Flink configuration (state.checkpoints.dir,
// state.savepoints.dir) or the Flink operator's status shows. flinkURL maps
// them with the same table as the paths inside _metadata (flinkStore):
//
//	s3a://b/p, s3n://b/p, s3p://b/p                 -> s3://b/p
//	wasb(s)://c@acct.blob.core.windows.net/p         -> azblob://c/p?storage_account=acct
//	abfs(s)://c@acct.dfs.core.windows.net/p          -> azblob://c/p?storage_account=acct
//
// A host suffix other than Azure's public cloud (acct.blob.core.chinacloudapi.cn)
// becomes gocloud's domain parameter, with dfs. replaced by blob.: the Blob
// API reaches ADLS Gen2 data. Query parameters are kept (gocloud's for the
// target store). Schemes fsnap has no store for are refused with a
// *SchemeError that says what to do instead.

// SchemeError is a location in a scheme fsnap cannot open (hdfs://,
// oss://, ...). It is a usage error: the command line names a store fsnap
// has no client for, and the message says what works instead.
type SchemeError struct {
	Scheme string
}

// Accepted lists the location forms Open takes, for messages.
const Accepted = "local paths, file:, s3:// (also s3a://, s3n://, s3p://), gs://, " +
	"wasb(s)://container@account.blob.core.windows.net/…, " +
	"abfs(s)://container@account.dfs.core.windows.net/…, azblob:// and mem://"

// Unwrap lets callers test errors.Is(err, ErrUnsupportedScheme).
func (e *SchemeError) Unwrap() error { return ErrUnsupportedScheme }

func (e *SchemeError) Error() string {
	var advice string
	switch e.Scheme {
	case "hdfs", "viewfs", "webhdfs", "swebhdfs", "har", "ofs", "o3fs":
		advice = "fsnap has no HDFS client: copy the snapshot to a local directory or an object store first " +
			"(hdfs dfs -get, or hadoop distcp to s3a://…), then run fsnap on the copy"
	case "oss":
		advice = "Alibaba Cloud OSS speaks the S3 API: use s3://BUCKET/PATH?endpoint=https://oss-REGION.aliyuncs.com " +
			"with the OSS key pair in AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY"
	case "cosn", "obs", "ks3":
		advice = "this store speaks the S3 API: use s3://BUCKET/PATH?endpoint=https://YOUR-ENDPOINT " +
			"with its key pair in AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY"
	default:
		advice = "if the store speaks the S3 API, use s3://BUCKET/PATH?endpoint=URL"
	}
	return fmt.Sprintf("unsupported scheme %q: %s (fsnap opens %s)", e.Scheme, advice, Accepted)
}

// flinkURL rewrites u, a location URL in one of Flink's schemes, into the
// form Open takes; q is u's parsed query, updated in place. URLs already in
// Open's form come back unchanged.
func flinkURL(u *url.URL, q url.Values) (*url.URL, error) {
	switch u.Scheme {
	case "s3", "gs", "azblob", "mem":
		return u, nil
	}
	authority := u.Host
	if u.User != nil {
		if _, hasPassword := u.User.Password(); hasPassword {
			return nil, fmt.Errorf("user info in a %s:// URL is not supported; use the environment for credentials", u.Scheme)
		}
		authority = u.User.Username() + "@" + u.Host
	}
	store, bucket, account, err := flinkStore(u.Scheme, authority)
	if err != nil {
		return nil, err
	}
	if store == "" {
		return nil, &SchemeError{Scheme: u.Scheme}
	}
	v := *u
	v.Scheme, v.Host, v.User = store, bucket, nil
	if store != "azblob" {
		return &v, nil
	}
	if a := q.Get("storage_account"); a != "" && a != account {
		return nil, fmt.Errorf("storage_account=%s contradicts the account %s in the URL", a, account)
	}
	q.Set("storage_account", account)
	_, suffix, _ := strings.Cut(u.Host, ".")
	if d, ok := strings.CutPrefix(suffix, "dfs."); ok {
		suffix = "blob." + d
	}
	if suffix != "" && suffix != "blob.core.windows.net" && !q.Has("domain") {
		q.Set("domain", suffix)
	}
	v.RawQuery = q.Encode()
	return &v, nil
}

// CheckScheme returns a *SchemeError when ref is a URL in a scheme fsnap
// cannot open, without opening anything (other problems are Open's to
// report): for commands that hand locations on as text.
func CheckScheme(ref string) error {
	if isLocal(ref) {
		return nil
	}
	u, err := url.Parse(ref)
	if err != nil {
		return nil
	}
	if _, err := flinkURL(u, u.Query()); errors.As(err, new(*SchemeError)) {
		return err
	}
	return nil
}
