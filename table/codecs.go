package table

import (
	"encoding/binary"
	"runtime"
	"sync"
	_ "unsafe" // go:linkname

	"github.com/apache/arrow/go/v15/parquet/compress"
	"github.com/golang/snappy"
	"github.com/klauspost/compress/zstd"
)

// Parquet's Snappy pages are compressed by snappyPages: the same
// golang/snappy encoder and the same bytes as arrow/go's own codec, on
// every core and without its second allocation of each page.
//
// Snappy compresses a page as independent blocks of 64 KiB (golang/snappy's
// maxBlockSize: no copy refers across one), so the blocks of a page can be
// encoded on several goroutines and their encodings joined: the result is
// byte for byte what snappy.Encode writes, which TestSnappyPages checks.
// Compression was half of a dump's CPU time on one core, the writer
// goroutine of the largest state (README: performance).
//
// arrow/go v15 has no way to register a codec (later versions added
// compress.RegisterCodec, which sets this same map), hence the linkname to
// its codec map, pinned by go.mod's exact version; TestSnappyPages fails
// if the codec in use is not this one.
//
//go:linkname arrowCodecs github.com/apache/arrow/go/v15/parquet/compress.codecs
var arrowCodecs map[compress.Compression]compress.Codec

func init() {
	if c, ok := arrowCodecs[compress.Codecs.Snappy]; ok {
		arrowCodecs[compress.Codecs.Snappy] = snappyPages{c}
	}
	if c, ok := arrowCodecs[compress.Codecs.Zstd]; ok {
		arrowCodecs[compress.Codecs.Zstd] = zstdPages{c}
	}
}

// zstdPages is arrow/go's zstd codec with one encoder per level, made once:
// v15 makes a new encoder (megabytes of tables) for every page it
// compresses, which made a zstd dump four times as slow as a Snappy one
// and a third larger in memory. EncodeAll keeps nothing between calls, so
// the bytes are the same (TestZstdPages).
type zstdPages struct{ compress.Codec }

var zstdEncoders sync.Map // level → *zstd.Encoder

func (z zstdPages) EncodeLevel(dst, src []byte, level int) []byte {
	e, ok := zstdEncoders.Load(level)
	if !ok {
		l := zstd.SpeedDefault
		if level != compress.DefaultCompressionLevel {
			l = zstd.EncoderLevelFromZstd(level)
		}
		enc, err := zstd.NewWriter(nil, zstd.WithZeroFrames(true), zstd.WithEncoderLevel(l))
		if err != nil {
			return z.Codec.EncodeLevel(dst, src, level)
		}
		e, _ = zstdEncoders.LoadOrStore(level, enc)
	}
	return e.(*zstd.Encoder).EncodeAll(src, dst[:0])
}

// snappyPages is arrow/go's Snappy codec with a parallel block encoder.
type snappyPages struct{ compress.Codec }

const (
	snappyBlock    = 64 << 10  // golang/snappy's maxBlockSize
	parallelSnappy = 256 << 10 // pages at least this large are split
)

var snappyScratch = sync.Pool{New: func() any { return new([]byte) }}

func (s snappyPages) Encode(dst, src []byte) []byte { return s.EncodeLevel(dst, src, 0) }

// EncodeLevel writes into dst's capacity when it is large enough (arrow
// passes an empty slice with room for the page, which snappy.Encode would
// not use).
func (snappyPages) EncodeLevel(dst, src []byte, _ int) []byte {
	if n := snappy.MaxEncodedLen(len(src)); n >= 0 && cap(dst) >= n {
		dst = dst[:n]
	}
	parts := min(runtime.GOMAXPROCS(0), len(src)/(parallelSnappy/2))
	if parts < 2 {
		return snappy.Encode(dst, src)
	}
	// Split at block boundaries; part 0 is encoded into dst here, the
	// others into scratch buffers on goroutines of their own, then
	// appended without their length headers.
	per := (len(src)/parts + snappyBlock - 1) / snappyBlock * snappyBlock
	type part struct {
		buf *[]byte
		enc []byte
	}
	rest := make([]part, 0, parts-1)
	var wg sync.WaitGroup
	for off := per; off < len(src); off += per {
		rest = append(rest, part{buf: snappyScratch.Get().(*[]byte)})
		p := &rest[len(rest)-1]
		chunk := src[off:min(off+per, len(src))]
		wg.Add(1)
		go func() {
			defer wg.Done()
			if n := snappy.MaxEncodedLen(len(chunk)); cap(*p.buf) < n {
				*p.buf = make([]byte, n)
			}
			p.enc = snappy.Encode((*p.buf)[:cap(*p.buf)], chunk)
		}()
	}
	first := snappy.Encode(dst, src[:per])
	wg.Wait()
	// A header is the uncompressed length as a uvarint: part 0's is
	// rewritten for the whole page, the others' are dropped.
	_, h0 := binary.Uvarint(first)
	h := len(binary.AppendUvarint(nil, uint64(len(src))))
	size := h + len(first) - h0
	for i, p := range rest {
		_, hp := binary.Uvarint(p.enc)
		rest[i].enc = p.enc[hp:]
		size += len(rest[i].enc)
	}
	var out []byte
	if h == h0 && cap(first) >= size { // the usual case: append to part 0 in place
		out = first[:size]
	} else {
		out = make([]byte, size)
		copy(out[h:], first[h0:])
	}
	binary.PutUvarint(out, uint64(len(src)))
	at := h + len(first) - h0
	for _, p := range rest {
		at += copy(out[at:], p.enc)
		snappyScratch.Put(p.buf)
	}
	return out
}
