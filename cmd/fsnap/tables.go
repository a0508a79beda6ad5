package main

import (
	"io"
	"os"
	"slices"

	"golang.org/x/term"

	"github.com/fsnap/fsnap/table"
)

// tableFormats are the -o values that print a command's document as a
// table (see package inventory for the columns).
var tableFormats = []string{"csv", "jsonl", "parquet", "arrow", "arrows"}

func isTable(output string) bool { return slices.Contains(tableFormats, output) }

// writeTable prints one table to standard output. Parquet and Arrow are
// binary: written as they are (a redacting filter would corrupt them, as
// inventory's files are not filtered either), never to a terminal.
func writeTable(e *env, output string, cols []table.Column, fill func(table.Writer) error) error {
	w := e.stdout
	if table.Format(output).Binary() {
		if u, ok := w.(interface{ Unwrap() io.Writer }); ok {
			w = u.Unwrap()
		}
		if f, ok := w.(*os.File); ok && term.IsTerminal(int(f.Fd())) {
			return usagef("-o %s is binary: redirect standard output to a file", output)
		}
	}
	tw, err := table.New(table.Format(output), nopCloser{w}, cols)
	if err != nil {
		return err
	}
	if err := fill(tw); err != nil {
		tw.Close()
		return err
	}
	return tw.Close()
}

type nopCloser struct{ io.Writer }

func (nopCloser) Close() error { return nil }
