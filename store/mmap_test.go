//go:build linux

package store

import (
	"bytes"
	"context"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// TestMapLocalFiles: a large local file read outside the heap is byte for
// byte the file; releasing its first half leaves the process (anonymous
// memory shrinks by about that much) and keeps the second half intact; one
// over the limit is refused, naming it.
func TestMapLocalFiles(t *testing.T) {
	dir := t.TempDir()
	data := make([]byte, 4*mapMin+12345)
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
	got, release, err := l.ReadAllReleasable(ctx, l.Prefix+"_metadata", int64(len(data)))
	if err != nil || !bytes.Equal(got, data) {
		t.Fatalf("read %d bytes, %v", len(got), err)
	}
	before := rssAnon(t)
	half := len(data) / 2
	release(half)
	if freed := before - rssAnon(t); freed < int64(half)*3/4 {
		t.Errorf("releasing %d bytes freed %d", half, freed)
	}
	if !bytes.Equal(got[half+os.Getpagesize():], data[half+os.Getpagesize():]) {
		t.Error("the bytes after the released prefix changed")
	}
	release(len(data))
	release(len(data)) // a second release of everything does nothing
	if _, _, err := l.ReadAllReleasable(ctx, l.Prefix+"_metadata", int64(len(data))-1); err == nil || !strings.Contains(err.Error(), "_metadata") {
		t.Errorf("over the limit: %v", err)
	}
}

// rssAnon is the process's resident anonymous memory in bytes.
func rssAnon(t *testing.T) int64 {
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		t.Fatal(err)
	}
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, "RssAnon:"); ok {
			kb, err := strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")), 10, 64)
			if err != nil {
				t.Fatal(err)
			}
			return kb << 10
		}
	}
	t.Fatal("no RssAnon in /proc/self/status")
	return 0
}
