package store_test

import (
	"bytes"
	"context"
	"crypto/md5"
	"fmt"
	"hash/crc32"
	"io"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/fsnap/fsnap/internal/testservers"
	"github.com/fsnap/fsnap/store"
)

// backend gives the URL of a fresh, empty directory "root/dir" in each
// kind of store; the bucket URL is also returned.
type backend struct {
	name string
	make func(t *testing.T) (dirURL, bucketURL string)
}

var memN int
var memMu sync.Mutex

func backends() []backend {
	bs := []backend{
		{"file", func(t *testing.T) (string, string) {
			d := t.TempDir()
			return filepath.Join(d, "root", "dir"), d
		}},
		{"mem", func(t *testing.T) (string, string) {
			memMu.Lock()
			memN++
			n := memN
			memMu.Unlock()
			b := fmt.Sprintf("mem://t%d", n)
			return b + "/root/dir", b
		}},
	}
	for _, k := range testservers.Kinds {
		bs = append(bs, backend{string(k), func(t *testing.T) (string, string) {
			b := testservers.Shared(t, k).NewBucket(t)
			return withPath(t, b, "root/dir"), b
		}})
	}
	return bs
}

// withPath puts p into the path of a bucket URL, keeping its query.
func withPath(t testing.TB, bucketURL, p string) string {
	u, err := url.Parse(bucketURL)
	if err != nil {
		t.Fatal(err)
	}
	u.Path = "/" + p
	return u.String()
}

func put(t *testing.T, l *store.Location, key string, data []byte) {
	t.Helper()
	if err := l.Bucket.WriteAll(context.Background(), key, data, nil); err != nil {
		t.Fatal(l.Wrap(key, err))
	}
}

// TestStores runs the same checks against every kind of store.
func TestStores(t *testing.T) {
	for _, b := range backends() {
		t.Run(b.name, func(t *testing.T) {
			t.Parallel()
			dirURL, _ := b.make(t)
			l := testservers.Open(t, dirURL)
			if l.Prefix != "root/dir/" && !strings.HasSuffix(l.Prefix, "/root/dir/") {
				t.Fatalf("Prefix = %q", l.Prefix)
			}
			t.Run("ReadWriteStat", func(t *testing.T) { testReadWriteStat(t, b.name, l) })
			t.Run("List", func(t *testing.T) { testList(t, l) })
			t.Run("Snapshot", func(t *testing.T) { testSnapshot(t, dirURL, l) })
		})
	}
}

func testReadWriteStat(t *testing.T, kind string, l *store.Location) {
	ctx := context.Background()
	data := []byte("0123456789abcdefghijklmnopqrstuvwxyz")
	key, err := l.Key("sub/obj")
	if err != nil {
		t.Fatal(err)
	}
	before := time.Now().Add(-2 * time.Second)
	put(t, l, key, data)

	got, err := l.ReadAll(ctx, key, int64(len(data)))
	if err != nil || !bytes.Equal(got, data) {
		t.Fatalf("ReadAll = %q, %v", got, err)
	}
	_, err = l.ReadAll(ctx, key, int64(len(data))-1)
	if err == nil || !strings.Contains(err.Error(), "36 bytes, more than the limit of 35") {
		t.Fatalf("ReadAll over the limit: %v", err)
	}
	if !strings.Contains(err.Error(), l.NameOf(key)) {
		t.Errorf("error %q does not name %q", err, l.NameOf(key))
	}

	o, err := l.Stat(ctx, key)
	if err != nil {
		t.Fatal(err)
	}
	if o.Key != key || o.Size != int64(len(data)) {
		t.Errorf("Stat = %+v", o)
	}
	if o.ModTime.Before(before) || o.ModTime.After(time.Now().Add(2*time.Second)) {
		t.Errorf("ModTime %v not around now", o.ModTime)
	}
	sum := md5.Sum(data)
	if kind == "file" {
		if o.MD5 != nil {
			t.Errorf("local MD5 without sidecar: %x", o.MD5)
		}
	} else if !bytes.Equal(o.MD5, sum[:]) {
		t.Errorf("MD5 = %x, want %x", o.MD5, sum)
	}
	if want := kind == "gs"; o.HasCRC32C != want {
		t.Errorf("HasCRC32C = %v", o.HasCRC32C)
	} else if want && o.CRC32C != crc32.Checksum(data, crc32.MakeTable(crc32.Castagnoli)) {
		t.Errorf("CRC32C = %08x", o.CRC32C)
	}

	r, err := l.NewRangeReader(ctx, key, 10, 6)
	if err != nil {
		t.Fatal(err)
	}
	part, err := io.ReadAll(r)
	r.Close()
	if err != nil || string(part) != "abcdef" {
		t.Errorf("range [10,16) = %q, %v", part, err)
	}
	r, err = l.NewRangeReader(ctx, key, 30, -1)
	if err != nil {
		t.Fatal(err)
	}
	part, _ = io.ReadAll(r)
	r.Close()
	if string(part) != "uvwxyz" {
		t.Errorf("range [30,end) = %q", part)
	}

	missing, _ := l.Key("no/such")
	if _, err := l.Stat(ctx, missing); !store.IsNotExist(err) {
		t.Errorf("Stat missing: %v", err)
	}
	if _, err := l.ReadAll(ctx, missing, 10); !store.IsNotExist(err) {
		t.Errorf("ReadAll missing: %v", err)
	}
	if ok, err := l.Exists(ctx, missing); ok || err != nil {
		t.Errorf("Exists missing = %v, %v", ok, err)
	}
	if _, err := l.Key("../escape"); err == nil {
		t.Error("Key accepted ../escape")
	}
}

