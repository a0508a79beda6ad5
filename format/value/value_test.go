package value_test

import (
	"bytes"
	"encoding/binary"
	"errors"
	"math"
	"reflect"
	"testing"

	"github.com/fsnap/fsnap/format/state"
	"github.com/fsnap/fsnap/format/value"
)

func TestStringValue(t *testing.T) {
	for _, c := range []struct {
		s    string
		null bool
		enc  []byte
	}{
		{"", true, []byte{0x00}},
		{"", false, []byte{0x01}},
		{"0", false, []byte{0x02, '0'}},                                // broadcast-state-3 value in the corpus
		{"é", false, []byte{0x02, 0xE9, 0x01}},                         // U+00E9 as 7-bit groups
		{"日", false, []byte{0x02, 0xE5, 0xCB, 0x01}},                   // U+65E5 = 26085
		{"😀", false, []byte{0x03, 0xBD, 0xB0, 0x03, 0x80, 0xBC, 0x03}}, // surrogate pair D83D DE00
		{"\xed\xa0\x80", false, []byte{0x02, 0x80, 0xB0, 0x03}},        // lone surrogate D800
	} {
		got := state.AppendStringValue(nil, c.s, c.null)
		if !bytes.Equal(got, c.enc) {
			t.Errorf("encode %q: % x, want % x", c.s, got, c.enc)
		}
		s, null, n, err := value.String(append(bytes.Clone(c.enc), 0xAA))
		if err != nil || s != c.s || null != c.null || n != len(c.enc) {
			t.Errorf("decode % x: %q %v %d %v", c.enc, s, null, n, err)
		}
		if l, err := state.StringValueLen(c.enc); err != nil || l != len(c.enc) {
			t.Errorf("StringValueLen(% x) = %d, %v", c.enc, l, err)
		}
		for i := 0; i < len(c.enc); i++ {
			if _, _, _, err := value.String(c.enc[:i]); err == nil {
				t.Errorf("decode of %d-byte prefix of % x succeeded", i, c.enc)
			}
		}
	}
	long := bytes.Repeat([]byte("x"), 300)
	enc := state.AppendStringValue(nil, string(long), false)
	if !bytes.Equal(enc[:2], []byte{0xAD, 0x02}) { // 301 = 0x12D
		t.Errorf("length varint % x", enc[:2])
	}
}

func TestPrimitives(t *testing.T) {
	b := binary.BigEndian.AppendUint64(nil, uint64(math.MaxInt64-1))
	if v, err := value.Long(b); err != nil || v != math.MaxInt64-1 {
		t.Errorf("Long = %d, %v", v, err)
	}
	if _, err := value.Long(b[:7]); !errors.Is(err, value.ErrShort) {
		t.Errorf("short Long: %v", err)
	}
	if v, err := value.Int([]byte{0xff, 0xff, 0xff, 0xfe}); err != nil || v != -2 {
		t.Errorf("Int = %d, %v", v, err)
	}
	if v, err := value.Double(binary.BigEndian.AppendUint64(nil, math.Float64bits(2.5))); err != nil || v != 2.5 {
		t.Errorf("Double = %v, %v", v, err)
	}
	if v, err := value.Bool([]byte{1}); err != nil || !v {
		t.Errorf("Bool = %v, %v", v, err)
	}
	if v, n, err := value.Bytes([]byte{0, 0, 0, 2, 7, 8, 9}); err != nil || n != 6 || !bytes.Equal(v, []byte{7, 8}) {
		t.Errorf("Bytes = %v %d %v", v, n, err)
	}
	if _, _, err := value.Bytes([]byte{0, 0, 0, 9, 1}); err == nil {
		t.Error("Bytes beyond the input accepted")
	}
	if ts, _ := value.TimerTimestamp([]byte{0, 0, 0, 0, 0, 0, 0, 10}); ts != math.MinInt64+10 {
		t.Errorf("TimerTimestamp = %d", ts)
	}
}

func be64(v int64) []byte { return binary.BigEndian.AppendUint64(nil, uint64(v)) }

