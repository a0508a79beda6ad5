package catalog_test

import (
	"context"
	"fmt"
	"path/filepath"
	"runtime"
	"runtime/metrics"
	"sync"
	"testing"
	"time"

	"github.com/fsnap/fsnap/catalog"
	"github.com/fsnap/fsnap/fixtures"
	"github.com/fsnap/fsnap/internal/testservers"
	"github.com/fsnap/fsnap/store"
)

// BenchmarkGraph scans a root of 100 retained incremental checkpoints, each
// referencing 10,000 shared SSTs (10 subtasks × 1,000; 2% replaced per
// checkpoint: 1,005,000 references to 35,000 files), reads every _metadata
// (126 MB in all) and builds the graph with its orphans: what fsnap deps
// and gc do. The root is on mem:// and on local disk.
//
// peak-heap-MB is the most heap in use during an iteration above the heap
// before it (on mem:// the stored root itself is not counted); graph-MB is
// what the finished graph keeps.
func BenchmarkGraph(b *testing.B) {
	spec := fixtures.HistorySpec{Jobs: 1, Rounds: 100, Retain: 100, Subtasks: 10, SSTs: 1000, Churn: 0.02, FileBytes: 16}
	b.Run("mem", func(b *testing.B) {
		url := memRoot("bench")
		spec.RootURI = url
		root := testservers.Open(b, url)
		benchGraph(b, root, writeHistory(b, spec, root))
	})
	b.Run("file", func(b *testing.B) {
		dir := filepath.Join(b.TempDir(), "ckpt")
		spec.RootURI = "file:" + dir
		h, err := fixtures.GenerateHistory(spec)
		if err != nil {
			b.Fatal(err)
		}
		if err := h.Write(context.Background(), []fixtures.Writer{fixtures.Dir(dir)}, false); err != nil {
			b.Fatal(err)
		}
		benchGraph(b, testservers.Open(b, dir), h)
	})
}

func benchGraph(b *testing.B, root *store.Location, h *fixtures.History) {
	var metaBytes int64
	for _, o := range h.Objects {
		if o.Place == fixtures.PlaceMetadata {
			metaBytes += o.Size
		}
	}
	h = nil
	b.SetBytes(metaBytes)
	b.ReportAllocs()
	var peak, kept uint64
	var files, refs int
	for b.Loop() {
		runtime.GC()
		base := heapInUse()
		stop := samplePeak(base, &peak)
		_, g := graphOf(b, root)
		if len(g.Nodes) != 100 || len(g.Unreadable) != 0 {
			b.Fatalf("%d snapshots, %d unreadable", len(g.Nodes), len(g.Unreadable))
		}
		files, refs = len(g.Files), 0
		for _, n := range g.Nodes {
			refs += len(n.Files)
		}
		_ = g.Orphans()
		stop()
		runtime.GC()
		if h := heapInUse(); h > base {
			kept = h - base
		}
		runtime.KeepAlive(g)
	}
	b.ReportMetric(float64(peak)/(1<<20), "peak-heap-MB")
	b.ReportMetric(float64(kept)/(1<<20), "graph-MB")
	b.ReportMetric(float64(files), "files")
	b.ReportMetric(float64(refs), "refs")
}

// BenchmarkScanMillion lists a mem:// root of 1,000,000 objects in 1,000
// checkpoint folders (fsnap ls without reading _metadata), and, as the
// baseline of what the store itself costs, iterates the same objects with
// a plain store listing.
func BenchmarkScanMillion(b *testing.B) {
	const folders, files = 1000, 1000
	url := memRoot("million")
	root := testservers.Open(b, url)
	ctx := context.Background()
	var wg sync.WaitGroup
	sem := make(chan struct{}, 16)
	for c := range folders {
		sem <- struct{}{}
		wg.Add(1)
		go func() {
			defer func() { <-sem; wg.Done() }()
			for f := range files {
				name := fmt.Sprintf("job/chk-%d/%08x-0000-4000-8000-%012x", c+1, f, c)
				if f == 0 {
					name = fmt.Sprintf("job/chk-%d/_metadata", c+1)
				}
				key, _ := root.Key(name)
				if err := root.Bucket.WriteAll(ctx, key, nil, nil); err != nil {
					panic(err)
				}
			}
		}()
	}
	wg.Wait()
	b.Run("fsnap-scan", func(b *testing.B) {
		for b.Loop() {
			c, err := catalog.Scan(ctx, root, catalog.Options{})
			if err != nil {
				b.Fatal(err)
			}
			if n := len(c.Snapshots()); n != folders || c.Folders[0].Objects != files {
				b.Fatalf("%d folders", n)
			}
		}
	})
	b.Run("store-list", func(b *testing.B) {
		for b.Loop() {
			n := 0
			for _, err := range root.List(ctx, root.Prefix, "") {
				if err != nil {
					b.Fatal(err)
				}
				n++
			}
			if n != folders*files {
				b.Fatalf("%d objects", n)
			}
		}
	})
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
