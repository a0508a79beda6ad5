package format

import (
	"bytes"
	"os"
	"path/filepath"
	"reflect"
	"testing"
	"unsafe"

	"github.com/fsnap/fsnap/internal/corpus"
)

// TestParseCopyOwnsItsResult: a parse with Copy gives the model of a plain
// parse of every corpus file although its input is overwritten as soon as
// the parser reports it consumed (here after every operator) and wholly
// once parsed; and the input it reports consumed only grows.
func TestParseCopyOwnsItsResult(t *testing.T) {
	defer func(s int) { consumedStep = s }(consumedStep)
	consumedStep = 1
	for _, e := range corpus.Require(t) {
		b, err := os.ReadFile(filepath.Join(e.Dir, MetadataFileName))
		if err != nil {
			t.Fatal(err)
		}
		want, werr := ParseMetadata(b)
		c := bytes.Clone(b)
		done, calls := 0, 0
		got, err := ParseMetadataWith(c, ParseOptions{Copy: CopyAll, Consumed: func(n int) {
			if n <= done || n > len(c) {
				t.Fatalf("%s: consumed %d bytes after %d, of %d", e.Name, n, done, len(c))
			}
			done, calls = n, calls+1
			for i := range c[:n] {
				c[i] = 0xEE
			}
		}})
		for i := range c {
			c[i] = 0xEE
		}
		if (err == nil) != (werr == nil) {
			t.Fatalf("%s: %v, want %v", e.Name, err, werr)
		}
		if !reflect.DeepEqual(got, want) {
			t.Errorf("%s: the copied model differs from the plain one", e.Name)
		}
		if werr == nil && len(want.Operators) > 1 && calls == 0 {
			t.Errorf("%s: %d operators and no consumed prefix reported", e.Name, len(want.Operators))
		}
	}
}

// TestParseCopyRepeats: equal strings are copied once when they repeat
// nearby, so are equal file handles, and strings of a copied model share
// nothing with the input.
func TestParseCopyRepeats(t *testing.T) {
	o := newOwner(1 << 20)
	in := []byte("000012.sst000012.sst")
	a, b := o.str(string(in[:10])), o.str(string(in[10:]))
	if a != "000012.sst" || b != a {
		t.Fatalf("got %q and %q", a, b)
	}
	if &unsafeBytes(a)[0] != &unsafeBytes(b)[0] {
		t.Error("a repeated string was copied twice")
	}
	if &unsafeBytes(a)[0] == &in[0] || &unsafeBytes(b)[0] == &in[10] {
		t.Error("a copied string points into the input")
	}
	var files slab[RelativeFileHandle]
	cache := make([]*RelativeFileHandle, 2)
	h1 := newFile(&files, cache, 0, RelativeFileHandle{RelativePath: a, Size: 7})
	h2 := newFile(&files, cache, 0, RelativeFileHandle{RelativePath: b, Size: 7})
	h3 := newFile(&files, cache, 0, RelativeFileHandle{RelativePath: a, Size: 8})
	if h4 := newFile(&files, cache, 0, RelativeFileHandle{RelativePath: a, Size: 7}); h4 != h1 {
		t.Error("the older of two handles sharing a slot was made again")
	}
	if h1 != h2 || h1 == h3 || *h3 != (RelativeFileHandle{RelativePath: a, Size: 8}) {
		t.Errorf("handles of one file %p %p, of another size %p %+v", h1, h2, h3, *h3)
	}
	if got := o.bytes([]byte{}); got == nil || len(got) != 0 {
		t.Errorf("empty bytes copied as %#v", got)
	}
	if got := o.bytes(nil); got != nil {
		t.Errorf("nil bytes copied as %#v", got)
	}
}

func unsafeBytes(s string) []byte { return unsafe.Slice(unsafe.StringData(s), len(s)) }

// TestParseCopyStrings: CopyStrings copies the strings of every corpus
// file but leaves inline state pointing into the input (a file of inline
// state is not held twice).
func TestParseCopyStrings(t *testing.T) {
	inline := 0
	for _, e := range corpus.Require(t) {
		b, err := os.ReadFile(filepath.Join(e.Dir, MetadataFileName))
		if err != nil {
			t.Fatal(err)
		}
		m, err := ParseMetadataWith(b, ParseOptions{Copy: CopyStrings})
		if err != nil {
			continue // the unreadable corpus files fail the other tests
		}
		in := func(p *byte) bool {
			return uintptr(unsafe.Pointer(p)) >= uintptr(unsafe.Pointer(&b[0])) &&
				uintptr(unsafe.Pointer(p)) < uintptr(unsafe.Pointer(&b[0]))+uintptr(len(b))
		}
		for n := range m.Walk() {
			if n.Stream == nil {
				continue
			}
			switch h := (*n.Stream).(type) {
			case *ByteStreamHandle:
				if len(h.Data) > 0 {
					inline++
					if !in(&h.Data[0]) {
						t.Fatalf("%s: inline bytes of %q were copied", e.Name, h.Name)
					}
				}
				if h.Name != "" && in(unsafe.StringData(h.Name)) {
					t.Fatalf("%s: handle name %q points into the input", e.Name, h.Name)
				}
			case *RelativeFileHandle:
				if in(unsafe.StringData(h.RelativePath)) {
					t.Fatalf("%s: relative path %q points into the input", e.Name, h.RelativePath)
				}
			case *FileHandle:
				if in(unsafe.StringData(h.Path)) {
					t.Fatalf("%s: path %q points into the input", e.Name, h.Path)
				}
			}
		}
	}
	if inline == 0 {
		t.Fatal("no corpus file has inline state: the test checked nothing")
	}
}
