package main

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/spf13/pflag"

	"github.com/fsnap/fsnap/catalog"
	"github.com/fsnap/fsnap/compat"
	"github.com/fsnap/fsnap/gc"
	"github.com/fsnap/fsnap/inspect"
	"github.com/fsnap/fsnap/report"
	"github.com/fsnap/fsnap/snapshot"
	"github.com/fsnap/fsnap/snapshot/source"
	"github.com/fsnap/fsnap/store"
	"github.com/fsnap/fsnap/verify"
)

var reportFlags struct {
	out      string
	states   bool
	compatTo string
	job      string
}

func init() {
	register(&command{
		name:  "report",
		args:  "[flags] SNAPSHOT|ROOT --out report.html",
		short: "one self-contained HTML page of a snapshot (treemap of bytes, skew, files, findings, compat) or a root (timeline, dependency graph, orphans)",
		long: `For a snapshot: its summary, a zoomable treemap of bytes by operator and
state (--states walks the streams for per-state bytes and skew), the largest
files, verify's findings (--states: deep) and, with --compat-to VERSION
(and --job), compat's verdict with the capability matrix of its kind.

For a checkpoint root (a path or URL without _metadata): a timeline of its
snapshots with what each owns and shares, the dependency graph between them,
the snapshots table and the orphans a gc would remove.

The page is one file with its styles, script and data inline: it makes no
network request, so it opens from a bucket or an e-mail attachment. --out is
a path or a store URL.`,
		flags: func(fs *pflag.FlagSet) {
			maxDepthFlag(fs)
			fs.StringVar(&reportFlags.out, "out", "", "the HTML file to write (a path or store URL; required)")
			fs.BoolVar(&reportFlags.states, "states", false, "walk every state stream (per-state bytes, skew, deep verify)")
			fs.StringVar(&reportFlags.compatTo, "compat-to", "", "add compat's verdict for this Flink release")
			fs.StringVar(&reportFlags.job, "job", "", "the new job for --compat-to (as compat --job)")
		},
		nargs: 1,
		run:   runReport,
	})
}

func runReport(ctx context.Context, e *env, args []string) error {
	f := reportFlags
	if f.out == "" {
		return usagef("--out is required")
	}
	var page bytes.Buffer
	s, src, err := loadSnapshot(ctx, args[0])
	switch {
	case err == nil:
		defer src.Close()
		d, err := snapshotReport(ctx, s, src)
		if err != nil {
			return err
		}
		if err := report.WriteSnapshot(&page, d); err != nil {
			return err
		}
	case isNotSnapshot(err):
		root, also, err := openRoots(ctx, args[0], nil)
		if err != nil {
			return err
		}
		defer closeAll(root, also)
		g, err := gc.Analyse(ctx, root, gc.Options{MaxDepth: maxDepth})
		if err != nil {
			return err
		}
		if err := report.WriteRoot(&page, report.Root{Deps: catalog.NewDeps(g, nil)}); err != nil {
			return err
		}
	default:
		return err
	}
	if err := writeOut(ctx, f.out, page.Bytes()); err != nil {
		return err
	}
	fmt.Fprintf(e.stderr, "fsnap report: %s (%d bytes)\n", f.out, page.Len())
	return nil
}

// isNotSnapshot: the reference is a folder without _metadata, a root.
func isNotSnapshot(err error) bool { return strings.Contains(err.Error(), "not a snapshot") }

func snapshotReport(ctx context.Context, s *snapshot.Snapshot, src *source.Source) (report.Snapshot, error) {
	f := reportFlags
	states := inspect.ReadStates(ctx, s, src, inspect.StatesOptions{Walk: f.states, Parallel: 16})
	d := report.Snapshot{Inspect: inspect.Build(s, inspect.Options{Files: true, States: states})}
	level := verify.LevelHeaders
	if f.states {
		level = verify.LevelDeep
	}
	v, err := verify.Check(ctx, s, src, verify.Options{Level: level, Concurrency: 8})
	if err != nil {
		return d, err
	}
	d.Verify = v
	if f.compatTo != "" {
		target, err := snapshot.ParseRelease(f.compatTo)
		if err != nil {
			return d, usagef("--compat-to: %v", err)
		}
		opt := compat.Options{Target: target}
		if f.job != "" {
			if opt.Job, err = loadJob(ctx, f.job); err != nil {
				return d, err
			}
		}
		d.Compat = compat.Check(d.Inspect, opt)
	}
	return d, nil
}

// writeOut writes b to a path or store URL.
func writeOut(ctx context.Context, ref string, b []byte) error {
	if !hasScheme(ref) {
		if dir := filepath.Dir(ref); dir != "." {
			if err := os.MkdirAll(dir, 0o755); err != nil {
				return err
			}
		}
		return os.WriteFile(ref, b, 0o644)
	}
	l, err := store.Open(ctx, ref)
	if err != nil {
		return err
	}
	defer l.Close()
	key := l.Prefix
	if len(key) > 0 && key[len(key)-1] == '/' {
		key = key[:len(key)-1]
	}
	return l.Wrap(key, l.Bucket.WriteAll(ctx, key, b, nil))
}

func hasScheme(ref string) bool {
	for i, c := range ref {
		if c == ':' {
			return i > 1 && len(ref) > i+2 && ref[i+1] == '/' && ref[i+2] == '/'
		}
		if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '+') {
			return false
		}
	}
	return false
}
