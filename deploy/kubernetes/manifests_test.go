package kubernetes

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"

	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	kjson "sigs.k8s.io/json"
	"sigs.k8s.io/yaml"
)

// manifest is one decoded document of a YAML file.
type manifest struct {
	file string
	obj  any // *corev1.ServiceAccount, *corev1.ConfigMap, *batchv1.Job or *batchv1.CronJob
}

// decode decodes every document of data strictly: a field the official
// type does not have (misspelled, misplaced) or a duplicate key fails.
func decode(file string, data []byte) ([]manifest, error) {
	var out []manifest
	for i, doc := range regexp.MustCompile(`(?m)^---\s*$`).Split(string(data), -1) {
		if strings.TrimSpace(stripComments(doc)) == "" {
			continue
		}
		var tm struct{ APIVersion, Kind string }
		if err := yaml.Unmarshal([]byte(doc), &tm); err != nil {
			return nil, fmt.Errorf("%s document %d: %v", file, i, err)
		}
		var obj any
		switch tm.APIVersion + " " + tm.Kind {
		case "v1 ServiceAccount":
			obj = &corev1.ServiceAccount{}
		case "v1 ConfigMap":
			obj = &corev1.ConfigMap{}
		case "batch/v1 Job":
			obj = &batchv1.Job{}
		case "batch/v1 CronJob":
			obj = &batchv1.CronJob{}
		default:
			return nil, fmt.Errorf("%s document %d: unexpected %s %s", file, i, tm.APIVersion, tm.Kind)
		}
		// As the API server decodes: YAML without duplicate keys, then JSON
		// field names matched case-sensitively, unknown fields refused.
		js, err := yaml.YAMLToJSONStrict([]byte(doc))
		if err == nil {
			var strict []error
			if strict, err = kjson.UnmarshalStrict(js, obj); err == nil && len(strict) > 0 {
				err = errors.Join(strict...)
			}
		}
		if err != nil {
			return nil, fmt.Errorf("%s document %d (%s): %v", file, i, tm.Kind, err)
		}
		out = append(out, manifest{file: file, obj: obj})
	}
	return out, nil
}

func stripComments(doc string) string {
	var b strings.Builder
	for _, l := range strings.Split(doc, "\n") {
		if !strings.HasPrefix(strings.TrimSpace(l), "#") {
			b.WriteString(l + "\n")
		}
	}
	return b.String()
}

// loadAll decodes every manifest of this directory.
func loadAll(t *testing.T) []manifest {
	t.Helper()
	files, _ := filepath.Glob("*.yaml")
	if len(files) == 0 {
		t.Fatal("no manifests")
	}
	var all []manifest
	for _, f := range files {
		all = append(all, loadFile(t, f)...)
	}
	return all
}

// loadFile decodes the manifests of one file.
func loadFile(t *testing.T, file string) []manifest {
	t.Helper()
	data, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	ms, err := decode(file, data)
	if err != nil {
		t.Fatal(err)
	}
	return ms
}

// TestManifestsStrict decodes every manifest into the k8s.io/api types and
// checks what the Jobs rely on: Indexed Jobs whose shard count is their
// completions, the completion index in the environment, mounts of volumes
// that exist and ConfigMaps that the manifests define, a non-root
// read-only container of the fsnap image.
func TestManifestsStrict(t *testing.T) {
	all := loadAll(t)
	configMaps := map[string]*corev1.ConfigMap{}
	serviceAccounts := map[string]bool{}
	for _, m := range all {
		switch o := m.obj.(type) {
		case *corev1.ConfigMap:
			configMaps[o.Name] = o
		case *corev1.ServiceAccount:
			serviceAccounts[o.Name] = true
		}
	}
	kinds := map[string]int{}
	for _, m := range all {
		var pod *corev1.PodTemplateSpec
		switch o := m.obj.(type) {
		case *batchv1.Job:
			kinds["Job"]++
			checkIndexedJob(t, m.file, o)
			pod = &o.Spec.Template
		case *batchv1.CronJob:
			kinds["CronJob"]++
			if o.Spec.ConcurrencyPolicy != batchv1.ForbidConcurrent {
				t.Errorf("%s: gc runs must not overlap (concurrencyPolicy Forbid)", m.file)
			}
			pod = &o.Spec.JobTemplate.Spec.Template
			if args := pod.Spec.Containers[0].Args; len(args) == 0 || args[0] != "gc" || contains(args, "--apply") {
				t.Errorf("%s: the CronJob should plan gc (dry run) by default, runs %v", m.file, args)
			}
		default:
			continue
		}
		checkPod(t, m.file, pod, configMaps, serviceAccounts)
	}
	if kinds["Job"] < 3 || kinds["CronJob"] != 1 {
		t.Errorf("manifests hold %v, want the relocate, verify and inventory Jobs and the gc CronJob", kinds)
	}
}

