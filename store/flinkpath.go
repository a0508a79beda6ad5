package store

import (
	"context"
	"fmt"
	"net/url"
	"os"
	"strings"
)

// FlinkPath is an absolute file path as Flink writes it into _metadata,
// split into the parts fsnap needs to find the file.
//
// Flink schemes and the stores fsnap opens them with:
//
//	file:/p, file:///p, /p (default file system)  -> file   (Key "p")
//	s3://b/k, s3a://, s3n://, s3p://              -> s3     (Bucket b)
//	gs://b/k                                      -> gs
//	wasb(s)://c@acct.blob.core.windows.net/k      -> azblob (Bucket c, Account acct)
//	abfs(s)://c@acct.dfs.core.windows.net/k       -> azblob (the Blob API reaches ADLS Gen2 data)
//	mem://name/k                                  -> mem    (fsnap's own tests)
//	hdfs://, viewfs://, oss://, cosn://, ...      -> ""     (fsnap cannot open them)
//
// A path without a scheme is taken as local, Flink's default unless
// fs.default-scheme says otherwise; Scheme is then "" so callers can tell.
type FlinkPath struct {
	Raw     string // as written by Flink
	Scheme  string // Flink's scheme, lower case; "" for a bare path
	Store   string // "file", "s3", "gs", "azblob", "mem", or "" when fsnap cannot open it
	Bucket  string // bucket, container or mem name; "" for file
	Account string // Azure storage account, when the URI names one
	Key     string // object key in the bucket; for file, the absolute path without its leading "/"
}

// ParseFlinkPath splits an absolute Flink path. It does not percent-decode:
// Flink writes paths decoded. Paths with ".", ".." or empty elements, NUL or
// backslash are refused, as are relative paths (resolve those with Join
// against the snapshot directory).
func ParseFlinkPath(raw string) (FlinkPath, error) {
	p := FlinkPath{Raw: raw}
	fail := func(why string) (FlinkPath, error) {
		return FlinkPath{}, fmt.Errorf("flink path %q: %s", RedactURL(raw), why)
	}
	rest := raw
	if i := strings.Index(raw, ":"); i > 0 && !strings.Contains(raw[:i], "/") {
		p.Scheme, rest = strings.ToLower(raw[:i]), raw[i+1:]
	}
	var authority string
	if r, ok := strings.CutPrefix(rest, "//"); ok {
		authority, rest, _ = strings.Cut(r, "/")
		rest = "/" + rest
	}
	if !strings.HasPrefix(rest, "/") {
		return fail("not absolute")
	}
	key := strings.TrimPrefix(rest, "/")
	if key == "" {
		return fail("no file name")
	}
	if err := checkRel(key); err != nil {
		return fail(err.Error())
	}
	p.Key = key
	switch p.Scheme {
	case "", "file":
		if authority != "" && authority != "localhost" {
			return fail("file path with a host")
		}
		p.Store = "file"
	default:
		var err error
		if p.Store, p.Bucket, p.Account, err = flinkStore(p.Scheme, authority); err != nil {
			return fail(err.Error())
		}
	}
	return p, nil
}

// flinkStore maps a Flink scheme (lower case, not file) and the authority
// of a URI in it to the store fsnap opens it with, the bucket or container,
// and the Azure storage account. For a scheme fsnap cannot open, store is
// "" and bucket the authority (informative only). Locations given as
// arguments are mapped with it too (see flinkURL).
func flinkStore(scheme, authority string) (store, bucket, account string, err error) {
	switch scheme {
	case "s3", "s3a", "s3n", "s3p", "gs", "mem":
		if authority == "" {
			return "", "", "", fmt.Errorf("no bucket")
		}
		store = scheme
		if strings.HasPrefix(scheme, "s3") {
			store = "s3"
		}
		return store, authority, "", nil
	case "wasb", "wasbs", "abfs", "abfss":
		c, host, ok := strings.Cut(authority, "@")
		if !ok || c == "" || host == "" {
			return "", "", "", fmt.Errorf("want container@account.host")
		}
		account, _, _ = strings.Cut(host, ".")
		return "azblob", c, account, nil
	}
	return "", authority, "", nil
}

