package state_test

import (
	"bytes"
	"encoding/binary"
	"sync"
	"testing"

	"github.com/fsnap/fsnap/format/state"
)

// synthStream writes a unified stream of about size bytes: Long keys,
// VoidNamespace, two VALUE states with valueLen-byte values, 128 key groups.
func synthStream(tb testing.TB, compressed bool, size, valueLen int) ([]byte, state.KeyGroups, int) {
	const maxP, groups = 128, 128
	var buf bytes.Buffer
	buf.Grow(size + size/8)
	h := syntheticHeader(compressed, 2)
	w, err := state.NewUnifiedWriter(&buf, h, 0, groups, maxP)
	if err != nil {
		tb.Fatal(err)
	}
	perEntry := 4 + 1 + 8 + 1 + 4 + valueLen
	n := size / perEntry
	perGroup := n / groups / 2
	val := make([]byte, valueLen)
	void := []byte{0}
	var key, kb []byte
	entries := 0
	for g := int32(0); g < groups; g++ {
		for st := 0; st < 2; st++ {
			for i := 0; i < perGroup; i++ {
				k := int64(g)<<32 | int64(i)
				kb = binary.BigEndian.AppendUint64(kb[:0], uint64(k))
				key = state.AppendCompositeKey(key[:0], kb, void, nil, false)
				binary.BigEndian.PutUint64(val, uint64(k)) // some variety for Snappy
				if err := w.Add(g, st, key, val); err != nil {
					tb.Fatal(err)
				}
				entries++
			}
		}
	}
	kg, err := w.Close()
	if err != nil {
		tb.Fatal(err)
	}
	return buf.Bytes(), kg, entries
}

type synthKey struct {
	compressed bool
	size, vl   int
}

var synthCache sync.Map

func cachedStream(b *testing.B, compressed bool, size, vl int) ([]byte, state.KeyGroups, int) {
	k := synthKey{compressed, size, vl}
	if v, ok := synthCache.Load(k); ok {
		x := v.(*synthResult)
		return x.data, x.g, x.n
	}
	d, g, n := synthStream(b, compressed, size, vl)
	synthCache.Store(k, &synthResult{d, g, n})
	return d, g, n
}

type synthResult struct {
	data []byte
	g    state.KeyGroups
	n    int
}

func benchIter(b *testing.B, compressed bool, vl int) {
	data, g, n := cachedStream(b, compressed, 256<<20, vl)
	plain := int64(0)
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		ks, err := state.OpenKeyed(bytes.NewReader(data), int64(len(data)), g, state.KeyedOptions{Name: "bench", MaxParallelism: 128})
		if err != nil {
			b.Fatal(err)
		}
		it := ks.Iter()
		got := 0
		plain = 0
		for it.Next() {
			got++
			plain += int64(it.Entry().Size)
		}
		if it.Err() != nil || got != n {
			b.Fatalf("%d of %d entries: %v", got, n, it.Err())
		}
	}
	b.StopTimer()
	// MB/s counts decompressed stream bytes; stored bytes per op are reported
	// separately.
	b.SetBytes(plain)
	b.ReportMetric(float64(n)*float64(b.N)/b.Elapsed().Seconds(), "entries/s")
	b.ReportMetric(float64(len(data)), "stored-B/op")
}

// BenchmarkKeyGroupIterator walks a generated 256 MiB unified stream.
func BenchmarkKeyGroupIterator(b *testing.B) {
	for _, c := range []struct {
		name       string
		compressed bool
		vl         int
	}{{"plain/value100", false, 100}, {"plain/value16", false, 16}, {"snappy/value100", true, 100}} {
		b.Run(c.name, func(b *testing.B) { benchIter(b, c.compressed, c.vl) })
	}
}

// BenchmarkUnifiedWriter writes a 64 MiB stream.
func BenchmarkUnifiedWriter(b *testing.B) {
	for _, compressed := range []bool{false, true} {
		name := "plain"
		if compressed {
			name = "snappy"
		}
		b.Run(name, func(b *testing.B) {
			b.ReportAllocs()
			var n int
			for i := 0; i < b.N; i++ {
				_, _, n = synthStream(b, compressed, 64<<20, 100)
			}
			b.SetBytes(int64(n) * (4 + 1 + 8 + 1 + 4 + 100)) // entry bytes before compression
			b.ReportMetric(float64(n)*float64(b.N)/b.Elapsed().Seconds(), "entries/s")
		})
	}
}