func checkIndexedJob(t *testing.T, file string, j *batchv1.Job) {
	t.Helper()
	if j.Spec.CompletionMode == nil || *j.Spec.CompletionMode != batchv1.IndexedCompletion || j.Spec.Completions == nil {
		t.Errorf("%s: %s is not an Indexed Job with completions", file, j.Name)
		return
	}
	n := int(*j.Spec.Completions)
	if j.Spec.Parallelism == nil || int(*j.Spec.Parallelism) != n {
		t.Errorf("%s: parallelism should equal completions (%d)", file, n)
	}
	c := j.Spec.Template.Spec.Containers[0]
	shards := -1
	for i, a := range c.Args {
		if a == "--shard" && i+1 < len(c.Args) {
			shards = shardCount(t, file, c.Args[i+1])
		}
	}
	for _, e := range c.Env {
		if e.Name == "SHARDS" {
			shards, _ = strconv.Atoi(e.Value)
		}
	}
	if shards != n {
		t.Errorf("%s: %s splits into %d shards but has %d completions", file, j.Name, shards, n)
	}
	idx := envVar(c, "JOB_COMPLETION_INDEX")
	if idx == nil || idx.ValueFrom == nil || idx.ValueFrom.FieldRef == nil ||
		idx.ValueFrom.FieldRef.FieldPath != "metadata.annotations['batch.kubernetes.io/job-completion-index']" {
		t.Errorf("%s: JOB_COMPLETION_INDEX is not taken from the completion-index annotation", file)
	}
}

func shardCount(t *testing.T, file, arg string) int {
	i, n, ok := strings.Cut(arg, "/")
	if !ok || i != "$(JOB_COMPLETION_INDEX)" {
		t.Errorf("%s: --shard %s, want $(JOB_COMPLETION_INDEX)/N", file, arg)
	}
	v, _ := strconv.Atoi(n)
	return v
}

func checkPod(t *testing.T, file string, p *corev1.PodTemplateSpec, configMaps map[string]*corev1.ConfigMap, serviceAccounts map[string]bool) {
	t.Helper()
	s := p.Spec
	if s.RestartPolicy != corev1.RestartPolicyNever {
		t.Errorf("%s: restartPolicy %q, want Never (the Job re-runs failed pods)", file, s.RestartPolicy)
	}
	if !serviceAccounts[s.ServiceAccountName] {
		t.Errorf("%s: service account %q is not defined", file, s.ServiceAccountName)
	}
	if s.SecurityContext == nil || s.SecurityContext.RunAsNonRoot == nil || !*s.SecurityContext.RunAsNonRoot {
		t.Errorf("%s: pod does not require a non-root user", file)
	}
	volumes := map[string]corev1.Volume{}
	for _, v := range s.Volumes {
		volumes[v.Name] = v
		if v.ConfigMap != nil && configMaps[v.ConfigMap.Name] == nil {
			t.Errorf("%s: ConfigMap %q is not defined", file, v.ConfigMap.Name)
		}
	}
	if len(s.Containers) != 1 {
		t.Fatalf("%s: %d containers, want 1", file, len(s.Containers))
	}
	c := s.Containers[0]
	if !strings.HasPrefix(c.Image, "fsnap:") {
		t.Errorf("%s: image %q", file, c.Image)
	}
	if sc := c.SecurityContext; sc == nil || sc.ReadOnlyRootFilesystem == nil || !*sc.ReadOnlyRootFilesystem ||
		sc.AllowPrivilegeEscalation == nil || *sc.AllowPrivilegeEscalation {
		t.Errorf("%s: container is not read-only without privilege escalation", file)
	}
	for _, m := range c.VolumeMounts {
		if _, ok := volumes[m.Name]; !ok {
			t.Errorf("%s: mount of undefined volume %q", file, m.Name)
		}
	}
}

func envVar(c corev1.Container, name string) *corev1.EnvVar {
	for i := range c.Env {
		if c.Env[i].Name == name {
			return &c.Env[i]
		}
	}
	return nil
}

func contains(s []string, v string) bool {
	for _, x := range s {
		if x == v {
			return true
		}
	}
	return false
}

// TestManifestsStrictDecoding: the decoding the manifests pass refuses
// misspelled, misplaced and duplicated fields.
func TestManifestsStrictDecoding(t *testing.T) {
	data, err := os.ReadFile("relocate-fleet.yaml")
	if err != nil {
		t.Fatal(err)
	}
	for _, bad := range []struct{ from, to string }{
		{"completionMode: Indexed", "completionsMode: Indexed"},
		{"restartPolicy: Never", "restartPolicy: Never\n      restartPolicy: Never"},
		{"readOnlyRootFilesystem: true", "readOnlyRootFileSystem: true"},
		{"  parallelism: 4", "  template2: {}\n  parallelism: 4"},
	} {
		if !bytes.Contains(data, []byte(bad.from)) {
			t.Fatalf("%q not in relocate-fleet.yaml", bad.from)
		}
		if _, err := decode("bad.yaml", bytes.Replace(data, []byte(bad.from), []byte(bad.to), 1)); err == nil {
			t.Errorf("%q accepted", bad.to)
		}
	}
}
