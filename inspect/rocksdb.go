package inspect

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path"
	"path/filepath"
	"sort"
	"strings"
	"sync"

	"github.com/fsnap/fsnap/format"
	"github.com/fsnap/fsnap/format/state"
	"github.com/fsnap/fsnap/internal/rocks"
	"github.com/fsnap/fsnap/snapshot"
	"github.com/fsnap/fsnap/snapshot/source"
)

// RocksDBReport is what `fsnap inspect --rocksdb` adds: every RocksDB
// instance of a native snapshot opened (from a scratch copy) and described
// per column family and per SST file, the view users otherwise get from
// ldb and sst_dump one file at a time.
type RocksDBReport struct {
	// States sums each operator's state (column family) over its instances.
	States    []RocksDBState    `json:"states"`
	Instances []RocksDBInstance `json:"instances"`
	Files     int               `json:"files"`      // files of all instances
	FileBytes int64             `json:"file_bytes"` // their bytes
	SSTs      int               `json:"ssts"`
	SSTBytes  int64             `json:"sst_bytes"`
	Entries   int64             `json:"entries"` // live entries of all state column families
}

// RocksDBState is one operator's state summed over its RocksDB instances.
type RocksDBState struct {
	Operator   string `json:"operator"` // operator id
	UID        string `json:"uid,omitempty"`
	Name       string `json:"name,omitempty"`
	State      string `json:"state"` // the column family
	Kind       string `json:"kind,omitempty"`
	Instances  int    `json:"instances"` // instances holding the column family
	Entries    int64  `json:"entries"`
	KeyBytes   int64  `json:"key_bytes"`
	ValueBytes int64  `json:"value_bytes"`
	// KeyGroups counts the key groups with entries, over all instances.
	KeyGroups int   `json:"key_groups"`
	SSTs      int   `json:"ssts"`
	SSTBytes  int64 `json:"sst_bytes"`
}

// RocksDBInstance is one subtask's RocksDB instance.
type RocksDBInstance struct {
	Operator  string `json:"operator"` // operator id
	UID       string `json:"uid,omitempty"`
	Name      string `json:"name,omitempty"`
	Subtask   int32  `json:"subtask"`
	KeyGroups string `json:"key_groups"` // the handle's range, "0-63"
	// Compressed is the snapshot-compression flag of the meta state handle.
	Compressed     bool               `json:"compressed"`
	Files          int                `json:"files"`
	FileBytes      int64              `json:"file_bytes"`
	ColumnFamilies []ColumnFamilyInfo `json:"column_families"`
	SSTs           []SSTInfo          `json:"ssts"`
	// Error says why the instance could not be read; the other fields
	// then hold what was found before.
	Error string `json:"error,omitempty"`
}

// ColumnFamilyInfo describes one column family.
type ColumnFamilyInfo struct {
	Name string `json:"name"`
	// StateID is the kv-state id of the state the meta state handle names
	// so; -1 for families it does not name ("default").
	StateID int    `json:"state_id"`
	Kind    string `json:"kind,omitempty"` // VALUE, LIST, MAP, …, PRIORITY_QUEUE
	// Entries and bytes as RocksDB returns them (newest versions, merge
	// operands merged, tombstones applied).
	Entries    int64 `json:"entries"`
	KeyBytes   int64 `json:"key_bytes"`
	ValueBytes int64 `json:"value_bytes"`
	// FirstKeyGroup and LastKeyGroup are the key-group prefixes of the
	// first and last keys (-1 when empty); KeyGroupsPresent counts the
	// distinct ones.
	FirstKeyGroup    int32 `json:"first_key_group"`
	LastKeyGroup     int32 `json:"last_key_group"`
	KeyGroupsPresent int   `json:"key_groups_present"`
	// OutsideRange counts entries whose key group is not in the handle's
	// range (Flink drops them on restore).
	OutsideRange int64 `json:"outside_range,omitempty"`
	SSTs         int   `json:"ssts"`
	SSTBytes     int64 `json:"sst_bytes"`
	// SSTEntries counts what the SSTs store: versions, tombstones and merge
	// operands included.
	SSTEntries uint64 `json:"sst_entries"`
}

// SSTInfo describes one live SST file.
type SSTInfo struct {
	LocalName    string `json:"local_name"` // 000010.sst
	File         string `json:"file"`       // where it is stored
	ColumnFamily string `json:"column_family"`
	Level        int    `json:"level"`
	Bytes        int64  `json:"bytes"`
	Entries      uint64 `json:"entries"`
	Deletions    uint64 `json:"deletions"`
	// SmallestKeyGroup and LargestKeyGroup are the key groups of its
	// smallest and largest keys.
	SmallestKeyGroup int32 `json:"smallest_key_group"`
	LargestKeyGroup  int32 `json:"largest_key_group"`
}

