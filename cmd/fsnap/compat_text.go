package main

import (
	"bufio"
	"fmt"
	"io"
	"text/tabwriter"

	"github.com/fsnap/fsnap/compat"
)

// writeCompatText renders the report for people: the verdict, the findings that
// matter, the steps, and the capability matrix of the snapshot's kind.
func writeCompatText(w io.Writer, r *compat.Report) error {
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
			fmt.Fprintf(bw, "%-8s %s%s: %s\n         source: %s\n", severityText(f.Severity), f.Rule, where, f.Message, f.Source)
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

// writeCompatRules prints the rule table.
func writeCompatRules(w io.Writer) error {
	bw := bufio.NewWriter(w)
	fmt.Fprintf(bw, "compat rules, version %s\n\n", compat.RulesVersion)
	for _, r := range compat.Rules {
		fmt.Fprintf(bw, "%s\n  %s\n  applies: %s\n  source:  %s\n\n", r.ID, r.Title, r.Applies, r.Source)
	}
	return bw.Flush()
}

func severityText(s compat.Severity) string {
	switch s {
	case compat.Blocks:
		return "BLOCKS"
	case compat.Drops:
		return "DROPS"
	case compat.Warns:
		return "WARNING"
	}
	return "INFO"
}