// KeyOf returns the key of p in l's bucket, or false when p lives in
// another bucket or kind of store (an external reference). An S3 or GCS
// bucket is identified by its name alone; an Azure container also by its
// account when l knows it (storage_account or AZURE_STORAGE_ACCOUNT) and
// otherwise not matched, so in doubt a file counts as external.
func (l *Location) KeyOf(p FlinkPath) (string, bool) {
	if p.Store == "" || p.Store != l.Scheme {
		return "", false
	}
	switch l.Scheme {
	case "file":
		return l.localKey("/" + p.Key), true
	case "azblob":
		if p.Bucket != l.Name || p.Account == "" || p.Account != l.Account() {
			return "", false
		}
	default:
		if p.Bucket != l.Name {
			return "", false
		}
	}
	return p.Key, true
}

// Account is the Azure storage account l connects to, as gocloud finds
// it: the storage_account parameter, AZURE_STORAGE_ACCOUNT, or the
// AccountName of AZURE_STORAGE_CONNECTION_STRING (or
// AZURE_STORAGEBLOB_CONNECTIONSTRING); "" when none says.
func (l *Location) Account() string {
	if a := l.query.Get("storage_account"); a != "" {
		return a
	}
	if a := os.Getenv("AZURE_STORAGE_ACCOUNT"); a != "" {
		return a
	}
	cs := os.Getenv("AZURE_STORAGE_CONNECTION_STRING")
	if cs == "" {
		cs = os.Getenv("AZURE_STORAGEBLOB_CONNECTIONSTRING")
	}
	return connectionStringAccount(cs)
}

// connectionStringAccount is the AccountName of an Azure connection
// string, or "".
func connectionStringAccount(cs string) string {
	for _, kv := range strings.Split(cs, ";") {
		if k, v, ok := strings.Cut(kv, "="); ok && strings.TrimSpace(k) == "AccountName" {
			return strings.TrimSpace(v)
		}
	}
	return ""
}

// FlinkPathOf is the absolute path Flink writes for key in l's bucket:
// file:/k, s3://b/k, gs://b/k, wasbs://c@account.blob.core.windows.net/k.
func (l *Location) FlinkPathOf(key string) (string, error) {
	switch l.Scheme {
	case "file":
		return "file:/" + key, nil
	case "s3", "gs", "mem":
		return l.Scheme + "://" + l.Name + "/" + key, nil
	case "azblob":
		acct := l.Account()
		if acct == "" {
			return "", fmt.Errorf("%s: the Azure storage account is unknown (set AZURE_STORAGE_ACCOUNT or storage_account=) so no absolute path can be written", l.NameOf(key))
		}
		return "wasbs://" + l.Name + "@" + acct + ".blob.core.windows.net/" + key, nil
	}
	return "", fmt.Errorf("%s: no Flink path for scheme %s", l.NameOf(key), l.Scheme)
}

// OpenSibling opens the directory holding p, in the bucket p names, with
// l's connection parameters (endpoint, region, path style, ...): the way to
// reach files a snapshot references in another bucket of the same store.
// The caller closes the result and maps p with its KeyOf.
func (l *Location) OpenSibling(ctx context.Context, p FlinkPath) (*Location, error) {
	if p.Store == "" || p.Store != l.Scheme {
		return nil, fmt.Errorf("%s: cannot be opened from %s", RedactURL(p.Raw), l.Display)
	}
	if p.Store == "azblob" && p.Account != l.Account() {
		return nil, fmt.Errorf("%s: in storage account %q, not %q", RedactURL(p.Raw), p.Account, l.Account())
	}
	dir := ""
	if i := strings.LastIndex(p.Key, "/"); i >= 0 {
		dir = p.Key[:i]
	}
	if p.Store == "file" {
		return Open(ctx, "/"+dir)
	}
	u := url.URL{Scheme: p.Store, Host: p.Bucket, Path: "/" + dir, RawQuery: l.query.Encode()}
	s, err := Open(ctx, u.String())
	if err != nil {
		return nil, err
	}
	s.secrets = l.secrets
	return s, nil
}
