package main

import (
	"context"
	"fmt"
	"io"
	"slices"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/pflag"

	"github.com/fsnap/fsnap/catalog"
	"github.com/fsnap/fsnap/gc"
	"github.com/fsnap/fsnap/store"
)

var depsFlags struct {
	output string
	also   []string
	show   int
}

func init() {
	register(&command{
		name:  "deps",
		args:  "[flags] ROOT",
		short: "show which snapshot uses which file: owned, shared and orphan bytes, dependencies",
		long: `Reads the _metadata of every complete snapshot under ROOT (and under each
--also root, whose snapshots may use ROOT's files: a job restored in LEGACY
mode from a savepoint under ROOT, another job's root) and reports:

  - per snapshot: files referenced, bytes referenced, bytes shared with
    other snapshots, bytes it alone owns (what 'fsnap delete' would free),
    the snapshots whose folders it uses, external and missing references;
  - files no snapshot references (orphans: what 'fsnap gc' would consider);
  - references outside ROOT (external: kept by gc and delete).

Output: a table (the first --show orphans and external paths), -o json
(schema "fsnap.deps/v1", every file with its users) or -o dot (Graphviz:
snapshots, the shared folders they use, dependencies between snapshots in
red).`,
		flags: func(fs *pflag.FlagSet) {
			fs.StringVarP(&depsFlags.output, "output", "o", "text", "output format: text, json or dot")
			fs.StringArrayVar(&depsFlags.also, "also", nil, "another root whose snapshots may use ROOT's files (repeatable)")
			fs.IntVar(&depsFlags.show, "show", 20, "orphans and external paths listed in the table")
		},
		run: runDeps,
	})
}

// openRoots opens ROOT and the --also roots; close them with closeAll.
func openRoots(ctx context.Context, ref string, also []string) (*store.Location, []*store.Location, error) {
	root, err := store.Open(ctx, ref)
	if err != nil {
		return nil, nil, err
	}
	var others []*store.Location
	for _, a := range also {
		l, err := store.Open(ctx, a)
		if err != nil {
			closeAll(root, others)
			return nil, nil, err
		}
		others = append(others, l)
	}
	return root, others, nil
}

func closeAll(root *store.Location, also []*store.Location) {
	root.Close()
	for _, l := range also {
		l.Close()
	}
}

func runDeps(ctx context.Context, e *env, args []string) error {
	if len(args) != 1 {
		return usagef("want exactly one ROOT, got %d arguments", len(args))
	}
	switch depsFlags.output {
	case "text", "json", "dot":
	default:
		return usagef("unknown output format %q (want text, json or dot)", depsFlags.output)
	}
	root, also, err := openRoots(ctx, args[0], depsFlags.also)
	if err != nil {
		return err
	}
	defer closeAll(root, also)
	g, err := gc.Analyse(ctx, root, gc.Options{Also: also})
	if err != nil {
		return err
	}
	r := depsReport(g, also)
	switch depsFlags.output {
	case "json":
		return writeJSON(e.stdout, r)
	case "dot":
		return writeDot(e.stdout, g, r)
	}
	return writeDepsText(e.stdout, r, depsFlags.show)
}

// The fsnap.deps/v1 document. Snapshot, file and external users are
// indices into snapshots.
type depsDoc struct {
	Schema    string         `json:"schema"`
	Root      string         `json:"root"`
	Also      []string       `json:"also"`
	Snapshots []depsSnapshot `json:"snapshots"`
	Files     []depsFile     `json:"files"`
	Orphans   []depsOrphan   `json:"orphans"`
	External  []depsExternal `json:"external"`
	Unmanaged []string       `json:"unmanaged"`
	// UnmanagedMore counts unmanaged names beyond the first 1,000.
	UnmanagedMore int        `json:"unmanaged_more"`
	Totals        depsTotals `json:"totals"`
	// Unreliable is set when some _metadata is unreadable: orphans and
	// owned bytes are then unknown (empty and zero).
	Unreliable bool `json:"unreliable"`
}

