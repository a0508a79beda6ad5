package compat

import (
	"bufio"
	"fmt"
	"io"
	"text/tabwriter"
)

// WriteText renders the report for people: the verdict, the findings that
// matter, the steps, and the capability matrix of the snapshot's kind.
func WriteText(w io.Writer, r *Report) error {
	bw := bufio.NewWriter(w)
	fmt.Fprintf(bw, "snapshot   %s\n", r.Snapshot)
	fmt.Fprintf(bw, "kind       %s, written by Flink %s, state backend %s\n", r.Kind, r.Flink, r.StateBackend)
	fmt.Fprintf(bw, "target     Flink %s\n", r.Target)
	fmt.Fprintf(bw, "verdict    %s\n", r.Verdict)
	if len(r.Findings) > 0 {
		fmt.Fprintln(bw)
		for _, f := range r.Findings {
			where := ""
			if f.Operator != "" {
				where = " [operator " + f.Operator
				if f.OperatorUID != "" {
					where += " uid " + f.OperatorUID
				}
				where += "]"
			}
			fmt.Fprintf(bw, "%-8s %s%s: %s\n         source: %s\n", upper(f.Severity), f.Rule, where, f.Message, f.Source)
		}
	}
	if len(r.Steps) > 0 {
		fmt.Fprintln(bw, "\nto do:")
		for i, s := range r.Steps {
			fmt.Fprintf(bw, "  %d. %s\n", i+1, s)
		}
	}
	fmt.Fprintf(bw, "\ncapabilities of a %s (Flink's matrix):\n", r.Kind)
	tw := tabwriter.NewWriter(bw, 2, 8, 2, ' ', 0)
	for _, c := range r.Capabilities {
		fmt.Fprintf(tw, "  %s\t%s\n", c.Operation, c.Support)
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	return bw.Flush()
}

// WriteRules prints the rule table.
func WriteRules(w io.Writer) error {
	bw := bufio.NewWriter(w)
	fmt.Fprintf(bw, "compat rules, version %s\n\n", RulesVersion)
	for _, r := range Rules {
		fmt.Fprintf(bw, "%s\n  %s\n  applies: %s\n  source:  %s\n\n", r.ID, r.Title, r.Applies, r.Source)
	}
	return bw.Flush()
}

func upper(s Severity) string {
	switch s {
	case Blocks:
		return "BLOCKS"
	case Drops:
		return "DROPS"
	case Warns:
		return "WARNING"
	}
	return "INFO"
}
