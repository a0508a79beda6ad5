package verify

import (
	"errors"
	"fmt"
	"path"
	"strings"

	"github.com/fsnap/fsnap/format"
	"github.com/fsnap/fsnap/snapshot"
	"github.com/fsnap/fsnap/store"
)

// fileInfo is what verify knows of one file of the snapshot.
type fileInfo struct {
	f    *snapshot.File
	name string // for findings
	fp   store.FlinkPath
	loc  *store.Location // nil: not safe or not reachable
	key  string
	// readable: present with a size that fits the handles, so its bytes
	// may be read.
	readable bool
	actual   int64
}

// indexFiles counts the handles.
func (c *checker) indexFiles() {
	for _, f := range c.snap.Files {
		if f.Scope == snapshot.ScopeInline {
			c.report.Checked.Handles++
			continue
		}
		c.report.Checked.Handles += f.Refs
	}
}

// fileOf returns the model's file for a stream handle, nil for inline
// streams.
func (c *checker) fileOf(h format.StreamHandle) *fileInfo {
	if f := c.snap.FileOf(h); f != nil {
		return c.files[f]
	}
	return nil
}

// paths resolves every file to a store key, refusing unsafe names, and
// reports the handles that pin the snapshot to its place.
func (c *checker) paths() {
	relative := 0
	for _, f := range c.snap.Files {
		if f.Scope == snapshot.ScopeInline {
			continue
		}
		fi := &fileInfo{f: f, name: f.Path}
		c.files[f] = fi
		if f.Scope == snapshot.ScopeExclusive {
			relative++
			if f.Unsafe != nil {
				fi.name = f.Relative
				c.add(UnsafeRelativePath, firstUse(f, fi.name), fmt.Sprintf("%v; fsnap never opens it", f.Unsafe), withUsers(f))
				continue
			}
			key, err := c.ref.Key(f.Relative)
			if err != nil { // CheckRelativePath and Join agree; kept for safety
				c.add(UnsafeRelativePath, firstUse(f, fi.name), fmt.Sprintf("%v; fsnap never opens it", err), withUsers(f))
				continue
			}
			fi.loc, fi.key = c.ref.Location, key
			continue
		}
		fp, err := store.ParseFlinkPath(f.Path)
		if err != nil {
			c.add(UnsafeAbsolutePath, firstUse(f, fi.name), fmt.Sprintf("%v; fsnap never opens it", err), withUsers(f))
			continue
		}
		fi.fp = fp
		c.relocatability(fi)
		c.locate(fi)
	}
	c.selfContainedDir(relative)
}

// selfContainedDir checks that the snapshot directory, which holds the n
// files named relative to it, lies under the root every file must.
func (c *checker) selfContainedDir(n int) {
	root := c.opts.SelfContainedIn
	if root == nil {
		return
	}
	if dir := c.ref.NameOf(c.ref.Prefix); n > 0 && !strings.HasPrefix(dir, root.NameOf(root.Prefix)) {
		c.add(FileOutsideRoot, place{op: -1, sub: -1}, fmt.Sprintf("the snapshot directory %s lies outside %s, which must hold every file: so do the %d %s named relative to it",
			strings.TrimSuffix(dir, "/"), root.Display, n, plural(n, "file")))
	}
}

// locate finds the store location of an absolute file: the snapshot's own
// bucket, or another bucket of the same store.
func (c *checker) locate(fi *fileInfo) {
	loc, key, err := c.src.Resolve(c.ctx, fi.fp)
	if errors.Is(err, store.ErrOutside) {
		c.add(UnsafeAbsolutePath, firstUse(fi.f, fi.name), err.Error(), withUsers(fi.f))
		return
	}
	if err != nil {
		c.add(FileNotChecked, firstUse(fi.f, fi.name), fmt.Sprintf("presence and size not checked: %v", err), withUsers(fi.f))
		return
	}
	fi.loc, fi.key = loc, key
}

