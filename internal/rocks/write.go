//go:build cgo && !norocksdb

package rocks

import (
	"fmt"

	"github.com/linxGnu/grocksdb"
)

// batchBytes is when buffered writes go to RocksDB.
const batchBytes = 4 << 20

type writeState struct {
	wo    *grocksdb.WriteOptions
	batch *grocksdb.WriteBatch
	bytes int
	err   error
}

// Create makes a new instance in dir (which must not hold files) with
// Flink's column-family setup: "default" plus one family per name in cfs,
// each with Flink's merge operator. Writes go through Put, Merge and
// Delete; Flush and Checkpoint make SSTs. The WAL is off: call Flush (or
// Checkpoint) before Close to keep what was written.
func Create(dir string, cfs []string, o CreateOptions) (*DB, error) {
	if ok, err := isEmptyDir(dir); err != nil {
		return nil, err
	} else if !ok {
		return nil, fmt.Errorf("creating RocksDB instance in %s: %w", dir, ErrExists)
	}
	if o.WriteBufferBytes == 0 {
		o.WriteBufferBytes = 64 << 20
	}
	if o.TargetFileBytes == 0 {
		o.TargetFileBytes = 64 << 20
	}
	d := &DB{dir: dir, env: grocksdb.NewDefaultEnv(), cache: grocksdb.NewLRUCache(blockCacheBytes), iters: map[*Iterator]struct{}{}}
	d.opts = grocksdb.NewDefaultOptions()
	d.opts.SetCreateIfMissing(true)
	d.opts.SetCreateIfMissingColumnFamilies(true)
	d.opts.SetInfoLogLevel(grocksdb.ErrorInfoLogLevel)
	d.opts.SetKeepLogFileNum(1)
	d.names = append([]string{"default"}, cfs...)
	for range d.names {
		c := grocksdb.NewDefaultOptions()
		c.SetMergeOperator(stringAppend{})
		c.SetWriteBufferSize(uint64(o.WriteBufferBytes))
		c.SetTargetFileSizeBase(uint64(o.TargetFileBytes))
		if o.NoCompression {
			c.SetCompression(grocksdb.NoCompression)
		} else {
			c.SetCompression(grocksdb.SnappyCompression)
		}
		c.SetDisableAutoCompactions(o.DisableAutoCompactions)
		d.cfOpts = append(d.cfOpts, c)
	}
	db, handles, err := grocksdb.OpenDbColumnFamilies(d.opts, dir, d.names, d.cfOpts)
	if err != nil {
		d.free()
		return nil, fmt.Errorf("creating RocksDB instance in %s: %w", dir, err)
	}
	d.db, d.handles = db, handles
	d.ro = grocksdb.NewDefaultReadOptions()
	w := &writeState{wo: grocksdb.NewDefaultWriteOptions(), batch: grocksdb.NewWriteBatch()}
	w.wo.DisableWAL(true)
	d.writer = w
	return d, nil
}

func (d *DB) writable(cf int) (*writeState, error) {
	if d.writer == nil {
		return nil, fmt.Errorf("RocksDB instance %s is read-only", d.dir)
	}
	if cf < 0 || cf >= len(d.handles) {
		return nil, fmt.Errorf("RocksDB instance %s: no column family %d", d.dir, cf)
	}
	return d.writer, d.writer.err
}

func (d *DB) added(w *writeState, n int) error {
	w.bytes += n
	if w.bytes >= batchBytes {
		return d.writeBatch()
	}
	return nil
}

func (d *DB) writeBatch() error {
	w := d.writer
	if w.err != nil || w.batch.Count() == 0 {
		return w.err
	}
	if err := d.db.Write(w.wo, w.batch); err != nil {
		w.err = fmt.Errorf("RocksDB instance %s: write: %w", d.dir, err)
	}
	w.batch.Clear()
	w.bytes = 0
	return w.err
}

// Put sets key to value in column family cf (an index into
// ColumnFamilies: 0 is "default", 1 the first of Create's names).
func (d *DB) Put(cf int, key, value []byte) error {
	w, err := d.writable(cf)
	if err != nil {
		return err
	}
	w.batch.PutCF(d.handles[cf], key, value)
	return d.added(w, len(key)+len(value)+16)
}

// Merge appends a merge operand (Flink's RocksDBListState.add).
func (d *DB) Merge(cf int, key, value []byte) error {
	w, err := d.writable(cf)
	if err != nil {
		return err
	}
	w.batch.MergeCF(d.handles[cf], key, value)
	return d.added(w, len(key)+len(value)+16)
}

// Delete writes a tombstone.
func (d *DB) Delete(cf int, key []byte) error {
	w, err := d.writable(cf)
	if err != nil {
		return err
	}
	w.batch.DeleteCF(d.handles[cf], key)
	return d.added(w, len(key)+16)
}

// Flush writes buffered entries and turns every memtable into SSTs.
func (d *DB) Flush() error {
	if d.writer == nil {
		return nil
	}
	if err := d.writeBatch(); err != nil {
		return err
	}
	fo := grocksdb.NewDefaultFlushOptions()
	defer fo.Destroy()
	fo.SetWait(true)
	for i, h := range d.handles {
		if err := d.db.FlushCF(h, fo); err != nil {
			return fmt.Errorf("RocksDB instance %s: flushing %q: %w", d.dir, d.names[i], err)
		}
	}
	return nil
}

// CompactAll compacts every column family fully (all data in the last level).
func (d *DB) CompactAll() error {
	if err := d.Flush(); err != nil {
		return err
	}
	for _, h := range d.handles {
		d.db.CompactRangeCF(h, grocksdb.Range{})
	}
	return nil
}

// Checkpoint flushes and writes a RocksDB checkpoint of the instance into
// dir (which must not exist): the SSTs (hard links where possible),
// MANIFEST, CURRENT and OPTIONS that a native Flink snapshot uploads.
func (d *DB) Checkpoint(dir string) error {
	if err := d.Flush(); err != nil {
		return err
	}
	cp, err := d.db.NewCheckpoint()
	if err != nil {
		return fmt.Errorf("RocksDB instance %s: checkpoint: %w", d.dir, err)
	}
	defer cp.Destroy()
	if err := cp.CreateCheckpoint(dir, 0); err != nil {
		return fmt.Errorf("RocksDB instance %s: checkpoint into %s: %w", d.dir, dir, err)
	}
	return nil
}

func (w *writeState) close(d *DB) error {
	err := w.err
	if err == nil && w.batch.Count() > 0 {
		err = fmt.Errorf("RocksDB instance %s closed with unflushed writes", d.dir)
	}
	w.batch.Destroy()
	w.wo.Destroy()
	d.writer = nil
	return err
}
