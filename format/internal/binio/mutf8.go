package binio

import (
	"errors"
	"unicode/utf8"
)

// Java's modified UTF-8 differs from UTF-8 in two ways: U+0000 is written as
// C0 80, and characters above U+FFFF as two 3-byte surrogate encodings. A Go
// string holds the standard UTF-8 form; a lone surrogate (legal in a Java
// string) keeps its 3-byte encoding so that encoding gives back the input.

// decodeModifiedUTF8 returns the string, or the index of the first byte that
// is not canonical modified UTF-8 (what DataOutput.writeUTF would never emit).
func decodeModifiedUTF8(b []byte) (string, int) {
	out := make([]byte, 0, len(b))
	for i := 0; i < len(b); {
		c := b[i]
		switch {
		case c >= 0x01 && c < 0x80:
			out = append(out, c)
			i++
		case c&0xE0 == 0xC0:
			if i+1 >= len(b) || b[i+1]&0xC0 != 0x80 {
				return "", i
			}
			r := rune(c&0x1F)<<6 | rune(b[i+1]&0x3F)
			if r != 0 && r < 0x80 {
				return "", i
			}
			out = utf8.AppendRune(out, r)
			i += 2
		case c&0xF0 == 0xE0:
			r, ok := threeByte(b, i)
			if !ok || r < 0x800 {
				return "", i
			}
			if r >= 0xD800 && r <= 0xDBFF {
				if lo, ok := threeByte(b, i+3); ok && lo >= 0xDC00 && lo <= 0xDFFF {
					out = utf8.AppendRune(out, 0x10000+(r-0xD800)<<10+(lo-0xDC00))
					i += 6
					continue
				}
			}
			out = append(out, b[i:i+3]...) // BMP char, or a lone surrogate kept as is
			i += 3
		default:
			return "", i
		}
	}
	return string(out), -1
}

func threeByte(b []byte, i int) (rune, bool) {
	if i+2 >= len(b) || b[i]&0xF0 != 0xE0 || b[i+1]&0xC0 != 0x80 || b[i+2]&0xC0 != 0x80 {
		return 0, false
	}
	return rune(b[i]&0x0F)<<12 | rune(b[i+1]&0x3F)<<6 | rune(b[i+2]&0x3F), true
}

var errNotUTF8 = errors.New("string is not valid UTF-8")

// appendModifiedUTF8 appends the modified UTF-8 form of s (no length prefix).
func appendModifiedUTF8(dst []byte, s string) ([]byte, error) {
	for i := 0; i < len(s); {
		c := s[i]
		if c >= 0x01 && c < 0x80 {
			dst = append(dst, c)
			i++
			continue
		}
		if c == 0 {
			dst = append(dst, 0xC0, 0x80)
			i++
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		switch {
		case r == utf8.RuneError && size == 1:
			// A lone surrogate as decoded above: ED A0..BF 80..BF.
			if i+2 < len(s) && c == 0xED && s[i+1] >= 0xA0 && s[i+1] <= 0xBF && s[i+2]&0xC0 == 0x80 {
				dst = append(dst, s[i:i+3]...)
				i += 3
				continue
			}
			return dst, errNotUTF8
		case r > 0xFFFF:
			r -= 0x10000
			dst = appendSurrogate(dst, 0xD800+(r>>10))
			dst = appendSurrogate(dst, 0xDC00+(r&0x3FF))
		default:
			dst = append(dst, s[i:i+size]...)
		}
		i += size
	}
	return dst, nil
}

func appendSurrogate(dst []byte, r rune) []byte {
	return append(dst, 0xE0|byte(r>>12), 0x80|byte(r>>6)&0x3F, 0x80|byte(r)&0x3F)
}
