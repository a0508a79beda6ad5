package binio

import (
	"bytes"
	"testing"
)

func TestModifiedUTF8RoundTrip(t *testing.T) {
	for _, tc := range []struct {
		name string
		enc  []byte
		want string
	}{
		{"ascii", []byte("state-name"), "state-name"},
		{"nul", []byte{'a', 0xC0, 0x80, 'b'}, "a\x00b"},
		{"two-byte", []byte{0xC3, 0xA9}, "é"},
		{"three-byte", []byte{0xE2, 0x82, 0xAC}, "€"},
		{"supplementary as surrogate pair", []byte{0xED, 0xA0, 0xBD, 0xED, 0xB8, 0x80}, "😀"},
		{"lone surrogate kept", []byte{0xED, 0xA0, 0xBD, 'x'}, "\xED\xA0\xBDx"},
		{"long ascii", []byte("org.apache.flink.api.common.typeutils.base.LongSerializer$LongSerializerSnapshot"), "org.apache.flink.api.common.typeutils.base.LongSerializer$LongSerializerSnapshot"},
	} {
		in := append([]byte{0, byte(len(tc.enc))}, tc.enc...)
		d := NewDecoder(in, 100)
		got := d.UTF("s")
		if d.Err() != nil || got != tc.want {
			t.Errorf("%s: decoded %q, %v; want %q", tc.name, got, d.Err(), tc.want)
			continue
		}
		e := NewEncoder(nil)
		e.UTF(got, "s")
		if e.Err() != nil || !bytes.Equal(e.Bytes(), in) {
			t.Errorf("%s: encoded % x, %v; want % x", tc.name, e.Bytes(), e.Err(), in)
		}
	}
}

func TestModifiedUTF8Rejects(t *testing.T) {
	for _, tc := range []struct {
		name string
		enc  []byte
		at   int64
	}{
		{"raw nul (Java writes C0 80)", []byte{'a', 0}, 103},
		{"overlong A", []byte{0xC1, 0x81}, 102},
		{"four-byte UTF-8", []byte{0xF0, 0x9F, 0x98, 0x80}, 102},
		{"truncated sequence", []byte{'a', 0xE2, 0x82}, 103},
		{"bad continuation", []byte{0xC3, 0x41}, 102},
	} {
		in := append([]byte{0, byte(len(tc.enc))}, tc.enc...)
		d := NewDecoder(in, 100)
		d.UTF("s")
		e, ok := d.Err().(*Error)
		if !ok || e.Offset != tc.at {
			t.Errorf("%s: got %v, want an error at offset %d", tc.name, d.Err(), tc.at)
		}
	}
}

func TestCountRejectsWhatInputCannotHold(t *testing.T) {
	d := NewDecoder([]byte{0x7F, 0xFF, 0xFF, 0xFF, 1, 2, 3}, 0)
	if n := d.Count("things", 1); n != -1 || d.Err() == nil {
		t.Fatalf("count 2^31-1 over 3 bytes: got %d, %v", n, d.Err())
	}
	if e := d.Err().(*Error); e.Offset != 0 {
		t.Errorf("error offset %d, want 0", e.Offset)
	}
	// After the first failure every read is a zero value.
	if v := d.I64("later"); v != 0 {
		t.Errorf("read after failure returned %d", v)
	}
}

// A short fixed-size read is recorded without a call (to keep the reads
// inlinable) and reported by Err with its offset; the first failure wins.
func TestShortReadReportsFirstFailure(t *testing.T) {
	d := NewDecoder([]byte{0, 0, 0, 7, 1, 2}, 50)
	if v := d.I32("count"); v != 7 {
		t.Fatalf("I32 = %d", v)
	}
	if v := d.I64("size"); v != 0 || !d.Failed() {
		t.Fatalf("I64 past the end = %d, failed %v", v, d.Failed())
	}
	d.Failf("a later failure")
	e, ok := d.Err().(*Error)
	if !ok || e.Offset != 54 || e.Msg != "truncated: size needs 8 bytes, 2 remain" {
		t.Fatalf("Err = %v", d.Err())
	}
	if v := d.U8("after"); v != 0 {
		t.Errorf("read after failure returned %d", v)
	}
}
