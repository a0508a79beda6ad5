package store_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/fsnap/fsnap/internal/corpus"
	"github.com/fsnap/fsnap/internal/testservers"
	"github.com/fsnap/fsnap/store"
)

func TestJoin(t *testing.T) {
	for _, c := range []struct{ dir, rel, want string }{
		{"a/", "b", "a/b"},
		{"", "b/c", "b/c"},
		{"a/", "b/", "a/b/"},
		{"a/", "..b", "a/..b"},
		{"a/", "b..", "a/b.."},
		{"a/", ".hidden", "a/.hidden"},
		{"a/", "8f3a-uuid_state", "a/8f3a-uuid_state"},
	} {
		got, err := store.Join(c.dir, c.rel)
		if err != nil || got != c.want {
			t.Errorf("Join(%q, %q) = %q, %v; want %q", c.dir, c.rel, got, err, c.want)
		}
	}
	for _, c := range []struct{ dir, rel, why string }{
		{"a/", "", "empty"},
		{"a/", "..", `".." path element`},
		{"a/", "../b", `".." path element`},
		{"a/", "b/../../c", `".." path element`},
		{"a/", "b/..", `".." path element`},
		{"a/", ".", `"." path element`},
		{"a/", "./b", `"." path element`},
		{"a/", "/etc/passwd", "absolute"},
		{"a/", "/", "absolute"},
		{"a/", "b//c", "empty path element"},
		{"a/", "b\x00c", "NUL"},
		{"a/", `..\b`, "backslash"},
		{"a/", `b\c`, "backslash"},
		{"a", "b", `does not end in "/"`},
	} {
		got, err := store.Join(c.dir, c.rel)
		if err == nil || !strings.Contains(err.Error(), c.why) {
			t.Errorf("Join(%q, %q) = %q, %v; want error %q", c.dir, c.rel, got, err, c.why)
		}
	}
}

func TestParseFlinkPath(t *testing.T) {
	for raw, want := range map[string]store.FlinkPath{
		"file:/tmp/x/shared/abc":                       {Scheme: "file", Store: "file", Key: "tmp/x/shared/abc"},
		"file:///tmp/x/shared/abc":                     {Scheme: "file", Store: "file", Key: "tmp/x/shared/abc"},
		"file://localhost/tmp/a":                       {Scheme: "file", Store: "file", Key: "tmp/a"},
		"/tmp/x/a b%20c":                               {Store: "file", Key: "tmp/x/a b%20c"},
		"s3://b/p/shared/abc":                          {Scheme: "s3", Store: "s3", Bucket: "b", Key: "p/shared/abc"},
		"s3a://b/p/x":                                  {Scheme: "s3a", Store: "s3", Bucket: "b", Key: "p/x"},
		"S3P://b/p/x":                                  {Scheme: "s3p", Store: "s3", Bucket: "b", Key: "p/x"},
		"s3n://b/x":                                    {Scheme: "s3n", Store: "s3", Bucket: "b", Key: "x"},
		"gs://bkt/ck/chk-1/_metadata":                  {Scheme: "gs", Store: "gs", Bucket: "bkt", Key: "ck/chk-1/_metadata"},
		"wasbs://cont@acct.blob.core.windows.net/ck/f": {Scheme: "wasbs", Store: "azblob", Bucket: "cont", Account: "acct", Key: "ck/f"},
		"abfss://cont@acct.dfs.core.windows.net/ck/f":  {Scheme: "abfss", Store: "azblob", Bucket: "cont", Account: "acct", Key: "ck/f"},
		"hdfs://namenode:8020/flink/ck/f":              {Scheme: "hdfs", Bucket: "namenode:8020", Key: "flink/ck/f"},
		"oss://b/k":                                    {Scheme: "oss", Bucket: "b", Key: "k"},
	} {
		got, err := store.ParseFlinkPath(raw)
		want.Raw = raw
		if err != nil || got != want {
			t.Errorf("ParseFlinkPath(%q) =\n %+v, %v\nwant %+v", raw, got, err, want)
		}
	}
	for raw, why := range map[string]string{
		"relative/path":                        "not absolute",
		"file:relative":                        "not absolute",
		"s3:///k":                              "no bucket",
		"s3://b":                               "no file name",
		"s3://b/":                              "no file name",
		"s3://b/p/../x":                        `".." path element`,
		"file:/tmp//x":                         "empty path element",
		"file://host/tmp/x":                    "file path with a host",
		"wasbs://acct.blob.core.windows.net/x": "container@account",
	} {
		if _, err := store.ParseFlinkPath(raw); err == nil || !strings.Contains(err.Error(), why) {
			t.Errorf("ParseFlinkPath(%q) error %v, want %q", raw, err, why)
		}
	}
}

