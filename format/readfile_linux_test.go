//go:build linux

package format

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"syscall"
	"testing"

	"github.com/fsnap/fsnap/internal/corpus"
)

// TestReadMetadataFilePaths: every corpus file read from its path equals
// ParseMetadata of its bytes; a directory without _metadata fails naming
// dir/_metadata; a named pipe (not a regular file) is read too.
func TestReadMetadataFilePaths(t *testing.T) {
	for _, e := range corpus.Require(t) {
		want, err := ParseMetadata(readCorpusMetadata(t, e))
		if err != nil {
			t.Fatal(err)
		}
		got, err := ReadMetadataFile(e.Dir)
		if err != nil || !reflect.DeepEqual(got, want) {
			t.Fatalf("%s: %v, or not what ParseMetadata makes", e.Name, err)
		}
	}
	dir := t.TempDir()
	_, err := ReadMetadataFile(dir)
	if want := filepath.Join(dir, MetadataFileName); !errors.Is(err, fs.ErrNotExist) || !strings.Contains(err.Error(), want) {
		t.Errorf("empty directory: %v, want it to name %s", err, want)
	}
	e := corpus.Find(t, "new-stateful-udf-migration-itcase-flink2.3-rocksdb-checkpoint")
	b := readCorpusMetadata(t, e)
	fifo := filepath.Join(dir, "pipe")
	if err := syscall.Mkfifo(fifo, 0o600); err != nil {
		t.Skipf("mkfifo: %v", err)
	}
	go func() {
		if f, err := os.OpenFile(fifo, os.O_WRONLY, 0); err == nil {
			f.Write(b)
			f.Close()
		}
	}()
	m, err := ReadMetadataFile(fifo)
	if err != nil || m.Version != 6 || len(m.Operators) == 0 {
		t.Errorf("pipe: %v", err)
	}
}
