package main

import (
	"os"
	"syscall"
	"testing"
)

// TestWidenPipe: a pipe on standard output gets a 1 MiB buffer; a regular
// file is left alone.
func TestWidenPipe(t *testing.T) {
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	defer w.Close()
	widenPipe(w)
	const fGetPipeSz = 1032 // F_GETPIPE_SZ
	n, _, errno := syscall.Syscall(syscall.SYS_FCNTL, w.Fd(), fGetPipeSz, 0)
	if errno != 0 || n != 1<<20 {
		t.Errorf("pipe buffer %d bytes (%v), want 1 MiB", n, errno)
	}
	f, err := os.Create(t.TempDir() + "/out")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	widenPipe(f) // no pipe: nothing to do, no error
}