// testList writes more objects than one page holds and lists them.
func testList(t *testing.T, l *store.Location) {
	ctx := context.Background()
	const n = store.DefaultPageSize + 37
	base := l.Prefix + "many/"
	var wg sync.WaitGroup
	errs := make(chan error, n)
	sem := make(chan struct{}, 16)
	for i := range n {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer func() { <-sem; wg.Done() }()
			key := fmt.Sprintf("%sf%05d", base, i)
			if err := l.Bucket.WriteAll(ctx, key, []byte(key), nil); err != nil {
				errs <- l.Wrap(key, err)
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	put(t, l, base+"z/deeper/obj", []byte("x"))

	i := 0
	for o, err := range l.List(ctx, base, "") {
		if err != nil {
			t.Fatal(err)
		}
		want := fmt.Sprintf("%sf%05d", base, i)
		if i == n {
			want = base + "z/deeper/obj"
		}
		if o.Key != want || o.IsDir {
			t.Fatalf("object %d = %q (dir %v), want %q", i, o.Key, o.IsDir, want)
		}
		if i < n && o.Size != int64(len(want)) {
			t.Fatalf("%s size %d", o.Key, o.Size)
		}
		i++
	}
	if i != n+1 {
		t.Fatalf("listed %d objects, want %d", i, n+1)
	}

	// Explicit pages of 400 with a delimiter: "z/" is one directory entry.
	var keys []string
	pages := 0
	token := ""
	for {
		page, next, err := l.ListPage(ctx, base, "/", token, 400)
		if err != nil {
			t.Fatal(err)
		}
		pages++
		if len(page) > 410 { // GCS may add directory entries to a full page
			t.Fatalf("page of %d", len(page))
		}
		for _, o := range page {
			// fake-gcs-server repeats every prefix on every page (real GCS
			// does not: "duplicate prefixes are omitted").
			if o.IsDir && l.Scheme == "gs" && slices.Contains(keys, o.Key) {
				continue
			}
			keys = append(keys, o.Key)
			if o.IsDir != strings.HasSuffix(o.Key, "/") {
				t.Fatalf("%q IsDir=%v", o.Key, o.IsDir)
			}
		}
		if next == "" {
			break
		}
		token = next
	}
	if l.Scheme == "gs" { // and puts them on the first page, out of order
		slices.Sort(keys)
	}
	if !slices.IsSorted(keys) {
		t.Error("delimited listing out of order")
	}
	if len(keys) != n+1 || keys[n] != base+"z/" || pages < 3 {
		t.Fatalf("%d keys in %d pages, last %q", len(keys), pages, keys[len(keys)-1])
	}
}

func testSnapshot(t *testing.T, dirURL string, l *store.Location) {
	ctx := context.Background()
	meta := []byte("metadata bytes")
	put(t, l, l.Prefix+"chk-3/_metadata", meta)
	put(t, l, l.Prefix+"chk-3/state-1", []byte("s"))
	put(t, l, l.Prefix+"chk-4/state-1", []byte("s"))

	sub := func(p string) string {
		if u, err := url.Parse(dirURL); err == nil && u.Scheme != "" {
			u.Path += "/" + p
			return u.String()
		}
		return dirURL + "/" + p
	}
	for _, ref := range []string{sub("chk-3"), sub("chk-3/"), sub("chk-3/_metadata")} {
		s, err := store.OpenSnapshot(ctx, ref)
		if err != nil {
			t.Fatalf("%s: %v", ref, err)
		}
		if s.Prefix != l.Prefix+"chk-3/" || s.MetadataKey != l.Prefix+"chk-3/_metadata" {
			t.Errorf("%s: Prefix %q MetadataKey %q", ref, s.Prefix, s.MetadataKey)
		}
		got, err := s.ReadAll(ctx, s.MetadataKey, 1<<20)
		if err != nil || !bytes.Equal(got, meta) {
			t.Errorf("%s: metadata %q, %v", ref, got, err)
		}
		s.Close()
	}
	// A file of another name is taken as the metadata file, as Flink does
	// (its bytes then say whether it is one); on a local disk, too, where
	// the first guess, a key below it, is a path through a file.
	s, err := store.OpenSnapshot(ctx, sub("chk-3/state-1"))
	if err != nil {
		t.Fatalf("a state file as the snapshot: %v", err)
	}
	if s.MetadataKey != l.Prefix+"chk-3/state-1" {
		t.Errorf("a state file as the snapshot: MetadataKey %q", s.MetadataKey)
	}
	s.Close()
	for ref, want := range map[string]string{
		sub("chk-4"):           "not a snapshot: no _metadata",
		sub("chk-9"):           "no such snapshot",
		sub("chk-3/state-1/x"): "no such snapshot",
	} {
		_, err := store.OpenSnapshot(ctx, ref)
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%s: err %v, want %q", ref, err, want)
		}
	}

	// A Flink path into this bucket maps back to the same key.
	var fp string
	switch l.Scheme {
	case "file":
		fp = "file:/" + l.Prefix + "chk-3/state-1"
	case "azblob":
		fp = "wasbs://" + l.Name + "@" + testservers.AzureAccount + ".blob.core.windows.net/" + l.Prefix + "chk-3/state-1"
	case "s3":
		fp = "s3p://" + l.Name + "/" + l.Prefix + "chk-3/state-1"
	default:
		fp = l.Scheme + "://" + l.Name + "/" + l.Prefix + "chk-3/state-1"
	}
	p, err := store.ParseFlinkPath(fp)
	if err != nil {
		t.Fatal(err)
	}
	key, ok := l.KeyOf(p)
	if !ok || key != l.Prefix+"chk-3/state-1" {
		t.Fatalf("KeyOf(%s) = %q, %v", fp, key, ok)
	}
	if got, err := l.ReadAll(ctx, key, 10); err != nil || string(got) != "s" {
		t.Fatalf("read %s: %q, %v", key, got, err)
	}
	other := p
	other.Bucket += "-other"
	if _, ok := l.KeyOf(other); ok && l.Scheme != "file" {
		t.Errorf("KeyOf matched bucket %q", other.Bucket)
	}
	// The sibling opener reaches the same object with the same parameters.
	sib, err := l.OpenSibling(ctx, p)
	if err != nil {
		t.Fatal(err)
	}
	defer sib.Close()
	if k, ok := sib.KeyOf(p); !ok || k != key || sib.Prefix != l.Prefix+"chk-3/" {
		t.Fatalf("sibling KeyOf = %q, %v; prefix %q", k, ok, sib.Prefix)
	}
	if got, err := sib.ReadAll(ctx, key, 10); err != nil || string(got) != "s" {
		t.Fatalf("sibling read: %q, %v", got, err)
	}
}

// Writing to a local folder leaves only the files written: no ".attrs"
// sidecars, no temporary files.
func TestLocalWritesNoSidecars(t *testing.T) {
	dir := t.TempDir()
	l := testservers.Open(t, "file://"+dir)
	put(t, l, l.Prefix+"a/b", []byte("data"))
	put(t, l, l.Prefix+"c", []byte("more"))
	var files []string
	filepath.WalkDir(dir, func(p string, d os.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			rel, _ := filepath.Rel(dir, p)
			files = append(files, rel)
		}
		return nil
	})
	if strings.Join(files, ",") != "a/b,c" {
		t.Fatalf("files written: %v", files)
	}
}

