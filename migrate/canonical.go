package migrate

import (
	"context"
	"errors"
	"fmt"
	"os"
	"runtime"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/sync/errgroup"

	"github.com/fsnap/fsnap/format"
	"github.com/fsnap/fsnap/format/state"
	"github.com/fsnap/fsnap/internal/transfer"
	"github.com/fsnap/fsnap/snapshot"
	"github.com/fsnap/fsnap/snapshot/source"
	"github.com/fsnap/fsnap/store"
)

// CanonicalOptions configure ToCanonical.
type CanonicalOptions struct {
	// Tmp is where scratch directories for RocksDB instances are made
	// (default: the system's temporary directory). Everything made there is
	// removed before ToCanonical returns, also on failure.
	Tmp string
	// Parallel is how many subtasks (and file copies) are worked on at once
	// (default: the number of CPUs).
	Parallel int
	// Transfers tune the copies of carried files and feed progress (bytes
	// of source state).
	Transfers Transfers
	// Compression of the key-group blocks written: as the source's header
	// says (default), or Snappy / none for every keyed stream (unified
	// streams whose compression differs are then re-encoded).
	Compression Compression
	// Allow are folders outside the source's checkpoint root whose files
	// it may reference (see source.New).
	Allow []store.Scope
	// DropChannelState converts an unaligned checkpoint by leaving out its
	// in-flight channel state (a savepoint holds none); without it such a
	// source is refused (ErrChannelState).
	DropChannelState bool
}

// ErrChannelState refuses converting a snapshot that carries in-flight
// channel state (an unaligned checkpoint) into a savepoint.
var ErrChannelState = errors.New("in-flight channel state, which a savepoint cannot hold")

// channelState counts the subtasks with channel state and its bytes.
func channelState(m *format.Metadata) (subtasks int, bytes int64) {
	for _, op := range m.Operators {
		for _, st := range op.Subtasks {
			if n, b := st.ChannelStateSize(); n > 0 {
				subtasks++
				bytes += b
			}
		}
	}
	return subtasks, bytes
}

// dropChannelState removes every subtask's channel state.
func dropChannelState(m *format.Metadata) {
	for i := range m.Operators {
		for j := range m.Operators[i].Subtasks {
			m.Operators[i].Subtasks[j].Channels = nil
		}
	}
}

// Compression selects the compression of converted keyed streams.
type Compression int

const (
	CompressionKeep   Compression = iota // as the source's header says
	CompressionSnappy                    // Snappy framed blocks (execution.checkpointing.snapshot-compression)
	CompressionNone                      // uncompressed blocks
)

// ParseCompression parses "keep", "snappy" or "none".
func ParseCompression(s string) (Compression, error) {
	switch s {
	case "keep", "":
		return CompressionKeep, nil
	case "snappy":
		return CompressionSnappy, nil
	case "none":
		return CompressionNone, nil
	}
	return 0, fmt.Errorf("unknown compression %q (want keep, snappy or none)", s)
}

// CanonicalResult describes a finished conversion.
type CanonicalResult struct {
	Source      string
	Destination string
	SourceKind  snapshot.Kind
	Metadata    *format.Metadata // the written _metadata

	// Keyed state handles by what they were converted from.
	FromRocksDB int // RocksDB native instances (metadata types 5, 11)
	FromHeap    int // heap-layout streams re-encoded (types 3, 12)
	FromUnified int // unified streams copied as they are (types 3, 7, 12)

	Entries int64 // key-value entries written into converted streams
	// OutsideRange counts RocksDB entries whose key group lies outside the
	// handle's range; Flink's restore drops them, so they are not written.
	OutsideRange int64
	// DroppedChannelSubtasks and DroppedChannelBytes are the in-flight
	// channel state left out (CanonicalOptions.DropChannelState).
	DroppedChannelSubtasks int
	DroppedChannelBytes    int64

	FilesWritten int   // files written into the destination, _metadata included
	BytesWritten int64 // their bytes
	BytesRead    int64 // source state bytes (files read, instances scanned)
	Elapsed      time.Duration
}

