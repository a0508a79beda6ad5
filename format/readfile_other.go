//go:build !linux

package format

import (
	"os"
	"path/filepath"
)

// readMetadataBytes reads the file at path, or path/_metadata when path is
// a directory, returning the name it read. (readfile_linux.go reads with
// fewer system calls.)
func readMetadataBytes(path string) ([]byte, string, error) {
	if fi, err := os.Stat(path); err == nil && fi.IsDir() {
		path = filepath.Join(path, MetadataFileName)
	}
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, path, err
	}
	if int64(len(b)) > MaxMetadataFileSize {
		return nil, path, tooLarge(path, int64(len(b)))
	}
	return b, path, nil
}