// A location reached through a symbolic link lists, and Flink paths
// written through the link map to the same keys.
func TestLocalSymlink(t *testing.T) {
	real := t.TempDir()
	link := filepath.Join(t.TempDir(), "link")
	if err := os.Symlink(real, link); err != nil {
		t.Fatal(err)
	}
	os.MkdirAll(filepath.Join(real, "shared"), 0o755)
	os.WriteFile(filepath.Join(real, "shared", "f"), []byte("x"), 0o644)

	l := testservers.Open(t, link)
	var keys []string
	for o, err := range l.List(context.Background(), l.Prefix, "") {
		if err != nil {
			t.Fatal(err)
		}
		keys = append(keys, o.Key)
	}
	p, err := store.ParseFlinkPath("file:" + link + "/shared/f")
	if err != nil {
		t.Fatal(err)
	}
	k, ok := l.KeyOf(p)
	if len(keys) != 1 || !ok || k != keys[0] {
		t.Fatalf("listed %v; KeyOf(%s) = %q, %v", keys, p.Raw, k, ok)
	}
}

func TestOpenForms(t *testing.T) {
	ctx := context.Background()
	wd, _ := os.Getwd()
	for ref, prefix := range map[string]string{
		"/tmp/x":                        "tmp/x/",
		"/tmp/x/":                       "tmp/x/",
		"file:/tmp/x":                   "tmp/x/",
		"file:///tmp/x":                 "tmp/x/",
		"file://localhost/tmp":          "tmp/",
		"rel/dir":                       strings.TrimPrefix(wd, "/") + "/rel/dir/",
		"mem://a/b/c":                   "b/c/",
		"mem://a":                       "",
		"s3://bkt/p/q?region=eu-west-1": "p/q/",
		"gs://bkt/":                     "",
	} {
		l, err := store.Open(ctx, ref)
		if err != nil {
			t.Errorf("%s: %v", ref, err)
			continue
		}
		if l.Prefix != prefix {
			t.Errorf("%s: Prefix %q, want %q", ref, l.Prefix, prefix)
		}
		l.Close()
	}
	for ref, want := range map[string]string{
		"":                      "empty location",
		"ftp://host/x":          `unsupported scheme "ftp"`,
		"s3:///p":               "no bucket name",
		"s3://b/p?prefix=x":     "put the prefix in the URL path",
		"s3://b/a/../b":         `".." path element`,
		"file://host/x":         "file URL with host",
		"mem://a?x=1":           "mem:// URLs take no query parameters",
		"s3://b?bogus=1":        "unknown query parameter",
		"s3://user:pw@b/x":      "user info",
		"azblob://c?sig=x&sv=2": "unknown query parameter",
	} {
		_, err := store.Open(ctx, ref)
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("Open(%q) = %v, want %q", ref, err, want)
		}
	}
}

