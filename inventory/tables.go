package inventory

import (
	"path"
	"sort"
	"strings"

	"github.com/fsnap/fsnap/catalog"
	"github.com/fsnap/fsnap/inspect"
	"github.com/fsnap/fsnap/snapshot"
	"github.com/fsnap/fsnap/table"
)

// ListingColumns are the columns of `fsnap ls` as a table.
var ListingColumns = table.Columns(`root:s name:s location:s job:s type:s kind:s checkpoint_id:i complete:b time:t
	metadata_bytes:i bytes:i objects:i error:s`)

// WriteListing writes one row per listed snapshot.
func WriteListing(w table.Writer, l *catalog.Listing) error {
	for _, s := range l.Snapshots {
		var id any
		if s.CheckpointID != nil {
			id = *s.CheckpointID
		}
		if err := w.Write([]any{l.Root, s.Name, s.Location, nonEmpty(s.Job), s.Type, nonEmpty(s.Kind), id, s.Complete, s.Time,
			s.MetadataBytes, s.Bytes, int64(s.Objects), nonEmpty(s.Error)}); err != nil {
			return err
		}
	}
	return nil
}

// WriteDepsFiles writes the files table of a deps document: every
// referenced file with its users, then the orphans (no users, shared_by 0).
func WriteDepsFiles(w table.Writer, d *catalog.Deps) error {
	if _, err := writeFiles(w, d.Root, d, nil); err != nil {
		return err
	}
	for _, o := range d.Orphans {
		if err := w.Write([]any{d.Root, o.Location, folderScope(o.Folder), nonEmpty(o.Folder), o.Size, true, nil, int64(0)}); err != nil {
			return err
		}
	}
	return nil
}

// writeFiles writes a row per referenced file of d (those whose location
// keep accepts, when given) and returns how many.
func writeFiles(w table.Writer, root string, d *catalog.Deps, keep func(location string) bool) (int, error) {
	names := make([]string, len(d.Snapshots))
	for i, s := range d.Snapshots {
		names[i] = s.Name
	}
	n := 0
	for _, f := range d.Files {
		if keep != nil && !keep(f.Location) {
			continue
		}
		users := make([]string, len(f.Users))
		for i, u := range f.Users {
			users[i] = names[u]
		}
		sort.Strings(users)
		if err := w.Write([]any{root, f.Location, folderScope(f.Folder), nonEmpty(f.Folder), f.Size, f.Stored, strings.Join(users, ","), int64(len(f.Users))}); err != nil {
			return n, err
		}
		n++
	}
	return n, nil
}

// WriteOperators writes one row per operator of an inspect report.
func WriteOperators(w table.Writer, root, snapshot string, r *inspect.Report) error {
	for _, op := range r.Operators {
		b := op.Bytes
		if err := w.Write([]any{nonEmpty(root), snapshot, op.ID, nonEmpty(op.UID), nonEmpty(op.Name), int64(op.Parallelism), int64(op.MaxParallelism),
			int64(op.SubtasksWithState), b.ManagedKeyed, b.RawKeyed, b.ManagedOperator, b.RawOperator, b.Channel, b.Coordinator, b.Total}); err != nil {
			return err
		}
	}
	return nil
}

// WriteStates writes one row per state of an inspect report (entries and
// bytes when the report walked the streams).
func WriteStates(w table.Writer, root, snapshot string, r *inspect.Report) error {
	for _, op := range r.Operators {
		for _, sti := range op.States {
			var short, classes []string
			for _, si := range sti.Serializers {
				short = append(short, serializerTree(si))
				classes = append(classes, serializerClasses(si)...)
			}
			row := []any{nonEmpty(root), snapshot, op.ID, nonEmpty(op.UID), sti.Name, sti.Type, sti.Slot, strings.Join(short, " "),
				strings.Join(classes, ","), int64(sti.Subtasks), nil, nil}
			if sti.Entries != nil {
				row[10], row[11] = *sti.Entries, *sti.Bytes
			}
			if err := w.Write(row); err != nil {
				return err
			}
		}
	}
	return nil
}

// folderScope is the scope of a file of the root by the managed folder
// holding it (relative to the root): shared, task-owned, or exclusive to
// its snapshot's folder; null elsewhere.
func folderScope(folder string) any {
	if folder == "" {
		return nil
	}
	switch k, _ := catalog.FolderKindOf(path.Base(folder)); {
	case k == catalog.Shared:
		return string(snapshot.ScopeShared)
	case k == catalog.TaskOwned:
		return string(snapshot.ScopeTaskOwned)
	case k.IsSnapshot():
		return string(snapshot.ScopeExclusive)
	}
	return nil
}
