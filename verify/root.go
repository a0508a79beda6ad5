package verify

import (
	"context"
	"errors"

	"github.com/fsnap/fsnap/catalog"
	snapsrc "github.com/fsnap/fsnap/snapshot/source"
	"github.com/fsnap/fsnap/store"
)

// RootSchema names the document of a root's verification.
const RootSchema = "fsnap.verify-root/v1"

// RootReport is the verification of every complete snapshot under a
// checkpoint root, newest first.
type RootReport struct {
	Schema    string      `json:"schema"`
	Root      string      `json:"root"`
	Snapshots []RootEntry `json:"snapshots"`
	// Incomplete counts the snapshot folders without _metadata (not
	// checked: failed or in-flight attempts).
	Incomplete int        `json:"incomplete"`
	Totals     RootTotals `json:"totals"`
	// MaxDepth is how deep the root was scanned, Scanned what was looked at.
	MaxDepth int    `json:"max_depth"`
	Scanned  string `json:"scanned"`
}

// RootEntry is one snapshot: its report, or why it could not be read.
type RootEntry struct {
	Name   string  `json:"name"`
	Error  string  `json:"error,omitempty"`
	Report *Report `json:"report,omitempty"`
}

// RootTotals sum the reports.
type RootTotals struct {
	Snapshots  int    `json:"snapshots"`
	Clean      int    `json:"clean"`      // no finding at all
	Unreadable int    `json:"unreadable"` // _metadata could not be read or parsed
	Findings   Counts `json:"findings"`
}

// CheckRoot verifies every complete snapshot under root (found as fsnap ls
// finds them), one at a time; a snapshot that cannot be read is an entry
// with its error, not the end of the run. Only a failed listing or a
// cancelled context is an error.
func CheckRoot(ctx context.Context, root *store.Location, opts Options, allow ...store.Scope) (*RootReport, error) {
	c, err := catalog.Scan(ctx, root, catalog.Options{MaxDepth: opts.RootDepth})
	if err != nil {
		return nil, err
	}
	r := &RootReport{Schema: RootSchema, Root: root.Display, MaxDepth: c.Depth, Scanned: c.Scanned()}
	for _, f := range catalog.NewestFirst(c.Snapshots()) {
		if !f.Complete {
			r.Incomplete++
			continue
		}
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		e := RootEntry{Name: f.Name}
		snap, src, err := snapsrc.LoadRef(ctx, root.SnapshotAt(f.Dir), allow...)
		if err == nil {
			e.Report, err = Check(ctx, snap, src, opts)
			src.Close()
		}
		if err != nil {
			if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
				return nil, err
			}
			e.Report, e.Error = nil, err.Error()
			r.Totals.Unreadable++
		} else {
			r.Totals.Findings.Error += e.Report.Counts.Error
			r.Totals.Findings.Warning += e.Report.Counts.Warning
			r.Totals.Findings.Info += e.Report.Counts.Info
			if len(e.Report.Findings) == 0 {
				r.Totals.Clean++
			}
		}
		r.Snapshots = append(r.Snapshots, e)
		r.Totals.Snapshots++
	}
	return r, nil
}
