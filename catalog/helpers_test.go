package catalog_test

import (
	"context"
	"fmt"
	"sync/atomic"
	"testing"

	"github.com/fsnap/fsnap/catalog"
	"github.com/fsnap/fsnap/fixtures"
	"github.com/fsnap/fsnap/store"
)

var memSeq atomic.Int64

// memRoot returns a fresh mem:// root URL.
func memRoot(name string) string {
	return fmt.Sprintf("mem://catalog-%s-%d/root", name, memSeq.Add(1))
}

// writeHistory generates a history with spec's roots and writes it, old
// objects first.
func writeHistory(t testing.TB, spec fixtures.HistorySpec, roots ...*store.Location) *fixtures.History {
	t.Helper()
	h, err := fixtures.GenerateHistory(spec)
	if err != nil {
		t.Fatal(err)
	}
	var ws []fixtures.Writer
	for _, r := range roots {
		ws = append(ws, r)
	}
	ctx := context.Background()
	for _, recent := range []bool{false, true} {
		if err := h.Write(ctx, ws, recent); err != nil {
			t.Fatal(err)
		}
	}
	return h
}

// graphOf scans a root and builds its graph.
func graphOf(t testing.TB, root *store.Location) (*catalog.Catalog, *catalog.Graph) {
	t.Helper()
	ctx := context.Background()
	c, err := catalog.Scan(ctx, root, catalog.Options{Areas: true, Keep: true})
	if err != nil {
		t.Fatal(err)
	}
	g, err := catalog.Build(ctx, c, nil, catalog.BuildOptions{})
	if err != nil {
		t.Fatal(err)
	}
	return c, g
}
