package gc

import (
	"encoding/json"
	"fmt"
	"io"
	"net/url"
	"path"
	"strings"

	"github.com/fsnap/fsnap/store"
)

// ResultSchema names the document of an applied plan.
const ResultSchema = "fsnap.gc-result/v1"

// Applied is the fsnap.gc-result/v1 document: a plan and what applying it
// did, event by event.
type Applied struct {
	Schema string  `json:"schema"`
	Plan   *Plan   `json:"plan"`
	Events []Event `json:"events"`
	Result *Result `json:"result"`
	Error  string  `json:"error,omitempty"`
}

// NewApplied makes the document of Apply's outcome.
func NewApplied(plan *Plan, events []Event, res *Result, err error) *Applied {
	a := &Applied{Schema: ResultSchema, Plan: plan, Events: events, Result: res}
	if a.Events == nil {
		a.Events = []Event{}
	}
	if err != nil {
		a.Error = err.Error()
	}
	return a
}

// ReadPlan reads a plan document (fsnap.gc-plan/v1) written by a dry run.
func ReadPlan(r io.Reader) (*Plan, error) {
	var p Plan
	if err := json.NewDecoder(r).Decode(&p); err != nil {
		return nil, fmt.Errorf("not a plan: %w", err)
	}
	if p.Schema != Schema {
		return nil, fmt.Errorf("schema %q, want %s", p.Schema, Schema)
	}
	return &p, nil
}

// NameUnder is the snapshot's folder relative to root, and whether it is
// under root at all.
// The snapshot's folder is taken as the user named it (sr.Named): a local
// folder that is a symbolic link stays where the link is.
func NameUnder(root *store.Location, sr *store.SnapshotRef) (string, bool) {
	dir := named(sr)
	if root.Scheme != sr.Scheme || root.Name != sr.Name || !strings.HasPrefix(dir, root.Prefix) || dir == root.Prefix {
		return "", false
	}
	return strings.TrimSuffix(strings.TrimPrefix(dir, root.Prefix), "/"), true
}

func named(sr *store.SnapshotRef) string {
	if sr.Named != "" {
		return sr.Named
	}
	return sr.Prefix
}

// DeleteRoot names the default root for deleting the snapshot sr, found
// from the reference ref, in the form the user
// gave (a path, or a URL with its connection parameters): the checkpoint
// root when the snapshot is a chk-N in a folder named like a job id (32 hex
// digits), so that other jobs restored from it are seen; else the folder
// holding it. A local snapshot folder that is a symbolic link is taken
// where the link is, never where it points.
func DeleteRoot(ref string, sr *store.SnapshotRef) string {
	dir := strings.TrimSuffix(named(sr), "/")
	parent := path.Dir(dir)
	if strings.HasPrefix(path.Base(dir), "chk-") && isJobID(path.Base(parent)) {
		parent = path.Dir(parent)
	}
	if parent == "." {
		parent = ""
	}
	if sr.Scheme == "file" {
		return "/" + parent
	}
	u, err := url.Parse(ref)
	if err != nil {
		return ref // Open reports it
	}
	u.Path = "/" + parent
	u.RawPath = ""
	return u.String()
}

// isJobID reports whether s looks like a Flink job id: 32 hex digits.
func isJobID(s string) bool {
	if len(s) != 32 {
		return false
	}
	for _, c := range s {
		if !('0' <= c && c <= '9' || 'a' <= c && c <= 'f') {
			return false
		}
	}
	return true
}
