package store

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strings"
)

// MetadataName is the name of a snapshot's metadata file in its directory.
const MetadataName = "_metadata"

// SnapshotRef is a snapshot found from a user's reference. Its Location is
// the snapshot directory; MetadataKey is the key of its metadata file.
type SnapshotRef struct {
	*Location
	MetadataKey string
	// Named is the key prefix of the snapshot directory as the user named
	// it: the same as Prefix, except for a local directory that is itself
	// a symbolic link, where Prefix is the link's target and Named the
	// link (the directories above it resolved). Commands that act on the
	// folder holding a snapshot (delete) use Named, so that a link never
	// moves them to the folder of its target.
	Named string
}

// OpenSnapshot resolves a snapshot reference, as Flink does for a restore
// path: ref is a directory holding _metadata, or the metadata file itself
// (usually named _metadata), as a path or URL. Without a metadata file
// there the error says so: not a snapshot, or an incomplete checkpoint.
func OpenSnapshot(ctx context.Context, ref string) (*SnapshotRef, error) {
	l, err := Open(ctx, ref)
	if err != nil {
		return nil, err
	}
	s, err := resolveSnapshot(ctx, l)
	if err != nil {
		l.Close()
		return nil, err
	}
	s.Named = s.Prefix
	if l.Scheme == "file" {
		if named, ok := namedDir(ref); ok {
			s.Named = named
		}
	}
	return s, nil
}

// namedDir is the key prefix of the local snapshot directory ref names
// (the directory, or the metadata file in it), with the directories above
// it resolved but not the directory itself.
func namedDir(ref string) (string, bool) {
	p, err := localPath(ref)
	if err != nil {
		return "", false
	}
	if fi, err := os.Stat(p); err != nil || !fi.IsDir() {
		p = filepath.Dir(p)
	}
	parent, base := filepath.Split(p)
	if base == "" {
		return "", false
	}
	if r, err := filepath.EvalSymlinks(parent); err == nil {
		parent = r
	}
	return strings.TrimPrefix(filepath.Join(parent, base), "/") + "/", true
}

func resolveSnapshot(ctx context.Context, l *Location) (*SnapshotRef, error) {
	asFile := strings.TrimSuffix(l.Prefix, "/") // ref taken as the metadata file
	asDir := l.Prefix + MetadataName            // ref taken as the directory
	try := []string{asDir, asFile}
	if path.Base(asFile) == MetadataName {
		try = []string{asFile, asDir}
	}
	for _, key := range try {
		if key == "" {
			continue
		}
		ok, err := l.Exists(ctx, key)
		if err != nil {
			return nil, err
		}
		if ok {
			dir := ""
			if i := strings.LastIndex(key, "/"); i >= 0 {
				dir = key[:i+1]
			}
			l.Prefix = dir
			return &SnapshotRef{Location: l, MetadataKey: key}, nil
		}
	}
	// Say whether the directory exists at all: a typo and an incomplete
	// checkpoint call for different actions.
	page, _, err := l.ListPage(ctx, l.Prefix, "/", "", 1)
	if err != nil {
		return nil, err
	}
	if len(page) == 0 {
		return nil, l.Wrap(l.Prefix, fmt.Errorf("no such snapshot: nothing is stored there"))
	}
	return nil, l.Wrap(l.Prefix, ErrNoMetadata)
}

// ErrNoMetadata is OpenSnapshot's error for a folder that holds objects
// but no _metadata: perhaps a checkpoint root, which verify takes whole.
var ErrNoMetadata = errors.New("not a snapshot: no " + MetadataName + " (an incomplete or failed checkpoint, or not a snapshot directory)")

// SnapshotAt is the snapshot in directory dir (a key prefix ending in "/")
// of an open location, sharing its bucket: closing it leaves l open.
func (l *Location) SnapshotAt(dir string) *SnapshotRef {
	sub := &Location{Bucket: l.Bucket, Prefix: dir, Display: l.NameOf(dir), Scheme: l.Scheme, Name: l.Name,
		query: l.query, secrets: l.secrets, shared: true}
	return &SnapshotRef{Location: sub, MetadataKey: dir + MetadataName}
}

// RootScopes are the folders a snapshot may reference files in, by
// default: its checkpoint root (ROOT of ROOT/<job>/chk-N, whose jobs share
// files when restored from each other) or, for other snapshots, the folder
// holding it (a savepoint target). A local snapshot folder that is a link
// gives both the link's and the target's.
func (s *SnapshotRef) RootScopes() []Scope {
	var out []Scope
	for _, dir := range []string{s.Named, s.Prefix} {
		if dir == "" {
			continue
		}
		d := strings.TrimSuffix(dir, "/")
		up := 1
		if strings.HasPrefix(path.Base(d), "chk-") {
			up = 2
		}
		for range up {
			d = path.Dir(d)
			if d == "." {
				d = ""
			}
		}
		if d != "" {
			d += "/"
		}
		if sc := s.ScopeOf(d); !slices.Contains(out, sc) {
			out = append(out, sc)
		}
	}
	return out
}
