package store

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
)

// Local directories are listed by walking them here rather than through
// fileblob, whose ListPaged re-walks the whole tree for every page (O(n²):
// minutes for a shared/ folder of a few hundred thousand files) and walks
// in path order rather than key order, so that with names like "x-1" next
// to a directory "x" its pages skip or repeat objects. The walk yields keys
// in true key order, once, with fileblob's other rules: only files are
// objects, ".attrs" sidecars are hidden, empty directories yield nothing,
// unreadable ones are errors (not skipped).
//
// A symbolic link below the listed directory is an error (ErrLink), never
// an object: a link to a folder would hide a snapshot (and gc would delete
// the files it uses), a link to a file would be deleted as if it were one,
// and following links would reach files outside the root the user named.
// The listed directory itself, and the directories above it, may be links:
// Open resolves them.
//
// mem:// (memblob) also re-sorts every key per page; List uses big pages
// there.

// memListPage is List's page size on mem://: fewer re-sorts, bounded memory.
const memListPage = 50_000

// listLocal yields the objects whose keys start with prefix and sort after
// the key after ("" for all), in key order. delimiter is "" or "/".
func (l *Location) listLocal(ctx context.Context, prefix, delimiter, after string, yield func(Object, error) bool) {
	dirKey := prefix[:strings.LastIndex(prefix, "/")+1] // "" or ends in "/"
	w := localWalker{ctx: ctx, prefix: prefix, delim: delimiter, after: after, yield: yield,
		wrap: func(err error) error { return l.Wrap(prefix, err) }}
	w.walk(dirKey, true)
}

type localWalker struct {
	ctx    context.Context
	prefix string
	delim  string
	after  string
	yield  func(Object, error) bool
	wrap   func(error) error
	n      int
}

type dirent struct {
	name string
	dir  bool
	link bool
}

// fail yields err and stops the walk.
func (w *localWalker) fail(err error) bool {
	if !errors.Is(err, ErrLink) { // it names its path
		err = w.wrap(err)
	}
	w.yield(Object{}, err)
	return false
}

// walk lists the directory with key dirKey; it returns false to stop.
func (w *localWalker) walk(dirKey string, top bool) bool {
	ents, err := readDirSorted("/" + dirKey)
	if err != nil {
		if top && (errors.Is(err, fs.ErrNotExist) || errors.Is(err, syscall.ENOTDIR)) {
			return true // nothing stored under the prefix
		}
		return w.fail(err)
	}
	for _, e := range ents {
		key := dirKey + e.name
		if e.dir {
			key += "/"
		}
		// Only the first level can hold names that do not match.
		if !strings.HasPrefix(key, w.prefix) && !strings.HasPrefix(w.prefix, key) {
			continue
		}
		// A directory past the prefix collapses into one entry when
		// listing with the delimiter.
		collapse := e.dir && w.delim != "" && len(key) > len(w.prefix)
		// Resuming: skip what sorts up to the token; a directory we walk
		// into only when the token is not inside it.
		if w.after != "" && key <= w.after && (!e.dir || collapse || !strings.HasPrefix(w.after, key)) {
			continue
		}
		if w.n++; w.n%1024 == 0 && w.ctx.Err() != nil {
			return w.fail(w.ctx.Err())
		}
		if e.link {
			return w.fail(linkError("/" + key))
		}
		switch {
		case collapse:
			// Only if it holds a file: object stores have no empty directories.
			ok, err := hasFile("/" + key)
			if err != nil {
				return w.fail(err)
			}
			if ok && !w.yield(Object{Key: key, IsDir: true}, nil) {
				return false
			}
		case e.dir:
			if !w.walk(key, false) {
				return false
			}
		case strings.HasSuffix(e.name, ".attrs"):
		default:
			fi, err := os.Lstat("/" + key)
			if errors.Is(err, fs.ErrNotExist) {
				continue // removed while listing, as on any store
			}
			if err != nil {
				return w.fail(err)
			}
			if !w.yield(Object{Key: key, Size: fi.Size(), ModTime: fi.ModTime()}, nil) {
				return false
			}
		}
	}
	return true
}

// readDirSorted reads a directory in key order: a directory sorts as its
// name followed by "/", so "a-b" and "a.txt" come before the files of "a/".
func readDirSorted(path string) ([]dirent, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	var out []dirent
	for {
		batch, err := f.ReadDir(4096)
		for _, d := range batch {
			out = append(out, dirent{name: d.Name(), dir: d.IsDir(), link: d.Type()&fs.ModeSymlink != 0})
		}
		if err != nil {
			if errors.Is(err, io.EOF) {
				break
			}
			return nil, err
		}
	}
	slices.SortFunc(out, func(a, b dirent) int {
		return strings.Compare(sortName(a), sortName(b))
	})
	return out, nil
}

func sortName(d dirent) string {
	if d.dir {
		return d.name + "/"
	}
	return d.name
}

// hasFile reports whether the directory holds a file at any depth
// (".attrs" sidecars aside), stopping at the first.
func hasFile(path string) (bool, error) {
	ents, err := os.ReadDir(path)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return false, nil
		}
		return false, err
	}
	for _, e := range ents {
		if e.Type()&fs.ModeSymlink != 0 {
			return false, linkError(filepath.Join(path, e.Name()))
		}
		if !e.IsDir() && !strings.HasSuffix(e.Name(), ".attrs") {
			return true, nil
		}
	}
	for _, e := range ents {
		if e.IsDir() {
			if ok, err := hasFile(path + "/" + e.Name()); ok || err != nil {
				return ok, err
			}
		}
	}
	return false, nil
}

// listLocalPage is ListPage for local directories; the token is the last
// key of the previous page.
func (l *Location) listLocalPage(ctx context.Context, prefix, delimiter, token string, size int) ([]Object, string, error) {
	var page []Object
	var err error
	more := false
	l.listLocal(ctx, prefix, delimiter, token, func(o Object, e error) bool {
		if e != nil {
			err = e
			return false
		}
		if len(page) == size {
			more = true
			return false
		}
		page = append(page, o)
		return true
	})
	if err != nil {
		return nil, "", err
	}
	if !more {
		return page, "", nil
	}
	return page, page[len(page)-1].Key, nil
}

// ErrLink refuses a symbolic link below a directory fsnap lists.
var ErrLink = errors.New("a symbolic link below the root")

// linkError names the link at p and its target.
func linkError(p string) error {
	target, err := os.Readlink(p)
	if err != nil {
		target = "?"
	}
	return &linkErr{path: p, target: target}
}

type linkErr struct{ path, target string }

func (e *linkErr) Error() string {
	return fmt.Sprintf("%s is a symbolic link (to %s): fsnap does not follow or delete links below a root, "+
		"so it cannot tell what is stored there; replace the link by what it points to, or name its target as a root of its own", e.path, e.target)
}

func (e *linkErr) Unwrap() error { return ErrLink }