// KeyOf never maps a path of another kind of store or an unknown scheme.
func TestKeyOfForeign(t *testing.T) {
	l := testservers.Open(t, "mem://k/dir")
	for _, raw := range []string{"file:/dir/x", "s3://k/dir/x", "hdfs://k/dir/x", "mem://other/dir/x"} {
		p, err := store.ParseFlinkPath(raw)
		if err != nil {
			t.Fatal(err)
		}
		if key, ok := l.KeyOf(p); ok {
			t.Errorf("KeyOf(%s) = %q", raw, key)
		}
	}
	p, _ := store.ParseFlinkPath("mem://k/dir/x")
	if key, ok := l.KeyOf(p); !ok || key != "dir/x" {
		t.Errorf("KeyOf(mem://k/dir/x) = %q, %v", key, ok)
	}
}

// Real Flink-written folders open, resolve and list as the file system
// shows them (the manifest's byte counts include the directory itself).
func TestCorpusFolders(t *testing.T) {
	entries := corpus.Require(t)
	ctx := context.Background()
	for _, e := range entries {
		s, err := store.OpenSnapshot(ctx, e.Dir)
		if err != nil {
			t.Errorf("%s: %v", e.Name, err)
			continue
		}
		want, err := os.ReadFile(filepath.Join(e.Dir, "_metadata"))
		if err != nil {
			t.Fatal(err)
		}
		got, err := s.ReadAll(ctx, s.MetadataKey, 64<<20)
		if err != nil || string(got) != string(want) {
			t.Errorf("%s: _metadata %d bytes, want %d: %v", e.Name, len(got), len(want), err)
		}
		var files int
		var bytes int64
		for o, err := range s.List(ctx, s.Prefix, "") {
			if err != nil {
				t.Fatal(err)
			}
			files++
			bytes += o.Size
		}
		var wantBytes int64
		filepath.WalkDir(e.Dir, func(p string, d os.DirEntry, err error) error {
			if err == nil && d.Type().IsRegular() {
				fi, _ := d.Info()
				wantBytes += fi.Size()
			}
			return err
		})
		if files != e.Files || bytes != wantBytes {
			t.Errorf("%s: listed %d files, %d bytes; want %d, %d", e.Name, files, bytes, e.Files, wantBytes)
		}
		s.Close()
	}
}

