package gc_test

import (
	"context"
	"io"
	"testing"

	"github.com/fsnap/fsnap/internal/store"
)

// locWriter writes fixture objects relative to a location's prefix.
type locWriter struct{ l *store.Location }

func (w locWriter) WriteObject(ctx context.Context, key string, write func(io.Writer) error) error {
	k, err := w.l.Key(key)
	if err != nil {
		return err
	}
	bw, err := w.l.Bucket.NewWriter(ctx, k, nil)
	if err != nil {
		return w.l.Wrap(k, err)
	}
	if err := write(bw); err != nil {
		bw.Close()
		return w.l.Wrap(k, err)
	}
	return w.l.Wrap(k, bw.Close())
}

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
