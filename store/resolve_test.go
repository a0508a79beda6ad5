package store

import (
	"context"
	"strings"
	"testing"
)

func TestResolver(t *testing.T) {
	ctx := context.Background()
	base, err := Open(ctx, "mem://resolve-a/chk-1")
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	sameStore, anyStore := NewResolver(base, false), NewResolver(base, true)
	defer sameStore.Close()
	defer anyStore.Close()
	resolve := func(r *Resolver, raw string) (*Location, string, error) {
		p, err := ParseFlinkPath(raw)
		if err != nil {
			t.Fatal(err)
		}
		return r.Resolve(ctx, p)
	}
	for _, tc := range []struct {
		r                   *Resolver
		raw, loc, key, want string
	}{
		{r: sameStore, raw: "mem://resolve-a/shared/x", loc: "mem://resolve-a/chk-1", key: "shared/x"},
		{r: sameStore, raw: "mem://resolve-b/y/z", loc: "mem://resolve-b/y", key: "y/z"},
		{r: sameStore, raw: "hdfs://nn/x", want: "fsnap cannot open hdfs:// paths"},
		{r: sameStore, raw: "file:" + dir + "/f", want: "a file path referenced from a snapshot in mem"},
		{r: anyStore, raw: "file:" + dir + "/f", loc: "/", key: strings.TrimPrefix(dir, "/") + "/f"},
	} {
		l, key, err := resolve(tc.r, tc.raw)
		switch {
		case tc.want != "":
			if err == nil || err.Error() != tc.want {
				t.Errorf("%s: error %v, want %q", tc.raw, err, tc.want)
			}
		case err != nil:
			t.Errorf("%s: %v", tc.raw, err)
		case l.Display != tc.loc || key != tc.key:
			t.Errorf("%s: %s %q, want %s %q", tc.raw, l.Display, key, tc.loc, tc.key)
		}
	}
	// One location per bucket, whatever the folder.
	l1, _, _ := resolve(sameStore, "mem://resolve-b/y/z")
	l2, key, err := resolve(sameStore, "mem://resolve-b/other/z")
	if err != nil || l1 != l2 || key != "other/z" {
		t.Errorf("second folder of a bucket: %p %p %q %v", l1, l2, key, err)
	}
}

// TestConnectionStringAccount: the account of connection-string
// credentials (gc's TestAzureAccountUnknown runs the whole path against
// Azurite in a child process: gocloud reads the Azure environment once per
// process, so it cannot be changed here).
func TestConnectionStringAccount(t *testing.T) {
	for cs, want := range map[string]string{
		"DefaultEndpointsProtocol=http;AccountName=acct1;AccountKey=a2V5;BlobEndpoint=http://127.0.0.1:1/acct1;": "acct1",
		"AccountKey=a2V5; AccountName = acct2 ;EndpointSuffix=core.windows.net":                                  "acct2",
		"BlobEndpoint=https://acct3.blob.core.windows.net/;SharedAccessSignature=sv=1&sig=x":                     "",
		"": "",
	} {
		if got := connectionStringAccount(cs); got != want {
			t.Errorf("%q: %q, want %q", cs, got, want)
		}
	}
}
