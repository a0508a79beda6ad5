package store

import (
	"context"
	"errors"
	"net/url"
	"strings"
	"testing"
)

// TestFlinkURLArguments takes every location form of Flink's file system
// documentation for S3, GCS and Azure (and local files) as an argument,
// and checks it is mapped as the same path inside _metadata would be.
func TestFlinkURLArguments(t *testing.T) {
	for _, tc := range []struct {
		arg  string
		want string // the URL Open goes on with: scheme://bucket/path?query
	}{
		// S3 (docs: filesystems/s3): s3://, s3a:// (Hadoop), s3p:// (Presto), and s3n://.
		{"s3://my-bucket/flink/checkpoints", "s3://my-bucket/flink/checkpoints"},
		{"s3a://my-bucket/flink/checkpoints", "s3://my-bucket/flink/checkpoints"},
		{"s3p://my-bucket/flink/savepoints/savepoint-1a2b3c", "s3://my-bucket/flink/savepoints/savepoint-1a2b3c"},
		{"s3n://my-bucket/x", "s3://my-bucket/x"},
		{"S3A://my-bucket/x", "s3://my-bucket/x"},
		{"s3a://my-bucket/x?endpoint=http://127.0.0.1:9000&use_path_style=true", "s3://my-bucket/x?endpoint=http://127.0.0.1:9000&use_path_style=true"},
		// GCS (docs: filesystems/gcs): gs://<bucket>/<endpoint>.
		{"gs://my-bucket/flink/checkpoints", "gs://my-bucket/flink/checkpoints"},
		// Azure (docs: filesystems/azure): abfs[s]:// on ADLS Gen2, wasb[s]:// on Blob storage.
		{"abfs://flink@myaccount.dfs.core.windows.net/checkpoints", "azblob://flink/checkpoints?storage_account=myaccount"},
		{"abfss://flink@myaccount.dfs.core.windows.net/checkpoints", "azblob://flink/checkpoints?storage_account=myaccount"},
		{"wasb://flink@myaccount.blob.core.windows.net/checkpoints", "azblob://flink/checkpoints?storage_account=myaccount"},
		{"wasbs://flink@myaccount.blob.core.windows.net/checkpoints", "azblob://flink/checkpoints?storage_account=myaccount"},
		{"wasbs://flink@myaccount.blob.core.chinacloudapi.cn/c", "azblob://flink/c?domain=blob.core.chinacloudapi.cn&storage_account=myaccount"},
		{"abfss://flink@myaccount.dfs.core.usgovcloudapi.net/c", "azblob://flink/c?domain=blob.core.usgovcloudapi.net&storage_account=myaccount"},
		{"abfss://flink@myaccount.dfs.core.windows.net/c?protocol=http&domain=127.0.0.1:10000", "azblob://flink/c?domain=127.0.0.1%3A10000&protocol=http&storage_account=myaccount"},
		// fsnap's own forms pass unchanged.
		{"azblob://flink/c?storage_account=a", "azblob://flink/c?storage_account=a"},
		{"mem://m/c", "mem://m/c"},
	} {
		u, err := url.Parse(tc.arg)
		if err != nil {
			t.Fatal(err)
		}
		q := u.Query()
		got, err := flinkURL(u, q)
		if err != nil {
			t.Errorf("%s: %v", tc.arg, err)
			continue
		}
		if s := got.String(); s != tc.want {
			t.Errorf("%s: mapped to %s, want %s", tc.arg, s, tc.want)
		}
		// The same location written into _metadata maps to the same store
		// and bucket (Flink never writes azblob://).
		if strings.HasPrefix(tc.arg, "azblob") {
			continue
		}
		if p, err := ParseFlinkPath(strings.SplitN(tc.arg, "?", 2)[0] + "/_metadata"); err != nil || p.Store != got.Scheme || p.Bucket != got.Host ||
			p.Account != got.Query().Get("storage_account") && p.Store == "azblob" {
			t.Errorf("%s: as a _metadata path %+v (%v), as an argument %s", tc.arg, p, err, got)
		}
	}
}

// TestOpenFlinkURLs opens Flink's forms of local and S3 locations (no
// store is contacted) and checks where they point. Azure and GCS are
// left to TestFlinkURLArguments: opening them reads credentials.
func TestOpenFlinkURLs(t *testing.T) {
	t.Setenv("AWS_REGION", "us-east-1")
	dir := t.TempDir()
	for _, tc := range []struct{ arg, scheme, name, prefix string }{
		{"s3a://b1/flink/chk", "s3", "b1", "flink/chk/"},
		{"s3p://b1/flink/chk/", "s3", "b1", "flink/chk/"},
		{"s3://b1", "s3", "b1", ""},
		{"file://" + dir, "file", "", strings.TrimPrefix(dir, "/") + "/"},
		{"file:" + dir, "file", "", strings.TrimPrefix(dir, "/") + "/"},
		{dir, "file", "", strings.TrimPrefix(dir, "/") + "/"},
	} {
		l, err := Open(context.Background(), tc.arg)
		if err != nil {
			t.Errorf("%s: %v", tc.arg, err)
			continue
		}
		if l.Scheme != tc.scheme || l.Name != tc.name || l.Prefix != tc.prefix {
			t.Errorf("%s: opened %s bucket %q prefix %q, want %s %q %q", tc.arg, l.Scheme, l.Name, l.Prefix, tc.scheme, tc.name, tc.prefix)
		}
		l.Close()
	}
}

// TestRefusedSchemes: stores without a gocloud driver are refused with a
// *SchemeError whose message says what to do instead.
func TestRefusedSchemes(t *testing.T) {
	for arg, advice := range map[string]string{
		"hdfs://namenode:8020/flink/checkpoints": "hdfs dfs -get",
		"viewfs://cluster/flink/checkpoints":     "hadoop distcp",
		"oss://bucket/flink/checkpoints":         "oss-REGION.aliyuncs.com",
		"cosn://bucket/flink":                    "s3://BUCKET/PATH?endpoint=",
		"ftp://host/x":                           "s3://BUCKET/PATH?endpoint=",
		"wasbs://no-account/x":                   "want container@account.host",
	} {
		_, err := Open(context.Background(), arg)
		if err == nil || !strings.Contains(err.Error(), advice) {
			t.Errorf("%s: error %v, want advice %q", arg, err, advice)
		}
		if se := new(SchemeError); errors.As(err, &se) == strings.HasPrefix(arg, "wasbs") {
			t.Errorf("%s: is a SchemeError: %v", arg, errors.As(err, &se))
		}
	}
}
