// Package store opens the storage that Flink snapshots live in, by URL,
// through gocloud.dev/blob, and adds the few things *blob.Bucket lacks:
// directory-like locations inside a bucket, safe joining of untrusted names,
// snapshot references, Flink path mapping, bounded reads, random access to
// ranges of objects with a block cache (Location.OpenRange), paged listing
// and secret-free messages.
//
// Accepted location URLs:
//
//	/abs/dir, rel/dir, file:///abs/dir, file:/abs/dir   local file system
//	s3://bucket/prefix?endpoint=URL&use_path_style=true&region=R
//	gs://bucket/prefix
//	azblob://container/prefix?protocol=http&domain=HOST:PORT&storage_account=A
//	mem://name/prefix                                    in-process memory
//
// and Flink's own forms of them (s3a://, s3p://, wasbs://c@account…,
// abfss://…), mapped as the paths inside _metadata are (see flinkURL).
//
// Credentials come from the environment as gocloud documents it: the AWS
// default chain (AWS_ACCESS_KEY_ID, profiles, IMDS ...), Google application
// default credentials (or STORAGE_EMULATOR_HOST), AZURE_STORAGE_ACCOUNT with
// AZURE_STORAGE_KEY, AZURE_STORAGE_SAS_TOKEN or a connection string. The
// query parameters are gocloud's for that scheme; "prefix" and "key" are
// refused (the prefix is the URL path).
//
// Keys are always full keys inside the bucket, so that files a snapshot
// references outside its own directory (a checkpoint's shared/ folder) are
// reachable from the same Location. A local directory is opened as the bucket
// "/" with the path as prefix, for the same reason.
package store

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"

	"gocloud.dev/blob"
	"gocloud.dev/blob/fileblob"
	_ "gocloud.dev/blob/gcsblob" // registers gs:// (see openGCS)
	"gocloud.dev/blob/memblob"
	_ "gocloud.dev/blob/s3blob" // registers s3://
)

// Location is a directory-like place in a bucket.
type Location struct {
	Bucket  *blob.Bucket
	Prefix  string // key prefix of the directory: "" or ending in "/"
	Display string // the URL or path it was opened with, secrets redacted
	Scheme  string // "file", "mem", "s3", "gs" or "azblob"
	Name    string // bucket, container or mem:// name; "" for file

	query   url.Values // gocloud parameters, kept to open sibling buckets
	secrets []string   // scrubbed from every error message
	shared  bool       // a mem:// bucket that outlives this Location
	linkMu  sync.Mutex
	links   map[string]string // file: directory -> symlink-resolved directory
}

// Open opens the location that ref names: a local path or a URL of one of
// the forms in the package documentation. Opening does not contact the
// store; the first operation does.
func Open(ctx context.Context, ref string) (*Location, error) {
	secrets := urlSecrets(ref)
	fail := func(err error) (*Location, error) {
		return nil, &redactedError{
			msg: scrub(fmt.Sprintf("open %s: %v", RedactURL(ref), err), secrets),
			err: err,
		}
	}
	if ref == "" {
		return fail(fmt.Errorf("empty location"))
	}
	if strings.ContainsRune(ref, 0) {
		return fail(fmt.Errorf("location contains NUL"))
	}
	if isLocal(ref) {
		dir, err := localPath(ref)
		if err != nil {
			return fail(err)
		}
		return openLocal(ctx, dir)
	}
	u, err := url.Parse(ref)
	if err != nil {
		// url.Parse quotes the whole input: do not pass its message on.
		return fail(fmt.Errorf("not a valid URL"))
	}
	q, err := url.ParseQuery(u.RawQuery)
	if err != nil {
		return fail(fmt.Errorf("invalid query string"))
	}
	if u, err = flinkURL(u, q); err != nil {
		return fail(err)
	}
	l := &Location{Scheme: u.Scheme, Name: u.Host, secrets: secrets, Display: RedactURL(ref)}
	if u.User != nil {
		return fail(fmt.Errorf("user info in a %s:// URL is not supported; use the environment for credentials", u.Scheme))
	}
	prefix := strings.TrimPrefix(u.Path, "/")
	if prefix != "" && !strings.HasSuffix(prefix, "/") {
		prefix += "/"
	}
	if prefix != "" {
		if err := checkRel(prefix); err != nil {
			return fail(err)
		}
	}
	l.Prefix = prefix
	if q.Has("prefix") || q.Has("key") {
		return fail(fmt.Errorf("put the prefix in the URL path, not in a query parameter"))
	}
	switch u.Scheme {
	case "mem":
		if len(q) != 0 {
			return fail(fmt.Errorf("mem:// URLs take no query parameters"))
		}
		l.Bucket, l.shared = memBucket(u.Host), true
		return l, nil
	case "s3", "gs", "azblob":
		if u.Host == "" {
			return fail(fmt.Errorf("no bucket name"))
		}
		l.query = q
		bu := &url.URL{Scheme: u.Scheme, Host: u.Host, RawQuery: q.Encode()}
		var b *blob.Bucket
		switch u.Scheme {
		case "gs":
			b, err = openGCS(ctx, bu)
		case "s3":
			b, err = openS3(ctx, bu)
		default:
			b, err = openAzure(ctx, bu)
		}
		if err != nil {
			return fail(err)
		}
		l.Bucket = b
		return l, nil
	default:
		return fail(&SchemeError{Scheme: u.Scheme})
	}
}

// ErrUnsupportedScheme is returned by Open for a URL of no known store: a
// mistake in the reference, not a failing store.
var ErrUnsupportedScheme = errors.New("unsupported scheme")

// Close releases the bucket. mem:// buckets live on for the whole process.
func (l *Location) Close() error {
	if l.shared || l.Bucket == nil {
		return nil
	}
	return l.Bucket.Close()
}

