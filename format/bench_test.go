package format

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/fsnap/fsnap/internal/corpus"
)

// BenchmarkParseCorpus parses every corpus _metadata once per iteration;
// MB/s is over the total size of those files.
func BenchmarkParseCorpus(b *testing.B) {
	var files [][]byte
	var total int64
	for _, e := range corpus.Require(b) {
		f := readCorpusMetadata(b, e)
		files = append(files, f)
		total += int64(len(f))
	}
	b.SetBytes(total)
	b.ReportAllocs()
	for b.Loop() {
		for _, f := range files {
			if _, err := ParseMetadata(f); err != nil {
				b.Fatal(err)
			}
		}
	}
}

func BenchmarkWriteCorpus(b *testing.B) {
	var ms []*Metadata
	var total int64
	for _, e := range corpus.Require(b) {
		f := readCorpusMetadata(b, e)
		m, err := ParseMetadata(f)
		if err != nil {
			b.Fatal(err)
		}
		ms = append(ms, m)
		total += int64(len(f))
	}
	b.SetBytes(total)
	b.ReportAllocs()
	var buf []byte
	for b.Loop() {
		for _, m := range ms {
			var err error
			if buf, err = AppendMetadata(buf[:0], m); err != nil {
				b.Fatal(err)
			}
		}
	}
}

// BenchmarkReadCorpusFiles reads and parses every corpus _metadata from its
// path, as a user of ReadMetadataFile does (open, read, parse); MB/s is over
// the files' total size. /parallel reads them on GOMAXPROCS goroutines, as
// inventory and the catalog do.
func BenchmarkReadCorpusFiles(b *testing.B) {
	paths, total := corpusPaths(b)
	b.Run("serial", func(b *testing.B) {
		b.SetBytes(total)
		b.ReportAllocs()
		for b.Loop() {
			for _, p := range paths {
				if _, err := ReadMetadataFile(p); err != nil {
					b.Fatal(err)
				}
			}
		}
	})
	b.Run("parallel", func(b *testing.B) {
		b.SetBytes(total)
		b.ReportAllocs()
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				for _, p := range paths {
					if _, err := ReadMetadataFile(p); err != nil {
						b.Error(err)
						return
					}
				}
			}
		})
	})
}

func corpusPaths(b *testing.B) ([]string, int64) {
	var paths []string
	var total int64
	for _, e := range corpus.Require(b) {
		p := filepath.Join(e.Dir, MetadataFileName)
		fi, err := os.Stat(p)
		if err != nil {
			b.Fatal(err)
		}
		paths = append(paths, p)
		total += fi.Size()
	}
	return paths, total
}
