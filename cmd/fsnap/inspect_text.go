package main

import (
	"cmp"
	"fmt"
	"io"
	"slices"
	"strings"
	"text/tabwriter"

	"github.com/fsnap/fsnap/inspect"
	"github.com/fsnap/fsnap/internal/units"
)

// textRows is how many operators (largest first) the text report lists
// without --all: a job of 100,000 operators stays readable.
const textRows = 50

// writeInspectText renders an inspect report for people: all operators
// with all, else the textRows largest and a count of the rest.
func writeInspectText(w io.Writer, r *inspect.Report, all bool) error {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	kind := r.Kind.Kind
	switch {
	case r.Kind.Source == "properties" && r.Kind.FormatType != "":
		kind += fmt.Sprintf("  (from properties: %q, %s)", r.Kind.TypeName, r.Kind.FormatType)
	case r.Kind.Source == "properties":
		kind += fmt.Sprintf("  (from properties: %q, sharing %s)", r.Kind.TypeName, r.Kind.SharingFilesStrategy)
	default:
		kind += "  (inferred"
		if len(r.Kind.Alternatives) > 0 {
			kind += "; could also be " + strings.Join(r.Kind.Alternatives, ", ")
		}
		kind += ")"
	}
	t := r.Totals
	fmt.Fprintf(tw, "snapshot\t%s\n", r.Snapshot)
	fmt.Fprintf(tw, "kind\t%s\n", kind)
	fmt.Fprintf(tw, "backend\t%s  (%s)\n", r.Backend.Name, r.Backend.Reason)
	fmt.Fprintf(tw, "metadata\tversion %d, %s, checkpoint id %d\n", r.Metadata.Version, units.Bytes(r.Metadata.Bytes), r.CheckpointID)
	fmt.Fprintf(tw, "flink\t%s  (%s)\n", r.Flink.Range, strings.Join(r.Flink.Evidence, "; "))
	fmt.Fprintf(tw, "state\t%s in %d files, %s inline in %d streams\n", units.Bytes(t.FileBytes), t.Files, units.Bytes(t.InlineBytes), t.InlineStreams)
	fmt.Fprintf(tw, "operators\t%d, %d subtasks with state\n", t.Operators, t.Subtasks)
	for _, ms := range r.MasterStates {
		fmt.Fprintf(tw, "master state\t%s (version %d, %s)\n", ms.Name, ms.Version, units.Bytes(int64(ms.Bytes)))
	}
	ops := shownOperators(r.Operators, all)
	fmt.Fprintln(tw)
	fmt.Fprintln(tw, "OPERATOR\tID\tP/MAXP\tKEYED\tRAW KEYED\tOPERATOR\tRAW OP\tCHANNEL\tFILES")
	for _, op := range ops {
		name := op.UID
		if name == "" {
			name = op.Name
		}
		if name == "" {
			name = "-"
		}
		par := fmt.Sprintf("%d/%d", op.Parallelism, op.MaxParallelism)
		if op.FullyFinished {
			par += " finished"
		} else if op.FinishedSubtasks > 0 {
			par += fmt.Sprintf(" (%d finished)", op.FinishedSubtasks)
		}
		b := op.Bytes
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%d\n", name, op.ID, par,
			units.Bytes(b.ManagedKeyed), units.Bytes(b.RawKeyed), units.Bytes(b.ManagedOperator), units.Bytes(b.RawOperator), units.Bytes(b.Channel), op.Files)
	}
	if rest := len(r.Operators) - len(ops); rest > 0 {
		var bytes int64
		for _, op := range ops {
			bytes += op.Bytes.Total
		}
		fmt.Fprintf(tw, "… %d more operators with %s of state (the %d largest are shown; --all lists every one)\n",
			rest, units.Bytes(r.Totals.StateBytes-bytes), len(ops))
	}
	writeStates(tw, ops)
	if r.Files != nil {
		fmt.Fprintln(tw)
		fmt.Fprintln(tw, "FILE\tSCOPE\tBYTES\tUSED BY")
		for _, f := range r.Files {
			name := f.Path
			switch {
			case f.InlineName != "":
				name = "inline:" + f.InlineName
			case f.Unsafe != "":
				name = fmt.Sprintf("%q (UNSAFE: %s)", f.Relative, f.Unsafe)
			}
			fmt.Fprintf(tw, "%s\t%s\t%d\t%s\n", name, f.Scope, f.Bytes, usersText(f.Users))
		}
	}
	return tw.Flush()
}

