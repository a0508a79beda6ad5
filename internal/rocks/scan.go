//go:build cgo && !norocksdb

package rocks

/*
#cgo LDFLAGS: -lrocksdb
#include <stdint.h>
#include <string.h>
#include "rocksdb/c.h"

// fsnap_scan copies entries from the iterator's position into buf as
// records [u32 key length][u32 value length][key][value], advancing the
// iterator past each one, until buf is full or the iterator is done. It
// returns the bytes used, or, when not even the first entry fits, minus
// the bytes that entry needs.
static long long fsnap_scan(rocksdb_iterator_t* it, char* buf, size_t cap, int* count) {
	size_t used = 0;
	int n = 0;
	while (rocksdb_iter_valid(it)) {
		size_t kl, vl;
		const char* k = rocksdb_iter_key(it, &kl);
		const char* v = rocksdb_iter_value(it, &vl);
		size_t need = 8 + kl + vl;
		if (used + need > cap) {
			if (n == 0) {
				*count = 0;
				return -(long long)need;
			}
			break;
		}
		uint32_t l32 = (uint32_t)kl, v32 = (uint32_t)vl;
		memcpy(buf + used, &l32, 4);
		memcpy(buf + used + 4, &v32, 4);
		memcpy(buf + used + 8, k, kl);
		memcpy(buf + used + 8 + kl, v, vl);
		used += need;
		n++;
		rocksdb_iter_next(it);
	}
	*count = n;
	return (long long)used;
}
*/
import "C"

import (
	"encoding/binary"
	"fmt"
	"unsafe"

	"github.com/linxGnu/grocksdb"
)

// scanBatch is the initial batch buffer of a Scanner.
const scanBatch = 256 << 10

// Scanner reads one column family forward in key order like Iterator, but
// copies entries out of RocksDB in batches, one cgo call per batch instead
// of four per entry: the way to read whole instances fast. Key and Value
// are views into the batch, valid until the next call to Next or Seek.
type Scanner struct {
	it   *Iterator
	c    *C.rocksdb_iterator_t
	buf  []byte
	recs []int32 // offsets of the records in buf
	i    int     // current record
	key  []byte
	val  []byte
	err  error
}

// iteratorPointer returns grocksdb's C iterator: grocksdb 1.7.14 has no
// accessor, and its Iterator is exactly one C pointer (checked below).
func iteratorPointer(it *grocksdb.Iterator) *C.rocksdb_iterator_t {
	return *(**C.rocksdb_iterator_t)(unsafe.Pointer(it))
}

func init() {
	if unsafe.Sizeof(grocksdb.Iterator{}) != unsafe.Sizeof(uintptr(0)) {
		panic("rocks: grocksdb.Iterator is not a single C pointer; update scan.go for this grocksdb version")
	}
}

// NewScanner scans one column family; position it with Seek or
// SeekToFirst. Close it (or the DB) when done.
func (d *DB) NewScanner(cf string) (*Scanner, error) {
	it, err := d.NewIterator(cf)
	if err != nil {
		return nil, err
	}
	return &Scanner{it: it, c: iteratorPointer(it.it), buf: make([]byte, scanBatch)}, nil
}

// Seek moves to the first key ≥ k.
func (s *Scanner) Seek(k []byte) {
	s.it.Seek(k)
	s.fill()
}

// SeekToFirst moves to the first key.
func (s *Scanner) SeekToFirst() {
	s.it.SeekToFirst()
	s.fill()
}

// fill reads the next batch from the iterator's position.
func (s *Scanner) fill() {
	s.recs, s.i, s.key, s.val = s.recs[:0], 0, nil, nil
	if s.err != nil {
		return
	}
	for {
		var n C.int
		used := int64(C.fsnap_scan(s.c, (*C.char)(unsafe.Pointer(&s.buf[0])), C.size_t(len(s.buf)), &n))
		if used < 0 { // one entry larger than the buffer
			if -used > 1<<32 {
				s.err = fmt.Errorf("RocksDB entry of %d bytes", -used)
				return
			}
			s.buf = make([]byte, -used)
			continue
		}
		for off := int64(0); off < used; {
			s.recs = append(s.recs, int32(off))
			kl := int64(binary.LittleEndian.Uint32(s.buf[off:]))
			vl := int64(binary.LittleEndian.Uint32(s.buf[off+4:]))
			off += 8 + kl + vl
		}
		break
	}
	if len(s.recs) == 0 {
		s.err = s.it.Err()
		return
	}
	s.load()
}

func (s *Scanner) load() {
	off := int(s.recs[s.i])
	kl := int(binary.LittleEndian.Uint32(s.buf[off:]))
	vl := int(binary.LittleEndian.Uint32(s.buf[off+4:]))
	s.key = s.buf[off+8 : off+8+kl : off+8+kl]
	s.val = s.buf[off+8+kl : off+8+kl+vl : off+8+kl+vl]
}

// Valid reports whether the scanner is at an entry.
func (s *Scanner) Valid() bool { return s.i < len(s.recs) }

// Next moves to the next entry.
func (s *Scanner) Next() {
	s.i++
	if s.i < len(s.recs) {
		s.load()
		return
	}
	s.fill()
}

// Key is the current key.
func (s *Scanner) Key() []byte { return s.key }

// Value is the current value.
func (s *Scanner) Value() []byte { return s.val }

// Err is the error that ended the scan early, if any.
func (s *Scanner) Err() error {
	if s.err != nil {
		return s.err
	}
	return s.it.Err()
}

// Close releases the scanner.
func (s *Scanner) Close() { s.it.Close() }