// Secrets in URLs never reach Display or errors.
func TestRedaction(t *testing.T) {
	ctx := context.Background()
	const secret = "TopSecret+Value/42=="
	for _, ref := range []string{
		"s3://user:" + secret + "@bucket/p",
		"azblob://c/p?sig=" + url.QueryEscape(secret) + "&sv=2024-01-01",
		"s3://b/p?aws_secret_access_key=" + url.QueryEscape(secret),
		"gs://b/p?token=" + url.QueryEscape(secret),
		"s3://b/p?%zz" + secret, // unparsable
	} {
		_, err := store.Open(ctx, ref)
		if err == nil {
			t.Errorf("Open(%q) succeeded", ref)
			continue
		}
		for _, form := range []string{secret, url.QueryEscape(secret), "TopSecret"} {
			if strings.Contains(err.Error(), form) {
				t.Errorf("error shows the secret: %v", err)
			}
		}
		if !strings.Contains(err.Error(), store.Redacted) {
			t.Errorf("error does not say REDACTED: %v", err)
		}
		if d := store.RedactURL(ref); strings.Contains(d, "TopSecret") {
			t.Errorf("RedactURL(%q) = %q", ref, d)
		}
	}
	if got, want := store.RedactURL("azblob://c/p?domain=h&sig=abc%2Bdef&sv=1"), "azblob://c/p?domain=h&sig=REDACTED&sv=1"; got != want {
		t.Errorf("RedactURL = %q, want %q", got, want)
	}

	// Secrets held in the environment are scrubbed from driver errors too.
	t.Setenv("AZURE_STORAGE_KEY", secret)
	l := testservers.Open(t, "mem://redact/p")
	err := l.Wrap("k", fmt.Errorf("driver said: bad key %s", secret))
	if strings.Contains(err.Error(), "TopSecret") || !strings.Contains(err.Error(), "mem://redact/k: driver said: bad key REDACTED") {
		t.Errorf("Wrap = %v", err)
	}
}

