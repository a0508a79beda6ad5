package state

import (
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"io"

	"github.com/klauspost/compress/snappy"
)

// Flink compresses state with xerial's SnappyFramedOutputStream, which
// writes the Snappy framing format: a stream identifier chunk, then chunks of
// u8 type, u24 little-endian length, u32 little-endian masked CRC-32C of the
// uncompressed data and the data, compressed (type 0) or stored (type 1).
// Each chunk holds at most 64 KiB of uncompressed data.

// SnappyStreamID is the stream identifier chunk that opens every framed
// stream.
var SnappyStreamID = []byte{0xff, 0x06, 0x00, 0x00, 's', 'N', 'a', 'P', 'p', 'Y'}

const (
	chunkCompressed   = 0x00
	chunkUncompressed = 0x01
	chunkPadding      = 0xfe
	chunkStreamID     = 0xff
	maxChunkData      = 65536
	// xerial writes a chunk uncompressed when compression saves less than
	// 15% (minimum ratio 0.85).
	minCompressionRatio = 0.85
)

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// MaskedCRC is the Snappy framing checksum of data.
func MaskedCRC(data []byte) uint32 {
	c := crc32.Checksum(data, castagnoli)
	return (c>>15 | c<<17) + 0xa282ead8
}

// SnappyError is a malformed framed stream or a chunk whose data does not
// match its checksum. Callers tell the two apart by Checksum, not by Msg.
type SnappyError struct {
	Offset int64 // file offset of the chunk
	// Checksum is set when the chunk is well formed but the CRC-32C of its
	// (decompressed) data differs from the stored one; otherwise the framing
	// itself is broken (identifier, chunk type or length, Snappy data).
	Checksum bool
	Msg      string
}

func (e *SnappyError) Error() string {
	return fmt.Sprintf("offset %d (0x%x): Snappy frame: %s", e.Offset, e.Offset, e.Msg)
}

// snappySource decodes a framed stream read from a file region; it is the
// filler behind windows over compressed key groups and operator state.
type snappySource struct {
	raw      window // compressed bytes, positioned at file offsets
	plain    plainSource
	expectID bool // the next chunk must be the stream identifier
	pending  []byte
	scratch  []byte
	chunks   int   // chunks decoded
	stored   int64 // compressed bytes consumed
}

// start positions the source at a chunk boundary at file offset off. When
// expectID is set the stream identifier must come first (the start of a key
// group's stream).
func (s *snappySource) start(r io.ReaderAt, off, end int64, expectID bool) {
	s.plain = plainSource{r: r, pos: off, end: end}
	s.raw.reset(&s.plain, off)
	s.expectID = expectID
	s.pending = s.pending[:0]
}

// offset is the file offset of the next chunk.
func (s *snappySource) offset() int64 { return s.raw.pos() }

func (s *snappySource) fail(at int64, format string, args ...any) error {
	return &SnappyError{Offset: at, Msg: fmt.Sprintf(format, args...)}
}

func (s *snappySource) fill(dst []byte) (int, error) {
	if len(s.pending) > 0 {
		n := copy(dst, s.pending)
		s.pending = s.pending[n:]
		return n, nil
	}
	for {
		at := s.raw.pos()
		if err := s.raw.need(4); err != nil {
			if err == io.ErrUnexpectedEOF && s.raw.avail() == 0 {
				return 0, io.EOF
			}
			return 0, s.fail(at, "truncated chunk header")
		}
		h := s.raw.buf[s.raw.lo:]
		typ := h[0]
		n := int(h[1]) | int(h[2])<<8 | int(h[3])<<16
		if err := s.raw.need(4 + n); err != nil {
			return 0, s.fail(at, "chunk of %d bytes is truncated at offset %d", n, at+int64(s.raw.avail()))
		}
		body := s.raw.buf[s.raw.lo+4 : s.raw.lo+4+n]
		s.raw.skip(4 + n)
		s.stored += int64(4 + n)
		if s.expectID && typ != chunkStreamID {
			return 0, s.fail(at, "chunk type 0x%02x where the stream identifier was expected", typ)
		}
		switch {
		case typ == chunkStreamID:
			if n != 6 || string(body) != "sNaPpY" {
				return 0, s.fail(at, "bad stream identifier")
			}
			s.expectID = false
			continue
		case typ == chunkCompressed || typ == chunkUncompressed:
		case typ >= 0x80:
			continue // skippable (padding and reserved)
		default:
			return 0, s.fail(at, "reserved unskippable chunk type 0x%02x", typ)
		}
		if n < 4 {
			return 0, s.fail(at, "chunk of %d bytes has no checksum", n)
		}
		want := binary.LittleEndian.Uint32(body)
		data := body[4:]
		var out []byte
		if typ == chunkUncompressed {
			if len(data) > maxChunkData {
				return 0, s.fail(at, "stored chunk of %d bytes exceeds %d", len(data), maxChunkData)
			}
			out = data
		} else {
			dlen, err := snappy.DecodedLen(data)
			if err != nil {
				return 0, s.fail(at, "compressed chunk: %v", err)
			}
			if dlen > maxChunkData {
				return 0, s.fail(at, "compressed chunk decodes to %d bytes, more than %d", dlen, maxChunkData)
			}
			target := dst
			if len(dst) < dlen {
				if cap(s.scratch) < dlen {
					s.scratch = make([]byte, maxChunkData)
				}
				target = s.scratch[:dlen]
			}
			out, err = snappy.Decode(target[:dlen], data)
			if err != nil {
				return 0, s.fail(at, "compressed chunk: %v", err)
			}
		}
		if got := MaskedCRC(out); got != want {
			return 0, &SnappyError{Offset: at, Checksum: true, Msg: fmt.Sprintf("CRC-32C mismatch: stored %08x, computed %08x", want, got)}
		}
		s.chunks++
		if len(out) == 0 {
			continue
		}
		if len(dst) >= len(out) {
			if &out[0] != &dst[0] {
				copy(dst, out)
			}
			return len(out), nil
		}
		k := copy(dst, out)
		s.pending = append(s.pending[:0], out[k:]...)
		return k, nil
	}
}

