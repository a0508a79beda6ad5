package avro

import (
	"errors"
	"fmt"
	"testing"
)

const testSchema = `{"type": "record", "name": "Event", "namespace": "ns", "fields": [
	{"name": "i", "type": "int"},
	{"name": "l", "type": "long"},
	{"name": "s", "type": "string"},
	{"name": "u", "type": ["null", "string"]},
	{"name": "e", "type": {"type": "enum", "name": "Color", "symbols": ["RED", "GREEN"]}},
	{"name": "a", "type": {"type": "array", "items": "int"}},
	{"name": "m", "type": {"type": "map", "values": "long"}},
	{"name": "f", "type": {"type": "fixed", "name": "Two", "size": 2}},
	{"name": "d", "type": "double"},
	{"name": "b", "type": "boolean"},
	{"name": "next", "type": ["null", "Event"]}
]}`

// The same datum, {i: 7, l: -2, s: "hi", u: "x", e: GREEN, a: [5],
// m: {k: 9}, f: aabb, d: 1.5, b: true, next: null}, in both encodings.
var datums = map[Encoding][]byte{
	Flink: {
		0, 0, 0, 7, // int: big-endian i32
		0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xfe, // long: big-endian i64
		0, 0, 0, 2, 'h', 'i', // string: i32 length
		0, 0, 0, 1, 0, 0, 0, 1, 'x', // union index 1, then the string
		0, 0, 0, 1, // enum ordinal
		1, 0, 0, 0, 5, 0, // array: uvarint count, items, end
		1, 0, 0, 0, 1, 'k', 0, 0, 0, 0, 0, 0, 0, 9, 0, // map
		0xaa, 0xbb, // fixed
		0x3f, 0xf8, 0, 0, 0, 0, 0, 0, // double: big-endian
		1,          // boolean
		0, 0, 0, 0, // union index 0: null
	},
	Binary: {
		0x0e,           // int: zigzag varint
		0x03,           // long
		0x04, 'h', 'i', // string
		0x02, 0x02, 'x', // union index 1, then the string
		0x02,             // enum
		0x02, 0x0a, 0x00, // array
		0x02, 0x02, 'k', 0x12, 0x00, // map
		0xaa, 0xbb, // fixed
		0, 0, 0, 0, 0, 0, 0xf8, 0x3f, // double: little-endian
		1,    // boolean
		0x00, // union index 0: null
	},
}

func TestDecodeBothEncodings(t *testing.T) {
	s, err := Parse(testSchema)
	if err != nil {
		t.Fatal(err)
	}
	want := "{ns.Event [{i 7} {l -2} {s hi} {u x} {e {1 GREEN}} {a [5]} {m [{k 9}]} {f [170 187]} {d 1.5} {b true} {next <nil>}]}"
	for enc, b := range datums {
		v, n, err := s.Decode(append(b, 0xee, 0xee), enc) // trailing bytes are not the datum's
		if err != nil {
			t.Fatalf("encoding %d: %v", enc, err)
		}
		if n != len(b) {
			t.Errorf("encoding %d: datum of %d bytes, want %d", enc, n, len(b))
		}
		if got := fmt.Sprint(v); got != want {
			t.Errorf("encoding %d:\n got %s\nwant %s", enc, got, want)
		}
		if r, ok := v.(Record); !ok {
			t.Errorf("encoding %d: %T, want Record", enc, v)
		} else if s, ok := r.Get("s"); !ok || s != "hi" {
			t.Errorf("encoding %d: Get(s) = %v, %v", enc, s, ok)
		}
		if m, err := s.Measure(b, enc); err != nil || m != len(b) {
			t.Errorf("encoding %d: Measure = %d, %v; want %d", enc, m, err, len(b))
		}
	}
}

// TestTruncated: every proper prefix of a datum is an ErrShort error (the
// last field is a union, so no prefix is itself a whole datum).
func TestTruncated(t *testing.T) {
	s, err := Parse(testSchema)
	if err != nil {
		t.Fatal(err)
	}
	for enc, b := range datums {
		for n := range len(b) {
			if _, err := s.Measure(b[:n], enc); !errors.Is(err, ErrShort) {
				t.Errorf("encoding %d, %d of %d bytes: %v, want ErrShort", enc, n, len(b), err)
			}
		}
	}
}

func TestBadData(t *testing.T) {
	s, err := Parse(`{"type": "enum", "name": "E", "symbols": ["A"]}`)
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := s.Decode([]byte{0, 0, 0, 3}, Flink); err == nil || errors.Is(err, ErrShort) {
		t.Errorf("enum ordinal 3 of 1 symbol: %v", err)
	}
	u, _ := Parse(`["null", "int"]`)
	if _, _, err := u.Decode([]byte{0x04}, Binary); err == nil {
		t.Error("union branch 2 of 2 decoded")
	}
	str, _ := Parse(`"string"`)
	if _, _, err := str.Decode([]byte{0xff, 0xff, 0xff, 0xff}, Flink); err == nil || errors.Is(err, ErrShort) {
		t.Errorf("negative string length: %v", err)
	}
}

func TestParseErrors(t *testing.T) {
	for _, text := range []string{`{`, `"nosuch"`, `{"type": "record", "name": "R", "fields": [{"name": "x", "type": "Other"}]}`, `{"name": "x"}`} {
		if _, err := Parse(text); err == nil {
			t.Errorf("Parse(%s): no error", text)
		}
	}
	// A record may refer to itself (a linked list).
	if _, err := Parse(`{"type": "record", "name": "L", "fields": [{"name": "next", "type": ["null", "L"]}]}`); err != nil {
		t.Errorf("recursive record: %v", err)
	}
}
