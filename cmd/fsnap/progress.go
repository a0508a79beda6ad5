package main

import (
	"encoding/json"
	"fmt"
	"io"
	"os"
	"sync"
	"time"

	"github.com/schollz/progressbar/v3"
	"golang.org/x/term"

	"github.com/fsnap/fsnap/internal/units"
	"github.com/fsnap/fsnap/migrate"
)

// progress renders migrate's progress feed on stderr: a bar on a terminal,
// else a line every few seconds, or JSON lines. Relocation adds the count
// of snapshots done.
type progress struct {
	mode      string // bar, plain, json, none
	w         io.Writer
	what      string // the bar's label
	snapshots int    // 0: not counted

	mu     sync.Mutex
	done   int
	failed int
	bar    *progressbar.ProgressBar
}

// progressModes checks a --progress value against the modes a command offers.
func progressMode(mode string, w io.Writer, modes ...string) (string, error) {
	if mode == "auto" {
		if u, ok := w.(interface{ Unwrap() io.Writer }); ok {
			w = u.Unwrap()
		}
		if f, ok := w.(*os.File); ok && term.IsTerminal(int(f.Fd())) {
			return "bar", nil
		}
		return "plain", nil
	}
	for _, m := range modes {
		if m == mode {
			return mode, nil
		}
	}
	return "", usagef("unknown --progress %q (want auto, %s)", mode, joinOr(modes))
}

func joinOr(s []string) string {
	out := ""
	for i, x := range s {
		switch {
		case i == 0:
		case i == len(s)-1:
			out += " or "
		default:
			out += ", "
		}
		out += x
	}
	return out
}

// attach points the transfer settings' feed at p.
func (p *progress) attach(t *migrate.Transfers) {
	if p.mode == "none" {
		return
	}
	t.ProgressEvery = p.start()
	t.Progress = p.render
}

// start makes the bar, if p draws one, and returns how often to render.
func (p *progress) start() time.Duration {
	if p.mode != "bar" {
		return 5 * time.Second
	}
	p.bar = progressbar.NewOptions64(-1, progressbar.OptionSetWriter(p.w), progressbar.OptionShowBytes(true),
		progressbar.OptionSetWidth(30), progressbar.OptionThrottle(100*time.Millisecond),
		progressbar.OptionShowCount(), progressbar.OptionSetPredictTime(true), progressbar.OptionUseIECUnits(true),
		progressbar.OptionSetDescription(p.what))
	return 150 * time.Millisecond
}

// bytes returns a feed of bytes done of a total (dump's), rendered at
// most as often as start says, and the call that ends it.
func (p *progress) bytes() (feed func(done, total int64), end func()) {
	if p.mode == "none" {
		return nil, func() {}
	}
	every, begun := p.start(), time.Now()
	last := begun // a line only after the first interval
	if p.bar != nil {
		last = time.Time{} // the bar at once
	}
	var done, total int64
	feed = func(d, t int64) {
		done, total = d, t
		if now := time.Now(); now.Sub(last) >= every {
			last = now
			p.render(migrate.Progress{Bytes: total, BytesDone: done, Elapsed: now.Sub(begun)})
		}
	}
	return feed, func() {
		p.render(migrate.Progress{Bytes: total, BytesDone: done, Elapsed: time.Since(begun), Final: true})
	}
}

func (p *progress) render(s migrate.Progress) {
	p.mu.Lock()
	defer p.mu.Unlock()
	secs := s.Elapsed.Seconds()
	rate := float64(s.BytesDone-s.BytesPresent) / max(secs, 1e-3)
	switch p.mode {
	case "bar":
		if s.Bytes > 0 && p.bar.GetMax64() != s.Bytes {
			p.bar.ChangeMax64(s.Bytes)
		}
		if p.snapshots > 0 {
			p.bar.Describe(fmt.Sprintf("snapshots %d/%d, files %d/%d", p.done, p.snapshots, s.FilesDone, s.Files))
		}
		p.bar.Set64(s.BytesDone)
		if s.Final {
			p.bar.Finish()
			fmt.Fprintln(p.w)
		}
	case "plain":
		if s.Final && secs < 2 {
			return // a quick run: its result lines say it all
		}
		fmt.Fprintf(p.w, "progress: %s / %s", units.Bytes(s.BytesDone), units.Bytes(s.Bytes))
		if p.snapshots > 0 {
			fmt.Fprintf(p.w, ", files %d/%d (%d already there, %d server-side, %d failed), snapshots %d/%d",
				s.FilesDone, s.Files, s.FilesPresent, s.FilesServerSide, s.FilesFailed, p.done, p.snapshots)
		}
		fmt.Fprintf(p.w, ", %s/s\n", units.Bytes(int64(rate)))
	case "json":
		b, _ := json.Marshal(map[string]any{"type": "progress", "bytes_done": s.BytesDone, "bytes_total": s.Bytes,
			"files_done": s.FilesDone, "files_total": s.Files, "files_present": s.FilesPresent,
			"files_server_side": s.FilesServerSide, "files_failed": s.FilesFailed,
			"snapshots_done": p.done, "snapshots_failed": p.failed, "snapshots_total": p.snapshots,
			"seconds": secs, "bytes_per_second": int64(rate), "final": s.Final})
		fmt.Fprintf(p.w, "%s\n", b)
	}
}

func (p *progress) snapshotDone(r *migrate.RelocateReport) {
	p.mu.Lock()
	p.done++
	if r.Status == migrate.FailedStatus {
		p.failed++
	}
	p.mu.Unlock()
}

// pause runs fn (which prints to stdout) without a half-drawn bar line.
func (p *progress) pause(fn func()) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.bar != nil {
		p.bar.Clear()
	}
	fn()
}
