package value

import (
	"math"
	"testing"
)

// TestJavaHash: hashCode by the JDK's definitions ("hello" is the
// well-known 99162322; a string hashes its UTF-16 units, surrogates
// included). The murmur assignment is checked on the corpus's real keys
// (format/state TestKeyGroupsOfCorpusKeys).
func TestJavaHash(t *testing.T) {
	for _, c := range []struct {
		v    any
		want int32
	}{
		{"hello", 99162322}, {"", 0}, {"é€😀", ((233*31+8364)*31+0xD83D)*31 + 0xDE00}, {int64(1), 1}, {int64(-1), 0},
		{int64(1) << 32, 1}, {int32(-7), -7}, {true, 1231}, {false, 1237}, {1.5, 1073217536},
		{math.NaN(), 2146959360}, {Tuple{int64(3), "a"}, 31*3 + 97},
	} {
		if got, ok := javaHash(c.v); !ok || got != c.want {
			t.Errorf("hashCode(%v) = %d, %v; want %d", c.v, got, ok, c.want)
		}
	}
	if _, ok := javaHash(Enum{Name: "A"}); ok {
		t.Error("an enum's hashCode is the JVM's identity hash: not knowable")
	}
	if got := KeyGroupOf(0, 128); got != int(murmur(0)%128) || murmur(math.MinInt32) < 0 {
		t.Errorf("KeyGroupOf(0, 128) = %d", got)
	}
}
