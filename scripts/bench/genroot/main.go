// Command genroot writes the checkpoint roots that the catalog and gc
// benchmarks (scripts/bench/*.sh) measure fsnap against.
//
//	genroot -layout history -root URL [-flink URI] [-rounds 100 -subtasks 10 -ssts 1000 -churn 0.02]
//	genroot -layout listing -root URL [-folders 1000 -files 1000]
//	genroot -layout snapshots -root URL [-snapshots 10000 -jobs 100]
//
// history: one job's incremental checkpoints, all retained, sharing SSTs
// (fixtures.GenerateHistory). listing: FOLDERS complete checkpoint folders
// of FILES objects each (a tiny _metadata plus empty files), written by 64
// writers at once. snapshots: SNAPSHOTS small checkpoints of real shape
// (fixtures.Generate: two stateful operators of one subtask, a stateless
// one, their state files) spread over JOBS job folders, ROOT/<job>/chk-N.
package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"log"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/fsnap/fsnap/fixtures"
	"github.com/fsnap/fsnap/store"
)

func main() {
	layout := flag.String("layout", "history", "history or listing")
	rootRef := flag.String("root", "", "root to write (path or store URL)")
	flink := flag.String("flink", "", "the root as Flink writes absolute paths (default: derived)")
	rounds := flag.Int("rounds", 100, "history: checkpoints, all retained")
	subtasks := flag.Int("subtasks", 10, "history: keyed subtasks")
	ssts := flag.Int("ssts", 1000, "history: shared SSTs per subtask")
	churn := flag.Float64("churn", 0.02, "history: SSTs replaced per checkpoint")
	folders := flag.Int("folders", 1000, "listing: checkpoint folders")
	files := flag.Int("files", 1000, "listing: objects per folder")
	snapshots := flag.Int("snapshots", 10000, "snapshots: checkpoints")
	jobs := flag.Int("jobs", 100, "snapshots: job folders they are spread over")
	writers := flag.Int("writers", 64, "concurrent writes")
	flag.Parse()
	if *rootRef == "" {
		log.Fatal("-root is required")
	}
	ctx := context.Background()
	root, err := store.Open(ctx, *rootRef)
	if err != nil {
		log.Fatal(err)
	}
	defer root.Close()
	if *flink == "" {
		*flink = strings.TrimSuffix(root.NameOf(root.Prefix), "/")
		if root.Scheme == "file" {
			*flink = "file:" + *flink
		}
	}
	start := time.Now()
	var n int64
	switch *layout {
	case "history":
		h, err := fixtures.GenerateHistory(fixtures.HistorySpec{RootURI: *flink, Jobs: 1, Rounds: *rounds,
			Retain: *rounds, Subtasks: *subtasks, SSTs: *ssts, Churn: *churn, FileBytes: 16})
		if err != nil {
			log.Fatal(err)
		}
		n = int64(len(h.Objects))
		w := &parallelWriter{l: root, sem: make(chan struct{}, *writers)}
		if err := h.Write(ctx, []fixtures.Writer{w}, false); err != nil {
			log.Fatal(err)
		}
		if err := w.wait(); err != nil {
			log.Fatal(err)
		}
	case "listing":
		meta, err := fixtures.Generate(fixtures.Spec{Kind: fixtures.Checkpoint, Operators: 1, Parallelism: 1})
		if err != nil {
			log.Fatal(err)
		}
		mb, err := meta.Bytes()
		if err != nil {
			log.Fatal(err)
		}
		w := &parallelWriter{l: root, sem: make(chan struct{}, *writers)}
		job := "0f3a6b1c9d2e4f5a8b7c6d5e4f3a2b1c"
		for c := range *folders {
			for f := range *files {
				key := fmt.Sprintf("%s/chk-%d/%08x-0000-4000-8000-%012x", job, c+1, f, c)
				var data []byte
				if f == 0 {
					key, data = fmt.Sprintf("%s/chk-%d/_metadata", job, c+1), mb
				}
				w.WriteObject(ctx, key, func(out io.Writer) error { _, err := out.Write(data); return err })
				n++
			}
		}
		if err := w.wait(); err != nil {
			log.Fatal(err)
		}
	case "snapshots":
		w := &parallelWriter{l: root, sem: make(chan struct{}, *writers)}
		for i := range *snapshots {
			job := fmt.Sprintf("%032x", i%*jobs+1)
			s, err := fixtures.Generate(fixtures.Spec{Kind: fixtures.Checkpoint, Seed: uint64(i + 1), CheckpointID: int64(i / *jobs + 1),
				Operators: 2, Parallelism: 1, StateBytes: 256, RootURI: *flink + "/" + job})
			if err != nil {
				log.Fatal(err)
			}
			if err := s.Write(ctx, prefixed{w, job + "/"}); err != nil {
				log.Fatal(err)
			}
			n += int64(len(s.Files)) + 1
		}
		if err := w.wait(); err != nil {
			log.Fatal(err)
		}
	default:
		log.Fatalf("unknown layout %q", *layout)
	}
	fmt.Fprintf(os.Stderr, "genroot: %d objects written to %s in %s\n", n, root.Display, time.Since(start).Round(time.Millisecond))
}

// prefixed writes keys under a folder.
type prefixed struct {
	w      fixtures.Writer
	prefix string
}

func (p prefixed) WriteObject(ctx context.Context, key string, write func(io.Writer) error) error {
	return p.w.WriteObject(ctx, p.prefix+key, write)
}

// parallelWriter writes objects with bounded concurrency; errors are
// collected and returned by wait.
type parallelWriter struct {
	l    *store.Location
	sem  chan struct{}
	wg   sync.WaitGroup
	err  atomic.Value
	done atomic.Int64
}

func (w *parallelWriter) WriteObject(ctx context.Context, key string, write func(io.Writer) error) error {
	k, err := w.l.Key(key)
	if err != nil {
		return err
	}
	// Render now: write may not be called after this returns.
	var buf strings.Builder
	if err := write(&buf); err != nil {
		return err
	}
	data := []byte(buf.String())
	w.sem <- struct{}{}
	w.wg.Add(1)
	go func() {
		defer func() { <-w.sem; w.wg.Done() }()
		if err := w.l.Bucket.WriteAll(ctx, k, data, nil); err != nil {
			w.err.CompareAndSwap(nil, w.l.Wrap(k, err))
		}
		if d := w.done.Add(1); d%100000 == 0 {
			fmt.Fprintf(os.Stderr, "genroot: %d objects\n", d)
		}
	}()
	return nil
}

func (w *parallelWriter) wait() error {
	w.wg.Wait()
	if err, ok := w.err.Load().(error); ok {
		return err
	}
	return nil
}
