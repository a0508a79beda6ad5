package table

import (
	"sync"
	"unsafe"

	"github.com/apache/arrow/go/v15/arrow/memory"
)

// recycler is the memory.Allocator of one RecordWriter's builders: the
// buffers of a written batch come back through Free and are handed out
// again for a later batch, zeroed as Go's allocator hands them out. With
// memory.GoAllocator every batch was fresh memory (about 1.3 bytes per
// byte of state: the builders' buffers, doubled while growing), which the
// runtime zeroed, faulted in and collected again. The writer's own
// batches are all it holds, so it is as bounded as they are.
type recycler struct {
	mu   sync.Mutex
	free [][]byte // full capacity, 64-byte aligned; oldest first
	held int      // their bytes
	keep int      // held at the most: a batch and a half (setKeep)
}

const alignment = 64

// sizeClass rounds a size up to a multiple of an eighth of its power of
// two (from 4 KiB on), so that the buffers of batches of about the same
// size fit each other.
func sizeClass(n int) int {
	if n <= 4096 {
		return n
	}
	p := 1
	for p*2 <= n {
		p *= 2
	}
	q := p / 8
	return (n + q - 1) / q * q
}

var _ memory.Allocator = (*recycler)(nil)

func (r *recycler) Allocate(size int) []byte {
	if size == 0 {
		return []byte{}
	}
	r.mu.Lock()
	best := -1
	for i, b := range r.free {
		// The smallest that fits, and not one much larger (a builder's
		// buffer doubled while it grew, a data buffer for a bitmap).
		if c := cap(b); c >= size && c <= size+size/4+4096 && (best < 0 || c < cap(r.free[best])) {
			best = i
		}
	}
	if best >= 0 {
		b := r.free[best]
		r.free = append(r.free[:best], r.free[best+1:]...)
		r.held -= cap(b)
		r.mu.Unlock()
		b = b[:cap(b)]
		clear(b)
		return b[:size]
	}
	r.mu.Unlock()
	c := sizeClass(size)
	buf := make([]byte, c+alignment)
	shift := 0
	if m := int(uintptr(unsafe.Pointer(unsafe.SliceData(buf))) % alignment); m != 0 {
		shift = alignment - m
	}
	return buf[shift : shift+size : shift+c]
}

func (r *recycler) Reallocate(size int, b []byte) []byte {
	if cap(b) >= size {
		return b[:size] // as memory.GoAllocator does
	}
	nb := r.Allocate(size)
	copy(nb, b)
	r.Free(b)
	return nb
}

func (r *recycler) Free(b []byte) {
	if cap(b) == 0 {
		return
	}
	r.mu.Lock()
	r.free = append(r.free, b[:0])
	r.held += cap(b)
	for r.held > r.keep { // drop the oldest
		r.held -= cap(r.free[0])
		r.free[0] = nil
		r.free = r.free[1:]
	}
	r.mu.Unlock()
}

// setKeep raises the bytes held for reuse to one and a half batches of n
// bytes: one batch is enough while the writer keeps up, but a small table's
// writer goroutine often lags a batch behind the largest table's.
func (r *recycler) setKeep(n int) {
	r.mu.Lock()
	r.keep = max(r.keep, n+n/2)
	r.mu.Unlock()
}
