package main

import (
	"context"
	"fmt"
	"io"
	"slices"
	"strings"
	"text/tabwriter"

	"github.com/spf13/pflag"

	"github.com/fsnap/fsnap/catalog"
	"github.com/fsnap/fsnap/gc"
	"github.com/fsnap/fsnap/internal/units"
	"github.com/fsnap/fsnap/inventory"
	"github.com/fsnap/fsnap/store"
	"github.com/fsnap/fsnap/table"
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
red). -o csv, jsonl, parquet, arrow or arrows print the files table of fsnap
inventory: one row per referenced file with its users, then the orphans
(shared_by 0).`,
		flags: func(fs *pflag.FlagSet) {
			fs.StringArrayVar(&depsFlags.also, "also", nil, "another root whose snapshots may use ROOT's files (repeatable)")
			fs.IntVar(&depsFlags.show, "show", 20, "orphans and external paths listed in the table")
			maxDepthFlag(fs)
		},
		nargs:   1,
		output:  &depsFlags.output,
		outputs: append([]string{"text", "json", "dot"}, tableFormats...),
		run:     runDeps,
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
	root, also, err := openRoots(ctx, args[0], depsFlags.also)
	if err != nil {
		return err
	}
	defer closeAll(root, also)
	g, err := gc.Analyse(ctx, root, gc.Options{Also: also, MaxDepth: maxDepth})
	if err != nil {
		return err
	}
	r := catalog.NewDeps(g, also)
	switch depsFlags.output {
	case "json":
		return writeJSON(e.stdout, r)
	case "dot":
		return writeDot(e.stdout, g, r)
	}
	if isTable(depsFlags.output) {
		return writeTable(e, depsFlags.output, inventory.FileColumns, func(w table.Writer) error { return inventory.WriteDepsFiles(w, r) })
	}
	return writeDepsText(e.stdout, r, depsFlags.show)
}

func writeDepsText(w io.Writer, d *catalog.Deps, show int) error {
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
			owns = fmt.Sprintf("%s in %d objects", units.Bytes(s.OwnedBytes), s.OwnedObjects)
		}
		fmt.Fprintf(tw, "%s\t%s\t%d\t%d\t%s\t%s\t%s\t%s\t%s\n", s.Name, kind, s.CheckpointID, s.Files,
			units.Bytes(s.ReferencedBytes), units.Bytes(s.SharedBytes), owns, orDash(strings.Join(deps, ", ")), strings.Join(notes, "; "))
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	t := d.Totals
	fmt.Fprintf(w, "\n%d snapshots reference %d files under the root (%s); %d files (%s) are shared by two or more.\n",
		t.Snapshots, t.Files, units.Bytes(t.ReferencedBytes), t.SharedFiles, units.Bytes(t.SharedBytes))
	if d.Unreliable {
		fmt.Fprintf(w, "%d snapshots are UNREADABLE: orphans and owned bytes are unknown.\n", t.Unreadable)
	} else {
		fmt.Fprintf(w, "%d orphan objects (%s) are referenced by nothing (fsnap gc decides which to delete).\n", t.Orphans, units.Bytes(t.OrphanBytes))
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
	if t.Snapshots == 0 {
		fmt.Fprintf(w, "Nothing found: fsnap %s. A snapshot of another name is given to inspect --files or verify itself.\n", d.Scanned)
	} else {
		fmt.Fprintf(w, "scan: %s\n", d.Scanned)
	}
	writeRows(w, "ORPHANS", len(d.Orphans), show, func(tw io.Writer, i int) {
		o := d.Orphans[i]
		fmt.Fprintf(tw, "%s\t%s\t%s\n", o.Location, units.Bytes(o.Size), units.Time(o.Modified))
	})
	writeRows(w, "EXTERNAL", len(d.External), show, func(tw io.Writer, i int) {
		x := d.External[i]
		fmt.Fprintf(tw, "%s\t%s\t%s\t%d users\n", x.Path, units.Bytes(x.Size), x.Reason, len(x.Users))
	})
	return nil
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

// writeRows prints a titled table of the first show of n rows (none when
// show is 0).
func writeRows(w io.Writer, title string, n, show int, row func(tw io.Writer, i int)) {
	if n == 0 || show <= 0 {
		return
	}
	fmt.Fprintf(w, "\n%s\n", title)
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	for i := range min(n, show) {
		row(tw, i)
	}
	if n > show {
		fmt.Fprintf(tw, "… and %d more (-o json lists all)\n", n-show)
	}
	tw.Flush()
}

func limitList(xs []string, n int) string {
	if n <= 0 || len(xs) <= n {
		return strings.Join(xs, ", ")
	}
	return strings.Join(xs[:n], ", ") + fmt.Sprintf(", … (%d more)", len(xs)-n)
}

// writeDot draws snapshots, the folders they read files from (shared,
// task-owned, other snapshots' folders) and external stores.
func writeDot(w io.Writer, g *catalog.Graph, d *catalog.Deps) error {
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
		label := fmt.Sprintf("%s\n%s\nowns %s", s.Name, kind, units.Bytes(s.OwnedBytes))
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
			fmt.Fprintf(w, "  s%d -> f%d [label=%s];\n", ni, id, q(fmt.Sprintf("%d files, %s", e.files, units.Bytes(e.bytes))))
		}
		var ids []int
		for id := range toNode {
			ids = append(ids, id)
		}
		slices.Sort(ids)
		for _, id := range ids {
			e := toNode[id]
			fmt.Fprintf(w, "  s%d -> s%d [label=%s, color=red, penwidth=2];\n", ni, id, q(fmt.Sprintf("uses %d files, %s", e.files, units.Bytes(e.bytes))))
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
			q(fmt.Sprintf("%d orphans, %s", d.Totals.Orphans, units.Bytes(d.Totals.OrphanBytes))))
	}
	_, err := fmt.Fprintln(w, "}")
	return err
}
