package main

import (
	"fmt"
	"io"
	"strings"

	"github.com/fsnap/fsnap/internal/units"
	"github.com/fsnap/fsnap/verify"
)

// maxPerCode is how many findings of one code the text output lists; the
// JSON document always has them all.
const maxPerCode = 20

// writeVerifyText renders a report for people: a summary, then the findings,
// most severe first, at most maxPerCode per code.
func writeVerifyText(w io.Writer, r *verify.Report) error {
	var b strings.Builder
	ch := r.Checked
	fmt.Fprintf(&b, "snapshot     %s\n", r.Snapshot)
	fmt.Fprintf(&b, "kind         %s, _metadata version %d\n", r.Kind, r.MetadataVersion)
	fmt.Fprintf(&b, "checked      %d operators, %d handles, %d files (%s)", ch.Operators, ch.Handles, ch.Files, units.Bytes(ch.FileBytes))
	switch bad := ch.Files - ch.FilesPresent; {
	case ch.Files == 0:
	case bad == 0:
		b.WriteString(" present with their sizes")
	default:
		fmt.Fprintf(&b, ": %d present with their sizes, %d NOT (see below)", ch.FilesPresent, bad)
	}
	if r.Level != verify.LevelFiles.String() {
		fmt.Fprintf(&b, ", %d stream headers", ch.Headers)
	}
	b.WriteString("\n")
	if r.Level == verify.LevelDeep.String() {
		fmt.Fprintf(&b, "deep         %d streams walked to their end (%s, %d entries)\n", ch.StreamsWalked, units.Bytes(ch.BytesWalked), ch.Entries)
	}
	if ch.Opaque > 0 {
		fmt.Fprintf(&b, "opaque       %d streams in formats of user code or not specified (presence and size only)\n", ch.Opaque)
	}
	switch n := r.PinnedFiles; {
	case r.Relocatable:
		b.WriteString("relocatable  yes: every handle is inline or relative to the snapshot directory\n")
	case r.SelfContainedIn != "":
		fmt.Fprintf(&b, "relocatable  no: %d %s named by absolute paths (allowed: they must lie under %s instead)\n", n, plural(n, "file"), r.SelfContainedIn)
	default:
		fmt.Fprintf(&b, "relocatable  no: %d %s pin it to other places (not-relocatable-* below)\n", n, plural(n, "file"))
	}
	if r.SelfContainedIn != "" {
		if outside := r.CodeCounts()[verify.FileOutsideRoot]; outside > 0 {
			fmt.Fprintf(&b, "self-contained no: %d %s outside %s (file-outside-root below)\n", outside, plural(outside, "finding"), r.SelfContainedIn)
		} else {
			fmt.Fprintf(&b, "self-contained yes: every file lies under %s\n", r.SelfContainedIn)
		}
	}
	fmt.Fprintf(&b, "result       %d %s, %d %s, %d info\n", r.Counts.Error, plural(r.Counts.Error, "error"),
		r.Counts.Warning, plural(r.Counts.Warning, "warning"), r.Counts.Info)
	if len(r.Findings) > 0 {
		b.WriteString("\n")
	}
	perCode := map[verify.Code]int{}
	total := r.CodeCounts()
	for _, f := range r.Findings {
		perCode[f.Code]++
		k := perCode[f.Code]
		if k > maxPerCode {
			if k == maxPerCode+1 {
				fmt.Fprintf(&b, "%-7s %s: %d more (-o json lists all)\n", strings.ToUpper(f.Severity.String()), f.Code, total[f.Code]-maxPerCode)
			}
			continue
		}
		fmt.Fprintf(&b, "%-7s %s", strings.ToUpper(f.Severity.String()), f.Code)
		if where := whereText(&f); where != "" {
			fmt.Fprintf(&b, "  %s", where)
		}
		fmt.Fprintf(&b, "\n        %s\n", f.Message)
		if f.File != "" {
			fmt.Fprintf(&b, "        file %s", f.File)
			if f.Users > 1 {
				fmt.Fprintf(&b, " (%d users)", f.Users)
			}
			b.WriteString("\n")
		}
		if f.Relocate != "" {
			fmt.Fprintf(&b, "        relocate: %s\n", f.Relocate)
		}
	}
	_, err := io.WriteString(w, b.String())
	return err
}

// whereText names the operator, subtask, slot and position of a finding.
func whereText(f *verify.Finding) string {
	var parts []string
	if f.Operator != "" {
		op := "operator " + f.Operator
		switch {
		case f.OperatorUID != "":
			op += fmt.Sprintf(" (uid %s)", f.OperatorUID)
		case f.OperatorName != "":
			op += fmt.Sprintf(" (%s)", f.OperatorName)
		}
		parts = append(parts, op)
	}
	if f.Subtask != nil {
		parts = append(parts, fmt.Sprintf("subtask %d", *f.Subtask))
	}
	if f.Slot != "" {
		parts = append(parts, f.Slot)
	}
	if f.KeyGroup != nil {
		parts = append(parts, fmt.Sprintf("key group %d", *f.KeyGroup))
	}
	if f.Offset != nil {
		parts = append(parts, fmt.Sprintf("offset %d", *f.Offset))
	}
	return strings.Join(parts, ", ")
}

// plural gives word its plural form unless n is 1.
func plural(n int, word string) string {
	if n != 1 {
		word += "s"
	}
	return word
}
