package migrate

import (
	"bufio"
	"context"
	"fmt"
	"hash/fnv"
	"io"
	"net/url"
	"path"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/fsnap/fsnap/format"
	"github.com/fsnap/fsnap/store"
)

// RelocateSchema names the JSON document of a relocation run.
const RelocateSchema = "fsnap.relocate/v1"

// RelocatePair is one snapshot to relocate, and where to.
type RelocatePair struct {
	Src string `json:"src"`
	Dst string `json:"dst"`
}

// ReadPairs reads one "SRC DST" pair per line (separated by blanks);
// empty lines and lines starting with # are skipped.
func ReadPairs(r io.Reader) ([]RelocatePair, error) {
	var out []RelocatePair
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for n := 1; sc.Scan(); n++ {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		f := strings.Fields(line)
		if len(f) != 2 {
			return nil, fmt.Errorf("line %d: want SRC DST, got %d fields", n, len(f))
		}
		out = append(out, RelocatePair{Src: f[0], Dst: f[1]})
	}
	return out, sc.Err()
}

// FindSnapshots lists every snapshot (a directory holding _metadata)
// under srcRoot, down to a few levels (ROOT/<job-id>/chk-N,
// ROOT/savepoint-*, ...), never descending into snapshots nor into
// shared/ and taskowned/ folders. Each is paired with the same relative
// path under dstRoot. The result is sorted by source.
func FindSnapshots(ctx context.Context, srcRoot, dstRoot string) ([]RelocatePair, error) {
	l, err := store.Open(ctx, srcRoot)
	if err != nil {
		return nil, err
	}
	defer l.Close()
	dl, err := store.Open(ctx, dstRoot)
	if err != nil {
		return nil, err
	}
	err = overlap(strings.TrimSuffix(l.NameOf(l.Prefix), "/"), strings.TrimSuffix(dl.NameOf(dl.Prefix), "/"), "root")
	dl.Close()
	if err != nil {
		return nil, err
	}
	var rels []string
	var walk func(prefix string, depth int) error
	walk = func(prefix string, depth int) error {
		ok, err := l.Exists(ctx, prefix+format.MetadataFileName)
		if err != nil {
			return err
		}
		if ok {
			rels = append(rels, strings.TrimSuffix(strings.TrimPrefix(prefix, l.Prefix), "/"))
			return nil
		}
		if depth == 0 {
			return nil
		}
		for o, err := range l.List(ctx, prefix, "/") {
			if err != nil {
				return err
			}
			if !o.IsDir {
				continue
			}
			switch path.Base(strings.TrimSuffix(o.Key, "/")) {
			case "shared", "taskowned":
				continue
			}
			if err := walk(o.Key, depth-1); err != nil {
				return err
			}
		}
		return nil
	}
	if err := walk(l.Prefix, 4); err != nil {
		return nil, err
	}
	sort.Strings(rels)
	out := make([]RelocatePair, 0, len(rels))
	for _, r := range rels {
		s, err := joinRef(srcRoot, r)
		if err != nil {
			return nil, err
		}
		d, err := joinRef(dstRoot, r)
		if err != nil {
			return nil, err
		}
		out = append(out, RelocatePair{Src: s, Dst: d})
	}
	return out, nil
}

// joinRef appends a relative path to a location reference: a local path
// or a URL (before its query).
func joinRef(ref, rel string) (string, error) {
	if rel == "" {
		return ref, nil
	}
	if !strings.Contains(ref, "://") {
		if rest, ok := strings.CutPrefix(ref, "file:"); ok {
			return "file:" + path.Join(rest, rel), nil
		}
		return filepath.Join(ref, filepath.FromSlash(rel)), nil
	}
	u, err := url.Parse(ref)
	if err != nil {
		return "", fmt.Errorf("%s: not a valid URL", store.RedactURL(ref))
	}
	u.Path = path.Join("/", u.Path, rel)
	u.RawPath = ""
	return u.String(), nil
}

// ParseShard parses "i/n" (0 <= i < n).
func ParseShard(s string) (i, n int, err error) {
	a, b, ok := strings.Cut(s, "/")
	if ok {
		i, err = strconv.Atoi(a)
		if err == nil {
			n, err = strconv.Atoi(b)
		}
	}
	if !ok || err != nil || n < 1 || i < 0 || i >= n {
		return 0, 0, fmt.Errorf("shard %q: want i/n with 0 <= i < n (e.g. $JOB_COMPLETION_INDEX/4)", s)
	}
	return i, n, nil
}

// ShardPairs keeps the pairs of shard i of n: those whose source hashes
// to i. The split depends only on each source, so every worker computes
// the same one from the same list, and adding snapshots does not move
// the others between shards.
func ShardPairs(pairs []RelocatePair, i, n int) []RelocatePair {
	var out []RelocatePair
	for _, p := range pairs {
		h := fnv.New64a()
		h.Write([]byte(p.Src))
		if int(h.Sum64()%uint64(n)) == i {
			out = append(out, p)
		}
	}
	return out
}

