package migrate

import (
	"sync"
	"time"

	"github.com/fsnap/fsnap/internal/transfer"
)

// Transfers are the settings of the copies every writer in migrate makes
// (relocation, to-canonical's carried files).
type Transfers struct {
	// Parallel is the number of copies in flight at once, shared by every
	// snapshot of a run (default 16).
	Parallel int
	// NoServerSide streams every copy through this process even when the
	// store could copy by itself (to re-hash every byte).
	NoServerSide bool
	// NoSync skips making local destination files durable (fsync) before
	// _metadata is written.
	NoSync bool
	// Progress, when set, receives the run's counters every ProgressEvery
	// (default one second) and once more, with Final set, at the end.
	Progress func(Progress)
	// ProgressEvery is how often Progress is called.
	ProgressEvery time.Duration
}

// Progress is the one progress feed of migrate's writers: what a run has
// done so far. Counts of files and bytes grow as work is found, so Files
// and Bytes may rise while a run goes on.
type Progress struct {
	Files           int64 // files submitted
	FilesDone       int64 // copied, copied server-side or already there
	FilesPresent    int64 // already at the destination
	FilesServerSide int64
	FilesFailed     int64
	Bytes           int64 // bytes of work known (files, or state converted)
	BytesDone       int64
	BytesPresent    int64 // bytes found already at the destination
	Elapsed         time.Duration
	Final           bool
}

// engine makes the copy engine of a run.
func (t Transfers) engine() *transfer.Engine {
	return transfer.New(transfer.Options{Transfers: t.Parallel, NoServerSide: t.NoServerSide, SyncLocal: !t.NoSync})
}

// progressOf reads an engine's counters.
func progressOf(e *transfer.Engine) Progress {
	s := &e.Stats
	return Progress{Files: s.FilesTotal.Load(), FilesDone: s.FilesDone.Load(), FilesPresent: s.FilesSkipped.Load(),
		FilesServerSide: s.FilesServerSide.Load(), FilesFailed: s.FilesFailed.Load(),
		Bytes: s.BytesTotal.Load(), BytesDone: s.BytesDone.Load(), BytesPresent: s.BytesSkipped.Load()}
}

// feed calls t.Progress with read() until stopped; stop sends the final
// call and waits for it.
func (t Transfers) feed(read func() Progress) (stop func()) {
	if t.Progress == nil {
		return func() {}
	}
	every := t.ProgressEvery
	if every <= 0 {
		every = time.Second
	}
	start := time.Now()
	quit, done := make(chan struct{}), make(chan struct{})
	send := func(final bool) {
		p := read()
		p.Elapsed, p.Final = time.Since(start), final
		t.Progress(p)
	}
	go func() {
		defer close(done)
		tick := time.NewTicker(every)
		defer tick.Stop()
		for {
			select {
			case <-quit:
				send(true)
				return
			case <-tick.C:
				send(false)
			}
		}
	}()
	var once sync.Once
	return func() {
		once.Do(func() { close(quit) })
		<-done
	}
}
