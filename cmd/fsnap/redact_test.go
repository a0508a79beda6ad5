package main

import (
	"net/url"
	"path/filepath"
	"strings"
	"testing"
)

// TestSecretsNeverPrinted (issue 20, item 6): URL passwords (of the
// location and of an endpoint URL inside it), secret_access_key,
// session_token, sig and access_token values given on the command line
// appear in no output or error of ls, delete, inspect, verify and migrate
// relocate (status line and JSON document), text or JSON.
func TestSecretsNeverPrinted(t *testing.T) {
	secrets := []string{"EndpointPw42", "SecretAK+/42", "SessTok42x", "SasSig42==", "AccTok42y"}
	endpoint := "http://minio:" + secrets[0] + "@127.0.0.1:1"
	s3 := "s3://bkt/ckpt?endpoint=" + url.QueryEscape(endpoint) + "&use_path_style=true&region=us-east-1"
	withKeys := "s3://bkt/ckpt?secret_access_key=" + url.QueryEscape(secrets[1]) + "&session_token=" + secrets[2]
	az := "azblob://c/p?sig=" + url.QueryEscape(secrets[3]) + "&sv=2024-01-01"
	gs := "gs://b/p?access_token=" + secrets[4]
	src := filepath.Join(t.TempDir(), "none")
	// Credentials, so that the stores are contacted (and fail).
	t.Setenv("AWS_ACCESS_KEY_ID", "AKIAFAKEFAKE")
	t.Setenv("AWS_SECRET_ACCESS_KEY", "fake-secret-key")
	t.Setenv("AWS_EC2_METADATA_DISABLED", "true")
	runs := [][]string{
		{"ls", s3}, {"ls", "-o", "json", s3}, {"ls", s3 + "&bogus=1"}, {"delete", s3 + "&bogus=1"}, {"ls", withKeys}, {"ls", az}, {"ls", gs},
		{"delete", s3 + "/chk-1"}, {"delete", "-o", "json", s3 + "/chk-1"},
		{"inspect", s3}, {"verify", "-o", "json", s3},
		{"migrate", "relocate", src, s3}, {"migrate", "relocate", "-o", "json", src, s3},
		{"migrate", "relocate", src, withKeys}, {"migrate", "relocate", "-o", "json", src, withKeys},
		{"migrate", "relocate", "-o", "json", src, az}, {"migrate", "relocate", src, gs},
		{"migrate", "relocate", s3, src},
	}
	for _, args := range runs {
		code, out, errs := fsnap(t, args...)
		if code == 0 {
			t.Errorf("%q: exit 0", args)
		}
		for _, s := range secrets {
			for _, form := range []string{s, url.QueryEscape(s)} {
				if strings.Contains(out+errs, form) {
					t.Errorf("%q shows %q:\n%s%s", args, form, out, errs)
				}
			}
		}
	}
}
