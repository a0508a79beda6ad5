package catalog_test

import (
	"context"
	"runtime"
	"runtime/metrics"
	"sync"
	"testing"
	"time"

	"github.com/fsnap/fsnap/catalog"
	"github.com/fsnap/fsnap/fixtures"
)

// BenchmarkGraph scans a root of 100 retained incremental checkpoints, each
// referencing 10,000 shared SSTs (10 subtasks × 1,000; 2% churn per
// checkpoint), reads every _metadata and builds the graph with its
// orphans. peak-heap-MB is the most heap in use during one iteration over
// what the stored root itself takes (mem:// keeps it in the heap).
func BenchmarkGraph(b *testing.B) {
	url := memRoot("bench")
	root := open(b, url)
	spec := fixtures.HistorySpec{RootURI: url, Jobs: 1, Rounds: 100, Retain: 100,
		Subtasks: 10, SSTs: 1000, Churn: 0.02, FileBytes: 16}
	h := writeHistory(b, spec, root)
	var metaBytes int64
	for _, o := range h.Objects {
		if o.Place == fixtures.PlaceMetadata {
			metaBytes += o.Size
		}
	}
	b.SetBytes(metaBytes)
	b.ReportAllocs()
	ctx := context.Background()
	var peak uint64
	var files, refs int
	for b.Loop() {
		runtime.GC()
		base := heapInUse()
		stop := samplePeak(base, &peak)
		c, err := catalog.Scan(ctx, root, catalog.Options{Areas: true, Keep: true})
		if err != nil {
			b.Fatal(err)
		}
		g, err := catalog.Build(ctx, c, nil, catalog.BuildOptions{})
		if err != nil {
			b.Fatal(err)
		}
		if len(g.Nodes) != 100 || len(g.Unreadable) != 0 {
			b.Fatalf("%d snapshots, %d unreadable", len(g.Nodes), len(g.Unreadable))
		}
		files, refs = len(g.Files), 0
		for _, n := range g.Nodes {
			refs += len(n.Files)
		}
		_ = g.Orphans()
		stop()
	}
	b.ReportMetric(float64(peak)/(1<<20), "peak-heap-MB")
	b.ReportMetric(float64(files), "files")
	b.ReportMetric(float64(refs), "refs")
}

func heapInUse() uint64 {
	s := []metrics.Sample{{Name: "/memory/classes/heap/objects:bytes"}}
	metrics.Read(s)
	return s[0].Value.Uint64()
}

// samplePeak records the largest heap above base until stop is called.
func samplePeak(base uint64, peak *uint64) (stop func()) {
	done := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		t := time.NewTicker(5 * time.Millisecond)
		defer t.Stop()
		for {
			if h := heapInUse(); h > base && h-base > *peak {
				*peak = h - base
			}
			select {
			case <-done:
				return
			case <-t.C:
			}
		}
	}()
	return func() { close(done); wg.Wait() }
}
