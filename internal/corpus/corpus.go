// Package corpus locates the shared corpus of Flink-written snapshots that the
// tests read ($FSNAP_CORPUS, default ../shared/corpus from the repository
// root) and lists it from its manifest.
package corpus

import (
	"bufio"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"testing"
)

// Entry is one row of manifest.tsv.
type Entry struct {
	Name            string // directory under flink/
	Flink           string // "1.15", "unknown"
	Kind            string // canonical-savepoint, native-savepoint, checkpoint, unknown
	Backend         string // hashmap, rocksdb, unspecified
	MetadataVersion int
	Files           int
	Bytes           int64
	Dir             string // absolute path of the snapshot directory
}

// Root is the corpus directory, whether or not it exists.
func Root() string {
	if r := os.Getenv("FSNAP_CORPUS"); r != "" {
		abs, err := filepath.Abs(r)
		if err == nil {
			return abs
		}
		return r
	}
	_, file, _, _ := runtime.Caller(0)
	repo := filepath.Dir(filepath.Dir(filepath.Dir(file)))
	return filepath.Join(filepath.Dir(repo), "shared", "corpus")
}

// Load reads the manifest. Tests call Require instead.
func Load() ([]Entry, error) {
	root := Root()
	f, err := os.Open(filepath.Join(root, "manifest.tsv"))
	if err != nil {
		return nil, err
	}
	defer f.Close()
	var out []Entry
	sc := bufio.NewScanner(f)
	line := 0
	for sc.Scan() {
		line++
		if line == 1 || strings.TrimSpace(sc.Text()) == "" {
			continue
		}
		c := strings.Split(sc.Text(), "\t")
		if len(c) != 7 {
			return nil, fmt.Errorf("manifest.tsv line %d: %d columns, want 7", line, len(c))
		}
		v, _ := strconv.Atoi(c[4])
		n, _ := strconv.Atoi(c[5])
		b, _ := strconv.ParseInt(c[6], 10, 64)
		out = append(out, Entry{Name: c[0], Flink: c[1], Kind: c[2], Backend: c[3],
			MetadataVersion: v, Files: n, Bytes: b, Dir: filepath.Join(root, "flink", c[0])})
	}
	return out, sc.Err()
}

// Require returns the corpus entries. Without a corpus the test fails on CI
// (CI=true) and is skipped elsewhere, with a message saying where it looked.
func Require(tb testing.TB) []Entry {
	tb.Helper()
	entries, err := Load()
	if err != nil || len(entries) == 0 {
		msg := fmt.Sprintf("corpus not found at %s (set FSNAP_CORPUS): %v", Root(), err)
		if os.Getenv("CI") == "true" {
			tb.Fatal(msg)
		}
		tb.Skip(msg)
	}
	return entries
}

// Find returns the entry with the given name, failing the test if absent.
func Find(tb testing.TB, name string) Entry {
	tb.Helper()
	for _, e := range Require(tb) {
		if e.Name == name {
			return e
		}
	}
	tb.Fatalf("corpus has no snapshot %q", name)
	return Entry{}
}

// Copy copies the snapshot directory of the named entry into a temporary
// directory (the corpus itself is never modified) and returns the copy.
func Copy(tb testing.TB, name string) string {
	tb.Helper()
	src := Find(tb, name).Dir
	dst := filepath.Join(tb.TempDir(), name)
	if err := os.MkdirAll(dst, 0o755); err != nil {
		tb.Fatal(err)
	}
	ents, err := os.ReadDir(src)
	if err != nil {
		tb.Fatal(err)
	}
	for _, e := range ents {
		b, err := os.ReadFile(filepath.Join(src, e.Name()))
		if err == nil {
			err = os.WriteFile(filepath.Join(dst, e.Name()), b, 0o644)
		}
		if err != nil {
			tb.Fatal(err)
		}
	}
	return dst
}
