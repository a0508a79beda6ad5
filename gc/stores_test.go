package gc_test

import (
	"context"
	"net/url"
	"os"
	"os/exec"
	"slices"
	"strings"
	"testing"

	"github.com/fsnap/fsnap/fixtures"
	"github.com/fsnap/fsnap/gc"
	"github.com/fsnap/fsnap/internal/testservers"
	"github.com/fsnap/fsnap/store"
)

// azureHistory is written with Flink's wasbs:// paths.
var azureHistory = fixtures.HistorySpec{Seed: 3, Jobs: 2, Rounds: 8, Retain: 2, Subtasks: 2, SSTs: 3, Churn: 0.4,
	FailRate: 0.3, LeakRate: 0.3, Savepoints: 1, Restores: 1, Strays: 2}

// TestAzureAccountUnknown: with the Azure credentials in a connection
// string and AZURE_STORAGE_ACCOUNT unset, fsnap once did not know the
// root's storage account, so it could not confirm that the snapshots' paths
// wasbs://container@account.../key name the root's container: every
// referenced file looked like an orphan, and gc planned and deleted live
// checkpoints' files. Now the account comes from the connection string as
// gocloud takes it, and gc plans exactly the orphans, without a warning.
// (Paths naming another account but the root's container and a stored key
// are still kept, with a warning: TestGraphAzureAccounts in catalog.)
//
// gocloud reads the Azure credentials once per process, so the check runs
// in a child process with only the connection string.
func TestAzureAccountUnknown(t *testing.T) {
	if root := os.Getenv("FSNAP_TEST_AZURE_ROOT"); root != "" {
		azureAccountUnknownChild(t, root)
		return
	}
	ctx := context.Background()
	srv := testservers.Shared(t, testservers.Azure)
	u, err := url.Parse(srv.NewBucket(t))
	if err != nil {
		t.Fatal(err)
	}
	spec := azureHistory
	spec.RootURI = testservers.FlinkPath(testservers.Azure, u.Host, "ckpt")
	h, err := fixtures.GenerateHistory(spec)
	if err != nil {
		t.Fatal(err)
	}
	u.Path = "/ckpt"
	l, err := store.Open(ctx, u.String())
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	if err := h.Write(ctx, []fixtures.Writer{l}, false); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(os.Args[0], "-test.run=^TestAzureAccountUnknown$", "-test.v")
	cmd.Env = append(os.Environ(), "FSNAP_TEST_AZURE_ROOT=azblob://"+u.Host+"/ckpt",
		"AZURE_STORAGE_ACCOUNT=", "AZURE_STORAGE_KEY=",
		"AZURE_STORAGE_CONNECTION_STRING=DefaultEndpointsProtocol=http;AccountName="+testservers.AzureAccount+
			";AccountKey="+testservers.AzureKey+";BlobEndpoint=http://"+srv.Addr+"/"+testservers.AzureAccount+";")
	out, err := cmd.CombinedOutput()
	if err != nil || !strings.Contains(string(out), "--- PASS: TestAzureAccountUnknown") {
		t.Fatalf("child: %v\n%s", err, out)
	}
	t.Logf("child:\n%s", out)
}

// azureAccountUnknownChild plans and applies gc on the root written by
// the parent: exactly the orphans go, every referenced file stays.
func azureAccountUnknownChild(t *testing.T, ref string) {
	ctx := context.Background()
	root, err := store.Open(ctx, ref)
	if err != nil {
		t.Fatal(err)
	}
	defer root.Close()
	spec := azureHistory
	spec.RootURI = testservers.FlinkPath(testservers.Azure, root.Name, "ckpt")
	h, err := fixtures.GenerateHistory(spec)
	if err != nil {
		t.Fatal(err)
	}
	opt := gc.Options{MinAge: -1}
	p, err := gc.PlanGC(ctx, root, opt)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, o := range p.Delete {
		got = append(got, strings.TrimPrefix(o.Key, root.Prefix))
	}
	slices.Sort(got)
	if want := expected(h, false); !slices.Equal(got, want) {
		t.Fatalf("%d external references; plan:\n%s", len(p.External), diff(h, got, want))
	}
	if len(p.Warnings) != 0 {
		t.Errorf("warnings %q", p.Warnings)
	}
	t.Logf("%d planned, warning: %s", len(p.Delete), p.Warnings)
	checkApply(t, ctx, h, root, nil, p, gc.ApplyOptions{Options: opt})
}
