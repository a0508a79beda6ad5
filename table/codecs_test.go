package table

import (
	"bytes"
	"math/rand/v2"
	"testing"

	"github.com/apache/arrow/go/v15/parquet/compress"
	"github.com/golang/snappy"
)

// TestSnappyPages: the codec arrow/go's Parquet writer uses for Snappy is
// snappyPages, and its pages are byte for byte snappy.Encode's, whatever
// their size, compressibility and the room arrow gives for them.
func TestSnappyPages(t *testing.T) {
	c, err := compress.GetCodec(compress.Codecs.Snappy)
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := c.(snappyPages); !ok {
		t.Fatalf("Parquet's Snappy codec is %T, not snappyPages: the linkname to arrow/go's codec map no longer takes", c)
	}
	r := rand.New(rand.NewPCG(1, 2))
	text := func(n int) []byte { // compressible, about 2:1
		b := make([]byte, n)
		for i := range b {
			b[i] = "abcdefghijklmnop"[r.IntN(16)]
		}
		return b
	}
	random := func(n int) []byte {
		b := make([]byte, n)
		for i := range b {
			b[i] = byte(r.Uint32())
		}
		return b
	}
	for _, n := range []int{0, 1, 100, 64 << 10, 256<<10 - 1, 256 << 10, 1<<20 + 12345, 3 << 20} {
		for name, src := range map[string][]byte{"text": text(n), "random": random(n)} {
			want := snappy.Encode(nil, src)
			for _, room := range []string{"none", "bound", "small"} {
				var dst []byte
				switch room {
				case "bound": // what arrow passes: empty, with room for the bound
					dst = make([]byte, 0, c.CompressBound(int64(n)))
				case "small":
					dst = make([]byte, 0, 10)
				}
				got := c.EncodeLevel(dst, src, 0)
				if !bytes.Equal(got, want) {
					t.Errorf("%s %d bytes, dst %s: encoding differs from snappy.Encode (%d vs %d bytes)", name, n, room, len(got), len(want))
				}
				if back, err := snappy.Decode(nil, got); err != nil || !bytes.Equal(back, src) {
					t.Errorf("%s %d bytes, dst %s: does not decode back: %v", name, n, room, err)
				}
			}
		}
	}
}

// TestZstdPages: the codec arrow/go's Parquet writer uses for zstd is
// zstdPages, and its pages are byte for byte those of arrow/go's own codec
// (a new encoder per page) at every level, and decode back.
func TestZstdPages(t *testing.T) {
	c, err := compress.GetCodec(compress.Codecs.Zstd)
	if err != nil {
		t.Fatal(err)
	}
	z, ok := c.(zstdPages)
	if !ok {
		t.Fatalf("Parquet's zstd codec is %T, not zstdPages: the linkname to arrow/go's codec map no longer takes", c)
	}
	r := rand.New(rand.NewPCG(3, 4))
	for _, n := range []int{0, 1, 1000, 1 << 20} {
		src := make([]byte, n)
		for i := range src {
			src[i] = "abcdefgh"[r.IntN(8)]
		}
		for _, level := range []int{compress.DefaultCompressionLevel, 1, 3, 9} {
			got := z.EncodeLevel(make([]byte, 0, n), src, level)
			want := z.Codec.EncodeLevel(nil, src, level)
			if !bytes.Equal(got, want) {
				t.Errorf("%d bytes, level %d: %d bytes, arrow's codec %d", n, level, len(got), len(want))
			}
			if back := z.Decode(nil, got); !bytes.Equal(back, src) {
				t.Errorf("%d bytes, level %d: does not decode back", n, level)
			}
		}
	}
}