// SnappyReader reads a framed stream from a file region as an io.Reader,
// checking every chunk's CRC.
type SnappyReader struct{ s snappySource }

// NewSnappyReader reads the framed stream at [off, end) of r. With expectID
// the region must start with the stream identifier (a key group's stream);
// without, it starts at a chunk boundary inside a stream (an operator state
// offset).
func NewSnappyReader(r io.ReaderAt, off, end int64, expectID bool) *SnappyReader {
	z := &SnappyReader{}
	z.s.start(r, off, end, expectID)
	return z
}

func (z *SnappyReader) Read(p []byte) (int, error) {
	if len(p) == 0 {
		return 0, nil
	}
	return z.s.fill(p)
}

// ---- writing ----

// SnappyWriter writes the Snappy framing format as Flink does: the stream
// identifier, then one chunk per Flush or per 64 KiB of data (stored
// uncompressed when Snappy saves less than 15%).
type SnappyWriter = snappyWriter

// NewSnappyWriter starts a framed stream on w.
func NewSnappyWriter(w io.Writer) *SnappyWriter { return newSnappyWriter(w) }

// snappyWriter writes the framing format to w: the stream identifier, then
// one chunk per Flush or per 64 KiB of data.
type snappyWriter struct {
	w   io.Writer
	buf []byte // pending uncompressed data
	enc []byte
	hdr [8]byte
	n   int64 // bytes written to w
	err error
}

func newSnappyWriter(w io.Writer) *snappyWriter {
	s := &snappyWriter{}
	s.reset(w)
	return s
}

// Reset starts a new framed stream on w, keeping the buffers.
func (s *snappyWriter) Reset(w io.Writer) { s.reset(w) }

// reset starts a new framed stream on w, keeping the buffers.
func (s *snappyWriter) reset(w io.Writer) {
	s.w, s.buf, s.n, s.err = w, s.buf[:0], 0, nil
	s.write(SnappyStreamID)
}

func (s *snappyWriter) write(b []byte) {
	if s.err != nil {
		return
	}
	n, err := s.w.Write(b)
	s.n += int64(n)
	s.err = err
}

// Write buffers p, emitting full chunks.
func (s *snappyWriter) Write(p []byte) (int, error) {
	total := len(p)
	for len(p) > 0 && s.err == nil {
		k := min(maxChunkData-len(s.buf), len(p))
		s.buf = append(s.buf, p[:k]...)
		p = p[k:]
		if len(s.buf) == maxChunkData {
			s.flushChunk()
		}
	}
	return total, s.err
}

// Flush writes buffered data as a chunk (a chunk boundary).
func (s *snappyWriter) Flush() error {
	if len(s.buf) > 0 {
		s.flushChunk()
	}
	return s.err
}

func (s *snappyWriter) flushChunk() {
	data := s.buf
	crc := MaskedCRC(data)
	s.enc = snappy.Encode(s.enc[:cap(s.enc)], data)
	typ, body := byte(chunkCompressed), s.enc
	if float64(len(s.enc)) > minCompressionRatio*float64(len(data)) {
		typ, body = chunkUncompressed, data
	}
	n := len(body) + 4
	s.hdr = [8]byte{typ, byte(n), byte(n >> 8), byte(n >> 16)}
	binary.LittleEndian.PutUint32(s.hdr[4:], crc)
	s.write(s.hdr[:])
	s.write(body)
	s.buf = s.buf[:0]
}

var errClosed = errors.New("writer is closed")