// List and ListPage walk local folders themselves (fileblob pages in
// O(n²), and in path order, which loses or repeats objects named like
// "b-c/q" next to "b/x"); both must give the store's key order exactly, on
// an awkward tree, for every prefix, with and without the delimiter,
// resuming pages at every position.
func TestLocalList(t *testing.T) {
	dir := t.TempDir()
	var files []string
	for _, f := range []string{
		"a", "a-b", "a.txt", "b/x", "b/y/z", "b-c/q", "b.d", "bb/1", "c/d/e/f",
		"c/d.attrs", "c/k", "d/", "e/empty/", "f/g/", "f/h", "x.attrs", "_metadata", "Z", "~",
		"chk-1/_metadata", "chk-10/_metadata", "chk-1-x/y", "chk-2/", "shared/8f3a-1", "shared/8f3a",
	} {
		p := filepath.Join(dir, f)
		if strings.HasSuffix(f, "/") {
			os.MkdirAll(p, 0o755)
			continue
		}
		os.MkdirAll(filepath.Dir(p), 0o755)
		os.WriteFile(p, []byte(f), 0o644)
		if !strings.HasSuffix(f, ".attrs") {
			files = append(files, f)
		}
	}
	ctx := context.Background()
	l := testservers.Open(t, dir)
	for _, prefix := range []string{"", "a", "b", "b/", "b/y/", "c/", "e/", "f", "nope/", "b-", "chk-1", "shared/8f3a", "a/x/"} {
		for _, delim := range []string{"", "/"} {
			// What any object store answers: sorted keys, collapsed at the
			// first delimiter after the prefix.
			var want []string
			for _, f := range files {
				rest, ok := strings.CutPrefix(f, prefix)
				if !ok {
					continue
				}
				entry := fmt.Sprintf("%s %d false", l.Prefix+f, len(f))
				if i := strings.Index(rest, "/"); delim != "" && i >= 0 {
					entry = l.Prefix + prefix + rest[:i+1] + " 0 true"
				}
				if !slices.Contains(want, entry) {
					want = append(want, entry)
				}
			}
			slices.Sort(want) // by key: " " sorts before every key byte here
			str := func(o store.Object) string { return fmt.Sprintf("%s %d %v", o.Key, o.Size, o.IsDir) }
			var got []string
			for o, err := range l.List(ctx, l.Prefix+prefix, delim) {
				if err != nil {
					t.Fatal(err)
				}
				got = append(got, str(o))
			}
			if !slices.Equal(got, want) {
				t.Errorf("List prefix %q delim %q:\n got  %v\n want %v", prefix, delim, got, want)
			}
			for size := 1; size <= 4; size++ {
				got, token := []string(nil), ""
				for pages := 0; ; pages++ {
					page, next, err := l.ListPage(ctx, l.Prefix+prefix, delim, token, size)
					if err != nil || len(page) > size || pages > 100 {
						t.Fatalf("page %d: %d objects, %v", pages, len(page), err)
					}
					for _, o := range page {
						got = append(got, str(o))
					}
					if token = next; token == "" {
						break
					}
				}
				if !slices.Equal(got, want) {
					t.Errorf("ListPage(%d) prefix %q delim %q:\n got  %v\n want %v", size, prefix, delim, got, want)
				}
			}
		}
	}
}

// A _metadata reached through a link resolves in the link's folder, where
// Flink resolves the snapshot's relative names.
func TestLocalMetadataLink(t *testing.T) {
	a, b := t.TempDir(), t.TempDir()
	os.WriteFile(filepath.Join(a, "real-meta"), []byte("m"), 0o644)
	os.Symlink(filepath.Join(a, "real-meta"), filepath.Join(b, "_metadata"))
	os.WriteFile(filepath.Join(b, "state"), []byte("s"), 0o644)
	s, err := store.OpenSnapshot(context.Background(), filepath.Join(b, "_metadata"))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	rb, _ := filepath.EvalSymlinks(b)
	if s.Prefix != strings.TrimPrefix(rb, "/")+"/" || s.MetadataKey != s.Prefix+"_metadata" {
		t.Fatalf("Prefix %q MetadataKey %q", s.Prefix, s.MetadataKey)
	}
	if got, err := s.ReadAll(context.Background(), s.MetadataKey, 10); err != nil || string(got) != "m" {
		t.Fatalf("read through link: %q, %v", got, err)
	}
}

// TestWrapReason: errors name the object once, with the system's reason
// for a local file and the store's code for others, without gocloud's
// "blob (key …) (code=…)" repetition.
func TestWrapReason(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "file"), []byte("x"), 0o644); err != nil {
		t.Fatal(err)
	}
	l, err := store.Open(ctx, dir)
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	_, err = l.ReadAll(ctx, l.Prefix+"file/below", 1<<20)
	if want := filepath.Join(dir, "file", "below") + ": not a directory"; err == nil || err.Error() != want {
		t.Errorf("local: %v, want %q", err, want)
	}
	m, err := store.Open(ctx, "mem://wrapreason/p")
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	_, err = m.ReadAll(ctx, m.Prefix+"missing", 1<<20)
	if err == nil || !store.IsNotExist(err) || strings.Contains(err.Error(), "blob (key") || !strings.HasPrefix(err.Error(), "mem://wrapreason/p/missing: NotFound: ") {
		t.Errorf("mem: %v", err)
	}
}
