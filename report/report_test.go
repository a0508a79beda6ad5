package report_test

import (
	"bytes"
	"context"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/cdproto/runtime"
	"github.com/chromedp/chromedp"

	"github.com/fsnap/fsnap/catalog"
	"github.com/fsnap/fsnap/fixtures"
	"github.com/fsnap/fsnap/gc"
	"github.com/fsnap/fsnap/inspect"
	"github.com/fsnap/fsnap/internal/corpus"
	"github.com/fsnap/fsnap/report"
	"github.com/fsnap/fsnap/snapshot/source"
	"github.com/fsnap/fsnap/store"
	"github.com/fsnap/fsnap/verify"
)

// browser opens a page in headless Chromium (Debian's package) and
// reports what it logged and requested: a real browser, not a mock.
type browser struct {
	ctx      context.Context
	mu       sync.Mutex
	errors   []string
	requests []string
}

func newBrowser(t *testing.T) *browser {
	t.Helper()
	exe := "/usr/bin/chromium"
	if _, err := os.Stat(exe); err != nil {
		msg := "chromium is not installed (scripts/system-packages installs it)"
		if os.Getenv("CI") == "true" {
			t.Fatal(msg)
		}
		t.Skip(msg)
	}
	// Chromium's helper processes may still write to the profile after the
	// browser is gone: remove it with retries, not with t.TempDir's one try.
	profile, err := os.MkdirTemp("", "fsnap-chromium-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		for range 20 {
			if os.RemoveAll(profile) == nil {
				return
			}
			time.Sleep(100 * time.Millisecond)
		}
		t.Logf("could not remove the browser profile %s", profile)
	})
	opts := append(chromedp.DefaultExecAllocatorOptions[:], chromedp.ExecPath(exe), chromedp.NoSandbox, chromedp.DisableGPU,
		chromedp.Flag("disable-quic", true), chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true), chromedp.Flag("disable-sync", true), chromedp.UserDataDir(profile),
		chromedp.WindowSize(1300, 1000))
	actx, cancel := chromedp.NewExecAllocator(context.Background(), opts...)
	t.Cleanup(cancel)
	ctx, cancel2 := chromedp.NewContext(actx)
	t.Cleanup(cancel2)
	b := &browser{ctx: ctx}
	chromedp.ListenTarget(ctx, func(ev any) {
		b.mu.Lock()
		defer b.mu.Unlock()
		switch e := ev.(type) {
		case *runtime.EventExceptionThrown:
			b.errors = append(b.errors, e.ExceptionDetails.Text)
		case *runtime.EventConsoleAPICalled:
			if e.Type == runtime.APITypeError {
				b.errors = append(b.errors, fmt.Sprint(e.Args))
			}
		case *network.EventRequestWillBeSent:
			if u := e.Request.URL; !strings.HasPrefix(u, "file:") && !strings.HasPrefix(u, "data:") {
				b.requests = append(b.requests, u)
			}
		}
	})
	if err := chromedp.Run(ctx, network.Enable(), runtime.Enable()); err != nil {
		t.Fatal(err)
	}
	return b
}

// open loads the page and saves a screenshot as a test artifact (under
// $FSNAP_ARTIFACTS, else the test's temporary directory).
func (b *browser) open(t *testing.T, file, name string) time.Duration {
	t.Helper()
	var shot []byte
	start := time.Now()
	if err := chromedp.Run(b.ctx, chromedp.Navigate("file://"+file), chromedp.WaitReady("body")); err != nil {
		t.Fatal(err)
	}
	took := time.Since(start)
	if err := chromedp.Run(b.ctx, chromedp.FullScreenshot(&shot, 80)); err != nil {
		t.Fatal(err)
	}
	dir := os.Getenv("FSNAP_ARTIFACTS")
	if dir == "" {
		dir = t.TempDir()
	}
	os.MkdirAll(dir, 0o755)
	p := filepath.Join(dir, name+".jpg")
	if err := os.WriteFile(p, shot, 0o644); err != nil {
		t.Fatal(err)
	}
	t.Logf("screenshot %s", p)
	b.mu.Lock()
	defer b.mu.Unlock()
	if len(b.errors) > 0 || len(b.requests) > 0 {
		t.Errorf("%s: console errors %q, network requests %q", name, b.errors, b.requests)
	}
	return took
}

func (b *browser) eval(t *testing.T, js string, out any) {
	t.Helper()
	if err := chromedp.Run(b.ctx, chromedp.Evaluate(js, out)); err != nil {
		t.Fatal(err)
	}
}