func usersText(us []inspect.User) string {
	parts := make([]string, 0, len(us))
	for _, u := range us {
		who := u.UID
		if who == "" {
			who = u.Operator[:8]
		}
		s := fmt.Sprintf("%s/%d %s", who, u.Subtask, u.Slot)
		if u.Subtask < 0 {
			s = fmt.Sprintf("%s %s", who, u.Slot)
		}
		if u.Role != "state" {
			s += " " + u.Role
		}
		parts = append(parts, s)
	}
	return strings.Join(parts, ", ")
}

// shownOperators are the operators the text lists: all, or the textRows
// largest by state bytes (ties in file order).
func shownOperators(ops []inspect.OperatorInfo, all bool) []inspect.OperatorInfo {
	if all || len(ops) <= textRows {
		return ops
	}
	idx := make([]int, len(ops))
	for i := range idx {
		idx[i] = i
	}
	slices.SortStableFunc(idx, func(a, b int) int { return cmp.Compare(ops[b].Bytes.Total, ops[a].Bytes.Total) })
	out := make([]inspect.OperatorInfo, textRows)
	for i := range out {
		out[i] = ops[idx[i]]
	}
	return out
}

func writeStates(tw *tabwriter.Writer, ops []inspect.OperatorInfo) {
	any, walked := false, false
	for _, op := range ops {
		any = any || len(op.States) > 0 || len(op.Notes) > 0
		for _, st := range op.States {
			walked = walked || st.Bytes != nil
		}
	}
	if !any {
		return
	}
	fmt.Fprintln(tw)
	if walked {
		fmt.Fprintln(tw, "OPERATOR\tSTATE\tTYPE\tSLOT\tSERIALIZERS\tENTRIES\tBYTES")
	} else {
		fmt.Fprintln(tw, "OPERATOR\tSTATE\tTYPE\tSLOT\tSERIALIZERS")
	}
	for _, op := range ops {
		name := operatorName(op)
		for _, st := range op.States {
			ser := make([]string, 0, len(st.Serializers))
			for _, s := range st.Serializers {
				ser = append(ser, shortTree(s))
			}
			line := fmt.Sprintf("%s\t%s\t%s\t%s\t%s", name, st.Name, st.Type, st.Slot, strings.Join(ser, " "))
			if walked {
				if st.Bytes != nil {
					line += fmt.Sprintf("\t%d\t%s", *st.Entries, units.Bytes(*st.Bytes))
				} else {
					line += "\tn/a\tn/a" // RocksDB native state: --rocksdb counts it
				}
			}
			fmt.Fprintln(tw, line)
		}
	}
	for _, op := range ops {
		if sk := op.Skew; sk != nil {
			fmt.Fprintf(tw, "skew %s\tsubtask %d holds %s, %.1f× the median subtask; key group %d holds %s, %.1f× the median key group\n",
				operatorName(op), sk.LargestSubtask, units.Bytes(sk.LargestSubtaskBytes), sk.SubtaskRatio,
				sk.LargestKeyGroup, units.Bytes(sk.LargestKeyGroupBytes), sk.KeyGroupRatio)
		}
	}
	// A note many operators share is said once, naming a few of them.
	var notes []string
	who := map[string][]string{}
	for _, op := range ops {
		for _, n := range op.Notes {
			if who[n] == nil {
				notes = append(notes, n)
			}
			who[n] = append(who[n], operatorName(op))
		}
	}
	for _, n := range notes {
		fmt.Fprintf(tw, "note: %s (%s)\n", n, limitList(who[n], 3))
	}
}

// shortTree renders a serializer as Short<Nested, …>.
func shortTree(s inspect.SerializerInfo) string {
	out := s.Short
	if len(s.Nested) > 0 {
		parts := make([]string, len(s.Nested))
		for i, n := range s.Nested {
			parts[i] = shortTree(n)
		}
		out += "<" + strings.Join(parts, ",") + ">"
	}
	return out
}

func operatorName(op inspect.OperatorInfo) string {
	switch {
	case op.UID != "":
		return op.UID
	case op.Name != "":
		return op.Name
	}
	return op.ID[:8]
}

