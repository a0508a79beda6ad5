package testservers_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/fsnap/fsnap/internal/testservers"
	"github.com/fsnap/fsnap/store"
)

func TestSharedServers(t *testing.T) {
	for _, k := range testservers.Kinds {
		t.Run(string(k), func(t *testing.T) {
			start := time.Now()
			s := testservers.Shared(t, k)
			t.Logf("%s ready at %s in %v", k, s.Addr, time.Since(start).Round(time.Millisecond))
			if s2 := testservers.Shared(t, k); s2 != s {
				t.Fatal("Shared started a second server")
			}
			u1, u2 := s.NewBucket(t), s.NewBucket(t)
			if u1 == u2 || !strings.HasPrefix(u1, string(k)+"://") {
				t.Fatalf("bucket URLs %q, %q", u1, u2)
			}
			roundTrip(t, u1, "x/y", "hello")
		})
	}
}

func roundTrip(t *testing.T, url, key, data string) {
	t.Helper()
	ctx := context.Background()
	l, err := store.Open(ctx, url)
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	if err := l.Bucket.WriteAll(ctx, key, []byte(data), nil); err != nil {
		t.Fatal(l.Wrap(key, err))
	}
	got, err := l.ReadAll(ctx, key, 100)
	if err != nil || string(got) != data {
		t.Fatalf("read back %q, %v", got, err)
	}
}

// A private server dies (MinIO: crash; Azurite: graceful, since it loses
// recent metadata on a crash) and comes back with its data.
func TestKillRestart(t *testing.T) {
	for _, k := range []testservers.Kind{testservers.S3, testservers.Azure} {
		t.Run(string(k), func(t *testing.T) {
			ctx := context.Background()
			start := time.Now()
			s := testservers.Start(t, k)
			t.Logf("private %s ready in %v", k, time.Since(start).Round(time.Millisecond))
			url := s.NewBucket(t)
			roundTrip(t, url, "before", "kept")

			if k == testservers.Azure {
				s.Shutdown()
			} else {
				s.Kill()
			}
			l, err := store.Open(ctx, url)
			if err != nil {
				t.Fatal(err)
			}
			defer l.Close()
			tctx, cancel := context.WithTimeout(ctx, 2*time.Second)
			_, err = l.ReadAll(tctx, "before", 100)
			cancel()
			if err == nil {
				t.Fatal("read from a killed server succeeded")
			}
			t.Logf("read while killed: %v", err)

			start = time.Now()
			s.Restart(t)
			t.Logf("restart in %v", time.Since(start).Round(time.Millisecond))
			got, err := l.ReadAll(ctx, "before", 100)
			if err != nil || string(got) != "kept" {
				t.Fatalf("after restart: %q, %v", got, err)
			}
		})
	}
}
