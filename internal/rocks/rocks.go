//go:build cgo && !norocksdb

package rocks

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/linxGnu/grocksdb"
)

// Available reports whether this build can open RocksDB instances.
const Available = true

// blockCacheBytes bounds the block cache of a read-only instance. Scans
// bypass it (fill_cache off); it holds index and filter blocks.
const blockCacheBytes = 16 << 20

// readaheadBytes is the read-ahead of scans: SSTs are read sequentially.
const readaheadBytes = 2 << 20

// DB is an open RocksDB instance with all its column families.
type DB struct {
	db      *grocksdb.DB
	dir     string
	names   []string
	handles []*grocksdb.ColumnFamilyHandle
	opts    *grocksdb.Options
	cfOpts  []*grocksdb.Options
	latest  *grocksdb.LatestOptions
	cache   *grocksdb.Cache
	env     *grocksdb.Env
	ro      *grocksdb.ReadOptions
	iters   map[*Iterator]struct{}
	writer  *writeState // set for instances opened by Create
}

// OpenReadOnly opens the instance in dir read-only with every column family
// it has. The column family options come from the newest OPTIONS file
// (options this RocksDB does not know are ignored: FRocksDB 8.x writes
// some), so the merge operator is the one Flink configured. Without an
// OPTIONS file, the families are listed from the MANIFEST and opened with
// Flink's merge operator.
//
// RocksDB writes a LOG file into dir even when read-only: dir must be a
// scratch copy, never the snapshot itself.
func OpenReadOnly(dir string) (*DB, error) {
	d := &DB{dir: dir, env: grocksdb.NewDefaultEnv(), cache: grocksdb.NewLRUCache(blockCacheBytes), iters: map[*Iterator]struct{}{}}
	d.opts = grocksdb.NewDefaultOptions()
	d.opts.SetInfoLogLevel(grocksdb.ErrorInfoLogLevel)
	d.opts.SetKeepLogFileNum(1)
	if hasOptionsFile(dir) {
		lo, err := grocksdb.LoadLatestOptions(dir, d.env, true, d.cache)
		if err != nil {
			d.free()
			return nil, fmt.Errorf("RocksDB instance %s: loading OPTIONS: %w", dir, err)
		}
		d.latest = lo
		d.names = lo.ColumnFamilyNames()
		opts := lo.ColumnFamilyOpts()
		for i := range opts {
			d.cfOpts = append(d.cfOpts, &opts[i])
		}
	} else {
		names, err := grocksdb.ListColumnFamilies(d.opts, dir)
		if err != nil {
			d.free()
			return nil, fmt.Errorf("RocksDB instance %s: listing column families: %w", dir, err)
		}
		d.names = names
		for range names {
			o := grocksdb.NewDefaultOptions()
			o.SetMergeOperator(stringAppend{})
			d.cfOpts = append(d.cfOpts, o)
		}
	}
	db, handles, err := grocksdb.OpenDbForReadOnlyColumnFamilies(d.opts, dir, d.names, d.cfOpts, false)
	if err != nil {
		d.free()
		return nil, fmt.Errorf("RocksDB instance %s: opening read-only: %w", dir, err)
	}
	d.db, d.handles = db, handles
	d.ro = grocksdb.NewDefaultReadOptions()
	d.ro.SetFillCache(false)
	d.ro.SetReadaheadSize(readaheadBytes)
	d.ro.SetVerifyChecksums(true)
	return d, nil
}

func hasOptionsFile(dir string) bool {
	m, _ := filepath.Glob(filepath.Join(dir, "OPTIONS-*"))
	for _, f := range m {
		if !strings.HasSuffix(f, ".dbtmp") {
			return true
		}
	}
	return false
}

// ColumnFamilies lists the instance's column families ("default" included)
// in the order RocksDB reports them.
func (d *DB) ColumnFamilies() []string { return append([]string(nil), d.names...) }

func (d *DB) handle(cf string) *grocksdb.ColumnFamilyHandle {
	for i, n := range d.names {
		if n == cf {
			return d.handles[i]
		}
	}
	return nil
}

// SetReadahead sets the read-ahead of iterators created from now on
// (default 2 MiB). Scans of many column families at once use less each.
func (d *DB) SetReadahead(bytes int) { d.ro.SetReadaheadSize(uint64(bytes)) }

// HasColumnFamily reports whether the instance has the column family.
func (d *DB) HasColumnFamily(cf string) bool { return d.handle(cf) != nil }

// NewIterator iterates one column family in key order. The iterator must
// be closed before the DB (Close closes forgotten ones).
func (d *DB) NewIterator(cf string) (*Iterator, error) {
	h := d.handle(cf)
	if h == nil {
		return nil, fmt.Errorf("RocksDB instance %s has no column family %q", d.dir, cf)
	}
	it := &Iterator{it: d.db.NewIteratorCF(d.ro, h), db: d}
	d.iters[it] = struct{}{}
	return it, nil
}

