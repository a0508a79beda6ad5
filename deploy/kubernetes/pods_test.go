package kubernetes

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"

	"github.com/fsnap/fsnap/fixtures"
	"github.com/fsnap/fsnap/internal/testservers"
	"github.com/fsnap/fsnap/store"
)

// fleetSize is the number of savepoints TestIndexedJobs relocates.
const fleetSize = 200

// A pod is one pod of a Job, run here: as a process of fsnap (or of
// /bin/sh for command pods, with fsnap on PATH) or, with $FSNAP_IMAGE set,
// as a container of that image (read-only root, /tmp a tmpfs, user 10001),
// its volumes mounted from host directories.
type pod struct {
	name    string
	command []string // the container's command; empty: the image's entrypoint, fsnap
	args    []string
	env     []string          // KEY=VALUE, the container's env after the Job's
	mounts  map[string]string // container path -> host directory
	cmd     *exec.Cmd
	stdout  bytes.Buffer
	stderr  bytes.Buffer
}

// newPod makes the pod of index i of the pod template p: the env the
// manifest declares (the completion index from its annotation), the
// credentials and endpoint of the test store (what workload identity or a
// Secret gives a real pod), and $(VAR) references in command and args
// expanded as the kubelet does.
func newPod(t *testing.T, name string, p corev1.PodSpec, i int, storeEnv []string, mounts map[string]string) *pod {
	t.Helper()
	c := p.Containers[0]
	vars := map[string]string{}
	var env []string
	for _, e := range c.Env {
		v := e.Value
		if e.ValueFrom != nil {
			if e.ValueFrom.FieldRef == nil || e.ValueFrom.FieldRef.FieldPath != "metadata.annotations['batch.kubernetes.io/job-completion-index']" {
				t.Fatalf("%s: env %s: only the completion index can be emulated", name, e.Name)
			}
			v = strconv.Itoa(i)
		}
		vars[e.Name] = v
		env = append(env, e.Name+"="+v)
	}
	for _, kv := range storeEnv {
		k, v, _ := strings.Cut(kv, "=")
		if _, declared := vars[k]; !declared {
			env = append(env, kv)
			vars[k] = v
		}
	}
	ref := regexp.MustCompile(`\$\(([A-Za-z_][A-Za-z0-9_]*)\)`)
	expand := func(s []string) []string {
		out := make([]string, len(s))
		for j, a := range s {
			out[j] = ref.ReplaceAllStringFunc(a, func(m string) string {
				if v, ok := vars[m[2:len(m)-1]]; ok {
					return v
				}
				return m
			})
		}
		return out
	}
	return &pod{name: fmt.Sprintf("%s-%d", name, i), command: expand(c.Command), args: expand(c.Args), env: env, mounts: mounts}
}

// start starts the pod.
func (p *pod) start(t *testing.T, fsnapBin string) {
	t.Helper()
	var argv []string
	env := os.Environ()
	if image := os.Getenv("FSNAP_IMAGE"); image != "" {
		argv = []string{"docker", "run", "--rm", "--name", p.name, "--network", "host",
			"--read-only", "--tmpfs", "/tmp", "--user", "10001:10001"}
		for mp, host := range p.mounts {
			argv = append(argv, "-v", host+":"+mp+":ro")
		}
		for _, kv := range p.env {
			argv = append(argv, "-e", kv)
		}
		if len(p.command) > 0 {
			argv = append(argv, "--entrypoint", p.command[0], image)
			argv = append(argv, p.command[1:]...)
		} else {
			argv = append(argv, image)
		}
		argv = append(argv, p.args...)
	} else {
		// A process: mount paths become the host directories, and the
		// image's PATH finds fsnap.
		local := func(s []string) []string {
			out := make([]string, len(s))
			for j, a := range s {
				for mp, host := range p.mounts {
					a = strings.ReplaceAll(a, mp+"/", host+"/")
				}
				out[j] = a
			}
			return out
		}
		if len(p.command) > 0 {
			argv = append(local(p.command), local(p.args)...)
		} else {
			argv = append([]string{fsnapBin}, local(p.args)...)
		}
		env = append(env, "PATH="+filepath.Dir(fsnapBin)+string(os.PathListSeparator)+os.Getenv("PATH"))
		env = append(env, p.env...)
	}
	p.cmd = exec.Command(argv[0], argv[1:]...)
	p.cmd.Env = env
	p.cmd.Stdout, p.cmd.Stderr = &p.stdout, &p.stderr
	if err := p.cmd.Start(); err != nil {
		t.Fatalf("%s: %v", p.name, err)
	}
}

