package verify

import (
	"errors"
	"fmt"

	"github.com/fsnap/fsnap/format"
	"github.com/fsnap/fsnap/inspect"
	"github.com/fsnap/fsnap/internal/rocks"
)

// rocksInstances, at the deep level, opens every RocksDB instance of the
// snapshot from a scratch copy, read-only, and reads every entry of every
// column family with block checksums verified: a flipped bit in an SST
// data, index or filter block, a MANIFEST, CURRENT or OPTIONS that RocksDB
// refuses, make a rocksdb-instance-corrupt finding. A build without
// RocksDB says so in a warning.
func (c *checker) rocksInstances() error {
	if !c.hasRocksDB() {
		return nil
	}
	// Files already found missing or broken make the instance fail to open
	// for a reason already reported.
	if c.foundAny(RocksDBFilesIncomplete, RocksDBCurrentMismatch, RocksDBSSTCorrupt, FileMissing, FileTruncated,
		FileSizeDiffers, StoreError, UnsafeAbsolutePath, UnsafeRelativePath, HeaderUnreadable) {
		return nil
	}
	if !rocks.Available {
		c.add(RocksDBNotOpened, place{op: -1, sub: -1}, "this build cannot open RocksDB: the instances' SST blocks were not checked (a build with RocksDB checks them)")
		return nil
	}
	r, err := inspect.RocksDB(c.ctx, c.snap, c.src, inspect.RocksDBOptions{Tmp: c.opts.Tmp})
	if errors.Is(err, rocks.ErrUnavailable) {
		return nil
	}
	if err != nil {
		if c.ctx.Err() != nil {
			return c.ctx.Err()
		}
		c.add(RocksDBInstanceCorrupt, place{op: -1, sub: -1}, err.Error())
		return nil
	}
	ops := map[string]int{}
	for i, op := range c.snap.Metadata.Operators {
		ops[op.ID.String()] = i
	}
	for _, in := range r.Instances {
		if in.Error == "" {
			continue
		}
		op, ok := ops[in.Operator]
		if !ok {
			op = -1
		}
		c.add(RocksDBInstanceCorrupt, place{op: op, sub: in.Subtask},
			fmt.Sprintf("RocksDB cannot read the instance (key groups %s; opened read-only, every block checksum verified): %s", in.KeyGroups, in.Error))
	}
	return nil
}

// hasRocksDB reports whether the snapshot has RocksDB native keyed state.
func (c *checker) hasRocksDB() bool {
	for _, op := range c.snap.Metadata.Operators {
		for _, st := range op.Subtasks {
			switch h := st.ManagedKeyedState.(type) {
			case *format.IncrementalHandle:
				return true
			case *format.ChangelogHandle:
				for _, m := range h.Materialized {
					if _, ok := m.(*format.IncrementalHandle); ok {
						return true
					}
				}
			}
		}
	}
	return false
}
