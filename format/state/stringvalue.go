package state

import (
	"errors"
	"fmt"
	"unicode/utf16"
	"unicode/utf8"
)

// Flink's StringValue encoding (StringValue.writeString, used by
// StringSerializer and a few snapshots): the length plus one as a varint of
// 7-bit groups, least significant first, high bit = more follows (0 means
// null); then every UTF-16 code unit as such a varint.

var (
	errStringTruncated = fmt.Errorf("StringValue: %w", errShort)
	errStringTooLong   = errors.New("StringValue: length varint too long")
	errStringCharRange = errors.New("StringValue: character exceeds 16 bits")
)

// readVarint7 reads one 7-bit-group varint at b[i:]; at most 5 bytes.
func readVarint7(b []byte, i int) (v uint32, next int, err error) {
	var shift uint
	for n := 0; n < 5; n++ {
		if i >= len(b) {
			return 0, i, errStringTruncated
		}
		c := b[i]
		i++
		v |= uint32(c&0x7F) << shift
		if c < 0x80 {
			return v, i, nil
		}
		shift += 7
	}
	return 0, i, errStringTooLong
}

// StringValueLen returns the number of bytes of the StringValue encoding at
// the start of b, without decoding the characters.
func StringValueLen(b []byte) (int, error) {
	n, i, err := readVarint7(b, 0)
	if err != nil {
		return 0, err
	}
	if n == 0 {
		return i, nil // null
	}
	chars := int(n - 1)
	// Fast path: ASCII characters are one byte each.
	for k := 0; k < chars; k++ {
		if i >= len(b) {
			return 0, errStringTruncated
		}
		if b[i] < 0x80 {
			i++
			continue
		}
		if _, i, err = readVarint7(b, i); err != nil {
			return 0, err
		}
	}
	return i, nil
}

// ReadStringValue decodes the StringValue at the start of b. It returns the
// string, whether it was null, and the bytes consumed. Code units that do
// not form valid UTF-16 (lone surrogates) are kept as their 3-byte
// encodings (WTF-8), so AppendStringValue gives back the same bytes.
func ReadStringValue(b []byte) (s string, null bool, n int, err error) {
	l, i, err := readVarint7(b, 0)
	if err != nil {
		return "", false, 0, err
	}
	if l == 0 {
		return "", true, i, nil
	}
	chars := int(l - 1)
	if chars > len(b)-i {
		return "", false, 0, errStringTruncated
	}
	// ASCII fast path.
	ascii := true
	for k := 0; k < chars; k++ {
		if b[i+k] >= 0x80 {
			ascii = false
			break
		}
	}
	if ascii {
		return string(b[i : i+chars]), false, i + chars, nil
	}
	out := make([]byte, 0, chars)
	var pending rune = -1 // a high surrogate waiting for its low half
	for k := 0; k < chars; k++ {
		var c uint32
		if c, i, err = readVarint7(b, i); err != nil {
			return "", false, 0, err
		}
		if c > 0xFFFF {
			return "", false, 0, errStringCharRange
		}
		r := rune(c)
		if pending >= 0 {
			if utf16.IsSurrogate(r) && r >= 0xDC00 {
				out = utf8.AppendRune(out, utf16.DecodeRune(pending, r))
				pending = -1
				continue
			}
			out = appendWTF8(out, pending)
			pending = -1
		}
		switch {
		case r >= 0xD800 && r < 0xDC00:
			pending = r
		case r >= 0xDC00 && r < 0xE000:
			out = appendWTF8(out, r)
		default:
			out = utf8.AppendRune(out, r)
		}
	}
	if pending >= 0 {
		out = appendWTF8(out, pending)
	}
	return string(out), false, i, nil
}

// appendWTF8 appends a lone surrogate as its 3-byte generalized UTF-8 form.
func appendWTF8(dst []byte, r rune) []byte {
	return append(dst, 0xE0|byte(r>>12), 0x80|byte(r>>6)&0x3F, 0x80|byte(r)&0x3F)
}

func appendVarint7(dst []byte, v uint32) []byte {
	for v >= 0x80 {
		dst = append(dst, byte(v)|0x80)
		v >>= 7
	}
	return append(dst, byte(v))
}

// AppendStringValue appends s in StringValue encoding (null writes one 0).
func AppendStringValue(dst []byte, s string, null bool) []byte {
	if null {
		return append(dst, 0)
	}
	// Count UTF-16 code units.
	units := 0
	ascii := true
	for i := 0; i < len(s); i++ {
		if s[i] >= 0x80 {
			ascii = false
			break
		}
	}
	if ascii {
		dst = appendVarint7(dst, uint32(len(s))+1)
		return append(dst, s...)
	}
	forEachUnit(s, func(uint16) { units++ })
	dst = appendVarint7(dst, uint32(units)+1)
	forEachUnit(s, func(u uint16) { dst = appendVarint7(dst, uint32(u)) })
	return dst
}

// forEachUnit walks the UTF-16 code units of a (WTF-8) string.
func forEachUnit(s string, f func(uint16)) {
	for i := 0; i < len(s); {
		c := s[i]
		if c < 0x80 {
			f(uint16(c))
			i++
			continue
		}
		// A lone surrogate kept as ED A0..BF xx.
		if c == 0xED && i+2 < len(s) && s[i+1] >= 0xA0 && s[i+1] <= 0xBF && s[i+2]&0xC0 == 0x80 {
			f(uint16(c&0x0F)<<12 | uint16(s[i+1]&0x3F)<<6 | uint16(s[i+2]&0x3F))
			i += 3
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if r > 0xFFFF {
			r1, r2 := utf16.EncodeRune(r)
			f(uint16(r1))
			f(uint16(r2))
		} else {
			f(uint16(r))
		}
		i += size
	}
}
