package main

import (
	"bufio"
	"cmp"
	"fmt"
	"io"

	"github.com/fsnap/fsnap/diff"
)

// writeDiffText renders the changes for people: a summary, then per changed
// operator its notes and state and serializer changes. Unchanged
// operators are counted, not listed.
func writeDiffText(w io.Writer, r *diff.Report) error {
	bw := bufio.NewWriter(w)
	s := r.Summary
	fmt.Fprintf(bw, "a  %s\nb  %s\n", r.A, r.B)
	fmt.Fprintf(bw, "operators: %d added, %d removed, %d changed, %d unchanged; %d incompatible serializer changes; state %d → %d bytes\n",
		s.Added, s.Removed, s.Changed, s.Unchanged, s.Incompatible, s.BytesA, s.BytesB)
	for _, o := range r.Operators {
		if o.Change == diff.Unchanged {
			continue
		}
		name := o.ID
		if o.UID != "" {
			name += " (" + o.UID + ")"
		}
		fmt.Fprintf(bw, "\n%-9s operator %s, %d → %d bytes\n", o.Change, name, o.BytesA, o.BytesB)
		for _, n := range o.Notes {
			fmt.Fprintf(bw, "          %s\n", n)
		}
		for _, st := range o.States {
			if st.Change == diff.Unchanged {
				continue
			}
			fmt.Fprintf(bw, "  %-9s state %q", st.Change, st.Name)
			if st.TypeA != "" || st.TypeB != "" {
				fmt.Fprintf(bw, " (%s)", cmp.Or(st.TypeB, st.TypeA))
			}
			fmt.Fprintln(bw)
			for _, c := range st.Serializers {
				fmt.Fprintf(bw, "    %s: %s [%s]\n      %s\n", c.Path, c.Detail, c.Evolution, c.Rule)
			}
		}
	}
	return bw.Flush()
}