// BulkOptions control RelocateAll.
type BulkOptions struct {
	RelocateOptions
	// Parallel is the number of snapshots relocated at once (default 4);
	// their copies share the engine's transfers.
	Parallel int
	// DryRun plans every snapshot and copies nothing.
	DryRun bool
	// OnReport is called as each snapshot finishes, one call at a time.
	OnReport func(*RelocateReport)
}

// BulkSummary is the JSON document of a relocation run.
type BulkSummary struct {
	Schema    string            `json:"schema"`
	DryRun    bool              `json:"dry_run"`
	Shard     string            `json:"shard,omitempty"`
	Snapshots []*RelocateReport `json:"snapshots"`
	Totals    BulkTotals        `json:"totals"`
}

// BulkTotals sums a run.
type BulkTotals struct {
	Snapshots        int   `json:"snapshots"`
	Relocated        int   `json:"relocated"`
	AlreadyRelocated int   `json:"already_relocated"`
	Planned          int   `json:"planned"`
	Failed           int   `json:"failed"`
	Files            int   `json:"files"`
	Copied           int   `json:"copied"`
	ServerSide       int   `json:"server_side"`
	Present          int   `json:"present"`
	Bytes            int64 `json:"bytes"`
	// DistinctFiles and DistinctBytes count each destination object once:
	// a shared file several snapshots use is one object (Files and Bytes
	// count it per snapshot).
	DistinctFiles int   `json:"distinct_files"`
	DistinctBytes int64 `json:"distinct_bytes"`
	// SourceBytes counts each source object once.
	SourceBytes int64   `json:"source_bytes"`
	BytesCopied int64   `json:"bytes_copied"`
	Seconds     float64 `json:"seconds"`
}

// RelocateAll relocates every pair, Parallel at a time, and sums up. A
// failed snapshot does not stop the others; its report says why.
func RelocateAll(ctx context.Context, pairs []RelocatePair, opts BulkOptions) *BulkSummary {
	start := time.Now()
	if opts.Parallel <= 0 {
		opts.Parallel = 4
	}
	opts.engine = opts.Transfers.engine()
	defer opts.Transfers.feed(func() Progress { return progressOf(opts.engine) })()
	sum := &BulkSummary{Schema: RelocateSchema, DryRun: opts.DryRun, Snapshots: make([]*RelocateReport, len(pairs))}
	sem := make(chan struct{}, opts.Parallel)
	var mu sync.Mutex
	var wg sync.WaitGroup
	for i, p := range pairs {
		sem <- struct{}{}
		wg.Add(1)
		go func() {
			defer func() { <-sem; wg.Done() }()
			r := relocateOne(ctx, p, opts)
			mu.Lock()
			sum.Snapshots[i] = r
			if opts.OnReport != nil {
				opts.OnReport(r)
			}
			mu.Unlock()
		}()
	}
	wg.Wait()
	t := &sum.Totals
	seen, seenSrc := map[string]bool{}, map[string]bool{}
	for _, r := range sum.Snapshots {
		for _, f := range r.files {
			if !seenSrc[f.From] {
				seenSrc[f.From] = true
				t.SourceBytes += f.Bytes
			}
			if !seen[f.To] {
				seen[f.To] = true
				t.DistinctFiles++
				t.DistinctBytes += f.Bytes
			}
		}
		t.Snapshots++
		switch r.Status {
		case Relocated:
			t.Relocated++
		case AlreadyRelocated:
			t.AlreadyRelocated++
		case Planned:
			t.Planned++
		default:
			t.Failed++
		}
		t.Files += r.Files
		t.Copied += r.Copied
		t.ServerSide += r.ServerSide
		t.Present += r.Present
		t.Bytes += r.Bytes
		t.BytesCopied += r.BytesCopied
	}
	t.Seconds = time.Since(start).Seconds()
	return sum
}

func relocateOne(ctx context.Context, p RelocatePair, opts BulkOptions) *RelocateReport {
	if err := ctx.Err(); err != nil {
		return &RelocateReport{Src: p.Src, Dst: p.Dst, Status: FailedStatus, Error: err.Error()}
	}
	if !opts.DryRun {
		r, _ := Relocate(ctx, p.Src, p.Dst, opts.RelocateOptions)
		return r
	}
	start := time.Now()
	plan, err := PlanRelocation(ctx, p.Src, p.Dst, opts.RelocateOptions)
	defer plan.Close()
	if err != nil {
		return failedRelocateReport(p.Src, p.Dst, plan, err, start)
	}
	r := &RelocateReport{Src: plan.Src, Dst: plan.Dst, Status: Planned, Files: len(plan.Files), Bytes: plan.Bytes,
		Rewritten: plan.Rewritten, SelfContained: plan.SelfContained, Warnings: plan.Warnings, Plan: plan.Files, files: plan.Files,
		Seconds: time.Since(start).Seconds()}
	if plan.Done {
		r.Status = AlreadyRelocated
	}
	return r
}
