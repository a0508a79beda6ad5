package compat_test

import (
	"context"
	"fmt"
	"regexp"
	"strings"
	"testing"

	"github.com/fsnap/fsnap/compat"
	"github.com/fsnap/fsnap/format"
	"github.com/fsnap/fsnap/inspect"
	"github.com/fsnap/fsnap/internal/corpus"
	"github.com/fsnap/fsnap/snapshot"
)

func report(t testing.TB, dir string) *inspect.Report {
	t.Helper()
	r, err := inspect.Load(context.Background(), dir, inspect.StatesOptions{Parallel: 4})
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func rel(s string) snapshot.Release {
	r, err := snapshot.ParseRelease(s)
	if err != nil {
		panic(err)
	}
	return r
}

// targets are the releases compat is asked about: every minor release
// Flink's migration tests ran on, 1.8 – 2.2 (the last published one in
// the 2.x tests' most_recently_published_version).
var targets = func() []snapshot.Release {
	var out []snapshot.Release
	for m := 8; m <= 20; m++ {
		out = append(out, snapshot.Release{Major: 1, Minor: m})
	}
	for m := 0; m <= 2; m++ {
		out = append(out, snapshot.Release{Major: 2, Minor: m})
	}
	return out
}()

var migrationName = regexp.MustCompile(`^(new-stateful-udf-migration-itcase|new-stateful-broadcast-udf-migration-itcase|operatorstate__complexKeyed|operatorstate__nonKeyed|type-serializer-snapshot-migration-itcase|stateful-scala-udf-migration-itcase)-flink(\d+\.\d+)(?:-(hashmap|rocksdb))?(?:-(savepoint|savepoint-native|checkpoint))?$`)

// restoredBy is the oracle: whether Flink's migration tests at release t
// restore this corpus snapshot (docs/compat-oracle.md summarises them:
// StatefulJobSnapshotMigrationITCase and its broadcast twin, the operator
// restore tests, TypeSerializerSnapshotMigrationITCase, the Scala tests).
func restoredBy(family string, v snapshot.Release, backend, typ string, t snapshot.Release) (bool, string) {
	if t.Less(v) {
		return false, ""
	}
	if v.Less(rel("1.8")) { // FLINK-29807: 1.17 dropped every pre-1.8 snapshot
		return !rel("1.16").Less(t), "legacy-serializer-snapshots"
	}
	switch family {
	case "stateful-scala-udf-migration-itcase":
		return t.Less(rel("2.0")), "scala-api-removed"
	case "operatorstate__complexKeyed", "operatorstate__nonKeyed":
		return true, ""
	case "type-serializer-snapshot-migration-itcase":
		return t.Less(rel("1.17")), ""
	}
	switch {
	case backend == "" && typ == "savepoint": // memory backend, 1.8 – 1.14, restored until 2.0 removed the backend's tests
		return t.Less(rel("2.0")), ""
	case typ == "savepoint":
		return true, ""
	default: // native savepoints and checkpoints, 1.15+
		return !v.Less(rel("1.15")), ""
	}
}

// TestOracleMigrationITCases: for every corpus snapshot of the migration
// families and every release whose migration tests restore it, compat says
// it restores; where a release stopped restoring it for a documented
// reason, compat blocks it naming that rule.
func TestOracleMigrationITCases(t *testing.T) {
	checked, blocked := 0, 0
	for _, e := range corpus.Require(t) {
		m := migrationName.FindStringSubmatch(e.Name)
		if m == nil {
			continue
		}
		family, v, backend, typ := m[1], rel(m[2]), m[3], m[4]
		r := report(t, e.Dir)
		for _, target := range targets {
			ok, why := restoredBy(family, v, backend, typ, target)
			if target.Less(v) {
				continue
			}
			out := compat.Check(r, compat.Options{Target: target})
			switch {
			case ok && out.Verdict != compat.Restores:
				t.Errorf("%s on %s: %s, want restores (Flink's migration tests restore it): %v", e.Name, target, out.Verdict, blocking(out))
			case !ok && why != "":
				if out.Verdict != compat.Blocked || !hasRule(out, why) {
					t.Errorf("%s on %s: %s %v, want blocked by %s", e.Name, target, out.Verdict, blocking(out), why)
				}
				blocked++
			}
			checked++
		}
	}
	t.Logf("%d (snapshot, release) pairs, %d blocked with their reason", checked, blocked)
	if checked < 1200 || blocked < 40 {
		t.Errorf("checked %d pairs, %d blocked: the corpus's migration families are missing", checked, blocked)
	}
}

func blocking(r *compat.Report) []string {
	var out []string
	for _, f := range r.Findings {
		if f.Severity == compat.Blocks || f.Severity == compat.Drops {
			out = append(out, f.Rule+": "+f.Message)
		}
	}
	return out
}

func hasRule(r *compat.Report, rule string) bool {
	for _, f := range r.Findings {
		if f.Rule == rule {
			return true
		}
	}
	return false
}

func findings(r *compat.Report, rule string) []compat.Finding {
	var out []compat.Finding
	for _, f := range r.Findings {
		if f.Rule == rule {
			out = append(out, f)
		}
	}
	return out
}

// family1UIDs are the uids of section 1 of the ground truth.
var family1UIDs = []string{"CheckpointingSource1", "CheckpointingKeyedStateFlatMap1", "CheckpointingTimelyStatefulOperator1",
	"CheckpointingSource2", "CheckpointingKeyedStateFlatMap2", "CheckpointingTimelyStatefulOperator2"}

func uidJob(t *testing.T, lines ...string) *compat.Job {
	t.Helper()
	j, err := compat.ParseJob("test", []byte(strings.Join(lines, "\n")))
	if err != nil {
		t.Fatal(err)
	}
	return j
}

// TestJobDiff: uid lists made from the ground truth, and other snapshots as
// the new job.
func TestJobDiff(t *testing.T) {
	r := report(t, corpus.Find(t, "new-stateful-udf-migration-itcase-flink1.20-hashmap-savepoint").Dir)
	target := rel("1.20")
	check := func(j *compat.Job, p int32) *compat.Report {
		return compat.Check(r, compat.Options{Target: target, Job: j, Parallelism: p})
	}
	if out := check(uidJob(t, family1UIDs...), 0); out.Verdict != compat.Restores {
		t.Errorf("all uids: %s %v", out.Verdict, blocking(out))
	}
	// One removed: its state is named with its bytes.
	out := check(uidJob(t, append([]string{"# flatMap1 is gone"}, family1UIDs[0], family1UIDs[2], family1UIDs[3], family1UIDs[4], family1UIDs[5])...), 0)
	drops := findings(out, "operator-removed")
	if out.Verdict != compat.RestoresDroppingState || len(drops) != 1 {
		t.Fatalf("one removed: %s %+v", out.Verdict, out.Findings)
	}
	var flatMap1 inspect.OperatorInfo
	id := format.OperatorIDFromUID("CheckpointingKeyedStateFlatMap1").String()
	for _, op := range r.Operators {
		if op.ID == id {
			flatMap1 = op
		}
	}
	if d := drops[0]; d.Operator != id || fmt.Sprint(d.States) != "[state-name]" || d.Bytes != flatMap1.Bytes.Total || d.Bytes == 0 ||
		!strings.Contains(d.Advice, "allowNonRestoredState") {
		t.Errorf("drop finding %+v", d)
	}
	// One added: fine, and said.
	out = check(uidJob(t, append(family1UIDs, "BrandNewOperator,2")...), 0)
	if out.Verdict != compat.Restores || len(findings(out, "operator-added")) != 1 {
		t.Errorf("one added: %s %+v", out.Verdict, out.Findings)
	}
	// Parallelism above the max parallelism (4) of keyed state.
	out = check(uidJob(t, append(family1UIDs[:1], "CheckpointingKeyedStateFlatMap1,8", family1UIDs[2], family1UIDs[3], family1UIDs[4], family1UIDs[5])...), 0)
	if out.Verdict != compat.Blocked || len(findings(out, "parallelism-above-max")) != 1 {
		t.Errorf("parallelism 8: %s %+v", out.Verdict, out.Findings)
	}
	if out = check(nil, 16); out.Verdict != compat.Blocked || len(findings(out, "parallelism-above-max")) != 4 {
		t.Errorf("--parallelism 16: %s, %d findings (want the 4 keyed operators)", out.Verdict, len(findings(out, "parallelism-above-max")))
	}
	out = check(uidJob(t, append(family1UIDs[:1], "CheckpointingKeyedStateFlatMap1,4,128", family1UIDs[2], family1UIDs[3], family1UIDs[4], family1UIDs[5])...), 0)
	if out.Verdict != compat.Blocked || !strings.Contains(fmt.Sprint(blocking(out)), "max parallelism 128") {
		t.Errorf("max parallelism 128: %s %v", out.Verdict, blocking(out))
	}
	// A snapshot of the same job on a newer release as the new job; one of
	// another job, whose operators all differ.
	if out = check(compat.JobOf(report(t, corpus.Find(t, "new-stateful-udf-migration-itcase-flink2.0-hashmap-savepoint").Dir)), 0); out.Verdict != compat.Restores {
		t.Errorf("same job, 2.0 snapshot: %s %v", out.Verdict, blocking(out))
	}
	// The broadcast job shares the sources' uids, not the keyed operators'.
	other := compat.JobOf(report(t, corpus.Find(t, "new-stateful-broadcast-udf-migration-itcase-flink1.20-hashmap-savepoint").Dir))
	out = check(other, 0)
	in := map[string]bool{}
	for _, op := range other.Operators {
		in[op.ID] = true
	}
	want := map[string]bool{}
	for _, op := range r.Operators {
		if op.Bytes.Total > 0 && !in[op.ID] {
			want[op.ID] = true
		}
	}
	got := map[string]bool{}
	for _, f := range findings(out, "operator-removed") {
		got[f.Operator] = true
	}
	if out.Verdict != compat.RestoresDroppingState || fmt.Sprint(got) != fmt.Sprint(want) || len(want) != 4 {
		t.Errorf("other job: %s, drops %v, want %v", out.Verdict, got, want)
	}
}

// TestParseJob: the forms --job takes, and bad lines named.
func TestParseJob(t *testing.T) {
	j := uidJob(t, "CheckpointingSource1", "id:0123456789abcdef0123456789ABCDEF,3,128")
	// The corpus's operator of uid CheckpointingSource1 has this id.
	if j.Operators[0].ID != "69f32d314b97c6f7f9ed7873983167f2" || j.Operators[0].UID != "CheckpointingSource1" {
		t.Errorf("uid hash %+v", j.Operators[0])
	}
	if o := j.Operators[1]; o.ID != "0123456789abcdef0123456789abcdef" || o.Parallelism != 3 || o.MaxParallelism != 128 {
		t.Errorf("id line: %+v", o)
	}
	plan := `{"jid":"x","name":"job","plan":{"nodes":[{"id":"0123456789abcdef0123456789abcdef","parallelism":2,"operator":"Map"}]}}`
	if j, err := compat.ParseJob("plan.json", []byte(plan)); err != nil || len(j.Operators) != 1 || j.Operators[0].Parallelism != 2 {
		t.Errorf("REST plan: %+v %v", j, err)
	}
	for _, bad := range []string{"uid,0", "uid,1,2,3", "id:xyz", `{"nodes":[{"id":1,"parallelism":2}]}`, "# only a comment"} {
		if _, err := compat.ParseJob("bad", []byte(bad)); err == nil {
			t.Errorf("%q parsed", bad)
		}
	}
}

// TestCapabilityMatrix: each kind of the corpus gets its column of Flink's
// matrix, and the cells decide: a backend change blocks a native savepoint
// and a checkpoint but not a canonical savepoint; an unaligned checkpoint
// restored on a later minor release is flagged, a patch release not.
func TestCapabilityMatrix(t *testing.T) {
	want := map[string]map[compat.Operation]compat.Support{
		"canonical-savepoint":  {compat.OpBackendChange: compat.Supported, compat.OpSPAWrite: compat.Supported, compat.OpRelocatable: compat.Supported},
		"native-savepoint":     {compat.OpBackendChange: compat.Unsupported, compat.OpSPARead: compat.Risky, compat.OpRelocatable: compat.Supported},
		"checkpoint":           {compat.OpBackendChange: compat.Unsupported, compat.OpRelocatable: compat.Unsupported, compat.OpMinorUpgrade: compat.Supported},
		"unaligned-checkpoint": {compat.OpArbitraryUpgrade: compat.Unsupported, compat.OpMinorUpgrade: compat.Unsupported, compat.OpPatchUpgrade: compat.Supported},
	}
	cases := map[string]string{
		"canonical-savepoint":  "new-stateful-udf-migration-itcase-flink1.20-rocksdb-savepoint",
		"native-savepoint":     "new-stateful-udf-migration-itcase-flink1.20-rocksdb-savepoint-native",
		"checkpoint":           "new-stateful-udf-migration-itcase-flink1.20-rocksdb-checkpoint",
		"unaligned-checkpoint": "new-stateful-udf-migration-itcase-flink1.17-rocksdb-checkpoint",
	}
	for kind, name := range cases {
		r := report(t, corpus.Find(t, name).Dir)
		if r.Kind.Kind != kind {
			t.Fatalf("%s is a %s, want %s", name, r.Kind.Kind, kind)
		}
		v, _ := snapshot.ParseRelease(r.Flink.Max)
		out := compat.Check(r, compat.Options{Target: v, StateBackend: "hashmap"})
		cells := map[compat.Operation]compat.Support{}
		for _, c := range out.Capabilities {
			cells[c.Operation] = c.Support
		}
		for op, s := range want[kind] {
			if cells[op] != s {
				t.Errorf("%s: %s = %s, want %s", kind, op, cells[op], s)
			}
		}
		if blocked := hasRule(out, "kind-backend-change"); blocked != (kind != "canonical-savepoint") || (blocked && out.Verdict != compat.Blocked) {
			t.Errorf("%s to hashmap: %s %v", kind, out.Verdict, blocking(out))
		}
	}
	r := report(t, corpus.Find(t, cases["unaligned-checkpoint"]).Dir)
	if out := compat.Check(r, compat.Options{Target: rel("1.18")}); len(findings(out, "kind-minor-upgrade")) != 1 {
		t.Errorf("unaligned 1.17 on 1.18: %+v", out.Findings)
	}
	if out := compat.Check(r, compat.Options{Target: rel("1.17")}); hasRule(out, "kind-minor-upgrade") {
		t.Errorf("unaligned 1.17 on 1.17 (a patch upgrade): %+v", out.Findings)
	}
}

// TestSerializerRules: the Scala job's Kryo and Scala serializers block 2.x
// and nothing else does; Java jobs without Kryo restore on 2.x.
func TestSerializerRules(t *testing.T) {
	scala := report(t, corpus.Find(t, "stateful-scala-udf-migration-itcase-flink1.14-hashmap-savepoint").Dir)
	out := compat.Check(scala, compat.Options{Target: rel("2.0")})
	kryo := findings(out, "kryo-2-to-5")
	if out.Verdict != compat.Blocked || len(findings(out, "scala-api-removed")) != 2 || len(kryo) != 1 ||
		fmt.Sprint(kryo[0].States) != `[tryState tryFailureState (key)]` {
		t.Errorf("Scala job on 2.0: %s %v", out.Verdict, blocking(out))
	}
	if out := compat.Check(scala, compat.Options{Target: rel("1.20")}); out.Verdict != compat.Restores {
		t.Errorf("Scala job on 1.20: %s %v", out.Verdict, blocking(out))
	}
	for _, name := range []string{"type-serializer-snapshot-migration-itcase-flink1.16-rocksdb-savepoint", "new-stateful-broadcast-udf-migration-itcase-flink1.12-rocksdb-savepoint"} {
		out := compat.Check(report(t, corpus.Find(t, name).Dir), compat.Options{Target: rel("2.1")})
		if hasRule(out, "kryo-2-to-5") || hasRule(out, "scala-api-removed") || !hasRule(out, "major-version") {
			t.Errorf("%s on 2.1: %+v", name, out.Findings)
		}
	}
}

// TestSerializerRulesWholeCorpus: on a 2.x target, the Kryo and Scala rules
// fire for exactly the corpus snapshots of Flink 1.x whose serializers (key
// serializers included) are Kryo or flink-scala ones; Avro and POJO
// serializers alone flag nothing.
func TestSerializerRulesWholeCorpus(t *testing.T) {
	kryoSnaps, scalaSnaps := 0, 0
	for _, e := range corpus.Require(t) {
		r, err := inspect.Load(context.Background(), e.Dir, inspect.StatesOptions{Parallel: 4})
		if err != nil {
			t.Fatal(err)
		}
		v, err := snapshot.ParseRelease(r.Flink.Max)
		if err != nil || !v.Less(rel("2.0")) {
			continue // written by 2.x, or of unknown release
		}
		var kryo, scala bool
		for _, op := range r.Operators {
			var walk func(s inspect.SerializerInfo)
			walk = func(s inspect.SerializerInfo) {
				kryo = kryo || strings.Contains(s.Class, ".kryo.Kryo")
				scala = scala || strings.HasPrefix(s.Class, "org.apache.flink.api.scala.")
				for _, n := range s.Nested {
					walk(n)
				}
			}
			for _, st := range op.States {
				for _, s := range st.Serializers {
					walk(s)
				}
			}
			if op.KeySerializer != nil {
				walk(*op.KeySerializer)
			}
		}
		out := compat.Check(r, compat.Options{Target: rel("2.1")})
		if hasRule(out, "kryo-2-to-5") != kryo || hasRule(out, "scala-api-removed") != scala {
			t.Errorf("%s: kryo %v scala %v, findings %v", e.Name, kryo, scala, blocking(out))
		}
		if kryo {
			kryoSnaps++
		}
		if scala {
			scalaSnaps++
		}
	}
	t.Logf("%d corpus snapshots of 1.x with Kryo, %d with Scala serializers", kryoSnaps, scalaSnaps)
	if kryoSnaps == 0 || scalaSnaps == 0 {
		t.Error("the corpus's Kryo and Scala snapshots were not found")
	}
}

// TestUnknownTarget: a release newer than the rules know is said so, with
// the target named, and not for the newest known one.
func TestUnknownTarget(t *testing.T) {
	r := report(t, corpus.Find(t, "new-stateful-udf-migration-itcase-flink1.20-hashmap-savepoint").Dir)
	out := compat.Check(r, compat.Options{Target: rel("3.0")})
	f := findings(out, "unknown-target")
	if len(f) != 1 || f[0].Severity != compat.Warns || !strings.Contains(f[0].Message, "Flink 3.0 is newer") || len(out.Steps) == 0 {
		t.Errorf("3.0: %+v, steps %v", f, out.Steps)
	}
	if m := findings(out, "major-version"); len(m) != 1 || !strings.Contains(m[0].Message, "restored on 3.0") {
		t.Errorf("3.0: %+v", m)
	}
	if out := compat.Check(r, compat.Options{Target: snapshot.LatestKnown}); hasRule(out, "unknown-target") {
		t.Errorf("%s: %+v", snapshot.LatestKnown, out.Findings)
	}
}