// ErrDestinationNotEmpty is returned when the destination holds objects:
// ToCanonical never overwrites or mixes with existing files.
var ErrDestinationNotEmpty = errors.New("destination is not empty")

// CanonicalSchema names the document of a conversion.
const CanonicalSchema = "fsnap.to-canonical/v1"

// CanonicalDocument is the fsnap.to-canonical/v1 document of a conversion.
type CanonicalDocument struct {
	Schema       string `json:"schema"`
	Source       string `json:"source"`
	Destination  string `json:"destination"`
	SourceKind   string `json:"source_kind"`
	FromRocksDB  int    `json:"from_rocksdb"`
	FromHeap     int    `json:"from_heap"`
	FromUnified  int    `json:"from_unified"`
	Entries      int64  `json:"entries"`
	OutsideRange int64  `json:"outside_range"`
	// DroppedChannelBytes is the in-flight channel state left out
	// (--drop-channel-state), in DroppedChannelSubtasks subtasks.
	DroppedChannelSubtasks int     `json:"dropped_channel_subtasks"`
	DroppedChannelBytes    int64   `json:"dropped_channel_bytes"`
	FilesWritten           int     `json:"files_written"`
	BytesWritten           int64   `json:"bytes_written"`
	BytesRead              int64   `json:"bytes_read"`
	Seconds                float64 `json:"seconds"`
}

// Document is the conversion's fsnap.to-canonical/v1 document.
func (res *CanonicalResult) Document() *CanonicalDocument {
	return &CanonicalDocument{Schema: CanonicalSchema, Source: res.Source, Destination: res.Destination,
		SourceKind: string(res.SourceKind), FromRocksDB: res.FromRocksDB, FromHeap: res.FromHeap, FromUnified: res.FromUnified,
		Entries: res.Entries, OutsideRange: res.OutsideRange, FilesWritten: res.FilesWritten,
		DroppedChannelSubtasks: res.DroppedChannelSubtasks, DroppedChannelBytes: res.DroppedChannelBytes,
		BytesWritten: res.BytesWritten, BytesRead: res.BytesRead, Seconds: res.Elapsed.Seconds()}
}