// RocksDBOptions tune RocksDB.
type RocksDBOptions struct {
	// Tmp holds the scratch copies (default: the system's temporary
	// directory); they are removed before RocksDB returns.
	Tmp string
	// Parallel is how many instances are read at once (default 2).
	Parallel int
}

// RocksDB opens every RocksDB native keyed state handle of s (files
// placed under their RocksDB names in a scratch directory: local files as
// links, others downloaded) and describes it. Instances that cannot be read
// carry an Error; the error returned is for the report as a whole.
func RocksDB(ctx context.Context, s *snapshot.Snapshot, src *source.Source, opt RocksDBOptions) (*RocksDBReport, error) {
	if !rocks.Available {
		return nil, rocks.ErrUnavailable
	}
	if opt.Tmp == "" {
		opt.Tmp = os.TempDir()
	}
	if opt.Parallel <= 0 {
		opt.Parallel = 2
	}
	scratch, err := os.MkdirTemp(opt.Tmp, "fsnap-inspect-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(scratch)
	type job struct {
		op  *format.OperatorState
		sub int32
		h   *format.IncrementalHandle
	}
	var jobs []job
	for oi := range s.Metadata.Operators {
		op := &s.Metadata.Operators[oi]
		for _, st := range op.Subtasks {
			h := st.ManagedKeyedState
			if ch, ok := h.(*format.ChangelogHandle); ok {
				for _, m := range ch.Materialized {
					if inc, ok := m.(*format.IncrementalHandle); ok {
						jobs = append(jobs, job{op, st.Index, inc})
					}
				}
			}
			if inc, ok := h.(*format.IncrementalHandle); ok {
				jobs = append(jobs, job{op, st.Index, inc})
			}
		}
	}
	r := &RocksDBReport{Instances: make([]RocksDBInstance, len(jobs))}
	sem := make(chan struct{}, opt.Parallel)
	var wg sync.WaitGroup
	for i, j := range jobs {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			in := &r.Instances[i]
			*in = RocksDBInstance{Operator: j.op.ID.String(), UID: j.op.UID, Name: j.op.Name, Subtask: j.sub,
				KeyGroups:      fmt.Sprintf("%d-%d", j.h.Range.Start, j.h.Range.End()),
				ColumnFamilies: []ColumnFamilyInfo{}, SSTs: []SSTInfo{}}
			dir := filepath.Join(scratch, fmt.Sprintf("%d", i))
			if err := describe(ctx, src, j.op, j.h, dir, in); err != nil {
				in.Error = err.Error()
			}
			os.RemoveAll(dir)
		}()
	}
	wg.Wait()
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	type key struct{ op, state string }
	states := map[key]int{}
	r.States = []RocksDBState{}
	for _, in := range r.Instances {
		r.Files += in.Files
		r.FileBytes += in.FileBytes
		for _, f := range in.SSTs {
			r.SSTs++
			r.SSTBytes += f.Bytes
		}
		for _, cf := range in.ColumnFamilies {
			if cf.StateID < 0 {
				continue // "default" holds no state
			}
			r.Entries += cf.Entries
			k := key{in.Operator, cf.Name}
			i, ok := states[k]
			if !ok {
				i = len(r.States)
				states[k] = i
				r.States = append(r.States, RocksDBState{Operator: in.Operator, UID: in.UID, Name: in.Name, State: cf.Name, Kind: cf.Kind})
			}
			st := &r.States[i]
			st.Instances++
			st.Entries += cf.Entries
			st.KeyBytes += cf.KeyBytes
			st.ValueBytes += cf.ValueBytes
			st.KeyGroups += cf.KeyGroupsPresent
			st.SSTs += cf.SSTs
			st.SSTBytes += cf.SSTBytes
		}
	}
	return r, nil
}

