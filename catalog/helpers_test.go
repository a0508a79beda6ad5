package catalog_test

import (
	"context"
	"fmt"
	"sync/atomic"
	"testing"

	"github.com/fsnap/fsnap/fixtures"
	"github.com/fsnap/fsnap/internal/store"
)

var memSeq atomic.Int64

// memRoot returns a fresh mem:// root URL.
func memRoot(name string) string {
	return fmt.Sprintf("mem://catalog-%s-%d/root", name, memSeq.Add(1))
}

func open(t testing.TB, ref string) *store.Location {
	t.Helper()
	l, err := store.Open(context.Background(), ref)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	return l
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