type depsSnapshot struct {
	ID              int       `json:"id"`
	Name            string    `json:"name"`
	Location        string    `json:"location"`
	InRoot          bool      `json:"in_root"`
	Type            string    `json:"type"`
	Kind            string    `json:"kind,omitempty"`
	CheckpointID    int64     `json:"checkpoint_id"`
	Time            time.Time `json:"time"`
	Files           int       `json:"files"`
	ReferencedBytes int64     `json:"referenced_bytes"`
	SharedBytes     int64     `json:"shared_bytes"`
	OwnedBytes      int64     `json:"owned_bytes"`
	OwnedObjects    int       `json:"owned_objects"`
	DependsOn       []int     `json:"depends_on"`
	External        int       `json:"external"`
	Missing         int       `json:"missing"`
	Error           string    `json:"error,omitempty"`
}

type depsFile struct {
	Key      string `json:"key"`
	Location string `json:"location"`
	Folder   string `json:"folder,omitempty"` // the managed folder, relative to the root
	Size     int64  `json:"size"`
	Stored   bool   `json:"stored"`
	Managed  bool   `json:"managed"` // in a listed folder: stored is certain
	Users    []int  `json:"users"`
}

type depsOrphan struct {
	Key      string    `json:"key"`
	Location string    `json:"location"`
	Folder   string    `json:"folder"`
	Size     int64     `json:"size"`
	Modified time.Time `json:"modified"`
}

type depsExternal struct {
	Path   string `json:"path"`
	Size   int64  `json:"size"`
	Reason string `json:"reason"`
	Users  []int  `json:"users"`
}

type depsTotals struct {
	Snapshots       int   `json:"snapshots"`
	Files           int   `json:"files"` // referenced files under the root
	ReferencedBytes int64 `json:"referenced_bytes"`
	SharedFiles     int   `json:"shared_files"` // referenced by two snapshots or more
	SharedBytes     int64 `json:"shared_bytes"`
	Orphans         int   `json:"orphans"`
	OrphanBytes     int64 `json:"orphan_bytes"`
	External        int   `json:"external"`
	Missing         int   `json:"missing"`
	Unreadable      int   `json:"unreadable"`
}

func depsReport(g *catalog.Graph, also []*store.Location) *depsDoc {
	d := &depsDoc{Schema: "fsnap.deps/v1", Root: g.Root.Root.Display, Also: []string{}, Unmanaged: g.Root.Unmanaged,
		UnmanagedMore: g.Root.UnmanagedMore,
		Files:         []depsFile{}, Orphans: []depsOrphan{}, External: []depsExternal{}, Unreliable: len(g.Unreadable) > 0}
	if d.Unmanaged == nil {
		d.Unmanaged = []string{}
	}
	for _, l := range also {
		d.Also = append(d.Also, l.Display)
	}
	for i, n := range g.Nodes {
		s := depsSnapshot{ID: i, Name: n.Name, Location: n.Catalog.Root.NameOf(strings.TrimSuffix(n.Folder.Dir, "/")),
			InRoot: n.InRoot, Type: string(n.Folder.Kind), Kind: string(n.Kind), CheckpointID: n.CheckpointID,
			Time: n.Folder.MetadataTime.UTC(), Files: len(n.Files), ReferencedBytes: n.ReferencedBytes,
			SharedBytes: n.SharedBytes, OwnedBytes: n.OwnedBytes, OwnedObjects: n.OwnedObjects,
			DependsOn: ints(n.DependsOn), External: len(n.External), Missing: n.Missing}
		if n.Err != nil {
			s.Error = n.Err.Error()
			d.Totals.Unreadable++
		}
		d.Snapshots = append(d.Snapshots, s)
		d.Totals.Missing += n.Missing
	}
	d.Totals.Snapshots = len(g.Nodes)
	for i := range g.Files {
		f := &g.Files[i]
		if f.Refs == 0 {
			continue
		}
		df := depsFile{Key: f.Key, Location: g.Location(f.Key), Size: f.Size, Stored: f.Stored, Managed: f.Managed,
			Users: ints(g.Users(int32(i)))}
		if f.Folder != nil {
			df.Folder = f.Folder.Name
		}
		d.Files = append(d.Files, df)
		d.Totals.Files++
		d.Totals.ReferencedBytes += f.Size
		if f.Refs > 1 {
			d.Totals.SharedFiles++
			d.Totals.SharedBytes += f.Size
		}
	}
	for _, fi := range g.Orphans() {
		f := &g.Files[fi]
		d.Orphans = append(d.Orphans, depsOrphan{Key: f.Key, Location: g.Location(f.Key), Folder: f.Folder.Name,
			Size: f.Size, Modified: time.Unix(0, f.ModTime).UTC()})
		d.Totals.Orphans++
		d.Totals.OrphanBytes += f.Size
	}
	for _, x := range g.External {
		d.External = append(d.External, depsExternal{Path: x.Path, Size: x.Size, Reason: x.Reason, Users: ints(x.Users)})
	}
	d.Totals.External = len(g.External)
	return d
}

