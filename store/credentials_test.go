package store

import (
	"context"
	"errors"
	"path/filepath"
	"strings"
	"testing"
)

// TestNoAWSCredentials: with no credential source at all, an S3 request
// fails with one CredentialsError line naming the sources looked at.
func TestNoAWSCredentials(t *testing.T) {
	dir := t.TempDir()
	for _, v := range []string{"AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_PROFILE",
		"AWS_WEB_IDENTITY_TOKEN_FILE", "AWS_ROLE_ARN", "AWS_CONTAINER_CREDENTIALS_FULL_URI", "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI",
		"AWS_ENDPOINT_URL", "AWS_ENDPOINT_URL_S3"} {
		t.Setenv(v, "")
	}
	t.Setenv("HOME", dir)
	t.Setenv("AWS_CONFIG_FILE", filepath.Join(dir, "config"))
	t.Setenv("AWS_SHARED_CREDENTIALS_FILE", filepath.Join(dir, "credentials"))
	t.Setenv("AWS_EC2_METADATA_DISABLED", "true")
	err := statOnce(t, "s3a://no-creds/chk-1?endpoint=http://127.0.0.1:1&use_path_style=true", "chk-1/_metadata")
	var ce *CredentialsError
	if !errors.As(err, &ce) {
		t.Fatalf("error %v is not a CredentialsError", err)
	}
	if msg := ce.Error(); !strings.HasPrefix(msg, "s3://no-creds: no AWS credentials found (looked for AWS_ACCESS_KEY_ID") ||
		strings.Contains(msg, "\n") || !strings.Contains(msg, "IRSA") {
		t.Errorf("message %q", msg)
	}

	// A configured source that fails is named instead.
	t.Setenv("AWS_WEB_IDENTITY_TOKEN_FILE", filepath.Join(dir, "token"))
	t.Setenv("AWS_ROLE_ARN", "arn:aws:iam::111122223333:role/fsnap")
	if err = statOnce(t, "s3://no-creds?endpoint=http://127.0.0.1:1&use_path_style=true", "x"); !errors.As(err, &ce) || !strings.Contains(ce.Error(), "AWS credentials from AWS_WEB_IDENTITY_TOKEN_FILE did not work") {
		t.Errorf("error %v", err)
	}
}

// statOnce opens ref and returns the error of a Stat of key in it.
func statOnce(t *testing.T, ref, key string) error {
	t.Helper()
	l, err := Open(context.Background(), ref)
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	_, err = l.Stat(context.Background(), key)
	return err
}
