// Package report renders fsnap's documents as one self-contained HTML page
// people open and forward: for a snapshot, a zoomable treemap of its bytes
// by operator and state, the skew, the largest files, verify's findings and
// compat's verdict; for a checkpoint root, a timeline of its snapshots
// (owned against shared bytes), their dependency graph and the orphans a gc
// would remove. Everything is inline (styles, scripts, data, SVG made in
// Go): the page makes no network request, so it works from a bucket or an
// e-mail attachment. Tables sort; numbers are human-readable with exact
// values on hover; light and dark follow the reader's setting.
package report

import (
	"fmt"
	"html/template"
	"io"
	"sort"
	"strings"
	"time"

	"github.com/fsnap/fsnap/catalog"
	"github.com/fsnap/fsnap/compat"
	"github.com/fsnap/fsnap/inspect"
	"github.com/fsnap/fsnap/internal/units"
	"github.com/fsnap/fsnap/verify"
)

// Snapshot is what a snapshot's page shows; Verify and Compat may be nil.
type Snapshot struct {
	Inspect *inspect.Report
	Verify  *verify.Report
	Compat  *compat.Report
}

// Root is what a root's page shows.
type Root struct {
	Deps *catalog.Deps
}

const (
	mapW, mapH = 1200.0, 600.0
	// maxOperators bounds the treemap: the rest are one "others" rectangle.
	maxOperators = 2000
	maxRows      = 500 // table rows shown (the rest counted)
)

// Tile is a treemap rectangle.
type Tile struct {
	Rect
	Kind  string // operator, state, other
	Label string
	Bytes int64
	Op    string // operator id
	Depth int
}

type page struct {
	Title   string
	Subject string
	Summary [][2]string
	Tiles   []Tile
	W, H    float64
	Tables  []tableView
	Notes   []string
	Compat  *compat.Report
	Graph   *graphView
	Bars    []bar
	BarsW   float64
	Made    string
}

type tableView struct {
	ID, Title string
	Head      []string
	Rows      [][]cell
	More      int
}

type cell struct {
	Text, Title string
	Sort        string // the value sorting uses (numbers as zero-padded text)
}

func text(s string) cell { return cell{Text: s, Sort: strings.ToLower(s)} }

func bytesCell(n int64) cell {
	return cell{Text: units.Bytes(n), Title: fmt.Sprintf("%d bytes", n), Sort: fmt.Sprintf("%020d", n)}
}

func numCell(n int64) cell { return cell{Text: fmt.Sprint(n), Sort: fmt.Sprintf("%020d", n)} }

