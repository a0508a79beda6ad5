package store_test

import (
	"context"
	"io"
	"net/url"
	"testing"

	"github.com/fsnap/fsnap/internal/testservers"
	"github.com/fsnap/fsnap/store"
)

// TestFlinkURLsOnServers writes and reads an object through Flink's forms
// of an S3 (MinIO) and an Azure (Azurite) location, the emulators' endpoint
// given as gocloud's parameters.
func TestFlinkURLsOnServers(t *testing.T) {
	ctx := context.Background()
	s3 := testservers.Shared(t, testservers.S3)
	s3Bucket := hostOf(t, s3.NewBucket(t))
	az := testservers.Shared(t, testservers.Azure)
	container := hostOf(t, az.NewBucket(t))
	for _, ref := range []string{
		"s3a://" + s3Bucket + "/flink/chk-1?endpoint=http://" + s3.Addr + "&use_path_style=true",
		"s3p://" + s3Bucket + "/flink/chk-2?endpoint=http://" + s3.Addr + "&use_path_style=true",
		"wasbs://" + container + "@" + testservers.AzureAccount + ".blob.core.windows.net/flink/chk-3?protocol=http&domain=" + az.Addr,
		"abfss://" + container + "@" + testservers.AzureAccount + ".dfs.core.windows.net/flink/chk-4?protocol=http&domain=" + az.Addr,
	} {
		l, err := store.Open(ctx, ref)
		if err != nil {
			t.Fatalf("%s: %v", ref, err)
		}
		if err := l.WriteObject(ctx, "_metadata", func(w io.Writer) error {
			_, err := io.WriteString(w, ref)
			return err
		}); err != nil {
			t.Fatalf("%s: write: %v", ref, err)
		}
		key, _ := l.Key("_metadata")
		if got, err := l.ReadAll(ctx, key, 1<<20); err != nil || string(got) != ref {
			t.Errorf("%s: read %q, %v", ref, got, err)
		}
		l.Close()
	}
}

// hostOf is the bucket (host) of a test server URL.
func hostOf(t *testing.T, serverURL string) string {
	u, err := url.Parse(serverURL)
	if err != nil {
		t.Fatal(err)
	}
	return u.Host
}
