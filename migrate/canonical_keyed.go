package migrate

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"github.com/fsnap/fsnap/format"
	"github.com/fsnap/fsnap/format/state"
	"github.com/fsnap/fsnap/internal/rocks"
)

// ctxEvery is how many entries pass between checks for cancellation.
const ctxEvery = 1 << 14

// planStream schedules a key-grouped stream: heap layout is re-encoded,
// unified layout copied.
func (c *converter) planStream(op *format.OperatorState, h *format.KeyGroupsHandle, where string, set func(format.KeyedStateHandle)) error {
	if h.Delegate != nil {
		c.total += h.Delegate.StateSize()
	}
	c.addConversion(where, set, func(ctx context.Context) (format.KeyedStateHandle, error) { return c.convertStream(ctx, op, h) })
	return nil
}

func savepointHandle(r format.KeyGroupRange, offsets []int64, d format.StreamHandle) *format.KeyGroupsHandle {
	return &format.KeyGroupsHandle{Type: format.SavepointKeyGroupsHandle, Range: r, Offsets: offsets, Delegate: d}
}

func (c *converter) convertStream(ctx context.Context, op *format.OperatorState, h *format.KeyGroupsHandle) (format.KeyedStateHandle, error) {
	if h.Delegate == nil {
		c.count(&c.res.FromUnified)
		return savepointHandle(h.Range, h.Offsets, nil), nil
	}
	st, err := c.src.Open(ctx, h.Delegate)
	if err != nil {
		return nil, err
	}
	defer st.Close()
	ra, size, name := io.ReaderAt(st), st.Size, st.Name
	inline, isInline := h.Delegate.(*format.ByteStreamHandle)
	var o object
	if !isInline {
		if o, err = c.locate(ctx, h.Delegate); err != nil {
			return nil, err
		}
	}
	ks, err := state.OpenKeyed(ra, size, state.KeyGroupsOf(h), state.KeyedOptions{Name: name, MaxParallelism: op.MaxParallelism})
	if err != nil {
		return nil, err
	}
	if ks.Layout == state.LayoutUnified {
		c.count(&c.res.FromUnified)
		if hd := c.header(ks.Header); hd != ks.Header {
			// Compression changes: re-encode entry by entry.
			return c.writeUnified(ctx, op, h.Range, hd, func(uw *state.UnifiedWriter) error {
				err := c.walk(ctx, ks, func(e *state.Entry) error { return uw.Add(e.KeyGroup, e.State, e.Composite, e.Value) })
				c.advance(size)
				return err
			})
		}
		// Already canonical: the bytes and offsets stay as they are, once
		// the stream is known to walk to its end.
		if err := c.walk(ctx, ks, func(*state.Entry) error { return nil }); err != nil {
			return nil, err
		}
		if isInline {
			c.advance(size)
			return savepointHandle(h.Range, h.Offsets, inline), nil
		}
		rel := ""
		if r, ok := h.Delegate.(*format.RelativeFileHandle); ok {
			rel = r.RelativePath
		}
		d, err := c.copyFile(ctx, h.Delegate, o, c.dst.reserve(rel))
		if err != nil {
			return nil, err
		}
		return savepointHandle(h.Range, h.Offsets, d), nil
	}
	c.count(&c.res.FromHeap)
	hc := newHeapConverter(ks.Header)
	return c.writeUnified(ctx, op, h.Range, c.header(ks.Header), func(uw *state.UnifiedWriter) error {
		it := ks.Iter()
		done := int64(0)
		first := ks.Groups.First
		n := 0
		for it.Next() {
			e := it.Entry()
			if off := ks.Groups.Offsets[e.KeyGroup-first]; off > done {
				c.advance(off - done)
				done = off
			}
			k, err := hc.add(uw, e)
			if err != nil {
				return &state.StreamError{Name: name, KeyGroup: e.KeyGroup, Err: err}
			}
			c.entries.Add(int64(k))
			if n++; n%ctxEvery == 0 {
				if err := ctx.Err(); err != nil {
					return err
				}
			}
		}
		if err := it.Err(); err != nil {
			return err
		}
		c.advance(size - done)
		return nil
	})
}

// walk calls f with every entry of a stream and counts them.
func (c *converter) walk(ctx context.Context, ks *state.KeyedStream, f func(*state.Entry) error) error {
	it := ks.Iter()
	n := int64(0)
	for it.Next() {
		if err := f(it.Entry()); err != nil {
			return err
		}
		if n++; n%ctxEvery == 0 {
			if err := ctx.Err(); err != nil {
				return err
			}
		}
	}
	c.entries.Add(n)
	return it.Err()
}