// WriteSnapshot writes a snapshot's page.
func WriteSnapshot(w io.Writer, d Snapshot) error {
	r := d.Inspect
	p := &page{Title: "fsnap report: " + r.Snapshot, Subject: r.Snapshot, W: mapW, H: mapH, Compat: d.Compat, Made: time.Now().UTC().Format(time.RFC3339)}
	p.Summary = [][2]string{
		{"kind", fmt.Sprintf("%s (%s)", r.Kind.Kind, r.Kind.Source)},
		{"Flink", r.Flink.Range},
		{"metadata", fmt.Sprintf("version %d, %s, checkpoint %d", r.Metadata.Version, units.Bytes(r.Metadata.Bytes), r.CheckpointID)},
		{"state", fmt.Sprintf("%s in %d files, %s inline", units.Bytes(r.Totals.StateBytes), r.Totals.Files, units.Bytes(r.Totals.InlineBytes))},
		{"operators", fmt.Sprintf("%d, %d subtasks with state", r.Totals.Operators, r.Totals.Subtasks)},
	}
	p.Tiles = treemap(r)
	for _, op := range r.Operators {
		if sk := op.Skew; sk != nil && sk.MedianSubtaskBytes > 0 && sk.LargestSubtaskBytes >= 2*sk.MedianSubtaskBytes {
			p.Notes = append(p.Notes, fmt.Sprintf("skew: operator %s subtask %d holds %s, %.1f× the median subtask", opName(&op),
				sk.LargestSubtask, units.Bytes(sk.LargestSubtaskBytes), float64(sk.LargestSubtaskBytes)/float64(sk.MedianSubtaskBytes)))
		}
	}
	ops := tableView{ID: "operators", Title: "Operators", Head: []string{"operator", "id", "parallelism", "max parallelism", "keyed", "operator state", "channel", "total"}}
	for _, op := range r.Operators {
		b := op.Bytes
		ops.Rows = append(ops.Rows, []cell{text(opName(&op)), text(op.ID), numCell(int64(op.Parallelism)), numCell(int64(op.MaxParallelism)),
			bytesCell(b.ManagedKeyed + b.RawKeyed), bytesCell(b.ManagedOperator + b.RawOperator), bytesCell(b.Channel), bytesCell(b.Total)})
	}
	p.Tables = append(p.Tables, limit(ops))
	states := tableView{ID: "states", Title: "States", Head: []string{"operator", "state", "type", "serializers", "entries", "bytes"}}
	for _, op := range r.Operators {
		for _, st := range op.States {
			var ser []string
			for _, s := range st.Serializers {
				ser = append(ser, s.Short)
			}
			row := []cell{text(opName(&op)), text(st.Name), text(st.Type), text(strings.Join(ser, " ")), text("n/a"), text("n/a")}
			if st.Entries != nil {
				row[4], row[5] = numCell(*st.Entries), bytesCell(*st.Bytes)
			}
			states.Rows = append(states.Rows, row)
		}
	}
	if len(states.Rows) > 0 {
		p.Tables = append(p.Tables, limit(states))
	}
	files := tableView{ID: "files", Title: "Largest files", Head: []string{"file", "scope", "bytes", "users"}}
	fs := append([]inspect.FileInfo(nil), r.Files...)
	sort.SliceStable(fs, func(i, j int) bool { return fs[i].Bytes > fs[j].Bytes })
	for _, f := range fs {
		name := f.Path
		if name == "" {
			name = "inline " + f.InlineName
		}
		files.Rows = append(files.Rows, []cell{text(name), text(f.Scope), bytesCell(f.Bytes), numCell(int64(len(f.Users)))})
	}
	if len(files.Rows) > 0 {
		files.Rows, files.More = files.Rows[:min(len(files.Rows), 50)], max(0, len(files.Rows)-50)
		p.Tables = append(p.Tables, files)
	}
	if v := d.Verify; v != nil {
		ft := tableView{ID: "findings", Title: fmt.Sprintf("Verify findings (%s): %d errors, %d warnings, %d infos", v.Level, v.Counts.Error, v.Counts.Warning, v.Counts.Info),
			Head: []string{"severity", "code", "operator", "file", "message"}}
		for _, f := range v.Findings {
			ft.Rows = append(ft.Rows, []cell{text(f.Severity.String()), text(string(f.Code)), text(f.Operator), text(f.File), text(f.Message)})
		}
		p.Tables = append(p.Tables, limit(ft))
	}
	if p.Compat != nil {
		p.Summary = append(p.Summary, [2]string{"on Flink " + p.Compat.Target, string(p.Compat.Verdict)})
		cap := tableView{ID: "capabilities", Title: "Capabilities of a " + r.Kind.Kind, Head: []string{"operation", "support"}}
		for _, c := range p.Compat.Capabilities {
			cap.Rows = append(cap.Rows, []cell{text(string(c.Operation)), text(string(c.Support))})
		}
		p.Tables = append(p.Tables, cap)
	}
	return pageTmpl.Execute(w, p)
}

func opName(op *inspect.OperatorInfo) string {
	switch {
	case op.UID != "":
		return op.UID
	case op.Name != "":
		return op.Name
	}
	return op.ID[:8]
}

func limit(t tableView) tableView {
	if len(t.Rows) > maxRows {
		t.More = len(t.Rows) - maxRows
		t.Rows = t.Rows[:maxRows]
	}
	return t
}

