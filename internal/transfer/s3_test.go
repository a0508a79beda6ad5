package transfer

import (
	"bytes"
	"context"
	"crypto/md5"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/fsnap/fsnap/internal/testservers"
	"github.com/fsnap/fsnap/store"
)

// TestCopyToS3 copies to a real S3 server (MinIO): small objects go up in
// one PutObject with Content-MD5, so a source whose recorded MD5 does not
// match its bytes is refused by the server and nothing is stored; larger
// ones through the multipart writer.
func TestCopyToS3(t *testing.T) {
	ctx := context.Background()
	srcDir := t.TempDir()
	src := testservers.Open(t, srcDir)
	mem := testservers.Open(t, "mem://transfer-to-s3")
	dst := testservers.Open(t, testservers.Shared(t, testservers.S3).NewBucket(t))
	small, large := randBytes(300_000, 1), randBytes(17<<20+123, 2)
	os.WriteFile(filepath.Join(srcDir, "small"), small, 0o644)
	os.WriteFile(filepath.Join(srcDir, "large"), large, 0o644)
	put(t, mem, "small", small)
	sum := md5.Sum(small)
	wrong := md5.Sum(large)

	e := New(Options{PartSize: 5 << 20, NoServerSide: true})
	res := e.Copy(ctx, []File{
		{Src: Object{src, src.Prefix + "small"}, Dst: Object{dst, "a/small"}, Length: -1, Size: int64(len(small))},
		{Src: Object{src, src.Prefix + "large"}, Dst: Object{dst, "a/large"}, Length: -1, Size: int64(len(large))},
		{Src: Object{mem, "small"}, Dst: Object{dst, "b/small"}, Length: -1, Size: int64(len(small))},
		{Src: Object{src, src.Prefix + "large"}, Dst: Object{dst, "a/range"}, Offset: 1000, Length: 200_000, Size: -1},
		// The source store claims another MD5 than its bytes have.
		{Src: Object{src, src.Prefix + "small"}, Dst: Object{dst, "a/corrupt"}, Length: -1, Size: int64(len(small)),
			SrcAttrs: &Attrs{Size: int64(len(small)), MD5: wrong[:]}},
		// The source is longer than the size it was listed with.
		{Src: Object{src, src.Prefix + "small"}, Dst: Object{dst, "a/longer"}, Length: -1, Size: 1000,
			SrcAttrs: &Attrs{Size: 1000}},
	})
	for i, want := range []Problem{"", "", "", "", ChecksumMismatch, SizeMismatch} {
		if ProblemOf(res[i].Err) != want {
			t.Errorf("%d: problem %q, want %q (%v)", i, ProblemOf(res[i].Err), want, res[i].Err)
		}
	}
	for i := range 4 {
		// A multipart upload's ETag is no MD5 but the MD5 of its parts' MD5s.
		want := []string{"size", "md5"}
		if i == 1 {
			want = []string{"size", "etag"}
		}
		if res[i].Outcome != Copied || !slices.Equal(res[i].Checked, want) {
			t.Errorf("%d: %+v, want checked %q", i, res[i], want)
		}
	}
	p := newS3Parts(5 << 20)
	p.Write(large)
	if a, err := dst.Stat(ctx, "a/large"); err != nil || !strings.HasSuffix(a.ETag, `-4"`) {
		t.Errorf("a/large: ETag %s (%v), want a 4-part ETag", a.ETag, err)
	} else if _, ok, known := p.check(a.ETag); !ok || !known {
		t.Errorf("a/large: the parts' ETag does not match %s", a.ETag)
	}
	p.Write([]byte{0})
	if want, ok, known := p.check(`"` + strings.Repeat("0", 32) + `-4"`); ok || !known || !strings.HasSuffix(want, "-4") {
		t.Errorf("a wrong ETag: %s %v %v", want, ok, known)
	}
	if _, _, known := p.check(`"` + strings.Repeat("0", 32) + `-3"`); known {
		t.Error("an ETag of other parts counted as known")
	}
	for key, want := range map[string][]byte{"a/small": small, "a/large": large, "b/small": small, "a/range": large[1000:201_000]} {
		got, err := dst.Bucket.ReadAll(ctx, key)
		if err != nil || !bytes.Equal(got, want) {
			t.Errorf("%s: %d bytes, want %d (%v)", key, len(got), len(want), err)
		}
	}
	a, err := dst.Stat(ctx, "a/small")
	if err != nil || !bytes.Equal(a.MD5, sum[:]) {
		t.Errorf("a/small: MD5 %x, want %x (%v)", a.MD5, sum, err)
	}
	for _, key := range []string{"a/corrupt", "a/longer"} {
		if ok, _ := dst.Bucket.Exists(ctx, key); ok {
			t.Errorf("%s stored despite the problem", key)
		}
	}
	// A re-run finds everything present.
	for i, r := range New(Options{PartSize: 5 << 20}).Copy(ctx, []File{
		{Src: Object{src, src.Prefix + "small"}, Dst: Object{dst, "a/small"}, Length: -1, Size: int64(len(small))},
		{Src: Object{mem, "small"}, Dst: Object{dst, "b/small"}, Length: -1, Size: int64(len(small))},
	}) {
		if r.Err != nil || r.Outcome != Present {
			t.Errorf("re-run %d: %+v", i, r)
		}
	}
}