func ints(xs []int32) []int {
	out := make([]int, len(xs))
	for i, x := range xs {
		out[i] = int(x)
	}
	return out
}

func writeDepsText(w io.Writer, d *depsDoc, show int) error {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "SNAPSHOT\tKIND\tID\tFILES\tREFERENCED\tSHARED\tOWNS (FREED BY DELETE)\tDEPENDS ON\tNOTES")
	for _, s := range d.Snapshots {
		kind := s.Kind
		if kind == "" {
			kind = s.Type
		}
		var deps []string
		for _, id := range s.DependsOn {
			deps = append(deps, d.Snapshots[id].Name)
		}
		var notes []string
		if !s.InRoot {
			notes = append(notes, "other root")
		}
		if s.External > 0 {
			notes = append(notes, fmt.Sprintf("%d external", s.External))
		}
		if s.Missing > 0 {
			notes = append(notes, fmt.Sprintf("%d MISSING", s.Missing))
		}
		if s.Error != "" {
			notes = append(notes, "UNREADABLE: "+s.Error)
		}
		owns := "-"
		if s.InRoot && !d.Unreliable {
			owns = fmt.Sprintf("%s in %d objects", sizeText(s.OwnedBytes), s.OwnedObjects)
		}
		fmt.Fprintf(tw, "%s\t%s\t%d\t%d\t%s\t%s\t%s\t%s\t%s\n", s.Name, kind, s.CheckpointID, s.Files,
			sizeText(s.ReferencedBytes), sizeText(s.SharedBytes), owns, orDash(strings.Join(deps, ", ")), strings.Join(notes, "; "))
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	t := d.Totals
	fmt.Fprintf(w, "\n%d snapshots reference %d files under the root (%s); %d files (%s) are shared by two or more.\n",
		t.Snapshots, t.Files, sizeText(t.ReferencedBytes), t.SharedFiles, sizeText(t.SharedBytes))
	if d.Unreliable {
		fmt.Fprintf(w, "%d snapshots are UNREADABLE: orphans and owned bytes are unknown.\n", t.Unreadable)
	} else {
		fmt.Fprintf(w, "%d orphan objects (%s) are referenced by nothing (fsnap gc decides which to delete).\n", t.Orphans, sizeText(t.OrphanBytes))
	}
	if t.Missing > 0 {
		fmt.Fprintf(w, "%d references point to files that do not exist.\n", t.Missing)
	}
	if t.External > 0 {
		fmt.Fprintf(w, "%d paths outside the root are referenced (never deleted by gc or delete).\n", t.External)
	}
	if len(d.Unmanaged) > 0 {
		fmt.Fprintf(w, "Not checkpoint storage, left alone: %s\n", limitList(d.Unmanaged, show))
	}
	if len(d.Orphans) > 0 && show > 0 {
		fmt.Fprintln(w, "\nORPHANS")
		tw = tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
		for i, o := range d.Orphans {
			if i == show {
				fmt.Fprintf(tw, "… and %d more (-o json lists all)\n", len(d.Orphans)-show)
				break
			}
			fmt.Fprintf(tw, "%s\t%s\t%s\n", o.Location, sizeText(o.Size), o.Modified.Local().Format("2006-01-02 15:04:05"))
		}
		tw.Flush()
	}
	if len(d.External) > 0 && show > 0 {
		fmt.Fprintln(w, "\nEXTERNAL")
		tw = tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
		for i, x := range d.External {
			if i == show {
				fmt.Fprintf(tw, "… and %d more (-o json lists all)\n", len(d.External)-show)
				break
			}
			fmt.Fprintf(tw, "%s\t%s\t%s\t%d users\n", x.Path, sizeText(x.Size), x.Reason, len(x.Users))
		}
		tw.Flush()
	}
	return nil
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

func limitList(xs []string, n int) string {
	if n <= 0 || len(xs) <= n {
		return strings.Join(xs, ", ")
	}
	return strings.Join(xs[:n], ", ") + fmt.Sprintf(", … (%d more)", len(xs)-n)
}

// writeDot draws snapshots, the folders they read files from (shared,
// task-owned, other snapshots' folders) and external stores.
func writeDot(w io.Writer, g *catalog.Graph, d *depsDoc) error {
	q := func(s string) string { return fmt.Sprintf("%q", s) }
	fmt.Fprintln(w, "digraph fsnap {")
	fmt.Fprintln(w, "  rankdir=LR;")
	fmt.Fprintln(w, `  node [shape=box, fontname="Helvetica", fontsize=10]; edge [fontname="Helvetica", fontsize=9];`)
	fmt.Fprintf(w, "  label=%s; labelloc=t;\n", q("fsnap deps "+d.Root))
	for _, s := range d.Snapshots {
		kind := s.Kind
		if kind == "" {
			kind = s.Type
		}
		label := fmt.Sprintf("%s\n%s\nowns %s", s.Name, kind, sizeText(s.OwnedBytes))
		style := ""
		switch {
		case s.Error != "":
			style = `, color=red, style=dashed`
			label += "\nUNREADABLE"
		case !s.InRoot:
			style = `, style=dashed`
		}
		fmt.Fprintf(w, "  s%d [label=%s%s];\n", s.ID, q(label), style)
	}
	type edge struct {
		files int
		bytes int64
	}
	folderIDs := map[string]int{}
	nodeIDs := map[*catalog.Node]int{}
	for i, n := range g.Nodes {
		nodeIDs[n] = i
	}
	for ni, n := range g.Nodes {
		toFolder := map[string]*edge{}
		toNode := map[int]*edge{}
		var folders []string
		for _, fi := range n.Files {
			f := &g.Files[fi]
			if f.Folder == n.Folder {
				continue
			}
			if m := g.NodeOfFolder(f.Folder); m != nil {
				id := nodeIDs[m]
				if toNode[id] == nil {
					toNode[id] = &edge{}
				}
				toNode[id].files++
				toNode[id].bytes += f.Size
				continue
			}
			name := "(elsewhere under the root)"
			if f.Folder != nil {
				name = f.Folder.Name
			}
			if toFolder[name] == nil {
				toFolder[name] = &edge{}
				folders = append(folders, name)
			}
			toFolder[name].files++
			toFolder[name].bytes += f.Size
		}
		slices.Sort(folders)
		for _, name := range folders {
			id, ok := folderIDs[name]
			if !ok {
				id = len(folderIDs)
				folderIDs[name] = id
				fmt.Fprintf(w, "  f%d [label=%s, shape=folder];\n", id, q(name+"/"))
			}
			e := toFolder[name]
			fmt.Fprintf(w, "  s%d -> f%d [label=%s];\n", ni, id, q(fmt.Sprintf("%d files, %s", e.files, sizeText(e.bytes))))
		}
		var ids []int
		for id := range toNode {
			ids = append(ids, id)
		}
		slices.Sort(ids)
		for _, id := range ids {
			e := toNode[id]
			fmt.Fprintf(w, "  s%d -> s%d [label=%s, color=red, penwidth=2];\n", ni, id, q(fmt.Sprintf("uses %d files, %s", e.files, sizeText(e.bytes))))
		}
	}
	if len(d.External) > 0 {
		byReason := map[string][]int{}
		var reasons []string
		for _, x := range d.External {
			if byReason[x.Reason] == nil {
				reasons = append(reasons, x.Reason)
			}
			byReason[x.Reason] = append(byReason[x.Reason], x.Users...)
		}
		slices.Sort(reasons)
		for i, r := range reasons {
			fmt.Fprintf(w, "  x%d [label=%s, shape=note];\n", i, q("external ("+r+")"))
			users := byReason[r]
			slices.Sort(users)
			for _, u := range slices.Compact(users) {
				fmt.Fprintf(w, "  s%d -> x%d [style=dotted];\n", u, i)
			}
		}
	}
	if d.Totals.Orphans > 0 {
		fmt.Fprintf(w, "  orphans [label=%s, shape=octagon, color=gray];\n",
			q(fmt.Sprintf("%d orphans, %s", d.Totals.Orphans, sizeText(d.Totals.OrphanBytes))))
	}
	_, err := fmt.Fprintln(w, "}")
	return err
}
