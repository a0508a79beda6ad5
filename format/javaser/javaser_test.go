package javaser

import (
	"errors"
	"strings"
	"testing"

	"github.com/fsnap/fsnap/format/internal/binio"
)

// stream is a stream header followed by parts: byte slices, single bytes
// (int or rune), and strings written as Java's writeUTF.
func stream(parts ...any) []byte {
	b := []byte{0xAC, 0xED, 0, Version}
	for _, p := range parts {
		switch p := p.(type) {
		case int:
			b = append(b, byte(p))
		case rune:
			b = append(b, byte(p))
		case []byte:
			b = append(b, p...)
		case string:
			b = append(b, byte(len(p)>>8), byte(len(p)))
			b = append(b, p...)
		default:
			panic(p)
		}
	}
	return b
}

var suid0 = make([]byte, 8)

func TestReadObjectWithSuperclass(t *testing.T) {
	// class B extends A, both declare an int x.
	b := stream(TCObject,
		TCClassDesc, "B", suid0, SCSerializable, []byte{0, 1}, 'I', "x", TCEndBlockData,
		TCClassDesc, "A", suid0, SCSerializable, []byte{0, 1}, 'I', "x", TCEndBlockData, TCNull,
		[]byte{0, 0, 0, 1}, // A.x
		[]byte{0, 0, 0, 2}, // B.x
	)
	v, n, err := Read(b, 100)
	if err != nil || n != len(b) {
		t.Fatalf("Read = %v, %d, %v; want %d bytes", v, n, err, len(b))
	}
	o := v.(*Object)
	if o.Offset != 104 || o.Class.Name != "B" || o.Class.Super.Name != "A" {
		t.Errorf("object at %d of class %v (super %v), want 104, B, A", o.Offset, o.Class, o.Class.Super)
	}
	a, _ := o.Field("A", "x")
	bx, _ := o.Field("B", "x")
	got, _ := o.Get("x")
	if a != int32(1) || bx != int32(2) || got != int32(2) {
		t.Errorf("A.x %v, B.x %v, Get(x) %v; want 1, 2, 2", a, bx, got)
	}
	if _, ok := o.Field("A", "y"); ok {
		t.Error("Field found an undeclared field")
	}
}

// Streams that break one rule each fail at the offending byte.
func TestReadErrors(t *testing.T) {
	enumDesc := func(flags int) []any {
		return []any{TCClassDesc, "E", suid0, flags, []byte{0, 0}, TCEndBlockData,
			TCClassDesc, "java.lang.Enum", suid0, SCSerializable | SCEnum, []byte{0, 0}, TCEndBlockData, TCNull}
	}
	enumLen := len(stream(enumDesc(0)...)) // header + both descriptors
	for _, tc := range []struct {
		name string
		b    []byte
		at   int
		msg  string
	}{
		{"bad version", []byte{0xAC, 0xED, 0, 4}, 2, "stream version 4"},
		{"unknown type code", stream(0x42), 4, "invalid Java serialization type code 0x42"},
		{"dangling reference", stream(TCReference, []byte{0, 0x7E, 0, 0}), 5, "names no earlier object (0 handles so far)"},
		{"enum name by reference", stream(append([]any{TCEnum}, append(enumDesc(SCSerializable|SCEnum), TCReference, []byte{0, 0x7E, 0, 0})...)...),
			enumLen + 1, "where the constant's name was expected"},
		{"enum of a plain class", stream(append([]any{TCEnum}, enumDesc(SCSerializable)...)...), 4, "not an enum class"},
		{"protocol 1 externalizable", stream(TCObject, TCClassDesc, "X", suid0, SCExternalizable, []byte{0, 0}, TCEndBlockData, TCNull),
			4 + 2 + 3 + 8, "externalizable without block data"},
		{"negative field count", stream(TCObject, TCClassDesc, "X", suid0, SCSerializable, []byte{0xFF, 0xFF}), 4 + 2 + 3 + 8 + 1, "negative count"},
		{"bad field type", stream(TCObject, TCClassDesc, "X", suid0, SCSerializable, []byte{0, 1}, 'Q', "q"), 4 + 2 + 3 + 8 + 3, "invalid field type code 0x51"},
		{"type signature of another kind", stream(TCObject, TCClassDesc, "X", suid0, SCSerializable, []byte{0, 1}, 'L', "s", TCNull),
			4 + 2 + 3 + 8 + 3 + 4, "type code 0x70 where a type signature was expected"},
	} {
		_, _, err := Read(tc.b, 1000)
		var be *binio.Error
		if !errors.As(err, &be) {
			t.Errorf("%s: got %v, want a *binio.Error", tc.name, err)
			continue
		}
		if be.Offset != int64(1000+tc.at) || !strings.Contains(be.Msg, tc.msg) {
			t.Errorf("%s: got %v, want offset %d and %q", tc.name, err, 1000+tc.at, tc.msg)
		}
	}
}

func TestSkipTruncated(t *testing.T) {
	b := stream(TCString, "hello")
	if n, err := Skip(b); n != len(b) || err != nil {
		t.Fatalf("Skip = %d, %v; want %d", n, err, len(b))
	}
	for n := range len(b) {
		if _, err := Skip(b[:n]); !errors.Is(err, ErrTruncated) {
			t.Errorf("prefix %d: %v, want ErrTruncated", n, err)
		}
	}
}

// A reset before an object forgets earlier handles; where a class
// descriptor must stand it is an error, as in ObjectInputStream.
func TestReset(t *testing.T) {
	if v, _, err := Read(stream(TCReset, TCReset, TCString, "a"), 0); v != "a" || err != nil {
		t.Errorf("resets before a string: %v, %v", v, err)
	}
	_, _, err := Read(stream(TCObject, TCReset), 0)
	if err == nil || !strings.Contains(err.Error(), "type code 0x79 where a class descriptor was expected") {
		t.Errorf("reset for a class descriptor: %v", err)
	}
}