// kill kills the pod at once, as a node failure or eviction would; its
// waiter sees it exit.
func (p *pod) kill() {
	if os.Getenv("FSNAP_IMAGE") != "" {
		exec.Command("docker", "kill", p.name).Run()
	}
	p.cmd.Process.Kill()
}

// wait waits for the pod and returns its exit code.
func (p *pod) wait() int {
	p.cmd.Wait()
	return p.cmd.ProcessState.ExitCode()
}

// buildFsnap builds the fsnap binary the pods run as processes.
func buildFsnap(t *testing.T) string {
	t.Helper()
	if os.Getenv("FSNAP_IMAGE") != "" {
		return ""
	}
	bin := filepath.Join(t.TempDir(), "fsnap")
	build := exec.Command("go", "build", "-o", bin, "./cmd/fsnap")
	build.Dir = "../.." // in fsnap's own module
	out, err := build.CombinedOutput()
	if err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	return bin
}

// jobOf returns the only Job of a manifest file.
func jobOf(t *testing.T, file string) *batchv1.Job {
	t.Helper()
	for _, m := range loadFile(t, file) {
		if j, ok := m.obj.(*batchv1.Job); ok {
			return j
		}
	}
	t.Fatalf("%s: no Job", file)
	return nil
}

// s3Env is what a pod needs to reach the test's MinIO: the credentials
// and, as the README documents, AWS_ENDPOINT_URL.
func s3Env(s *testservers.Server) []string {
	env := []string{"AWS_ENDPOINT_URL=http://" + s.Addr, "AWS_EC2_METADATA_DISABLED=true"}
	for _, k := range []string{"AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_REGION"} {
		env = append(env, k+"="+os.Getenv(k))
	}
	return env
}

// bucketOf is the bucket name of a test server URL.
func bucketOf(t *testing.T, raw string) string {
	u, err := url.Parse(raw)
	if err != nil {
		t.Fatal(err)
	}
	return u.Host
}

// objects lists the keys and sizes under prefix of a store URL.
func objects(t *testing.T, ref string) map[string]int64 {
	t.Helper()
	ctx := context.Background()
	l, err := store.Open(ctx, ref)
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	out := map[string]int64{}
	for o, err := range l.List(ctx, l.Prefix, "") {
		if err != nil {
			t.Fatal(err)
		}
		out[o.Key] = o.Size
	}
	return out
}

// writeFleet writes n canonical savepoints (with real keyed state) of one job each under
// s3://bucket/fleet/job-NNN/ and returns the relocation list to another
// bucket, one "SRC DST" line each, in the form users write it (store URLs
// with the endpoint in AWS_ENDPOINT_URL and MinIO's path style as a
// parameter).
func writeFleet(t *testing.T, serverURL, src, dst string, n int) []string {
	t.Helper()
	ctx := context.Background()
	lines := make([]string, n)
	errs := make(chan error, n)
	sem := make(chan struct{}, 8)
	var wg sync.WaitGroup
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			sem <- struct{}{}
			defer func() { <-sem }()
			job := fmt.Sprintf("fleet/job-%03d", i)
			u, _ := url.Parse(serverURL)
			u.Path = "/" + job
			l, err := store.Open(ctx, u.String())
			if err != nil {
				errs <- err
				return
			}
			defer l.Close()
			// Real keyed state, so that verify reads every state header.
			s, err := fixtures.WriteKeyedSavepoint(ctx, l, fixtures.KeyedSpec{Seed: uint64(i + 1), Parallelism: 2, Bytes: 96 << 10})
			if err != nil {
				errs <- err
				return
			}
			lines[i] = fmt.Sprintf("s3://%s/%s/%s?use_path_style=true s3://%s/%s/%s?use_path_style=true", src, job, s.Dir, dst, job, s.Dir)
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	return lines
}

