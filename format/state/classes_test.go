package state_test

import (
	"bytes"
	"encoding/binary"
	"errors"
	"testing"

	"github.com/fsnap/fsnap/format/state"
)

// wire builds serializer snapshot bytes field by field.
type wire struct{ b []byte }

func (w *wire) i32(v int32) *wire { w.b = binary.BigEndian.AppendUint32(w.b, uint32(v)); return w }
func (w *wire) i64(v int64) *wire { w.b = binary.BigEndian.AppendUint64(w.b, uint64(v)); return w }
func (w *wire) u8(v byte) *wire   { w.b = append(w.b, v); return w }
func (w *wire) utf(s string) *wire {
	w.b = binary.BigEndian.AppendUint16(w.b, uint16(len(s)))
	w.b = append(w.b, s...)
	return w
}
func (w *wire) raw(b []byte) *wire { w.b = append(w.b, b...); return w }

// nested appends a versioned snapshot of a simple serializer (version 3, no payload).
func (w *wire) simple(class string) *wire { return w.utf(class).i32(3) }

func (w *wire) composite(outerVersion int32, outer func(*wire), nested ...string) *wire {
	w.i32(0x000DE704).i32(outerVersion)
	if outer != nil {
		outer(w)
	}
	w.i32(0x001457FD).i32(1).i32(int32(len(nested)))
	for _, n := range nested {
		w.simple(n)
	}
	return w
}

// javaStream is a Java serialization stream of one String.
func javaStream(s string) []byte {
	return append([]byte{0xAC, 0xED, 0x00, 0x05, 0x74, 0, byte(len(s))}, s...)
}

