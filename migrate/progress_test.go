package migrate

import (
	"sync/atomic"
	"testing"
	"time"
)

// TestProgressFeed: the feed calls Progress now and then while a run goes
// on and exactly once with Final set, after which it calls no more.
func TestProgressFeed(t *testing.T) {
	var done atomic.Int64
	var calls, finals atomic.Int32
	var last Progress
	tr := Transfers{ProgressEvery: time.Millisecond, Progress: func(p Progress) {
		calls.Add(1)
		if p.Final {
			finals.Add(1)
		}
		last = p
	}}
	stop := tr.feed(func() Progress { return Progress{Bytes: 100, BytesDone: done.Load()} })
	for i := range 100 {
		done.Store(int64(i + 1))
		time.Sleep(100 * time.Microsecond)
	}
	time.Sleep(5 * time.Millisecond)
	stop()
	stop() // a second stop is harmless
	n := calls.Load()
	time.Sleep(5 * time.Millisecond)
	if finals.Load() != 1 || !last.Final || last.BytesDone != 100 || last.Bytes != 100 || last.Elapsed <= 0 {
		t.Errorf("%d final calls, last %+v; want one, with 100 of 100 bytes", finals.Load(), last)
	}
	if n < 2 || calls.Load() != n {
		t.Errorf("%d calls (then %d after stop); want some before the final one and none after", n, calls.Load())
	}
	// Without a Progress function there is no feed at all.
	Transfers{}.feed(func() Progress { t.Error("read without a feed"); return Progress{} })()
}
