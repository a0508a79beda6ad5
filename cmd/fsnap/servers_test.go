package main

import (
	"context"
	"net/url"
	"strings"
	"testing"

	"github.com/fsnap/fsnap/fixtures"
	"github.com/fsnap/fsnap/internal/store"
	"github.com/fsnap/fsnap/internal/testservers"
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
	spec.RootURI = serverFlinkURI(k, u.Host, "ckpt")
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

// serverFlinkURI is the absolute path Flink writes for path p in bucket (or
// container) b of a test server.
func serverFlinkURI(k testservers.Kind, b, p string) string {
	if k == testservers.Azure {
		return "wasbs://" + b + "@" + testservers.AzureAccount + ".blob.core.windows.net/" + p
	}
	return string(k) + "://" + b + "/" + p
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
