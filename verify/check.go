package verify

import (
	"context"
	"runtime"
	"slices"
	"sync"
	"sync/atomic"

	"github.com/fsnap/fsnap/format"
	"github.com/fsnap/fsnap/snapshot"
	snapsrc "github.com/fsnap/fsnap/snapshot/source"
	"github.com/fsnap/fsnap/store"
)

// Level is how far verify reads.
type Level int

const (
	// LevelFiles checks _metadata and the presence and size of every file;
	// it reads no state bytes.
	LevelFiles Level = iota + 1
	// LevelHeaders also decodes the header of every keyed, operator and
	// RocksDB meta stream and the footers of RocksDB SST files (the default).
	LevelHeaders
	// LevelDeep also walks every keyed and operator stream to its end.
	LevelDeep
)

var levelNames = map[Level]string{LevelFiles: "files", LevelHeaders: "headers", LevelDeep: "deep"}

func (l Level) String() string { return enumName(l, levelNames, "Level") }

// Options tune Check.
type Options struct {
	// Level is how far to read; zero means LevelHeaders.
	Level Level
	// RootDepth is how deep CheckRoot looks for snapshot folders
	// (catalog.Options.MaxDepth).
	RootDepth int
	// RequireRelocatable raises every not-relocatable-* finding to an error.
	RequireRelocatable bool
	// SelfContainedIn, when set, is a root that must hold every file the
	// snapshot uses (a relocated checkpoint root, whose incremental
	// checkpoints are never relocatable one by one): files under it are
	// fine wherever they are, any other absolute path is a
	// file-outside-root error.
	SelfContainedIn *store.Location
	// Concurrency bounds the parallel store requests (Stat, reads); zero
	// means 16. Deep walks of local files use at most GOMAXPROCS workers,
	// since they are bound by the CPU.
	Concurrency int
	// Tmp holds the scratch copies of RocksDB instances a deep check opens
	// (default: the system's temporary directory).
	Tmp string
}

// Check verifies a loaded snapshot: consistency of _metadata, key groups,
// path safety, relocatability, presence and size of every file, and (by
// level) the state streams. src is the source the snapshot was loaded
// through (source.Load); every file is located and read through it.
//
// Problems with the snapshot are findings in the report, never errors.
// Check returns an error only when ctx ends; a store that fails is reported
// by store-error findings.
func Check(ctx context.Context, snap *snapshot.Snapshot, src *snapsrc.Source, opts Options) (*Report, error) {
	if opts.Level == 0 {
		opts.Level = LevelHeaders
	}
	if opts.Concurrency <= 0 {
		opts.Concurrency = 16
	}
	c := &checker{ctx: ctx, snap: snap, src: src, ref: src.Ref, opts: opts,
		files:    map[*snapshot.File]*fileInfo{},
		badKeyed: map[*format.KeyGroupsHandle]bool{}, badOper: map[*format.OperatorStateHandle]bool{}}
	m := snap.Metadata
	r := &Report{Schema: Schema, Snapshot: snap.Dir, Kind: string(snap.Kind.Kind),
		MetadataVersion: m.Version, Level: opts.Level.String()}
	c.report = r
	r.Checked.Operators = len(m.Operators)

	// The metadata checks that only make findings run beside the rest: a
	// large file's operators take a while, and each finding code comes
	// from one check, so the sorted report is the same.
	var wg sync.WaitGroup
	defer wg.Wait()
	wg.Go(c.consistency)
	wg.Go(c.keyGroups)
	c.offsets()
	c.indexFiles()
	c.paths()
	if err := c.presence(); err != nil {
		return nil, err
	}
	if opts.Level >= LevelHeaders {
		if err := c.streams(); err != nil {
			return nil, err
		}
	}
	if opts.Level >= LevelDeep {
		if err := c.rocksInstances(); err != nil {
			return nil, err
		}
	}
	wg.Wait()
	r.Checked.Headers, r.Checked.StreamsWalked = int(c.count.headers.Load()), int(c.count.walked.Load())
	r.Checked.BytesWalked, r.Checked.Entries = c.count.bytes.Load(), c.count.entries.Load()
	r.Checked.Opaque = int(c.count.opaque.Load())
	r.PinnedFiles, r.Relocatable = c.pinned, c.pinned == 0
	if opts.SelfContainedIn != nil {
		r.SelfContainedIn = opts.SelfContainedIn.Display
	}
	r.Findings = make([]Finding, 0, c.found)
	for _, chunk := range c.findings {
		r.Findings = append(r.Findings, chunk...)
	}
	r.finish()
	return r, ctx.Err()
}

