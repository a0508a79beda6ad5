package snapshot

import (
	"context"
	"fmt"

	"github.com/fsnap/fsnap/internal/store"
)

// MaxMetadataSize bounds the _metadata files fsnap reads into memory.
const MaxMetadataSize = 4 << 30

// Load opens a snapshot by reference (a directory, its _metadata, a path or
// any store URL) and parses its metadata. The caller closes the returned
// reference when done with the snapshot's files.
func Load(ctx context.Context, ref string) (*Snapshot, *store.SnapshotRef, error) {
	sr, err := store.OpenSnapshot(ctx, ref)
	if err != nil {
		return nil, nil, err
	}
	b, err := sr.ReadAll(ctx, sr.MetadataKey, MaxMetadataSize)
	if err != nil {
		sr.Close()
		return nil, nil, err
	}
	s, err := Parse(sr.NameOf(sr.Prefix), b)
	if err != nil {
		sr.Close()
		return nil, nil, fmt.Errorf("%s: %w", sr.NameOf(sr.MetadataKey), err)
	}
	return s, sr, nil
}
