package format

import (
	"encoding/binary"

	"github.com/twmb/murmur3"
)

// OperatorIDFromUID is the operator id Flink derives from a user-assigned uid
// (StreamGraphHasherV2: Guava's murmur3_128 with seed 0 over the UTF-8 bytes,
// the two 64-bit halves little-endian).
func OperatorIDFromUID(uid string) OperatorID {
	h1, h2 := murmur3.StringSum128(uid)
	var id OperatorID
	binary.LittleEndian.PutUint64(id[:8], h1)
	binary.LittleEndian.PutUint64(id[8:], h2)
	return id
}
