package store

import (
	"fmt"
	"os"
	"syscall"
)

// mapFile reads the file at path into anonymous memory outside the heap;
// ok is false when it did not (too small, or it failed) and the caller
// should read it the usual way.
func mapFile(path string, limit int64) (b []byte, ok bool, err error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, false, nil // the normal read reports it
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil || !fi.Mode().IsRegular() || fi.Size() < mapMin {
		return nil, false, nil
	}
	if fi.Size() > limit {
		return nil, true, fmt.Errorf("%d bytes, more than the limit of %d", fi.Size(), limit)
	}
	// Anonymous memory the file is read into, not a mapping of the file: a
	// file truncated while mapped would fault the process.
	b, err = syscall.Mmap(-1, 0, int(fi.Size()), syscall.PROT_READ|syscall.PROT_WRITE, syscall.MAP_PRIVATE|syscall.MAP_ANON|syscall.MAP_POPULATE)
	if err != nil {
		return nil, false, nil
	}
	n := 0
	for n < len(b) {
		m, err := f.Read(b[n:])
		if m == 0 || err != nil {
			syscall.Munmap(b)
			return nil, false, nil // changed under us: read it the normal way
		}
		n += m
	}
	return b, true, nil
}
