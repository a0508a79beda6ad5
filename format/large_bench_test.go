package format_test

import (
	"runtime"
	"testing"

	"github.com/fsnap/fsnap/fixtures"
	"github.com/fsnap/fsnap/format"
)

// BenchmarkParseLarge parses generated _metadata files of 100 MiB, one of
// inline state and one of handles only, and reports the heap the parsed
// model holds (the input excluded) as model-MiB.
func BenchmarkParseLarge(b *testing.B) {
	b.Run("inline-state", func(b *testing.B) { benchParse(b, fixtures.Large(100<<20)) })
	b.Run("handles", func(b *testing.B) { benchParse(b, fixtures.ManyHandles(100<<20)) })
}

func benchParse(b *testing.B, spec fixtures.Spec) {
	s, err := fixtures.Generate(spec)
	if err != nil {
		b.Fatal(err)
	}
	data, err := s.Bytes()
	if err != nil {
		b.Fatal(err)
	}
	s = nil
	b.SetBytes(int64(len(data)))
	b.ReportAllocs()
	var held uint64
	for b.Loop() {
		var before, after runtime.MemStats
		runtime.GC()
		runtime.ReadMemStats(&before)
		m, err := format.ParseMetadata(data)
		if err != nil {
			b.Fatal(err)
		}
		runtime.ReadMemStats(&after)
		held = max(held, after.HeapAlloc-before.HeapAlloc)
		runtime.KeepAlive(m)
	}
	b.ReportMetric(float64(len(data))/(1<<20), "input-MiB")
	b.ReportMetric(float64(held)/(1<<20), "model-MiB")
}