// TestIndexedJobs runs the Kubernetes Jobs as their pods would run:
// relocate-fleet.yaml relocates a generated fleet of 200 savepoints on
// MinIO with its N pods, one of which is killed mid-way and run again (as
// the Job controller does); every object must arrive exactly once and no
// snapshot be relocated by two pods. Then verify-fleet.yaml verifies every
// destination, inventory-fleet.yaml inventories both roots, and the gc
// CronJob's dry run plans nothing on the relocated fleet.
func TestIndexedJobs(t *testing.T) {
	if testing.Short() {
		t.Skip("short")
	}
	bin := buildFsnap(t)
	s3 := testservers.Shared(t, testservers.S3)
	srcURL, dstURL := s3.NewBucket(t), s3.NewBucket(t)
	src, dst := bucketOf(t, srcURL), bucketOf(t, dstURL)
	env := s3Env(s3)

	start := time.Now()
	lines := writeFleet(t, srcURL, src, dst, fleetSize)
	srcObjects := objects(t, srcURL)
	t.Logf("fleet: %d savepoints, %d objects on s3://%s, written in %.1fs", fleetSize, len(srcObjects), src, time.Since(start).Seconds())

	config := t.TempDir()
	if err := os.WriteFile(filepath.Join(config, "snapshots.txt"), []byte(strings.Join(lines, "\n")+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	mounts := map[string]string{"/config": config}

	job := jobOf(t, "relocate-fleet.yaml")
	n := int(*job.Spec.Completions)
	pods := make([]*pod, n)
	for i := range n {
		pods[i] = newPod(t, "fsnap-relocate", job.Spec.Template.Spec, i, env, mounts)
	}

	// Pod 1 runs alone first and is killed as soon as its first objects
	// have arrived.
	victim := newPod(t, "fsnap-relocate-killed", job.Spec.Template.Spec, 1, env, mounts)
	victim.start(t, bin)
	exited := make(chan struct{})
	go func() { victim.cmd.Wait(); close(exited) }()
	killedAt := -1
	for deadline := time.Now().Add(2 * time.Minute); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		select {
		case <-exited:
			t.Fatalf("pod 1 finished before it could be killed (exit %d); stderr:\n%s", victim.cmd.ProcessState.ExitCode(), victim.stderr.String())
		default:
		}
		if c := len(objects(t, dstURL)); c > 0 {
			victim.kill()
			killedAt = 0
			break
		}
	}
	<-exited
	if killedAt < 0 {
		t.Fatal("pod 1 copied nothing in 2 minutes")
	}
	// A server-side copy the pod had asked for may still land after it
	// died: give MinIO a moment before counting what the pod left.
	time.Sleep(2 * time.Second)
	left := objects(t, dstURL)
	metadataLeft := 0
	for k := range left {
		if strings.HasSuffix(k, "/_metadata") {
			metadataLeft++
		}
	}
	killedAt = len(left) - metadataLeft
	t.Logf("pod 1 killed with %d files (and %d complete snapshots) at the destination", killedAt, metadataLeft)

	// Then the Job's N pods, pod 1 re-run, together.
	start = time.Now()
	for _, p := range pods {
		p.start(t, bin)
	}
	relocated := map[string]string{} // source -> pod
	var copied, present, files, done int
	for _, p := range pods {
		if code := p.wait(); code != 0 {
			t.Fatalf("%s: exit %d\n%s", p.name, code, p.stderr.String())
		}
		var sum struct {
			Shard     string
			Snapshots []struct{ Src, Status string }
			Totals    struct {
				Snapshots, Relocated, Failed, Files, Copied, Present int
				AlreadyRelocated                                     int `json:"already_relocated"`
				ServerSide                                           int `json:"server_side"`
			} `json:"totals"`
		}
		if err := json.Unmarshal(p.stdout.Bytes(), &sum); err != nil {
			t.Fatalf("%s: %v\n%s", p.name, err, p.stdout.String())
		}
		for _, s := range sum.Snapshots {
			if other, dup := relocated[s.Src]; dup {
				t.Errorf("%s relocated by %s and %s", s.Src, other, p.name)
			}
			relocated[s.Src] = p.name
		}
		tt := sum.Totals
		copied += tt.Copied + tt.ServerSide
		present += tt.Present
		files += tt.Files
		done += tt.Relocated + tt.AlreadyRelocated
		t.Logf("%s (shard %s): %d snapshots, %d relocated, %d already; %d files: %d copied, %d server-side, %d present (from the killed run)",
			p.name, sum.Shard, tt.Snapshots, tt.Relocated, tt.AlreadyRelocated, tt.Files, tt.Copied, tt.ServerSide, tt.Present)
	}
	t.Logf("%d pods relocated the fleet in %.1fs", n, time.Since(start).Seconds())
	if len(relocated) != fleetSize || done != fleetSize {
		t.Errorf("%d snapshots relocated (%d reported done), want %d", len(relocated), done, fleetSize)
	}

	// Counted on the destination: every object once, none missing or extra.
	dstObjects := objects(t, dstURL)
	for k, size := range srcObjects {
		if got, ok := dstObjects[k]; !ok {
			t.Errorf("%s missing at the destination", k)
		} else if got != size && !strings.HasSuffix(k, "/_metadata") {
			t.Errorf("%s: %d bytes at the destination, %d at the source", k, got, size)
		}
	}
	if len(dstObjects) != len(srcObjects) {
		t.Errorf("%d objects at the destination, %d at the source", len(dstObjects), len(srcObjects))
	}
	// Each state file was one pod's (the files of all shards add up to
	// the source's, _metadata aside), copied once: by the final runs, or
	// by the killed run and then found present, not copied again.
	if dataFiles := len(srcObjects) - fleetSize; files != dataFiles || copied+present != dataFiles || present != killedAt {
		t.Errorf("shards hold %d files, copied %d + found present %d (the killed run left %d); the source has %d",
			files, copied, present, killedAt, dataFiles)
	}
	t.Logf("destination: %d objects = %d source objects (%d _metadata); the final runs copied %d files, found %d left by the killed run",
		len(dstObjects), len(srcObjects), fleetSize, copied, present)

	// Verify every destination with the verify Job.
	runJob(t, bin, "verify-fleet.yaml", env, mounts)

	// Inventory both roots.
	roots := t.TempDir()
	rootList := fmt.Sprintf("s3://%s/fleet?use_path_style=true\ns3://%s/fleet?use_path_style=true\n", src, dst)
	if err := os.WriteFile(filepath.Join(roots, "roots.txt"), []byte(rootList), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, p := range runJob(t, bin, "inventory-fleet.yaml", env, map[string]string{"/config": roots}) {
		if !bytes.Contains(p.stdout.Bytes(), []byte(`"snapshots"`)) {
			t.Errorf("%s: no inventory in its output:\n%.400s", p.name, p.stdout.String())
		}
	}

	runGCCronJob(t, bin, fmt.Sprintf("s3://%s/fleet?use_path_style=true", dst), env)
}

// runGCCronJob runs the pod of gc-cronjob.yaml with its root replaced by
// root: the dry run must succeed and plan no deletion on a clean fleet.
func runGCCronJob(t *testing.T, bin, root string, env []string) {
	t.Helper()
	spec := loadFile(t, "gc-cronjob.yaml")[0].obj.(*batchv1.CronJob).Spec.JobTemplate.Spec.Template.Spec
	c := &spec.Containers[0]
	c.Args = append(c.Args[:len(c.Args)-1:len(c.Args)-1], root)
	p := newPod(t, "fsnap-gc", spec, 0, env, nil)
	p.start(t, bin)
	if code := p.wait(); code != 0 {
		t.Fatalf("%s %v: exit %d\n%s", p.name, p.args, code, p.stderr.String())
	}
	var plan struct{ Delete []any }
	if err := json.Unmarshal(p.stdout.Bytes(), &plan); err != nil || len(plan.Delete) != 0 {
		t.Errorf("gc plan on the relocated fleet (%v):\n%.600s", err, p.stdout.String())
	}
}

// runJob runs every pod of the Indexed Job of file at once and fails the
// test unless they all succeed.
func runJob(t *testing.T, bin, file string, env []string, mounts map[string]string) []*pod {
	t.Helper()
	job := jobOf(t, file)
	var pods []*pod
	for i := range int(*job.Spec.Completions) {
		p := newPod(t, strings.TrimSuffix(file, ".yaml"), job.Spec.Template.Spec, i, env, mounts)
		p.start(t, bin)
		pods = append(pods, p)
	}
	for _, p := range pods {
		if code := p.wait(); code != 0 {
			t.Errorf("%s: exit %d\n%s\n%.600s", p.name, code, p.stderr.String(), p.stdout.String())
		}
	}
	return pods
}

func init() {
	// The pods are I/O bound; keep the test's own work from crowding them.
	runtime.GOMAXPROCS(max(2, runtime.GOMAXPROCS(0)))
}
