package main

import (
	"context"
	"runtime"
	"runtime/debug"

	"github.com/fsnap/fsnap/snapshot"
	"github.com/fsnap/fsnap/snapshot/source"
	"github.com/fsnap/fsnap/store"
)

// bigMetadata is the _metadata size from which loadSnapshot holds the
// collector back after the load.
const bigMetadata = 16 << 20

// loadSnapshot loads the one snapshot a command works on, with garbage
// collection off while the model is built and then held back to a limit:
// the model of a _metadata is almost all live data that stays until the
// command ends, so collecting while it is built or read only costs time
// (a third of a 1 GB file's load) and frees nothing. The limit (twice the
// heap after the load, plus 256 MiB, or GOMEMLIMIT if lower) still bounds
// what a command that walks state streams afterwards may leave for the
// collector. Below bigMetadata the collector is back to normal after the
// load: a deep walk of a large savepoint keeps its usual, small footprint.
func loadSnapshot(ctx context.Context, ref string, allow ...store.Scope) (*snapshot.Snapshot, *source.Source, error) {
	old := debug.SetGCPercent(-1)
	s, src, err := source.Load(ctx, ref, allow...)
	if err != nil {
		debug.SetGCPercent(old)
		return nil, nil, err
	}
	if s.MetadataSize < bigMetadata {
		debug.SetGCPercent(old) // collecting a small model costs nothing
		return s, src, nil
	}
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	debug.SetMemoryLimit(min(debug.SetMemoryLimit(-1), int64(2*ms.HeapAlloc)+256<<20))
	return s, src, nil
}

// gcSettings are the collector's settings (GOGC, GOMEMLIMIT) as they are.
type gcSettings struct {
	percent int
	limit   int64
}

func currentGC() gcSettings {
	p := debug.SetGCPercent(-1)
	debug.SetGCPercent(p)
	return gcSettings{p, debug.SetMemoryLimit(-1)}
}

// restore undoes loadSnapshot's settings when a command ends (tests run
// many commands in one process).
func (g gcSettings) restore() {
	debug.SetGCPercent(g.percent)
	debug.SetMemoryLimit(g.limit)
}
