//go:build linux

package store

import (
	"bytes"
	"context"
	"math/rand/v2"
	"os"
	"path/filepath"
	"testing"
)

// TestMapLocalFiles: a large local file read through anonymous memory is
// byte for byte the file; one over the limit is refused, naming it.
func TestMapLocalFiles(t *testing.T) {
	defer KeptLocalFiles.Store(KeptLocalFiles.Load())
	KeptLocalFiles.Store(2)
	dir := t.TempDir()
	data := make([]byte, mapMin+12345)
	r := rand.New(rand.NewPCG(1, 2))
	for i := range data {
		data[i] = byte(r.Uint32())
	}
	if err := os.WriteFile(filepath.Join(dir, "_metadata"), data, 0o644); err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	l, err := Open(ctx, dir)
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	got, err := l.ReadAllKept(ctx, l.Prefix+"_metadata", int64(len(data)))
	if err != nil || !bytes.Equal(got, data) {
		t.Fatalf("read %d bytes, %v", len(got), err)
	}
	if _, err := l.ReadAllKept(ctx, l.Prefix+"_metadata", int64(len(data))-1); err == nil || !bytes.Contains([]byte(err.Error()), []byte("_metadata")) {
		t.Errorf("over the limit: %v", err)
	}
	if n := KeptLocalFiles.Load(); n != 0 {
		t.Errorf("%d files left to keep, want 0: both reads took one", n)
	}
}
