package store

import (
	"context"
	"fmt"
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
