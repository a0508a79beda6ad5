package store_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"testing"

	"github.com/fsnap/fsnap/store"
)

// BenchmarkList lists a directory of n objects (one shared/ folder, as in
// a checkpoint root) with List; ns/op is per listing of all n.
func BenchmarkList(b *testing.B) {
	ctx := context.Background()
	for _, n := range []int{10_000, 50_000} {
		dir := b.TempDir()
		shared := filepath.Join(dir, "shared")
		os.MkdirAll(shared, 0o755)
		mem := fmt.Sprintf("mem://bench%d", n)
		ml, err := store.Open(ctx, mem)
		if err != nil {
			b.Fatal(err)
		}
		for i := range n {
			name := fmt.Sprintf("%08x-4e1b-4a7b-9c2e-3f6d8a1b2c3d", i)
			if err := os.WriteFile(filepath.Join(shared, name), nil, 0o644); err != nil {
				b.Fatal(err)
			}
			ml.Bucket.WriteAll(ctx, "shared/"+name, nil, nil)
		}
		for kind, ref := range map[string]string{"file": dir, "mem": mem} {
			b.Run(fmt.Sprintf("%s/%d", kind, n), func(b *testing.B) {
				l, err := store.Open(ctx, ref)
				if err != nil {
					b.Fatal(err)
				}
				b.ReportAllocs()
				for b.Loop() {
					got := 0
					for _, err := range l.List(ctx, l.Prefix+"shared/", "") {
						if err != nil {
							b.Fatal(err)
						}
						got++
					}
					if got != n {
						b.Fatalf("listed %d of %d", got, n)
					}
				}
				b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/float64(n), "ns/object")
			})
		}
	}
}