// relocatability reports an absolute file: which handles pin the snapshot
// where, and what relocation does about it.
func (c *checker) relocatability(fi *fileInfo) {
	f := fi.f
	c.pinned++
	if root := c.opts.SelfContainedIn; root != nil {
		if key, ok := root.KeyOf(fi.fp); ok && strings.HasPrefix(key, root.Prefix) {
			return // under the root it must be in
		}
		c.add(FileOutsideRoot, firstUse(f, fi.name), fmt.Sprintf("used by %d %s, it lies outside %s, which must hold every file", f.Refs, plural(f.Refs, "handle"), root.Display), withUsers(f))
		return
	}
	n := f.Refs
	users := "1 handle"
	if n != 1 {
		users = fmt.Sprintf("%d handles", n)
	}
	copyHint := fmt.Sprintf("fsnap migrate relocate copies it into the snapshot directory as %q and rewrites the %s as relative", path.Base(fi.fp.Key), plural(n, "handle"))
	var code Code
	var what string
	hint := copyHint
	switch {
	case f.Segments > 0:
		code = NotRelocatableFileMerging
		what = fmt.Sprintf("%s file-merging %s (Flink 1.20+) of a physical file shared with other state", itoa(f.Segments), plural(f.Segments, "segment"))
		hint = "fsnap migrate relocate copies each segment into a file of its own in the snapshot directory and rewrites its handle as a relative file handle"
	case f.Changelog:
		code = NotRelocatableChangelog
		what = "a changelog (DSTL) file of the changelog state backend"
	case f.Scope == snapshot.ScopeShared:
		code = NotRelocatableShared
		what = "a file in the checkpoint's shared/ folder, which other checkpoints may use too"
	case f.Scope == snapshot.ScopeTaskOwned:
		code = NotRelocatableTaskOwned
		what = "a file in the checkpoint's taskowned/ folder"
	default:
		if extra, ok := c.entropyElement(fi.fp); ok {
			code = NotRelocatableEntropy
			what = fmt.Sprintf("an entropy-injected path (the snapshot directory with the extra element %q)", extra)
		} else {
			code = NotRelocatableAbsolute
			what = "an absolute path"
			if c.inSnapshotDir(fi.fp) {
				what = "an absolute path into the snapshot directory itself"
				hint = "fsnap migrate relocate rewrites the " + plural(n, "handle") + " as relative; the file is already in the snapshot directory"
			}
		}
	}
	c.add(code, firstUse(f, fi.name), fmt.Sprintf("%s, used by %s, pins the snapshot to where it is", what, users), withUsers(f),
		func(x *Finding) { x.Relocate = hint })
}

// snapshotDirKey is the snapshot directory's key without a trailing slash.
func (c *checker) snapshotDirKey() string { return strings.TrimSuffix(c.ref.Prefix, "/") }

// inSnapshotDir reports whether an absolute path names a file directly in
// the snapshot directory.
func (c *checker) inSnapshotDir(fp store.FlinkPath) bool {
	key, ok := c.ref.KeyOf(fp)
	return ok && path.Dir(key) == c.snapshotDirKey()
}

// entropyElement reports whether fp's directory is the snapshot directory
// with one extra path element (Flink's entropy injection replaces a marker
// in the checkpoint path by random characters for state files but not for
// _metadata), and returns that element.
func (c *checker) entropyElement(fp store.FlinkPath) (string, bool) {
	key, ok := c.ref.KeyOf(fp)
	if !ok {
		return "", false
	}
	dir := strings.Split(path.Dir(key), "/")
	snap := strings.Split(c.snapshotDirKey(), "/")
	if len(dir) != len(snap)+1 {
		return "", false
	}
	for i := range dir {
		if strings.Join(dir[:i], "/") == strings.Join(snap[:i], "/") &&
			strings.Join(dir[i+1:], "/") == strings.Join(snap[i:], "/") {
			return dir[i], true
		}
	}
	return "", false
}

// presence stats every reachable file, in parallel, and compares sizes.
func (c *checker) presence() error {
	var list []*fileInfo
	for _, f := range c.snap.Files {
		if fi := c.files[f]; fi != nil && fi.loc != nil {
			list = append(list, fi)
		}
	}
	err := parallel(c.ctx, c.opts.Concurrency, len(list), func(i int) {
		fi := list[i]
		f := fi.f
		o, err := fi.loc.Stat(c.ctx, fi.key)
		p := firstUse(f, fi.name)
		switch {
		case err != nil && store.IsNotExist(err):
			c.add(FileMissing, p, fmt.Sprintf("the file does not exist (%s %d bytes)", handleSays(f), f.Size), withUsers(f))
			return
		case err != nil:
			if c.ctx.Err() == nil {
				c.add(StoreError, p, err.Error(), withUsers(f))
			}
			return
		}
		fi.actual = o.Size
		switch {
		case o.Size < f.Size:
			c.add(FileTruncated, p, fmt.Sprintf("the file has %d bytes, %s %d", o.Size, handleSays(f), f.Size), withUsers(f))
		case o.Size > f.Size && f.Segments == 0:
			// A merged file grows with later segments; others must match.
			c.add(FileSizeDiffers, p, fmt.Sprintf("the file has %d bytes, %s %d", o.Size, handleSays(f), f.Size), withUsers(f))
		default:
			fi.readable = true
		}
	})
	c.mu.Lock()
	for _, fi := range list {
		c.report.Checked.Files++
		c.report.Checked.FileBytes += fi.f.Size
		if fi.readable {
			c.report.Checked.FilesPresent++
		}
	}
	c.mu.Unlock()
	return err
}

func handleSays(f *snapshot.File) string {
	if f.Segments > 0 {
		return "its segments end at"
	}
	if f.Refs > 1 {
		return "the handles say"
	}
	return "the handle says"
}

func plural(n int, word string) string {
	if n == 1 {
		return word
	}
	return word + "s"
}

func itoa(n int) string { return fmt.Sprint(n) }