func describe(ctx context.Context, src *source.Source, op *format.OperatorState, h *format.IncrementalHandle, dir string, in *RocksDBInstance) error {
	meta, err := src.ReadAll(ctx, h.MetaStateHandle, 64<<20)
	if err != nil {
		return fmt.Errorf("meta state handle: %w", err)
	}
	rs, err := state.ReadRocksDB(h, meta)
	if err != nil {
		return fmt.Errorf("meta state handle: %w", err)
	}
	in.Compressed = rs.Header.Compressed
	if err := os.Mkdir(dir, 0o700); err != nil {
		return err
	}
	sources := map[string]string{}
	for _, f := range rs.Files {
		in.Files++
		name, size, err := place(ctx, src, f, dir)
		if err != nil {
			return fmt.Errorf("RocksDB file %s: %w", f.LocalPath, err)
		}
		in.FileBytes += size
		sources[f.LocalPath] = name
	}
	db, err := rocks.OpenReadOnly(dir)
	if err != nil {
		return err
	}
	defer db.Close()
	ids := map[string]int{}
	for i, n := range rs.ColumnFamilies {
		ids[n] = i
	}
	pb := state.PrefixBytes(op.MaxParallelism)
	kgOf := func(k []byte) int32 {
		switch {
		case len(k) < pb:
			return -1
		case pb == 1:
			return int32(k[0])
		}
		return int32(k[0])<<8 | int32(k[1])
	}
	byCF := map[string]int{}
	for _, name := range db.ColumnFamilies() {
		cf := ColumnFamilyInfo{Name: name, StateID: -1, FirstKeyGroup: -1, LastKeyGroup: -1}
		if id, ok := ids[name]; ok {
			cf.StateID, cf.Kind = id, rs.Header.States[id].Kind()
		}
		it, err := db.NewIterator(name)
		if err != nil {
			return err
		}
		last := int32(-1)
		n := 0
		for it.SeekToFirst(); it.Valid(); it.Next() {
			k := it.Key()
			cf.Entries++
			cf.KeyBytes += int64(len(k))
			cf.ValueBytes += int64(len(it.Value()))
			kg := kgOf(k)
			if kg != last {
				cf.KeyGroupsPresent++
				if cf.FirstKeyGroup < 0 {
					cf.FirstKeyGroup = kg
				}
				last = kg
			}
			if !h.Range.Contains(kg) {
				cf.OutsideRange++
			}
			if n++; n%(1<<14) == 0 && ctx.Err() != nil {
				it.Close()
				return ctx.Err()
			}
		}
		cf.LastKeyGroup = last
		err = it.Err()
		it.Close()
		if err != nil {
			return fmt.Errorf("column family %q: %w", name, err)
		}
		byCF[name] = len(in.ColumnFamilies)
		in.ColumnFamilies = append(in.ColumnFamilies, cf)
	}
	for _, f := range db.Files() {
		local := path.Base(f.Name)
		s := SSTInfo{LocalName: local, File: sources[local], ColumnFamily: f.ColumnFamily, Level: f.Level, Bytes: f.Size,
			Entries: f.Entries, Deletions: f.Deletions, SmallestKeyGroup: kgOf(f.SmallestKey), LargestKeyGroup: kgOf(f.LargestKey)}
		in.SSTs = append(in.SSTs, s)
		if i, ok := byCF[f.ColumnFamily]; ok {
			cf := &in.ColumnFamilies[i]
			cf.SSTs++
			cf.SSTBytes += f.Size
			cf.SSTEntries += f.Entries
		}
	}
	sort.Slice(in.SSTs, func(i, j int) bool { return in.SSTs[i].LocalName < in.SSTs[j].LocalName })
	sort.SliceStable(in.ColumnFamilies, func(i, j int) bool {
		a, b := in.ColumnFamilies[i], in.ColumnFamilies[j]
		if (a.StateID < 0) != (b.StateID < 0) {
			return b.StateID < 0
		}
		return a.StateID < b.StateID
	})
	return nil
}

// place puts one file into dir under its RocksDB name: a link to a whole
// local file, else a copy. It returns the file's source name and size.
func place(ctx context.Context, src *source.Source, f state.RocksDBFile, dir string) (string, int64, error) {
	if f.LocalPath == "" || strings.ContainsAny(f.LocalPath, `/\`) || f.LocalPath == "." || f.LocalPath == ".." {
		return "", 0, fmt.Errorf("not a plain file name")
	}
	dst := filepath.Join(dir, f.LocalPath)
	if b, ok := f.Handle.(*format.ByteStreamHandle); ok {
		return "inline:" + b.Name, int64(len(b.Data)), os.WriteFile(dst, b.Data, 0o600)
	}
	o, err := src.Locate(ctx, f.Handle)
	if err != nil {
		return "", 0, err
	}
	l, key, off, size := o.Loc, o.Key, o.Offset, o.Size
	name := o.Name()
	if l.Scheme == "file" && off == 0 {
		p := l.NameOf(key)
		fi, err := os.Stat(p)
		if err != nil {
			return name, 0, err
		}
		if fi.Size() != size {
			return name, 0, fmt.Errorf("%s: %d bytes, the metadata says %d", name, fi.Size(), size)
		}
		return name, size, os.Symlink(p, dst)
	}
	rd, err := l.NewRangeReader(ctx, key, off, size)
	if err != nil {
		return name, 0, l.Wrap(key, err)
	}
	defer rd.Close()
	w, err := os.OpenFile(dst, os.O_CREATE|os.O_EXCL|os.O_WRONLY, 0o600)
	if err != nil {
		return name, 0, err
	}
	n, err := io.Copy(w, rd)
	err = errors.Join(err, w.Close())
	if err == nil && n != size {
		err = fmt.Errorf("%s: %d bytes, the metadata says %d", name, n, size)
	}
	return name, size, err
}