// treemap tiles operators by total bytes, and each operator by its
// states' bytes (walked with --states) or else by slot, with "other" for
// what the children do not account for: every rectangle's area is its
// bytes' share of the whole.
func treemap(r *inspect.Report) []Tile {
	ops := append([]inspect.OperatorInfo(nil), r.Operators...)
	sort.SliceStable(ops, func(i, j int) bool { return ops[i].Bytes.Total > ops[j].Bytes.Total })
	var rest int64
	if len(ops) > maxOperators {
		for _, op := range ops[maxOperators:] {
			rest += op.Bytes.Total
		}
		ops = ops[:maxOperators]
	}
	vals := make([]float64, len(ops), len(ops)+1)
	for i, op := range ops {
		vals[i] = float64(op.Bytes.Total)
	}
	if rest > 0 {
		vals = append(vals, float64(rest))
	}
	rects := Squarify(vals, Rect{0, 0, mapW, mapH})
	var tiles []Tile
	for i, op := range ops {
		if op.Bytes.Total <= 0 {
			continue
		}
		tiles = append(tiles, Tile{Rect: rects[i], Kind: "operator", Label: opName(&op), Bytes: op.Bytes.Total, Op: op.ID})
		type child struct {
			label string
			bytes int64
		}
		var kids []child
		var sum int64
		for _, st := range op.States {
			if st.Bytes != nil && *st.Bytes > 0 {
				kids = append(kids, child{st.Name, *st.Bytes})
				sum += *st.Bytes
			}
		}
		if len(kids) == 0 {
			b := op.Bytes
			for _, s := range []child{{"managed keyed", b.ManagedKeyed}, {"raw keyed", b.RawKeyed}, {"managed operator", b.ManagedOperator},
				{"raw operator", b.RawOperator}, {"channel", b.Channel}, {"coordinator", b.Coordinator}} {
				if s.bytes > 0 {
					kids = append(kids, s)
					sum += s.bytes
				}
			}
		}
		if other := op.Bytes.Total - sum; other > 0 && len(kids) > 0 {
			kids = append(kids, child{"other", other})
		}
		if len(kids) < 2 {
			continue
		}
		kv := make([]float64, len(kids))
		for k, c := range kids {
			kv[k] = float64(c.bytes)
		}
		for k, kr := range Squarify(kv, rects[i]) {
			tiles = append(tiles, Tile{Rect: kr, Kind: "state", Label: kids[k].label, Bytes: kids[k].bytes, Op: op.ID, Depth: 1})
		}
	}
	if rest > 0 {
		tiles = append(tiles, Tile{Rect: rects[len(ops)], Kind: "other", Label: fmt.Sprintf("%d smaller operators", len(r.Operators)-len(ops)), Bytes: rest})
	}
	return tiles
}

// graphView is the dependency graph of a root's snapshots.
type graphView struct {
	W, H    float64
	Nodes   []node // one per snapshot
	Folders []node // shared and task-owned folders
	Edges   []edge
}

type node struct {
	X, Y  float64
	Name  string
	Kind  string
	Bytes int64
}

type edge struct{ X1, Y1, X2, Y2 float64 }

type bar struct {
	X, W            float64
	HOwned, HShared float64
	Name            string
	Owned, Shared   int64
	YOwned, YShared float64
}

