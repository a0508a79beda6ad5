package store

import (
	"fmt"
	"os"
	"sync"
	"syscall"
)

// mapMin is the size from which reading outside the heap pays.
const mapMin = 4 << 20

// mapFile reads the file at path into anonymous memory outside the heap,
// populated in one call; ok is false when it did not (too small, or it
// failed) and the caller should read it the usual way. release gives the
// memory back (see ReadAllReleasable).
func mapFile(path string, limit int64) (b []byte, release func(n int), ok bool, err error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, nil, false, nil // the normal read reports it
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil || !fi.Mode().IsRegular() || fi.Size() < mapMin {
		return nil, nil, false, nil
	}
	if fi.Size() > limit {
		return nil, nil, true, fmt.Errorf("%d bytes, more than the limit of %d", fi.Size(), limit)
	}
	// Anonymous memory the file is read into, not a mapping of the file: a
	// file truncated while mapped would fault the process.
	b, err = syscall.Mmap(-1, 0, int(fi.Size()), syscall.PROT_READ|syscall.PROT_WRITE, syscall.MAP_PRIVATE|syscall.MAP_ANON|syscall.MAP_POPULATE)
	if err != nil {
		return nil, nil, false, nil
	}
	n := 0
	for n < len(b) {
		m, err := f.Read(b[n:])
		if m == 0 || err != nil {
			syscall.Munmap(b)
			return nil, nil, false, nil // changed under us: read it the normal way
		}
		n += m
	}
	return b, releaser(b), true, nil
}

// releaser gives back b's pages as its prefix is done with: DONTNEED for
// a prefix (the pages leave the process at once), unmapping for all of it.
func releaser(b []byte) func(n int) {
	var mu sync.Mutex
	given := 0 // whole pages given back so far
	page := os.Getpagesize()
	return func(n int) {
		mu.Lock()
		defer mu.Unlock()
		if b == nil || n <= given {
			return
		}
		if n >= len(b) {
			syscall.Munmap(b)
			b = nil
			return
		}
		if n = n / page * page; n > given {
			syscall.Madvise(b[given:n], syscall.MADV_DONTNEED)
			given = n
		}
	}
}
