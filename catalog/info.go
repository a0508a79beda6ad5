package catalog

import (
	"context"
	"fmt"
	"sync"

	"github.com/fsnap/fsnap/snapshot"
	"github.com/fsnap/fsnap/store"
)

// Info is what a snapshot's _metadata says about it, for listings.
type Info struct {
	Kind         snapshot.Kind
	CheckpointID int64
	Version      int32
	Err          error // unreadable or unparsable _metadata
	// StoreFailed says Err is the store's (permissions, network), not the
	// file's: the snapshot may be fine.
	StoreFailed bool
}

// ReadInfo reads and parses the _metadata of each complete folder, a few
// at once (at most parallel, and about 256 MiB of _metadata); incomplete
// folders get a zero Info.
func ReadInfo(ctx context.Context, root *store.Location, folders []*Folder, parallel int) []Info {
	if parallel <= 0 {
		parallel = 8
	}
	out := make([]Info, len(folders))
	sem := make(chan struct{}, parallel)
	mem := newBudget(metadataBudget)
	var wg sync.WaitGroup
	for i, f := range folders {
		if !f.Complete {
			continue
		}
		wg.Add(1)
		sem <- struct{}{}
		mem.acquire(f.MetadataSize)
		go func() {
			defer func() { mem.release(f.MetadataSize); <-sem; wg.Done() }()
			out[i] = readInfo(ctx, root, f)
		}()
	}
	wg.Wait()
	return out
}

func readInfo(ctx context.Context, root *store.Location, f *Folder) Info {
	data, err := root.ReadAll(ctx, f.MetadataKey(), snapshot.MaxMetadataSize)
	if err != nil {
		if store.IsNotExist(err) {
			return Info{Err: fmt.Errorf("%s: deleted since listed", root.NameOf(f.MetadataKey())), CheckpointID: f.CheckpointID}
		}
		return Info{Err: err, CheckpointID: f.CheckpointID, StoreFailed: true}
	}
	s, err := snapshot.Parse(root.NameOf(f.Dir[:len(f.Dir)-1]), data)
	if err != nil {
		return Info{Err: fmt.Errorf("%s: %w", root.NameOf(f.MetadataKey()), err), CheckpointID: f.CheckpointID}
	}
	return Info{Kind: s.Kind.Kind, CheckpointID: s.Metadata.CheckpointID, Version: s.Metadata.Version}
}
