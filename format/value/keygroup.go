package value

import (
	"math"
	"strings"
	"unicode/utf16"
	"unicode/utf8"

	"github.com/fsnap/fsnap/format/state"
)

// KeyHasher returns a function giving Java's hashCode of a key serialized
// by s — the hash Flink assigns key groups from — for the serializers whose
// key classes' hashCode is fixed by the JDK or Flink: boxed primitives,
// String and Flink tuples of them. It returns nil for any other serializer
// (POJOs, case classes, Kryo, enums: their hashCode is the user's or the
// JVM's). The function reports false for a key it cannot hash exactly.
func KeyHasher(s *state.Snapshot) func(key []byte) (int32, bool) {
	if !hashable(s) {
		return nil
	}
	d, err := For(s)
	if err != nil {
		return nil
	}
	return func(key []byte) (int32, bool) {
		v, n, err := d.Decode(key)
		if err != nil || n != len(key) {
			return 0, false
		}
		return javaHash(v)
	}
}

func hashable(s *state.Snapshot) bool {
	if s == nil {
		return false
	}
	switch strings.TrimPrefix(s.Class, pBase) {
	case "LongSerializer$LongSerializerSnapshot", "IntSerializer$IntSerializerSnapshot",
		"ShortSerializer$ShortSerializerSnapshot", "CharSerializer$CharSerializerSnapshot",
		"ByteSerializer$ByteSerializerSnapshot", "BooleanSerializer$BooleanSerializerSnapshot",
		"DoubleSerializer$DoubleSerializerSnapshot", "FloatSerializer$FloatSerializerSnapshot",
		"StringSerializer$StringSerializerSnapshot":
		return true
	}
	if s.Class != pRT+"TupleSerializerSnapshot" && s.Class != pRT+"TupleSerializerConfigSnapshot" {
		return false
	}
	n := s.Nested()
	for _, x := range n {
		if !hashable(x) {
			return false
		}
	}
	return len(n) > 0
}

// javaHash is hashCode of the Java object a decoded value stands for.
func javaHash(v any) (int32, bool) {
	switch x := v.(type) {
	case nil:
		return 0, true
	case int64:
		return int32(uint64(x) ^ uint64(x)>>32), true
	case int32:
		return x, true
	case int16:
		return int32(x), true
	case int8:
		return int32(x), true
	case uint16: // char
		return int32(x), true
	case bool:
		if x {
			return 1231, true
		}
		return 1237, true
	case float64:
		bits := math.Float64bits(x)
		if x != x {
			bits = 0x7ff8000000000000 // doubleToLongBits' canonical NaN
		}
		return int32(bits ^ bits>>32), true
	case float32:
		if x != x {
			return 0x7fc00000, true
		}
		return int32(math.Float32bits(x)), true
	case string:
		if strings.ContainsRune(x, utf8.RuneError) {
			return 0, false // perhaps an unpaired surrogate, not this string
		}
		var h int32
		for _, c := range utf16.Encode([]rune(x)) {
			h = 31*h + int32(c)
		}
		return h, true
	case Tuple: // Flink's TupleN.hashCode: 31 * result + field
		var h int32
		for _, f := range x {
			fh, ok := javaHash(f)
			if !ok {
				return 0, false
			}
			h = 31*h + fh
		}
		return h, true
	}
	return 0, false
}

// KeyGroupOf is the key group Flink assigns a key of this hash
// (KeyGroupRangeAssignment.computeKeyGroupForKeyHash: MathUtils.murmurHash
// of the hash, modulo the maximum parallelism).
func KeyGroupOf(hash int32, maxParallelism int) int {
	return int(murmur(hash)) % maxParallelism
}

func murmur(code int32) int32 {
	c := uint32(code)
	c *= 0xcc9e2d51
	c = c<<15 | c>>17
	c *= 0x1b873593
	c = c<<13 | c>>19
	c = c*5 + 0xe6546b64
	c ^= 4
	c ^= c >> 16
	c *= 0x85ebca6b
	c ^= c >> 13
	c *= 0xc2b2ae35
	c ^= c >> 16
	h := int32(c)
	switch {
	case h >= 0:
		return h
	case h != math.MinInt32:
		return -h
	}
	return 0
}