// writeUnified writes a unified stream with header hd into a new file of
// the destination; fill adds the entries.
func (c *converter) writeUnified(ctx context.Context, op *format.OperatorState, r format.KeyGroupRange, hd *state.KeyedHeader, fill func(*state.UnifiedWriter) error) (format.KeyedStateHandle, error) {
	f, err := c.dst.create(ctx, c.dst.reserve(""))
	if err != nil {
		return nil, err
	}
	uw, err := state.NewUnifiedWriter(f, hd, r.Start, r.Count, op.MaxParallelism)
	if err != nil {
		return nil, f.close(err)
	}
	err = fill(uw)
	groups, cerr := uw.Close()
	if err == nil {
		err = cerr
	}
	if err := f.close(err); err != nil {
		return nil, err
	}
	return savepointHandle(r, groups.Offsets, &format.RelativeFileHandle{RelativePath: f.name, Size: uw.Size()}), nil
}

// planRocksDB schedules a RocksDB native instance.
func (c *converter) planRocksDB(op *format.OperatorState, h *format.IncrementalHandle, where string, set func(format.KeyedStateHandle)) error {
	for f := range h.Files() {
		if f.Handle != nil {
			c.total += f.Handle.StateSize()
		}
	}
	c.addConversion(where, set, func(ctx context.Context) (format.KeyedStateHandle, error) { return c.convertRocksDB(ctx, op, h) })
	return nil
}

