package kubernetes

import (
	"context"
	"encoding/json"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/fsnap/fsnap/internal/testservers"
	"github.com/fsnap/fsnap/store"
)

// dockerRun runs the image of $FSNAP_IMAGE with args (host network, the
// given env) and returns its exit code, stdout and stderr.
func dockerRun(t *testing.T, env []string, args ...string) (int, string, string) {
	t.Helper()
	argv := []string{"run", "--rm", "--network", "host"}
	for _, kv := range env {
		argv = append(argv, "-e", kv)
	}
	argv = append(argv, args...)
	cmd := exec.Command("docker", argv...)
	var out, errb strings.Builder
	cmd.Stdout, cmd.Stderr = &out, &errb
	if err := cmd.Run(); err != nil {
		if _, ok := err.(*exec.ExitError); !ok {
			t.Fatalf("docker %v: %v", argv, err)
		}
	}
	return cmd.ProcessState.ExitCode(), out.String(), errb.String()
}

// TestImage runs the image built from the top-level Dockerfile
// ($FSNAP_IMAGE, see scripts/docker-test) as its README shows: on the
// corpus mounted read-only (inspect, RocksDB state, verify), and on MinIO
// with credentials and endpoint from the environment (relocate from the
// corpus, inspect and verify with Flink's s3a:// form, gc plan and apply),
// and checks the refusals: no credentials, hdfs://.
func TestImage(t *testing.T) {
	image := os.Getenv("FSNAP_IMAGE")
	if image == "" {
		t.Skip("FSNAP_IMAGE not set (scripts/docker-test builds the image and sets it)")
	}
	corpus := os.Getenv("FSNAP_CORPUS")
	if corpus == "" {
		corpus = "../../../shared/corpus"
	}
	corpus, _ = filepath.Abs(corpus)
	if _, err := os.Stat(corpus); err != nil {
		t.Fatalf("corpus: %v", err)
	}
	const heap, rocks = "flink/operatorstate__nonKeyed-flink2.3", "flink/new-stateful-broadcast-udf-migration-itcase-flink1.18-rocksdb-checkpoint"
	mount := []string{"-v", corpus + ":/corpus:ro"}
	must := func(env []string, args ...string) string {
		t.Helper()
		code, out, errs := dockerRun(t, env, args...)
		if code != 0 {
			t.Fatalf("docker run %v: exit %d\n%s%s", args, code, out, errs)
		}
		return out
	}
	if out := must(nil, "--entrypoint", "id", image, "-u"); strings.TrimSpace(out) != "10001" {
		t.Errorf("the image runs as uid %q, want 10001", out)
	}
	if out := must(nil, image, "version"); !strings.Contains(out, "rocksdb") {
		t.Errorf("fsnap version in the image does not name RocksDB: %q", out)
	}
	must(nil, append(mount, image, "inspect", "/corpus/"+heap)...)
	if out := must(nil, append(mount, image, "inspect", "--rocksdb", "/corpus/"+rocks)...); !strings.Contains(out, "SST") && !strings.Contains(out, "column") {
		t.Errorf("inspect --rocksdb printed no RocksDB details:\n%.600s", out)
	}
	must(nil, append(mount, image, "verify", "/corpus/"+rocks)...)

	s3 := testservers.Shared(t, testservers.S3)
	bucket := bucketOf(t, s3.NewBucket(t))
	env := s3Env(s3)
	dst := "s3://" + bucket + "/relocated/chk-18?use_path_style=true"
	must(env, append(mount, image, "migrate", "relocate", "--progress", "none", "/corpus/"+rocks, dst)...)
	flinkForm := "s3a://" + bucket + "/relocated/chk-18?use_path_style=true"
	must(env, image, "inspect", flinkForm)
	must(env, image, "verify", "--require", "relocatable", flinkForm)

	// gc: an orphan in the root's shared/ folder (an SST of a failed
	// upload) is planned, then deleted with --apply.
	ctx := context.Background()
	root := "s3://" + bucket + "/relocated?use_path_style=true"
	l, err := store.Open(ctx, s3.URL(bucket))
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	if err := l.WriteObject(ctx, "relocated/shared/5f0c2a8e-3b1d-4c7e-9a6f-2d8b4e1c7a90", func(w io.Writer) error {
		_, err := io.WriteString(w, "orphan")
		return err
	}); err != nil {
		t.Fatal(err)
	}
	var plan struct {
		Totals struct {
			DeleteObjects int `json:"delete_objects"`
		} `json:"totals"`
	}
	if err := json.Unmarshal([]byte(must(env, image, "gc", "-o", "json", "--min-age", "0s", root)), &plan); err != nil || plan.Totals.DeleteObjects != 1 {
		t.Fatalf("gc plan: %v, %d objects to delete, want 1", err, plan.Totals.DeleteObjects)
	}
	must(env, image, "gc", "--apply", "--min-age", "0s", root)
	if ok, err := l.Exists(ctx, "relocated/shared/5f0c2a8e-3b1d-4c7e-9a6f-2d8b4e1c7a90"); err != nil || ok {
		t.Errorf("orphan still there after gc --apply (%v)", err)
	}
	must(env, image, "verify", "--require", "relocatable", flinkForm)

	// No credentials: one line saying where fsnap looked, exit 3, no secret.
	code, out, errs := dockerRun(t, []string{"AWS_ENDPOINT_URL=http://" + s3.Addr, "AWS_REGION=us-east-1"}, image, "inspect", flinkForm)
	if code != 3 || strings.Count(strings.TrimSpace(errs), "\n") != 0 || !strings.Contains(errs, "no AWS credentials found") {
		t.Errorf("without credentials: exit %d, stderr %q, stdout %q", code, errs, out)
	}
	code, _, errs = dockerRun(t, env, image, "inspect", "--bogus-secret-test", "s3://"+bucket)
	if strings.Contains(errs, os.Getenv("AWS_SECRET_ACCESS_KEY")) || code != 2 {
		t.Errorf("usage error: exit %d, stderr %q", code, errs)
	}
	if code, _, errs = dockerRun(t, nil, image, "inspect", "hdfs://namenode:8020/flink/savepoints/savepoint-1"); code != 2 || !strings.Contains(errs, "hdfs dfs -get") {
		t.Errorf("hdfs://: exit %d, stderr %q", code, errs)
	}
}