// TestSnapshotClasses decodes one snapshot of each class family whose
// layout docs/format/serializer-snapshots.md records, as the key
// serializer of a keyed header, and writes it back byte for byte.
func TestSnapshotClasses(t *testing.T) {
	const (
		base    = "org.apache.flink.api.common.typeutils.base."
		rt      = "org.apache.flink.api.java.typeutils.runtime."
		long    = base + "LongSerializer$LongSerializerSnapshot"
		str     = base + "StringSerializer$StringSerializerSnapshot"
		adapter = 0x7a53c4f0
	)
	// A legacy resilience list of one LongSerializer entry with its 1.6
	// config snapshot (proxy version 1, ParameterlessTypeSerializerConfig).
	resilience := func(w *wire) {
		ser := javaStream("x")
		cfg := (&wire{}).i32(1).utf("org.apache.flink.api.common.typeutils.ParameterlessTypeSerializerConfig").i32(1).utf(base + "LongSerializer").b
		block := (&wire{}).i32(1).i32(int32(len(ser))).raw(ser).raw(cfg).b
		w.i32(1).i32(0).i32(int32(8 + len(ser))).i32(int32(len(block))).raw(block)
	}
	cases := []struct {
		class   string
		version int32
		payload func(*wire)
		check   func(t *testing.T, s *state.Snapshot)
	}{
		{rt + "kryo.KryoSerializerSnapshot", 2, func(w *wire) {
			w.utf("com.example.Event")
			w.i64(0x4f2c69a3d70).i32(1).utf("com.example.Event").u8(1)
			key := (&wire{}).utf("com.example.Event").b
			val := (&wire{}).utf("com.example.Event").i32(1).utf("com.example.EventSerializer").b
			w.i32(int32(len(key))).raw(key).u8(1).i32(int32(len(val))).raw(val)
			w.i64(0x4f2c69a3d70).i32(0).i64(0x4f2c69a3d70).i32(0)
		}, func(t *testing.T, s *state.Snapshot) {
			if s.Str("typeClass") != "com.example.Event" || s.Str("serializerClass") != "com.example.EventSerializer" {
				t.Errorf("kryo parts %+v", s.Parts)
			}
		}},
		{rt + "kryo.KryoSerializer$KryoSerializerConfigSnapshot", adapter, func(w *wire) {
			ser := javaStream("kryo")
			w.i32(1).i32(int32(len(ser))).raw(ser).i32(1) // adapter: prior serializer, config version
			w.utf("com.example.Event").i32(1).utf("com.example.Event").utf("com.example.Event").i32(0)
		}, func(t *testing.T, s *state.Snapshot) {
			if s.Str("typeClass") != "com.example.Event" {
				t.Errorf("kryo config parts %+v", s.Parts)
			}
		}},
		{base + "EnumSerializer$EnumSerializerConfigSnapshot", 2, func(w *wire) {
			w.utf("com.example.Color").i32(2).utf("RED").utf("GREEN")
		}, nil},
		{"org.apache.flink.api.scala.typeutils.EnumValueSerializer$ScalaEnumSerializerConfigSnapshot", 2, func(w *wire) {
			w.utf("com.example.Color$").i32(1).utf("RED").i32(0)
		}, nil},
		{rt + "RowSerializer$RowSerializerSnapshot", 3, func(w *wire) { w.composite(2, nil, long, str) }, nil},
		{rt + "RowSerializer$RowSerializerSnapshot", 3, func(w *wire) { w.composite(4, func(w *wire) { w.u8(1) }, long) }, nil},
		{rt + "ValueSerializer$ValueSerializerSnapshot", 2, func(w *wire) { w.utf("com.example.MyValue") }, nil},
		{rt + "NullableSerializer$NullableSerializerSnapshot", 3, func(w *wire) { w.composite(2, func(w *wire) { w.i32(8) }, long) }, nil},
		{base + "ListSerializerSnapshot", 3, func(w *wire) { w.composite(2, func(w *wire) { w.u8(1) }, long) }, func(t *testing.T, s *state.Snapshot) {
			if _, err := state.LayoutOf(s); err == nil {
				t.Error("a list with a null mask has a layout")
			}
		}},
		{base + "GenericArraySerializerConfigSnapshot", 2, func(w *wire) {
			w.utf("java.lang.String").i32(0x001457FD).i32(1).i32(1).simple(str)
		}, nil},
		{base + "CollectionSerializerConfigSnapshot", 1, resilience, func(t *testing.T, s *state.Snapshot) {
			if n := s.Nested(); len(n) != 1 || n[0].Class != "org.apache.flink.api.common.typeutils.ParameterlessTypeSerializerConfig" {
				t.Errorf("nested %v", n)
			}
			if _, err := state.LayoutOf(s); err != nil {
				t.Error(err)
			}
		}},
		{"org.apache.flinkx.api.serializer.CoproductSerializer$CoproductSerializerSnapshot", 3, func(w *wire) {
			w.composite(3, func(w *wire) { w.i32(1).u8(4).raw([]byte("A$B")) }, long)
		}, nil},
		{"org.apache.flinkx.api.serializer.CollectionSerializerSnapshot", 2, func(w *wire) {
			w.utf("org.apache.flinkx.api.serializer.ListSerializer").utf("java.lang.Long").simple(long)
		}, nil},
		{"org.apache.flink.table.runtime.typeutils.BinaryRowDataSerializer$BinaryRowDataSerializerSnapshot", 3, func(w *wire) { w.i32(4) }, nil},
		{"org.apache.flink.formats.avro.typeutils.AvroSerializerSnapshot", 1, func(w *wire) { w.utf(`"long"`) }, nil},
		{"org.apache.flink.core.io.SimpleVersionedSerializerTypeSerializerProxy$SimpleVersionedSerializerTypeSerializerProxySnapshot", 1, func(w *wire) {
			j := javaStream("supplier")
			w.i32(int32(len(j))).raw(j)
		}, nil},
	}
	for _, c := range cases {
		w := (&wire{}).i32(6).u8(0).i32(2).utf(c.class).i32(c.version)
		c.payload(w)
		w.b = binary.BigEndian.AppendUint16(w.b, 0) // no states
		h, err := state.ReadKeyedHeader(w.b, 0)
		if err != nil {
			t.Errorf("%s: %v", c.class, err)
			continue
		}
		if h.KeySerializer.Class != c.class || len(h.Raw) != len(w.b) {
			t.Errorf("%s: read %s, %d of %d bytes", c.class, h.KeySerializer.Class, len(h.Raw), len(w.b))
		}
		out, err := h.Append(nil)
		if err != nil || !bytes.Equal(out, w.b) {
			t.Errorf("%s: written back differently (%v)", c.class, err)
		}
		if c.check != nil {
			c.check(t, h.KeySerializer)
		}
	}
}

