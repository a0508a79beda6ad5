package store

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"strings"
	"sync"
)

// Resolver finds the objects behind the absolute paths Flink writes into
// _metadata, seen from a base location: in its bucket, in other buckets of
// its store (opened with its connection parameters, once per bucket) and,
// when allowed, in other stores (opened by URL, credentials from the
// environment). It is safe for concurrent use; Close closes what it opened.
type Resolver struct {
	base        *Location
	otherStores bool

	mu     sync.Mutex
	opened map[string]opened // by store://bucket
	scopes []Scope           // Confine's; none: anywhere
}

// Scope is a folder of a store that a Resolver may read: a bucket (or the
// local file system) and a key prefix in it ("" for all of it).
type Scope struct {
	Scheme, Name, Prefix string
}

func (s Scope) String() string {
	if s.Scheme == "file" {
		return "/" + s.Prefix
	}
	return s.Scheme + "://" + s.Name + "/" + s.Prefix
}

// ScopeOf is the scope of the folder with key prefix prefix ("" or ending
// in "/") in l's bucket.
func (l *Location) ScopeOf(prefix string) Scope {
	return Scope{Scheme: l.Scheme, Name: l.Name, Prefix: prefix}
}

// OpenScope is the scope of the folder ref names (a path or URL), as the
// user allows it with --allow-path.
func OpenScope(ctx context.Context, ref string) (Scope, error) {
	l, err := Open(ctx, ref)
	if err != nil {
		return Scope{}, err
	}
	defer l.Close()
	return l.ScopeOf(l.Prefix), nil
}

// ErrOutside refuses a path a snapshot names outside the folders it may
// read (Resolver.Confine): a hostile _metadata must not make fsnap read or
// copy local files (file:/etc/shadow) or other buckets' objects.
var ErrOutside = errors.New("outside the snapshot's checkpoint root")

// Confine limits Resolve to paths inside the scopes (added to earlier
// ones). Local paths are compared canonically, symbolic links resolved, so
// that no link leads outside.
func (r *Resolver) Confine(scopes ...Scope) {
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, s := range scopes {
		if s.Scheme == "file" && s.Prefix != "" {
			if c, err := filepath.EvalSymlinks("/" + s.Prefix); err == nil {
				s.Prefix = strings.TrimPrefix(c, "/") + "/"
			}
		}
		r.scopes = append(r.scopes, s)
	}
}

// inScope reports whether key of loc lies in a scope of Confine.
func (r *Resolver) inScope(loc *Location, key string) bool {
	r.mu.Lock()
	scopes := r.scopes
	r.mu.Unlock()
	if len(scopes) == 0 {
		return true
	}
	if loc.Scheme == "file" {
		// The directories are resolved (localKey); the file may be a link.
		if fi, err := os.Lstat("/" + key); err == nil && fi.Mode()&fs.ModeSymlink != 0 {
			c, err := filepath.EvalSymlinks("/" + key)
			if err != nil {
				return false
			}
			key = strings.TrimPrefix(c, "/")
		}
		key = strings.TrimPrefix(path.Clean("/"+key), "/")
	}
	for _, s := range scopes {
		if s.Scheme == loc.Scheme && (s.Scheme == "file" || s.Name == loc.Name) && strings.HasPrefix(key, s.Prefix) {
			return true
		}
	}
	return false
}

func (r *Resolver) outside() error {
	r.mu.Lock()
	defer r.mu.Unlock()
	var names []string
	for _, s := range r.scopes {
		names = append(names, s.String())
	}
	return fmt.Errorf("%w (%s): not read; pass --allow-path with a folder holding it to read it", ErrOutside, strings.Join(names, ", "))
}

type opened struct {
	loc *Location
	err error
}

// NewResolver resolves paths seen from base; otherStores allows paths in
// another kind of store than base's.
func NewResolver(base *Location, otherStores bool) *Resolver {
	return &Resolver{base: base, otherStores: otherStores, opened: map[string]opened{}}
}

// Resolve returns the location and key of the file p names. Its errors
// say why not, without p, for the caller to name it.
func (r *Resolver) Resolve(ctx context.Context, p FlinkPath) (*Location, string, error) {
	loc, key, err := r.resolve(ctx, p)
	if err == nil && !r.inScope(loc, key) {
		return nil, "", r.outside()
	}
	return loc, key, err
}

func (r *Resolver) resolve(ctx context.Context, p FlinkPath) (*Location, string, error) {
	if key, ok := r.base.KeyOf(p); ok {
		return r.base, key, nil
	}
	switch {
	case p.Store == "":
		return nil, "", fmt.Errorf("fsnap cannot open %s:// paths", p.Scheme)
	case p.Store != r.base.Scheme && !r.otherStores:
		return nil, "", fmt.Errorf("a %s path referenced from a snapshot in %s", p.Store, r.base.Scheme)
	}
	id := p.Store + "://" + p.Bucket
	r.mu.Lock()
	o, ok := r.opened[id]
	if !ok {
		switch {
		case p.Store == r.base.Scheme:
			o.loc, o.err = r.base.OpenSibling(ctx, p)
		case p.Store == "file":
			o.loc, o.err = Open(ctx, "/")
		default:
			o.loc, o.err = Open(ctx, id)
		}
		r.opened[id] = o
	}
	r.mu.Unlock()
	if o.err != nil {
		return nil, "", o.err
	}
	key, ok := o.loc.KeyOf(p)
	if !ok {
		return nil, "", fmt.Errorf("not reachable from %s", o.loc.Display)
	}
	return o.loc, key, nil
}

// Close closes the locations the resolver opened (not its base).
func (r *Resolver) Close() {
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, o := range r.opened {
		if o.loc != nil {
			o.loc.Close()
		}
	}
	r.opened = map[string]opened{}
}