// Key returns the key of rel inside the location; see Join.
func (l *Location) Key(rel string) (string, error) {
	k, err := Join(l.Prefix, rel)
	if err != nil {
		return "", l.Wrap(l.Prefix, err)
	}
	return k, nil
}

// NameOf returns the user-facing name of key, for messages: a path for
// local files, else scheme://bucket/key, never with secrets.
func (l *Location) NameOf(key string) string {
	switch l.Scheme {
	case "file":
		return "/" + key
	default:
		return l.Scheme + "://" + l.Name + "/" + key
	}
}

// Wrap prefixes err with the name of key and removes secrets from its
// message. Use it for errors of direct l.Bucket calls.
func (l *Location) Wrap(key string, err error) error {
	if err == nil {
		return nil
	}
	return &redactedError{msg: scrub(l.NameOf(key)+": "+reason(err), l.secrets), err: err}
}

// gocloudPrefix is what gocloud puts before a store's error: the key, which
// Wrap names already, and the error's code.
var gocloudPrefix = regexp.MustCompile(`^blob \(key "(?:[^"\\]|\\.)*"\) \(code=(\w+)\): `)

// reason is err's message as a user reads it after the object's name: a
// local file's system error alone ("permission denied"), a store's error
// with its code but without gocloud's repetition of the key.
func reason(err error) string {
	var pe *fs.PathError
	if errors.As(err, &pe) {
		return pe.Err.Error()
	}
	msg := err.Error()
	if m := gocloudPrefix.FindStringSubmatch(msg); m != nil {
		rest := msg[len(m[0]):]
		if m[1] == "Unknown" {
			return rest
		}
		return m[1] + ": " + rest
	}
	return msg
}

// isLocal reports whether ref is a file system path or file: URL.
func isLocal(ref string) bool {
	return strings.HasPrefix(ref, "file:") || !strings.Contains(ref, "://")
}

// localPath returns the cleaned absolute path of a path or file: URL.
// Accepted: /p, rel/p, file:/p (Flink's form), file:///p, file://localhost/p.
func localPath(ref string) (string, error) {
	p := ref
	if rest, ok := strings.CutPrefix(ref, "file:"); ok {
		u, err := url.Parse(ref)
		if err != nil {
			return "", fmt.Errorf("not a file URL: %v", err)
		}
		if u.RawQuery != "" {
			return "", fmt.Errorf("file URLs take no query parameters")
		}
		switch {
		case u.Host == "" || u.Host == "localhost":
			p = u.Path
		case u.Host == ".": // gocloud's relative form file://./rel
			p = strings.TrimPrefix(u.Path, "/")
		default:
			return "", fmt.Errorf("file URL with host %q", u.Host)
		}
		if p == "" {
			return "", fmt.Errorf("file URL without a path: %q", rest)
		}
	}
	abs, err := filepath.Abs(p)
	if err != nil {
		return "", err
	}
	return abs, nil
}

// The local file system is one bucket rooted at "/". Writes skip fileblob's
// ".attrs" sidecar files and put the temporary file next to the target, so
// users' snapshot folders hold only what we mean to write and renames never
// cross devices.
var (
	rootOnce sync.Once
	rootB    *blob.Bucket
	rootErr  error
)

func openLocal(_ context.Context, dir string) (*Location, error) {
	rootOnce.Do(func() {
		rootB, rootErr = fileblob.OpenBucket("/", &fileblob.Options{
			Metadata:  fileblob.MetadataDontWrite,
			NoTempDir: true,
		})
	})
	if rootErr != nil {
		return nil, fmt.Errorf("open %s: %w", dir, rootErr)
	}
	l := &Location{Bucket: rootB, Scheme: "file", Display: dir, shared: true}
	// The directory itself may be a link (a common layout for data disks).
	// A file (a _metadata reference) keeps its name: only its directory is
	// resolved, so that relative names resolve where Flink resolves them.
	key := ""
	if fi, err := os.Stat(dir); err == nil && fi.IsDir() {
		if r, err := filepath.EvalSymlinks(dir); err == nil {
			dir = r
		}
		key = strings.TrimPrefix(dir, "/")
	} else {
		key = l.localKey(dir)
	}
	if key != "" {
		l.Prefix = key + "/"
	}
	return l, nil
}

// localKey maps an absolute path to its key, resolving symbolic links in
// the path's directory when it exists. Flink records paths as configured,
// which may go through a link, and fileblob lists without following links;
// resolving both the location and every referenced path keeps keys
// comparable. Resolved directories are cached, so mapping the thousands of
// files of one shared/ folder costs one resolution.
func (l *Location) localKey(abs string) string {
	dir, base := filepath.Split(filepath.Clean(abs))
	if base == "" { // the root
		return ""
	}
	l.linkMu.Lock()
	defer l.linkMu.Unlock()
	if l.links == nil {
		l.links = map[string]string{}
	}
	rd, ok := l.links[dir]
	if !ok {
		rd = filepath.Clean(dir)
		if r, err := filepath.EvalSymlinks(dir); err == nil {
			rd = r
		}
		l.links[dir] = rd
	}
	return strings.TrimPrefix(filepath.Join(rd, base), "/")
}

var (
	memMu      sync.Mutex
	memBuckets = map[string]*blob.Bucket{}
)

// memBucket returns the process-wide in-memory bucket called name, so that
// separate Opens of mem://name see the same objects (tests, benchmarks).
func memBucket(name string) *blob.Bucket {
	memMu.Lock()
	defer memMu.Unlock()
	b, ok := memBuckets[name]
	if !ok {
		b = memblob.OpenBucket(nil)
		memBuckets[name] = b
	}
	return b
}