// WriteRoot writes a checkpoint root's page.
func WriteRoot(w io.Writer, d Root) error {
	dp := d.Deps
	p := &page{Title: "fsnap report: " + dp.Root, Subject: dp.Root, Made: time.Now().UTC().Format(time.RFC3339)}
	t := dp.Totals
	p.Summary = [][2]string{
		{"snapshots", fmt.Sprint(t.Snapshots)},
		{"referenced", fmt.Sprintf("%s in %d files (%d shared by two or more, %s)", units.Bytes(t.ReferencedBytes), t.Files, t.SharedFiles, units.Bytes(t.SharedBytes))},
		{"orphans", fmt.Sprintf("%d files, %s (what gc would remove, after its age guard)", t.Orphans, units.Bytes(t.OrphanBytes))},
		{"missing", fmt.Sprint(t.Missing)},
	}
	// Timeline: snapshots in time order, bars of owned and shared bytes.
	snaps := append([]catalog.DepsSnapshot(nil), dp.Snapshots...)
	sort.SliceStable(snaps, func(i, j int) bool { return snaps[i].Time.Before(snaps[j].Time) })
	var most int64 = 1
	for _, s := range snaps {
		most = max(most, s.OwnedBytes+s.SharedBytes)
	}
	const barsH = 200.0
	p.BarsW = max(600, float64(len(snaps))*8)
	bw := p.BarsW / float64(max(1, len(snaps)))
	for i, s := range snaps {
		ho := barsH * float64(s.OwnedBytes) / float64(most)
		hs := barsH * float64(s.SharedBytes) / float64(most)
		p.Bars = append(p.Bars, bar{X: float64(i) * bw, W: max(1, bw-1), HOwned: ho, HShared: hs, YOwned: barsH - ho, YShared: barsH - ho - hs,
			Name: s.Name, Owned: s.OwnedBytes, Shared: s.SharedBytes})
	}
	// Graph: one node per snapshot on a grid in time order, edges for
	// "depends on" (files of the other's folder in use).
	g := &graphView{}
	cols := max(1, min(40, len(snaps)))
	pos := map[int]int{}
	for i, s := range snaps {
		pos[s.ID] = i
		g.Nodes = append(g.Nodes, node{X: 20 + float64(i%cols)*30, Y: 20 + float64(i/cols)*40, Name: s.Name, Kind: s.Kind, Bytes: s.ReferencedBytes})
	}
	rows := (len(snaps) + cols - 1) / cols
	// Files outside snapshot folders (shared/, taskowned/) aggregated per
	// folder: one node each, joined to the snapshots using its files.
	folders := map[string]int{}
	var order []string
	users := map[string]map[int]bool{}
	for _, f := range dp.Files {
		if f.Folder == "" || !strings.HasSuffix(f.Folder, "shared") && !strings.HasSuffix(f.Folder, "taskowned") {
			continue
		}
		if _, ok := folders[f.Folder]; !ok {
			folders[f.Folder] = 0
			order = append(order, f.Folder)
			users[f.Folder] = map[int]bool{}
		}
		folders[f.Folder]++
		for _, u := range f.Users {
			users[f.Folder][u] = true
		}
	}
	sort.Strings(order)
	for k, name := range order {
		fx, fy := 20+float64(k)*120, 40+float64(rows)*40
		g.Folders = append(g.Folders, node{X: fx, Y: fy, Name: fmt.Sprintf("%s (%d files)", name, folders[name])})
		for u := range users[name] {
			if j, ok := pos[u]; ok {
				g.Edges = append(g.Edges, edge{g.Nodes[j].X, g.Nodes[j].Y, fx, fy})
			}
		}
	}
	g.W, g.H = max(40+float64(cols)*30, 40+float64(len(order))*120), 80+float64(rows)*40
	for i, s := range snaps {
		for _, dep := range s.DependsOn {
			if j, ok := pos[dep]; ok && j != i {
				g.Edges = append(g.Edges, edge{g.Nodes[i].X, g.Nodes[i].Y, g.Nodes[j].X, g.Nodes[j].Y})
			}
		}
	}
	p.Graph = g
	st := tableView{ID: "snapshots", Title: "Snapshots", Head: []string{"snapshot", "kind", "checkpoint", "time (UTC)", "files", "referenced", "shared", "owns"}}
	for _, s := range snaps {
		kind := s.Kind
		if kind == "" {
			kind = s.Type
		}
		st.Rows = append(st.Rows, []cell{text(s.Name), text(kind), numCell(s.CheckpointID), text(units.Time(s.Time)),
			numCell(int64(s.Files)), bytesCell(s.ReferencedBytes), bytesCell(s.SharedBytes), bytesCell(s.OwnedBytes)})
	}
	p.Tables = append(p.Tables, limit(st))
	ot := tableView{ID: "orphans", Title: "Orphans (what a gc would remove)", Head: []string{"file", "folder", "bytes", "modified (UTC)"}}
	for _, o := range dp.Orphans {
		ot.Rows = append(ot.Rows, []cell{text(o.Location), text(o.Folder), bytesCell(o.Size), text(units.Time(o.Modified))})
	}
	p.Tables = append(p.Tables, limit(ot))
	return pageTmpl.Execute(w, p)
}

var pageTmpl = template.Must(template.New("page").Funcs(template.FuncMap{"human": units.Bytes, "f": func(x float64) string { return fmt.Sprintf("%.3f", x) }}).Parse(pageHTML))