// TestCopyS3ServerSide copies inside one MinIO, in a bucket and between
// buckets: one CopyObject each, proven by its ETag.
func TestCopyS3ServerSide(t *testing.T) {
	ctx := context.Background()
	srv := testservers.Shared(t, testservers.S3)
	a, b := testservers.Open(t, srv.NewBucket(t)), testservers.Open(t, srv.NewBucket(t))
	data := randBytes(70_000, 5)
	put(t, a, "sp/x", data)
	e := New(Options{})
	res := e.Copy(ctx, []File{
		{Src: Object{a, "sp/x"}, Dst: Object{a, "copy/x"}, Length: -1, Size: int64(len(data))},
		{Src: Object{a, "sp/x"}, Dst: Object{b, "sp/x"}, Length: -1, Size: int64(len(data))},
		{Src: Object{a, "sp/none"}, Dst: Object{b, "sp/none"}, Length: -1, Size: 5},
	})
	for i := range 2 {
		if res[i].Err != nil || res[i].Outcome != ServerSide || !slices.Equal(res[i].Checked, []string{"size", "md5"}) {
			t.Errorf("%d: %+v", i, res[i])
		}
	}
	if ProblemOf(res[2].Err) != Missing {
		t.Errorf("missing source: %+v", res[2])
	}
	for _, o := range []Object{{a, "copy/x"}, {b, "sp/x"}} {
		got, err := o.Loc.Bucket.ReadAll(ctx, o.Key)
		if err != nil || !bytes.Equal(got, data) {
			t.Errorf("%s: %d bytes (%v)", o.Name(), len(got), err)
		}
	}
}

// TestCopyS3Encrypted copies SSE-KMS objects (MinIO's built-in KMS), whose
// ETags — and so their listed MD5s — are not the MD5s of their bytes: no
// copy may be called corrupt for that, nor a re-run a conflict.
func TestCopyS3Encrypted(t *testing.T) {
	ctx := context.Background()
	srv := testservers.Shared(t, testservers.S3)
	kms := "&ssetype=aws:kms&kmskeyid=" + testservers.MinIOKMSKey
	enc, plain, encDst := testservers.Open(t, srv.NewBucket(t)+kms), testservers.Open(t, srv.NewBucket(t)), testservers.Open(t, srv.NewBucket(t)+kms)
	local := testservers.Open(t, t.TempDir())
	data := randBytes(50_000, 6)
	put(t, enc, "sp/x", data)
	put(t, plain, "sp/x", data)
	sum := md5.Sum(data)
	listed := func(l *store.Location, key string) *Attrs {
		t.Helper()
		for o, err := range l.List(ctx, key, "") {
			if err != nil {
				t.Fatal(err)
			}
			return AttrsOf(o)
		}
		t.Fatalf("%s not listed", key)
		return nil
	}
	if a := listed(enc, "sp/x"); bytes.Equal(a.MD5, sum[:]) {
		t.Fatal("MinIO gave an SSE-KMS object its MD5 as ETag: the test would prove nothing")
	}
	files := func() []File {
		src := Object{enc, "sp/x"}
		return []File{
			{Src: src, Dst: Object{plain, "server-side/x"}, Length: -1, Size: int64(len(data)), SrcAttrs: listed(enc, "sp/x")},
			{Src: src, Dst: Object{local, local.Prefix + "x"}, Length: -1, Size: int64(len(data)), SrcAttrs: listed(enc, "sp/x")},
			{Src: Object{plain, "sp/x"}, Dst: Object{encDst, "sp/x"}, Length: -1, Size: int64(len(data)), SrcAttrs: listed(plain, "sp/x")},
		}
	}
	streamed := files()
	streamed[0].Dst.Key = "streamed/x"
	streamed[2].Dst.Key = "streamed/x"
	for _, run := range []struct {
		name  string
		e     *Engine
		files []File
		want  []Outcome
	}{
		{"copy", New(Options{}), files(), []Outcome{ServerSide, Copied, ServerSide}},
		{"streamed", New(Options{NoServerSide: true}), streamed, []Outcome{Copied, Present, Copied}},
		{"re-run", New(Options{}), files(), []Outcome{Present, Present, Present}},
	} {
		for i, r := range run.e.Copy(ctx, run.files) {
			if r.Err != nil || r.Outcome != run.want[i] {
				t.Errorf("%s %d: %+v", run.name, i, r)
			}
		}
	}
	for _, o := range []Object{{plain, "server-side/x"}, {plain, "streamed/x"}, {local, local.Prefix + "x"}, {encDst, "sp/x"}, {encDst, "streamed/x"}} {
		got, err := o.Loc.Bucket.ReadAll(ctx, o.Key)
		if err != nil || !bytes.Equal(got, data) {
			t.Errorf("%s: %d bytes (%v)", o.Name(), len(got), err)
		}
	}
}