// convertRocksDB places the instance's files in a scratch directory, opens
// it read-only and writes the unified stream as Flink's full snapshot does
// (RocksFullSnapshotStrategy / FullSnapshotAsyncWriter): for each key group
// in range, for each state by id, the state's keys with that key-group
// prefix in RocksDB order.
func (c *converter) convertRocksDB(ctx context.Context, op *format.OperatorState, h *format.IncrementalHandle) (format.KeyedStateHandle, error) {
	meta, err := c.src.ReadAll(ctx, h.MetaStateHandle, maxMetaBytes)
	if err != nil {
		return nil, fmt.Errorf("meta state handle: %w", err)
	}
	rs, err := state.ReadRocksDB(h, meta)
	if err != nil {
		return nil, fmt.Errorf("meta state handle: %w", err)
	}
	if !rocks.Available {
		return nil, fmt.Errorf("RocksDB native snapshot: %w", rocks.ErrUnavailable)
	}
	dir, err := os.MkdirTemp(c.scratch, "rocksdb-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(dir)
	fileBytes, names, err := c.placeFiles(ctx, rs, dir)
	if err != nil {
		return nil, err
	}
	// RocksDB's errors name scratch paths; say which snapshot file it was.
	explain := func(err error) error {
		if err == nil {
			return nil
		}
		msg := err.Error()
		for local, src := range names {
			msg = strings.ReplaceAll(msg, filepath.Join(dir, local), src+" ("+local+")")
		}
		if msg == err.Error() {
			return err
		}
		return fmt.Errorf("%s", msg)
	}
	db, err := rocks.OpenReadOnly(dir)
	if err != nil {
		return nil, explain(err)
	}
	defer db.Close()
	c.count(&c.res.FromRocksDB)
	// Each state's iterator reads ahead on its own; bound their sum.
	db.SetReadahead(max(256<<10, min(2<<20, (32<<20)/max(1, len(rs.ColumnFamilies)))))
	iters := make([]*rocks.Scanner, len(rs.ColumnFamilies))
	for id, cf := range rs.ColumnFamilies {
		if !db.HasColumnFamily(cf) {
			return nil, fmt.Errorf("the meta state handle names state %q, but the RocksDB instance has no column family of that name (it has %q)", cf, db.ColumnFamilies())
		}
		if iters[id], err = db.NewScanner(cf); err != nil {
			return nil, err
		}
		defer iters[id].Close()
	}
	pb := state.PrefixBytes(op.MaxParallelism)
	r := h.Range
	prefix := func(kg int32) []byte {
		if pb == 1 {
			return []byte{byte(kg)}
		}
		return []byte{byte(kg >> 8), byte(kg)}
	}
	keyGroup := func(k []byte) int32 {
		if pb == 1 {
			return int32(k[0])
		}
		return int32(k[0])<<8 | int32(k[1])
	}
	for _, it := range iters {
		it.Seek(prefix(r.Start))
	}
	var entries, outside int64
	done := int64(0)
	res, err := c.writeUnified(ctx, op, r, c.header(rs.Header), func(uw *state.UnifiedWriter) error {
		for g := int32(0); g < r.Count; g++ {
			kg := r.Start + g
			for id, it := range iters {
				for ; it.Valid(); it.Next() {
					k := it.Key()
					if len(k) < pb {
						return fmt.Errorf("column family %q: key %x is shorter than the %d-byte key-group prefix", rs.ColumnFamilies[id], k, pb)
					}
					if got := keyGroup(k); got > kg {
						break
					} else if got < kg {
						outside++ // cannot happen after the seek: keep it honest
						continue
					}
					if err := uw.Add(kg, id, k[pb:], it.Value()); err != nil {
						return err
					}
					if entries++; entries%ctxEvery == 0 {
						if err := ctx.Err(); err != nil {
							return err
						}
					}
				}
				if err := it.Err(); err != nil {
					return fmt.Errorf("reading column family %q: %w", rs.ColumnFamilies[id], explain(err))
				}
			}
			if now := fileBytes * int64(g+1) / int64(r.Count); now > done {
				c.advance(now - done)
				done = now
			}
		}
		// Keys of key groups after the range are not this subtask's.
		for _, it := range iters {
			for ; it.Valid(); it.Next() {
				outside++
			}
		}
		return nil
	})
	c.advance(fileBytes - done)
	c.entries.Add(entries)
	c.outside.Add(outside)
	return res, err
}

// placeFiles puts the instance's files into dir under their RocksDB names:
// local files as symbolic links (RocksDB only reads them), others
// downloaded. It returns the bytes of the files and the source name of
// each local name.
func (c *converter) placeFiles(ctx context.Context, rs *state.RocksDBSnapshot, dir string) (int64, map[string]string, error) {
	var total int64
	names := map[string]string{}
	for _, f := range rs.Files {
		if f.LocalPath == "" || strings.ContainsAny(f.LocalPath, `/\`) || f.LocalPath == "." || f.LocalPath == ".." {
			return 0, nil, fmt.Errorf("RocksDB file name %q is not a plain file name", f.LocalPath)
		}
		dst := filepath.Join(dir, f.LocalPath)
		if _, err := os.Lstat(dst); err == nil {
			return 0, nil, fmt.Errorf("RocksDB file %s is listed twice", f.LocalPath)
		}
		if b, ok := f.Handle.(*format.ByteStreamHandle); ok {
			if err := os.WriteFile(dst, b.Data, 0o600); err != nil {
				return 0, nil, err
			}
			total += int64(len(b.Data))
			continue
		}
		o, err := c.locate(ctx, f.Handle)
		if err != nil {
			return 0, nil, fmt.Errorf("RocksDB file %s: %w", f.LocalPath, err)
		}
		total += o.Size
		names[f.LocalPath] = o.name()
		if p, ok := o.localPath(); ok && o.Offset == 0 {
			fi, err := os.Stat(p)
			if err != nil {
				return 0, nil, fmt.Errorf("RocksDB file %s: %w", f.LocalPath, err)
			}
			if fi.Size() != o.Size {
				return 0, nil, fmt.Errorf("RocksDB file %s (%s): %d bytes, the metadata says %d", f.LocalPath, p, fi.Size(), o.Size)
			}
			if err := os.Symlink(p, dst); err != nil {
				return 0, nil, err
			}
			continue
		}
		if err := c.download(ctx, o, dst); err != nil {
			return 0, nil, fmt.Errorf("RocksDB file %s: %w", f.LocalPath, err)
		}
	}
	return total, names, nil
}

// download copies o into the local file dst. Its bytes count as read, not
// as progress: progress counts the scan of the instance.
func (c *converter) download(ctx context.Context, o object, dst string) error {
	r, err := o.Loc.NewRangeReader(ctx, o.Key, o.Offset, o.Size)
	if err != nil {
		return o.Loc.Wrap(o.Key, err)
	}
	defer r.Close()
	f, err := os.OpenFile(dst, os.O_CREATE|os.O_EXCL|os.O_WRONLY, 0o600)
	if err != nil {
		return err
	}
	n, err := io.CopyBuffer(f, r, make([]byte, 256<<10))
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return o.Loc.Wrap(o.Key, err)
	}
	if n != o.Size {
		return fmt.Errorf("%s: %d bytes, the metadata says %d", o.name(), n, o.Size)
	}
	return nil
}

// addConversion schedules a conversion whose result set receives once
// every task succeeded.
func (c *converter) addConversion(where string, set func(format.KeyedStateHandle), convert func(context.Context) (format.KeyedStateHandle, error)) {
	var out format.KeyedStateHandle
	c.add(&task{name: where,
		run: func(ctx context.Context) error {
			var err error
			if out, err = convert(ctx); err != nil {
				return fmt.Errorf("%s: %w", where, err)
			}
			return nil
		},
		apply: func() { set(out) },
	})
}