// writeRocksDBText renders the RocksDB part of the report: a row per
// state summed over its instances, the instances that failed, and with
// all every instance's column families and SSTs.
func writeRocksDBText(w io.Writer, r *inspect.RocksDBReport, all bool) error {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintf(tw, "\nrocksdb\t%d instances, %d files (%s), %d SSTs (%s), %d entries\n",
		len(r.Instances), r.Files, units.Bytes(r.FileBytes), r.SSTs, units.Bytes(r.SSTBytes), r.Entries)
	if len(r.States) > 0 {
		fmt.Fprintln(tw)
		fmt.Fprintln(tw, "OPERATOR\tSTATE\tKIND\tINSTANCES\tENTRIES\tKEY BYTES\tVALUE BYTES\tKEY GROUPS\tSSTS\tSST BYTES")
		for _, st := range r.States {
			who := cmp.Or(st.UID, st.Name, st.Operator)
			fmt.Fprintf(tw, "%s\t%s\t%s\t%d\t%d\t%s\t%s\t%d\t%d\t%s\n", who, st.State, cmp.Or(st.Kind, "-"), st.Instances, st.Entries,
				units.Bytes(st.KeyBytes), units.Bytes(st.ValueBytes), st.KeyGroups, st.SSTs, units.Bytes(st.SSTBytes))
		}
	}
	failed := 0
	for _, in := range r.Instances {
		if in.Error != "" {
			failed++
		}
	}
	if !all && failed == 0 {
		return tw.Flush()
	}
	if !all {
		fmt.Fprintf(tw, "\n%d of %d instances could not be read (--all describes every instance):\n", failed, len(r.Instances))
	}
	for _, in := range r.Instances {
		if !all && in.Error == "" {
			continue
		}
		who := in.UID
		if who == "" {
			who = in.Name
		}
		if who != "" {
			who += " "
		}
		comp := ""
		if in.Compressed {
			comp = ", snapshot compression on"
		}
		fmt.Fprintf(tw, "\n%s%s subtask %d: key groups %s, %d files (%s)%s\n", who, in.Operator, in.Subtask, in.KeyGroups, in.Files, units.Bytes(in.FileBytes), comp)
		if in.Error != "" {
			fmt.Fprintf(tw, "  ERROR: %s\n", in.Error)
		}
		if len(in.ColumnFamilies) > 0 {
			fmt.Fprintln(tw, "  COLUMN FAMILY\tID\tKIND\tENTRIES\tKEY BYTES\tVALUE BYTES\tKEY GROUPS\tSSTS\tSST BYTES\tSST ENTRIES")
			for _, cf := range in.ColumnFamilies {
				id, kind := "-", "-"
				if cf.StateID >= 0 {
					id, kind = fmt.Sprint(cf.StateID), cf.Kind
				}
				kgs := "-"
				if cf.FirstKeyGroup >= 0 {
					kgs = fmt.Sprintf("%d-%d (%d)", cf.FirstKeyGroup, cf.LastKeyGroup, cf.KeyGroupsPresent)
				}
				if cf.OutsideRange > 0 {
					kgs += fmt.Sprintf(", %d entries outside the range", cf.OutsideRange)
				}
				fmt.Fprintf(tw, "  %s\t%s\t%s\t%d\t%s\t%s\t%s\t%d\t%s\t%d\n", cf.Name, id, kind, cf.Entries,
					units.Bytes(cf.KeyBytes), units.Bytes(cf.ValueBytes), kgs, cf.SSTs, units.Bytes(cf.SSTBytes), cf.SSTEntries)
			}
		}
		tw.Flush() // align each table on its own
		if len(in.SSTs) > 0 {
			fmt.Fprintln(tw, "  SST\tLEVEL\tCOLUMN FAMILY\tBYTES\tENTRIES\tDELETIONS\tKEY GROUPS\tFILE")
			for _, s := range in.SSTs {
				fmt.Fprintf(tw, "  %s\t%d\t%s\t%s\t%d\t%d\t%d-%d\t%s\n", s.LocalName, s.Level, s.ColumnFamily, units.Bytes(s.Bytes),
					s.Entries, s.Deletions, s.SmallestKeyGroup, s.LargestKeyGroup, s.File)
			}
		}
	}
	return tw.Flush()
}
