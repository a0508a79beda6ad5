package main

import (
	"context"
	"net/url"
	"strings"
	"testing"

	"github.com/fsnap/fsnap/fixtures"
	"github.com/fsnap/fsnap/internal/testservers"
	"github.com/fsnap/fsnap/store"
)

// serverHistory writes a history (no recent objects: a server's times
// cannot be set back) under /ckpt of a new bucket on a test server, with
// the absolute paths Flink writes there, and returns the root URL.
func serverHistory(t *testing.T, k testservers.Kind, spec fixtures.HistorySpec) (string, *fixtures.History) {
	t.Helper()
	u, err := url.Parse(testservers.Shared(t, k).NewBucket(t))
	if err != nil {
		t.Fatal(err)
	}
	u.Path = "/ckpt"
	spec.RootURI = testservers.FlinkPath(k, u.Host, "ckpt")
	spec.Recent, spec.InFlight = 0, false
	h, err := fixtures.GenerateHistory(spec)
	if err != nil {
		t.Fatal(err)
	}
	l, err := store.Open(context.Background(), u.String())
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	if err := h.Write(context.Background(), []fixtures.Writer{l}, false); err != nil {
		t.Fatal(err)
	}
	return u.String(), h
}

// noSecret fails if any output shows the test server's secret key.
func noSecret(t *testing.T, k testservers.Kind, outputs ...string) {
	t.Helper()
	secret := map[testservers.Kind]string{testservers.S3: testservers.MinIOPassword, testservers.Azure: testservers.AzureKey}[k]
	for _, o := range outputs {
		if secret != "" && strings.Contains(o, secret) {
			t.Errorf("%s secret in output:\n%s", k, o)
		}
	}
}

// TestFixtureOnEveryServer: `fsnap fixture` writes the absolute paths
// Flink would write in each store (wasbs://container@account... on Azure),
// so gc finds nothing the generated checkpoint references to delete, and
// verify finds every file.
func TestFixtureOnEveryServer(t *testing.T) {
	for _, k := range testservers.Kinds {
		t.Run(string(k), func(t *testing.T) {
			u, err := url.Parse(testservers.Shared(t, k).NewBucket(t))
			if err != nil {
				t.Fatal(err)
			}
			u.Path = "/ckpt"
			code, out, errs := fsnap(t, "fixture", "--kind", "incremental-checkpoint", u.String())
			if code != 0 {
				t.Fatalf("fixture: exit %d: %s", code, errs)
			}
			// It prints the snapshot's URL with the root's parameters: usable as is.
			snap := strings.TrimSpace(out)
			if !strings.HasPrefix(snap, string(k)+"://"+u.Host+"/ckpt/") || (u.RawQuery != "" && !strings.HasSuffix(snap, "?"+u.RawQuery)) {
				t.Fatalf("fixture printed %q for root %s", snap, u)
			}
			if code, out, errs = fsnap(t, "inspect", "--files", "-o", "json", snap); code != 0 || !strings.Contains(out, testservers.FlinkPath(k, u.Host, "ckpt/")) {
				t.Errorf("inspect: exit %d, no %s path in\n%.2000s%s", code, testservers.FlinkPath(k, u.Host, "ckpt/"), out, errs)
			}
			code, out, errs = fsnap(t, "gc", "--min-age", "0", "-o", "json", u.String())
			if code != 0 {
				t.Fatalf("gc: exit %d: %s", code, errs)
			}
			if p := decodePlan(t, out); len(p.Delete) != 0 || len(p.Warnings) != 0 {
				t.Errorf("gc plans to delete %d referenced objects (warnings %q)", len(p.Delete), p.Warnings)
			}
			// The state bytes are random (header findings); every file is found.
			code, out, errs = fsnap(t, "verify", "-o", "json", snap)
			if code > 1 || !strings.Contains(out, `"files": 60,`) || strings.Contains(out, "file-not-checked") || strings.Contains(out, "file-missing") {
				t.Errorf("verify: exit %d\n%.3000s%s", code, out, errs)
			}
		})
	}
}
