// Package rocks is fsnap's only door to RocksDB: it opens the RocksDB
// instance of a native Flink snapshot (files placed in a scratch directory
// under their RocksDB names) read-only with all its column families, and
// iterates one column family at a time, in RocksDB key order, with RocksDB's
// own LSM semantics (newest version wins, tombstones, merge operands joined
// by Flink's StringAppendTESTOperator). It also creates instances, for the
// fixture generator of real RocksDB native snapshots.
//
// The package uses cgo (github.com/linxGnu/grocksdb against Debian's
// librocksdb-dev 7.8). Built without cgo, or with the build tag norocksdb,
// it compiles to stubs whose functions return ErrUnavailable, so that
// everything else in fsnap still builds with CGO_ENABLED=0.
package rocks

import "errors"

// ErrUnavailable is returned by every function of a build without RocksDB.
var ErrUnavailable = errors.New("RocksDB support is not compiled into this fsnap (build with CGO_ENABLED=1 and librocksdb-dev installed, without the norocksdb tag)")

// MergeOperatorName is the merge operator Flink configures for every
// column family (RocksDBKeyedStateBackend registers "stringappendtest",
// which RocksDB names StringAppendTESTOperator); its delimiter is ','.
const MergeOperatorName = "StringAppendTESTOperator"

// SSTFile is one live table file of an instance.
type SSTFile struct {
	Name         string // as RocksDB reports it, e.g. "/000010.sst"
	ColumnFamily string
	Level        int
	Size         int64
	Entries      uint64 // entries, tombstones and merge operands included
	Deletions    uint64
	SmallestKey  []byte
	LargestKey   []byte
}

// CreateOptions tune a writable instance (fixtures).
type CreateOptions struct {
	// WriteBufferBytes is the memtable size per column family (default 64 MiB).
	WriteBufferBytes int
	// TargetFileBytes is the SST size compactions aim at (default 64 MiB).
	TargetFileBytes int
	// NoCompression stores SST blocks uncompressed (default: Snappy, as Flink).
	NoCompression bool
	// DisableAutoCompactions keeps every flushed SST as written, so that
	// overwritten values, tombstones and unmerged merge operands stay in
	// separate files (a realistic, not yet compacted instance).
	DisableAutoCompactions bool
}