// TestFramedUnknownClasses: a class fsnap does not know, where framing
// gives its extent (a POJO field's frame, a block with resilience), stays
// opaque bytes: the header still reads, names every state and writes back
// byte for byte; only that serializer has no layout.
func TestFramedUnknownClasses(t *testing.T) {
	const mystery = "com.example.MysterySerializer$MysterySnapshot"
	// A POJO whose one field uses the mystery serializer.
	field := (&wire{}).utf(mystery).i32(7).raw([]byte{1, 2, 3}).b
	key := (&wire{}).utf("com.example.Pojo").utf("f").b
	w := (&wire{}).i32(6).u8(0).i32(2).utf("org.apache.flink.api.java.typeutils.runtime.PojoSerializerSnapshot").i32(2)
	w.utf("com.example.Pojo")
	w.i64(0x4f2c69a3d70).i32(1).utf("f").u8(1).i32(int32(len(key))).raw(key).u8(1).i32(int32(len(field))).raw(field)
	w.i64(0x4f2c69a3d70).i32(0).i64(0x4f2c69a3d70).i32(0)
	w.b = binary.BigEndian.AppendUint16(w.b, 0)
	h, err := state.ReadKeyedHeader(w.b, 0)
	if err != nil {
		t.Fatal(err)
	}
	n := h.KeySerializer.Nested()
	if len(n) != 1 || !n[0].Opaque || n[0].Class != mystery || n[0].Version != 7 {
		t.Fatalf("POJO field %+v", n)
	}
	var nl *state.NoLayoutError
	if _, err := state.LayoutOf(h.KeySerializer); !errors.As(err, &nl) {
		t.Errorf("layout of a POJO with an opaque field: %v", err)
	}
	if out, err := h.Append(nil); err != nil || !bytes.Equal(out, w.b) {
		t.Errorf("POJO header written back differently (%v)", err)
	}

	// A Flink 1.3 keyed header (version 3) whose state's value config is
	// the mystery class: both states still read.
	ser := javaStream("s")
	entry := func(cfg []byte) []byte { return (&wire{}).i32(1).i32(int32(len(ser))).raw(ser).raw(cfg).b }
	long := (&wire{}).i32(1).utf("org.apache.flink.api.common.typeutils.ParameterlessTypeSerializerConfig").i32(1).utf("org.apache.flink.api.common.typeutils.base.LongSerializer").b
	odd := (&wire{}).i32(1).utf(mystery).i32(1).raw([]byte("payload of no known length")).b
	block := func(cfgs ...[]byte) *wire {
		b := &wire{}
		var offs []int32
		for _, c := range cfgs {
			offs = append(offs, int32(len(b.b)), int32(len(b.b)+8+len(ser)))
			b.raw(entry(c))
		}
		out := (&wire{}).i32(int32(len(cfgs)))
		for _, o := range offs {
			out.i32(o)
		}
		return out.i32(int32(len(b.b))).raw(b.b)
	}
	v3 := (&wire{}).i32(3).raw(block(long).b).raw([]byte{0, 2})
	v3.i32(1).utf("odd").raw(block(long, odd).b)
	v3.i32(1).utf("plain").raw(block(long, long).b)
	h, err = state.ReadKeyedHeader(v3.b, 0)
	if err != nil {
		t.Fatal(err)
	}
	if len(h.States) != 2 || h.States[0].Name != "odd" || h.States[1].Name != "plain" || h.States[0].Kind() != "VALUE" {
		t.Fatalf("states %+v", h.States)
	}
	if v := h.States[0].Serializer(state.ValueSerializerKey); !v.Opaque || v.Class != mystery {
		t.Errorf("odd value serializer %+v", v)
	}
	if _, err := state.LayoutOf(h.States[1].Serializer(state.ValueSerializerKey)); err != nil {
		t.Errorf("plain value layout: %v", err)
	}
	if out, err := h.Append(nil); err != nil || !bytes.Equal(out, v3.b) {
		t.Errorf("1.3 header written back differently (%v)", err)
	}
}