// ToCanonical converts the snapshot src (a native savepoint or a
// checkpoint of the RocksDB or heap backend, any store URL) into a canonical
// savepoint at dst (an empty directory or prefix, any store URL) that every
// state backend of every Flink version since 1.13 restores:
//
//   - each RocksDB native keyed state handle (its files placed under their
//     RocksDB names in a scratch directory, opened read-only) becomes a
//     unified key-group stream written as Flink's full-snapshot writer does:
//     the meta state handle's header bytes, key groups in order, states by
//     id, keys in RocksDB order, Snappy when the header says so;
//   - heap-layout key-group streams are re-encoded into the unified layout;
//   - unified streams are copied; everything else (operator, raw keyed
//     and coordinator state, master states) is carried unchanged;
//   - in-flight channel state (unaligned checkpoints) is refused
//     (ErrChannelState), or left out with DropChannelState and counted;
//   - every handle of the result is inline or relative, so the savepoint can
//     be moved; _metadata is written last, with properties saying
//     CANONICAL savepoint (versions 4+).
//
// Memory does not grow with the state: streams are converted entry by entry
// and files are copied through fixed buffers. On failure, everything
// written to dst is removed.
func ToCanonical(ctx context.Context, src, dst string, opts CanonicalOptions) (res *CanonicalResult, err error) {
	start := time.Now()
	if opts.Parallel <= 0 {
		opts.Parallel = runtime.NumCPU()
	}
	if opts.Tmp == "" {
		opts.Tmp = os.TempDir()
	}
	snap, ref, err := source.Load(ctx, src, opts.Allow...)
	if err != nil {
		return nil, err
	}
	defer ref.Close()
	chSubtasks, chBytes := channelState(snap.Metadata)
	if chSubtasks > 0 && !opts.DropChannelState {
		return nil, fmt.Errorf("%s: %w: %d subtasks carry %d bytes of it (an unaligned checkpoint); "+
			"convert a checkpoint taken aligned, or drop it with --drop-channel-state (the in-flight records are then lost)",
			snap.Dir, ErrChannelState, chSubtasks, chBytes)
	}
	dl, err := store.Open(ctx, dst)
	if err != nil {
		return nil, err
	}
	defer dl.Close()
	page, _, err := dl.ListPage(ctx, dl.Prefix, "", "", 1)
	if err != nil {
		return nil, err
	}
	if len(page) > 0 {
		return nil, fmt.Errorf("%s: %w (found %s); ToCanonical writes only into an empty location", dl.Display, ErrDestinationNotEmpty, dl.NameOf(page[0].Key))
	}
	scratch, err := os.MkdirTemp(opts.Tmp, "fsnap-canonical-")
	if err != nil {
		return nil, fmt.Errorf("scratch directory: %w", err)
	}
	defer os.RemoveAll(scratch)

	c := &converter{
		src:         ref,
		dst:         &sink{loc: dl, names: map[string]bool{format.MetadataFileName: true}},
		scratch:     scratch,
		transfers:   opts.Transfers,
		engine:      opts.Transfers.engine(),
		compression: opts.Compression,
		res:         &CanonicalResult{Source: snap.Dir, Destination: dl.Display, SourceKind: snap.Kind.Kind},
	}
	defer func() {
		if err != nil {
			c.dst.removeAll(context.WithoutCancel(ctx))
		}
	}()
	m := snap.Metadata
	if chSubtasks > 0 {
		dropChannelState(m)
		c.res.DroppedChannelSubtasks, c.res.DroppedChannelBytes = chSubtasks, chBytes
	}
	if err := c.plan(ctx, m); err != nil {
		return nil, err
	}
	defer c.transfers.feed(func() Progress {
		p := progressOf(c.engine)
		p.Bytes, p.BytesDone = c.total, c.read.Load()+p.BytesDone
		return p
	})()
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(opts.Parallel)
	for _, t := range c.tasks {
		g.Go(func() error { return t.run(gctx) })
	}
	if err := g.Wait(); err != nil {
		return nil, err
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	for _, t := range c.tasks {
		t.apply()
	}
	m.Properties = canonicalProperties(m)
	b, err := format.AppendMetadata(nil, m)
	if err != nil {
		return nil, fmt.Errorf("encoding the new _metadata: %w", err)
	}
	metaKey, err := dl.Key(format.MetadataFileName)
	if err != nil {
		return nil, err
	}
	c.dst.track(metaKey)
	if err := publishMetadata(ctx, dl, metaKey, b, c.dst.objects(), !opts.Transfers.NoSync); err != nil {
		return nil, err
	}
	r := c.res
	r.Metadata = m
	r.FilesWritten, r.BytesWritten = c.dst.count()
	r.BytesWritten += c.copied.Load() + int64(len(b))
	r.BytesRead = c.read.Load() + c.copied.Load()
	r.Entries = c.entries.Load()
	r.OutsideRange = c.outside.Load()
	r.Elapsed = time.Since(start)
	return r, nil
}

// canonicalProperties are the properties of the result: a savepoint keeps
// its own (type name, post-checkpoint action, forced flag) with format
// CANONICAL; a checkpoint becomes a plain forced savepoint, as `flink
// savepoint` takes. Versions before 4 have none.
func canonicalProperties(m *format.Metadata) *format.CheckpointProperties {
	if m.Version < 4 {
		return nil
	}
	p := format.NewSavepointProperties("CANONICAL")
	if old := m.Properties; old != nil && !old.Null && old.Type.Savepoint {
		if old.Type.PostCheckpointAction != "" {
			p.Type.Name, p.Type.PostCheckpointAction = old.Type.Name, old.Type.PostCheckpointAction
		}
		p.Forced = old.Forced
	}
	return p
}

// converter holds one conversion's state.
type converter struct {
	src         *source.Source
	dst         *sink
	scratch     string
	transfers   Transfers
	compression Compression
	res         *CanonicalResult

	tasks  []*task
	copies map[string]*task // carried files by source identity
	engine *transfer.Engine // copies files, checked
	total  int64

	mu      sync.Mutex // guards res counters updated by tasks
	read    atomic.Int64
	copied  atomic.Int64 // bytes of files copied as they are
	entries atomic.Int64
	outside atomic.Int64
}

// task is one unit of parallel work: it runs, then apply patches its
// result into the metadata (sequentially, after every task succeeded).
type task struct {
	name   string
	run    func(ctx context.Context) error
	apply  func()
	result format.StreamHandle // of file copies
}

// header is the header of a converted stream: the source's, with the
// compression flag the options ask for.
func (c *converter) header(h *state.KeyedHeader) *state.KeyedHeader {
	want := h.Compressed
	switch c.compression {
	case CompressionSnappy:
		want = true
	case CompressionNone:
		want = false
	}
	if want == h.Compressed {
		return h
	}
	n := *h
	n.Compressed = want
	return &n
}

func (c *converter) add(t *task) { c.tasks = append(c.tasks, t) }

func (c *converter) advance(n int64) {
	if n <= 0 {
		return
	}
	c.read.Add(n)
}

func (c *converter) count(f *int) {
	c.mu.Lock()
	*f++
	c.mu.Unlock()
}

// plan walks the metadata and creates a task for every handle that needs
// work. Handles shared between places (the same file) are copied once.
func (c *converter) plan(ctx context.Context, m *format.Metadata) error {
	c.copies = map[string]*task{}
	// Every stream outside keyed state is carried as it is.
	for n := range m.Walk() {
		if n.Stream == nil || n.Slot == format.SlotManagedKeyed || n.Slot == format.SlotRawKeyed {
			continue
		}
		if err := c.carry(*n.Stream, n.Where(m), func(d format.StreamHandle) {
			*n.Stream = d
			if n.Owner != nil {
				n.Owner.FileMerging = nil // a plain operator state handle now
			}
		}); err != nil {
			return err
		}
	}
	// Keyed state: managed is converted, raw carried.
	for oi := range m.Operators {
		op := &m.Operators[oi]
		for si := range op.Subtasks {
			st := &op.Subtasks[si]
			where := fmt.Sprintf("operator %s subtask %d", op.ID, st.Index)
			if st.ManagedKeyedState != nil {
				if err := c.planKeyed(op, st, where+" managed keyed state"); err != nil {
					return err
				}
			}
			if st.RawKeyedState != nil {
				if err := c.carryKeyed(st.RawKeyedState, where+" raw keyed state", func(h format.KeyedStateHandle) { st.RawKeyedState = h }); err != nil {
					return err
				}
			}
		}
	}
	return nil
}

// planKeyed schedules the conversion of a managed keyed state handle.
func (c *converter) planKeyed(op *format.OperatorState, st *format.SubtaskState, where string) error {
	set := func(h format.KeyedStateHandle) { st.ManagedKeyedState = h }
	h := st.ManagedKeyedState
	if ch, ok := h.(*format.ChangelogHandle); ok {
		base, err := changelogBase(ch)
		if err != nil {
			return fmt.Errorf("%s: %w", where, err)
		}
		h = base
	}
	switch h := h.(type) {
	case nil:
		set(nil)
		return nil
	case *format.IncrementalHandle:
		return c.planRocksDB(op, h, where, set)
	case *format.KeyGroupsHandle:
		return c.planStream(op, h, where, set)
	default:
		return fmt.Errorf("%s: keyed state handle %v cannot be converted", where, h.KeyedType())
	}
}

// changelogBase returns the materialized base of a changelog handle that
// has no changes on top of it (the only changelog state that converts:
// replaying changes needs the key serializer, which the changes lack).
func changelogBase(h *format.ChangelogHandle) (format.KeyedStateHandle, error) {
	if len(h.NonMaterialized) > 0 {
		return nil, fmt.Errorf("changelog state backend handle with %d non-materialized change sets: replaying changelog changes is not supported (take the canonical savepoint with Flink, or convert a checkpoint taken right after materialization)", len(h.NonMaterialized))
	}
	var base format.KeyedStateHandle
	for _, m := range h.Materialized {
		if m == nil {
			continue
		}
		if base != nil {
			return nil, errors.New("changelog state backend handle with several materialized handles is not supported")
		}
		base = m
	}
	return base, nil
}