func write(t *testing.T, name string, render func(*bytes.Buffer) error) string {
	t.Helper()
	var buf bytes.Buffer
	if err := render(&buf); err != nil {
		t.Fatal(err)
	}
	p := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(p, buf.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

// checkTreemap: every operator rectangle's area is its bytes' share of the
// map (within 1%), as the inspect report gives them.
func checkTreemap(t *testing.T, b *browser, r *inspect.Report) {
	t.Helper()
	var tiles []struct {
		Op    string  `json:"op"`
		Bytes float64 `json:"bytes"`
		Area  float64 `json:"area"`
	}
	b.eval(t, `Array.from(document.querySelectorAll('#treemap rect[data-kind="operator"]')).map(r => {
		const bb = r.getBBox(); return {op: r.dataset.op, bytes: +r.dataset.bytes, area: bb.width * bb.height}})`, &tiles)
	var total int64
	want := map[string]int64{}
	for _, op := range r.Operators {
		total += op.Bytes.Total
		want[op.ID] = op.Bytes.Total
	}
	var mapArea float64
	b.eval(t, `(() => { const s = document.getElementById('treemap'); return s.dataset.w * s.dataset.h })()`, &mapArea)
	n := 0
	for _, tl := range tiles {
		if int64(tl.Bytes) != want[tl.Op] {
			t.Errorf("operator %s: %v bytes on the page, %d in the report", tl.Op, tl.Bytes, want[tl.Op])
		}
		expect := mapArea * tl.Bytes / float64(total)
		if math.Abs(tl.Area-expect) > 0.01*expect {
			t.Errorf("operator %s: area %.1f, want %.1f (±1%%)", tl.Op, tl.Area, expect)
		}
		n++
	}
	withBytes := 0
	for _, v := range want {
		if v > 0 {
			withBytes++
		}
	}
	if n != withBytes || n == 0 {
		t.Errorf("%d operator rectangles, %d operators with bytes", n, withBytes)
	}
}

func snapshotPage(t *testing.T, dir string, walk bool) (string, *inspect.Report, *verify.Report) {
	t.Helper()
	ctx := context.Background()
	s, src, err := source.Load(ctx, dir)
	if err != nil {
		t.Fatal(err)
	}
	defer src.Close()
	r := inspect.Build(s, inspect.Options{Files: true, States: inspect.ReadStates(ctx, s, src, inspect.StatesOptions{Walk: walk, Parallel: 4})})
	v, err := verify.Check(ctx, s, src, verify.Options{Level: verify.LevelDeep, Concurrency: 2})
	if err != nil {
		t.Fatal(err)
	}
	p := write(t, "snapshot.html", func(w *bytes.Buffer) error { return report.WriteSnapshot(w, report.Snapshot{Inspect: r, Verify: v}) })
	return p, r, v
}

// TestSnapshotPagesInChromium: a corpus snapshot and a RocksDB native
// savepoint with --states, rendered by Chromium: treemap areas follow the
// bytes, the findings table lists verify's findings, no console error, no
// network request.
func TestSnapshotPagesInChromium(t *testing.T) {
	b := newBrowser(t)
	for i, name := range []string{"new-stateful-broadcast-udf-migration-itcase-flink1.20-rocksdb-savepoint", "new-stateful-udf-migration-itcase-flink2.3-rocksdb-savepoint-native"} {
		p, r, v := snapshotPage(t, corpus.Find(t, name).Dir, i == 1)
		b.open(t, p, name)
		checkTreemap(t, b, r)
		var rows int
		b.eval(t, `document.querySelectorAll('#findings tbody tr').length`, &rows)
		if rows != len(v.Findings) {
			t.Errorf("%s: findings table has %d rows, verify found %d", name, rows, len(v.Findings))
		}
		var sorted bool // a click sorts the bytes column, largest first after two
		b.eval(t, `(() => { const th = document.querySelectorAll('#operators th')[7]; th.click(); th.click();
			const v = Array.from(document.querySelectorAll('#operators tbody tr')).map(r => r.cells[7].dataset.sort);
			return v.every((x, i) => i == 0 || v[i-1] >= x) })()`, &sorted)
		if !sorted {
			t.Errorf("%s: the operators table did not sort by bytes", name)
		}
	}
}

// TestRootPageInChromium: a generated root of 100 retained checkpoints:
// one graph node per snapshot, one timeline bar each.
func TestRootPageInChromium(t *testing.T) {
	b := newBrowser(t)
	ctx := context.Background()
	h, err := fixtures.GenerateHistory(fixtures.HistorySpec{Seed: 3, Version: 6, RootURI: "mem://report-root/ckpt", Flat: true, Rounds: 120, Retain: 100})
	if err != nil {
		t.Fatal(err)
	}
	l, err := store.Open(ctx, "mem://report-root/ckpt")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	if err := h.Write(ctx, []fixtures.Writer{l}, false); err != nil {
		t.Fatal(err)
	}
	g, err := gc.Analyse(ctx, l, gc.Options{})
	if err != nil {
		t.Fatal(err)
	}
	d := catalog.NewDeps(g, nil)
	if len(d.Snapshots) < 100 {
		t.Fatalf("%d snapshots generated", len(d.Snapshots))
	}
	p := write(t, "root.html", func(w *bytes.Buffer) error { return report.WriteRoot(w, report.Root{Deps: d}) })
	b.open(t, p, "root")
	var nodes, bars int
	b.eval(t, `document.querySelectorAll('#graph circle.node').length`, &nodes)
	b.eval(t, `document.querySelectorAll('#timeline g.bar').length`, &bars)
	if nodes != len(d.Snapshots) || bars != len(d.Snapshots) {
		t.Errorf("%d nodes and %d bars for %d snapshots", nodes, bars, len(d.Snapshots))
	}
}

// TestHugeSnapshotPage: a report of 100,000 operators stays under 20 MB and
// Chromium renders it in under 5 s here.
func TestHugeSnapshotPage(t *testing.T) {
	r := &inspect.Report{Snapshot: "generated", Kind: inspect.KindInfo{Kind: "incremental-checkpoint"}}
	for i := 0; i < 100000; i++ {
		b := int64(1000 + i%977*13)
		r.Operators = append(r.Operators, inspect.OperatorInfo{ID: fmt.Sprintf("%032x", i), Parallelism: 4, MaxParallelism: 128,
			Bytes: inspect.StateBytes{ManagedKeyed: b, Total: b}})
	}
	p := write(t, "huge.html", func(w *bytes.Buffer) error { return report.WriteSnapshot(w, report.Snapshot{Inspect: r}) })
	fi, _ := os.Stat(p)
	if fi.Size() > 20<<20 {
		t.Errorf("the page is %d bytes", fi.Size())
	}
	b := newBrowser(t)
	took := b.open(t, p, "huge")
	t.Logf("%d bytes, rendered in %v", fi.Size(), took)
	if took > 5*time.Second {
		t.Errorf("rendering took %v", took)
	}
}
