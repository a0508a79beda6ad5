package source

import (
	"context"
	"fmt"

	"github.com/fsnap/fsnap/snapshot"
	"github.com/fsnap/fsnap/store"
)

// Load opens a snapshot by reference (a directory, its _metadata, a path or
// any store URL) and parses its metadata. The returned Source reads the
// snapshot's files (absolute paths inside its checkpoint root and the
// allowed folders only, see New); the caller closes it when done.
func Load(ctx context.Context, ref string, allow ...store.Scope) (*snapshot.Snapshot, *Source, error) {
	sr, err := store.OpenSnapshot(ctx, ref)
	if err != nil {
		return nil, nil, err
	}
	return LoadRef(ctx, sr, allow...)
}

// LoadRef parses the metadata of a snapshot already located (see
// store.Location.SnapshotAt).
func LoadRef(ctx context.Context, sr *store.SnapshotRef, allow ...store.Scope) (*snapshot.Snapshot, *Source, error) {
	b, release, err := sr.ReadAllReleasable(ctx, sr.MetadataKey, snapshot.MaxMetadataSize)
	if err != nil {
		sr.Close()
		return nil, nil, err
	}
	// A large local file's model copies what it keeps, so the file's
	// memory is given back as it is parsed, not held for the whole command.
	s, err := snapshot.ParsePipelined(sr.NameOf(sr.Prefix), b, release)
	if release != nil {
		release(len(b))
	}
	if err != nil {
		sr.Close()
		return nil, nil, fmt.Errorf("%s: %w", sr.NameOf(sr.MetadataKey), err)
	}
	return s, New(sr, allow...), nil
}