func decode(t *testing.T, s *state.Snapshot, b []byte) any {
	t.Helper()
	d, err := value.For(s)
	if err != nil {
		t.Fatal(err)
	}
	v, n, err := d.Decode(b)
	if err != nil || n != len(b) {
		t.Fatalf("%s: %v (%d of %d bytes)", s, err, n, len(b))
	}
	return v
}

func TestComposite(t *testing.T) {
	long := state.SimpleSnapshot(state.LongSnapshotClass)
	str := state.SimpleSnapshot(state.StringSnapshotClass)
	void := state.SimpleSnapshot(state.VoidNamespaceSnapshotClass)

	tup := state.TupleSnapshot("org.apache.flink.api.java.tuple.Tuple2", long, str)
	b := append(be64(7), state.AppendStringValue(nil, "seven", false)...)
	if v := decode(t, tup, b); !reflect.DeepEqual(v, value.Tuple{int64(7), "seven"}) {
		t.Errorf("tuple = %v", v)
	}

	timer := state.TimerSnapshot(long, void)
	tb := append(append(be64(5^math.MinInt64), be64(3)...), 0)
	if v := decode(t, timer, tb); !reflect.DeepEqual(v, value.Timer{Timestamp: 5, Key: int64(3), Namespace: value.Void{}}) {
		t.Errorf("timer = %v", v)
	}

	list := state.ListSnapshot(long)
	lb := append([]byte{0, 0, 0, 2}, append(be64(1), be64(2)...)...)
	if v := decode(t, list, lb); !reflect.DeepEqual(v, value.List{int64(1), int64(2)}) {
		t.Errorf("list = %v", v)
	}

	m := state.MapSnapshot(str, long)
	mb := []byte{0, 0, 0, 2}
	mb = append(state.AppendStringValue(mb, "a", false), 0)
	mb = append(mb, be64(1)...)
	mb = append(state.AppendStringValue(mb, "b", false), 1) // null value
	want := value.Map{{Key: "a", Value: int64(1)}, {Key: "b", Null: true}}
	if v := decode(t, m, mb); !reflect.DeepEqual(v, want) {
		t.Errorf("map = %v", v)
	}

	// Unified-layout LIST and MAP values.
	ld, _ := value.For(long)
	if l, err := value.ListElements(append(append(be64(1), ','), be64(2)...), ld); err != nil || !reflect.DeepEqual(l, value.List{int64(1), int64(2)}) {
		t.Errorf("ListElements = %v, %v", l, err)
	}
	if _, err := value.ListElements(append(append(be64(1), ';'), be64(2)...), ld); err == nil {
		t.Error("bad delimiter accepted")
	}
	if v, err := value.MapValue(append([]byte{0}, be64(4)...), ld); err != nil || v != int64(4) {
		t.Errorf("MapValue = %v, %v", v, err)
	}
	if v, err := value.MapValue([]byte{1}, ld); err != nil || v != nil {
		t.Errorf("null MapValue = %v, %v", v, err)
	}

	ttl := state.CompositeSnapshot("org.apache.flink.runtime.state.ttl.TtlStateFactory$TtlSerializerSnapshot", 2, nil, long, str)
	tt := append(be64(1700000000000), state.AppendStringValue(nil, "v", false)...)
	if v := decode(t, ttl, tt); !reflect.DeepEqual(v, value.TTL{LastAccess: 1700000000000, Value: "v"}) {
		t.Errorf("ttl = %v", v)
	}

	var ue *value.UnsupportedError
	if _, err := value.For(&state.Snapshot{Class: "com.example.MysterySerializerSnapshot", Version: 1}); !errors.As(err, &ue) {
		t.Errorf("unknown class: %v", err)
	}
}

func TestFormat(t *testing.T) {
	v := value.Map{{Key: "a", Value: value.Tuple{int64(1), value.List{"x", nil}}}, {Key: "b", Null: true}}
	if got, want := value.Format(v), `{"a": (1, ["x", null]), "b": null}`; got != want {
		t.Errorf("Format = %s, want %s", got, want)
	}
	if got := value.Format(value.Timer{Timestamp: 5, Key: int64(3), Namespace: value.Void{}}); got != "timer(5, 3, VoidNamespace)" {
		t.Errorf("Format(timer) = %s", got)
	}
}