// checker holds the state of one Check.
type checker struct {
	ctx  context.Context
	snap *snapshot.Snapshot
	src  *snapsrc.Source
	ref  *store.SnapshotRef // src.Ref
	opts Options

	mu sync.Mutex
	// findings are kept in chunks and copied once into the report: a
	// slice grown by append to a hundred thousand findings (an edited
	// file's uid mismatches) leaves five times their size behind it.
	findings [][]Finding
	found    int // findings in them
	report   *Report

	files  map[*snapshot.File]*fileInfo
	pinned int      // files named by an absolute path (not relocatable)
	smalls sync.Map // snapshot.Stream → *small
	// cleanOpers holds, per operator stream and states, a handle whose
	// header check found nothing (guarded by mu).
	cleanOpers map[operKey]*format.OperatorStateHandle

	// badKeyed marks key-group handles whose offsets are wrong: their
	// streams are not read (the finding is already made).
	badKeyed map[*format.KeyGroupsHandle]bool
	badOper  map[*format.OperatorStateHandle]bool

	// count is what the stream checks counted (Report.Checked), kept
	// apart from mu: every handle adds to it.
	count struct {
		headers, walked, bytes, entries, opaque atomic.Int64
	}
}

// place says what a finding concerns.
type place struct {
	op   int   // operator index; -1 for none
	sub  int32 // subtask index; -1 for none
	slot snapshot.Slot
	file string
}

func (c *checker) opPlace(op int) place { return place{op: op, sub: -1} }

// add records a finding of code at p.
func (c *checker) add(code Code, p place, msg string, opt ...func(*Finding)) {
	sev := codeSeverity[code]
	if code.IsRelocatability() && c.opts.RequireRelocatable {
		sev = Error
	}
	var id, uid, name string
	if p.op >= 0 && p.op < len(c.snap.Operators) {
		o := &c.snap.Operators[p.op]
		id, uid, name = o.State.ID.String(), o.UID, o.Name
	}
	var subtask *int32
	if p.sub >= 0 {
		subtask = i32p(p.sub)
	}
	// The finding is made in its place in the chunk: one made here and
	// handed to opt would be allocated on the heap for each.
	c.mu.Lock()
	defer c.mu.Unlock()
	if n := len(c.findings); n == 0 || len(c.findings[n-1]) == cap(c.findings[n-1]) {
		c.findings = append(c.findings, make([]Finding, 0, findingChunk))
	}
	last := &c.findings[len(c.findings)-1]
	*last = append(*last, Finding{Severity: sev, Code: code, Message: msg, Operator: id, OperatorUID: uid, OperatorName: name,
		Subtask: subtask, Slot: string(p.slot), File: p.file, opIndex: p.op})
	f := &(*last)[len(*last)-1]
	for _, o := range opt {
		o(f)
	}
	c.found++
}

const findingChunk = 256

// foundAny says whether a finding of any of codes was made so far (the
// checks on other goroutines may still be adding theirs).
func (c *checker) foundAny(codes ...Code) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, chunk := range c.findings {
		for _, f := range chunk {
			if slices.Contains(codes, f.Code) {
				return true
			}
		}
	}
	return false
}

func atKeyGroup(kg int32) func(*Finding) { return func(f *Finding) { f.KeyGroup = i32p(kg) } }
func atOffset(off int64) func(*Finding)  { return func(f *Finding) { f.Offset = i64p(off) } }

// parallel runs fn for every index below n on at most workers goroutines,
// stopping early when ctx ends. Indexes are handed out in runs, so that a
// million small tasks do not cost a million channel handovers.
func parallel(ctx context.Context, workers, n int, fn func(i int)) error {
	if workers = min(workers, n); workers < 1 {
		return nil
	}
	run := min(max(n/(workers*64), 1), 32)
	var wg sync.WaitGroup
	next := make(chan int)
	for range workers {
		wg.Go(func() {
			for start := range next {
				for i := start; i < min(start+run, n); i++ {
					fn(i)
				}
			}
		})
	}
	var err error
feed:
	for i := 0; i < n; i += run {
		select {
		case next <- i:
		case <-ctx.Done():
			err = ctx.Err()
			break feed
		}
	}
	close(next)
	wg.Wait()
	return err
}

// streamWorkers is the number of parallel stream readers.
func (c *checker) streamWorkers() int {
	if c.ref.Scheme == "file" || c.ref.Scheme == "mem" {
		return max(1, min(c.opts.Concurrency, runtime.GOMAXPROCS(0)))
	}
	return c.opts.Concurrency
}