// Display is the reference as given when it holds no secret.
func TestDisplay(t *testing.T) {
	l := testservers.Open(t, "mem://d/p")
	if l.Display != "mem://d/p" || l.NameOf("p/x") != "mem://d/p/x" {
		t.Errorf("Display %q NameOf %q", l.Display, l.NameOf("p/x"))
	}
	s := testservers.Shared(t, testservers.S3)
	u := s.NewBucket(t) + "&rate_limiter_capacity=5"
	l = testservers.Open(t, u)
	if l.Display != u {
		t.Errorf("Display %q, want %q", l.Display, u)
	}
}

// TestRedactNested (issue 20, item 6): the password of an endpoint URL
// inside a location's query, and every URL in a message, are redacted by
// the one redactor; a URL at the end of "URL: message" keeps its colon.
func TestRedactNested(t *testing.T) {
	ref := "s3://bkt/ckpt?endpoint=http://minio:EndpointPw42@127.0.0.1:1&region=r"
	if got := store.RedactURL(ref); strings.Contains(got, "EndpointPw42") || !strings.Contains(got, "REDACTED") {
		t.Errorf("RedactURL = %q", got)
	}
	_, err := store.Open(context.Background(), ref+"&bogus=1")
	if err == nil || strings.Contains(err.Error(), "EndpointPw42") || !strings.Contains(err.Error(), `: unknown query parameter "bogus"`) {
		t.Errorf("Open: %v", err)
	}
	msg := `Get "http://u:pw1234@h:9/b?max-keys=1000&X-Amz-Signature=abcdef": refused; dst wasbs://c@a.blob.core.windows.net/p?sig=zzzz9999.`
	got := store.Redact(msg)
	for _, s := range []string{"pw1234", "abcdef", "zzzz9999"} {
		if strings.Contains(got, s) {
			t.Errorf("Redact shows %s: %s", s, got)
		}
	}
	if !strings.Contains(got, "max-keys=1000") || !strings.Contains(got, `": refused; dst`) || !strings.HasSuffix(got, ".") {
		t.Errorf("Redact garbled the message: %s", got)
	}
	var b strings.Builder
	w := store.RedactingWriter(&b, "s3://b/p?session_token=SessTok42x")
	fmt.Fprintf(w, `{"dst": "s3://b/p?a=1\u0026session_token=SessTok42x"}`)
	if strings.Contains(b.String(), "SessTok42x") {
		t.Errorf("writer: %s", b.String())
	}
}

// TestAzureDeadEndpointWriteNoPanic (issue 20, item 8): a write to an
// Azure endpoint that refuses connections returns an error; gocloud's
// azureblob writer panics in Close there (a nil pipe), which CloseWriter
// turns into that error.
func TestAzureDeadEndpointWriteNoPanic(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close() // nothing listens there now
	t.Setenv("AZURE_STORAGE_ACCOUNT", "devstoreaccount1")
	t.Setenv("AZURE_STORAGE_KEY", "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw==")
	l, err := store.Open(context.Background(), "azblob://c/p?protocol=http&domain="+addr+"&storage_account=devstoreaccount1")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	err = l.WriteObject(context.Background(), "f", func(w io.Writer) error {
		_, err := w.Write([]byte("small"))
		return err
	})
	if err == nil || !strings.Contains(err.Error(), "azblob://c/p/f") {
		t.Errorf("write to a dead endpoint: %v", err)
	}
}
