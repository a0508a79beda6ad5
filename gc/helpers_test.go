package gc_test

import (
	"context"
	"testing"

	"github.com/fsnap/fsnap/store"
)

// wipe deletes every object under a location.
func wipe(t testing.TB, l *store.Location) {
	t.Helper()
	ctx := context.Background()
	var keys []string
	for o, err := range l.List(ctx, l.Prefix, "") {
		if err != nil {
			t.Fatal(err)
		}
		keys = append(keys, o.Key)
	}
	for _, k := range keys {
		if err := l.Bucket.Delete(ctx, k); err != nil {
			t.Fatal(err)
		}
	}
}