// Files lists the live SST files of every column family.
func (d *DB) Files() []SSTFile {
	var out []SSTFile
	for _, f := range d.db.GetLiveFilesMetaData() {
		out = append(out, SSTFile{Name: f.Name, ColumnFamily: f.ColumnFamilyName, Level: f.Level, Size: f.Size,
			Entries: f.Entries, Deletions: f.Deletions, SmallestKey: f.SmallestKey, LargestKey: f.LargestKey})
	}
	return out
}

// Property returns a RocksDB property of a column family
// ("rocksdb.estimate-num-keys", …), "" when unknown.
func (d *DB) Property(cf, name string) string {
	h := d.handle(cf)
	if h == nil {
		return ""
	}
	return d.db.GetPropertyCF(name, h)
}

// Close closes open iterators, destroys the column family handles (before
// the DB: Debian's RocksDB asserts on the reverse) and closes the DB.
func (d *DB) Close() error {
	if d.db == nil {
		return nil
	}
	var err error
	if d.writer != nil {
		err = d.writer.close(d)
	}
	for it := range d.iters {
		it.Close()
	}
	for _, h := range d.handles {
		h.Destroy()
	}
	d.handles = nil
	d.db.Close()
	d.db = nil
	d.free()
	return err
}

func (d *DB) free() {
	if d.ro != nil {
		d.ro.Destroy()
		d.ro = nil
	}
	if d.latest != nil {
		d.latest.Destroy()
		d.latest = nil
	}
	// Options holding fsnap's own merge operator are not destroyed:
	// grocksdb 1.7.14 would free the operator twice (RocksDB's options own
	// it through a shared_ptr and grocksdb deletes it again). They are a
	// few KiB per instance opened without OPTIONS file or created.
	d.cfOpts = nil
	if d.opts != nil {
		d.opts.Destroy()
		d.opts = nil
	}
	if d.cache != nil {
		d.cache.Destroy()
		d.cache = nil
	}
	if d.env != nil {
		d.env.Destroy()
		d.env = nil
	}
}

// Iterator walks one column family. Key and Value are views into RocksDB's
// memory, valid until the next move of the iterator.
type Iterator struct {
	it *grocksdb.Iterator
	db *DB
}

// Seek moves to the first key ≥ k.
func (it *Iterator) Seek(k []byte) { it.it.Seek(k) }

// SeekToFirst moves to the first key.
func (it *Iterator) SeekToFirst() { it.it.SeekToFirst() }

// SeekToLast moves to the last key.
func (it *Iterator) SeekToLast() { it.it.SeekToLast() }

// Valid reports whether the iterator is at an entry.
func (it *Iterator) Valid() bool { return it.it.Valid() }

// Next moves to the next entry.
func (it *Iterator) Next() { it.it.Next() }

// Key is the current key.
func (it *Iterator) Key() []byte { return it.it.Key().Data() }

// Value is the current value (merge operands already merged).
func (it *Iterator) Value() []byte { return it.it.Value().Data() }

// Err is the error that made the iterator invalid (corruption, I/O), if any.
func (it *Iterator) Err() error { return it.it.Err() }

// Close releases the iterator.
func (it *Iterator) Close() {
	if it.it == nil {
		return
	}
	it.it.Close()
	it.it = nil
	delete(it.db.iters, it)
}

// stringAppend is Flink's merge operator for instances fsnap writes or
// opens without an OPTIONS file: operands joined by ','. Its name makes
// RocksDB record the built-in StringAppendTESTOperator in OPTIONS files.
type stringAppend struct{}

func (stringAppend) Name() string { return MergeOperatorName }

func (stringAppend) FullMerge(_, existing []byte, operands [][]byte) ([]byte, bool) {
	n := len(existing)
	for _, o := range operands {
		n += len(o) + 1
	}
	out := make([]byte, 0, n)
	first := existing == nil
	out = append(out, existing...)
	for _, o := range operands {
		if !first {
			out = append(out, ',')
		}
		out = append(out, o...)
		first = false
	}
	return out, true
}

func (stringAppend) PartialMerge(_, left, right []byte) ([]byte, bool) {
	return bytes.Join([][]byte{left, right}, []byte{','}), true
}

// ErrExists is returned by Create for a directory that holds files.
var ErrExists = errors.New("directory is not empty")

func isEmptyDir(dir string) (bool, error) {
	ents, err := os.ReadDir(dir)
	if os.IsNotExist(err) {
		return true, nil
	}
	return len(ents) == 0, err
}
