package catalog

import "sync"

// budget bounds the bytes of _metadata read and parsed at once, so that a
// root of many large snapshots is read a few at a time: a file larger than
// the whole budget is read alone.
type budget struct {
	mu    sync.Mutex
	cond  *sync.Cond
	limit int64
	used  int64
}

// metadataBudget is the default: parsing holds about twice the file.
const metadataBudget = 256 << 20

func newBudget(limit int64) *budget {
	b := &budget{limit: limit}
	b.cond = sync.NewCond(&b.mu)
	return b
}

func (b *budget) acquire(n int64) {
	b.mu.Lock()
	for b.used > 0 && b.used+n > b.limit {
		b.cond.Wait()
	}
	b.used += n
	b.mu.Unlock()
}

func (b *budget) release(n int64) {
	b.mu.Lock()
	b.used -= n
	b.mu.Unlock()
	b.cond.Broadcast()
}
