package migrate

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/fsnap/fsnap/fixtures"
	"github.com/fsnap/fsnap/format"
	"github.com/fsnap/fsnap/internal/rocks"
)

// BenchmarkToCanonicalRocksDB converts a generated RocksDB native savepoint
// of at least 1 GiB of RocksDB files (two subtasks, real SSTs written by
// RocksDB, Snappy-compressed blocks of incompressible values) in a child
// process, and measures in the same run RocksDB's own full scans of the
// same files: `ldb scan` of every column family of every instance and
// `sst_dump --command=scan` (and `check`, which iterates without printing)
// of every SST. It reports MB/s (10^6 bytes of RocksDB files per second)
// and peak RSS of each.
//
//	go test ./migrate -run '^$' -bench ToCanonicalRocksDB -benchtime 1x
//
// FSNAP_BENCH_BYTES sets the size (default 1.2e9); FSNAP_BENCH_DIR keeps
// the generated savepoint there between runs.
func BenchmarkToCanonicalRocksDB(b *testing.B) {
	if !rocks.Available {
		b.Skip(rocks.ErrUnavailable)
	}
	size := int64(1.2e9)
	if v := os.Getenv("FSNAP_BENCH_BYTES"); v != "" {
		f, err := strconv.ParseFloat(v, 64)
		if err != nil {
			b.Fatal(err)
		}
		size = int64(f)
	}
	snap := benchSnapshot(b, size)
	files := snap.FileBytes
	if size >= 1e9 && files < 1<<30 {
		b.Fatalf("generated %d bytes of RocksDB files, want at least 1 GiB", files)
	}
	mbps := func(d time.Duration) float64 { return float64(files) / 1e6 / d.Seconds() }

	// Rounds of every measurement, interleaved so that load from other
	// processes on the machine hits all alike; each reports its best round.
	rounds := 3
	if v := os.Getenv("FSNAP_BENCH_ROUNDS"); v != "" {
		rounds, _ = strconv.Atoi(v)
	}
	dirs := instanceDirs(b, snap)
	var cfs []string
	for _, st := range snap.Header.States {
		cfs = append(cfs, st.Name)
	}
	convert := func(par int) procStats {
		out := filepath.Join(b.TempDir(), "out")
		defer os.RemoveAll(out)
		cmd := exec.Command(os.Args[0], "-test.run=^TestCanonicalBenchChild$", "-test.count=1")
		cmd.Env = append(os.Environ(), "FSNAP_CANONICAL_CHILD="+strings.Join([]string{snap.Dir, out, b.TempDir(), strconv.Itoa(par)}, "\n"))
		return runCmd(b, cmd)
	}
	tools := []struct {
		name string
		run  func() procStats
	}{
		{"fsnap to-canonical --parallel 1", func() procStats { return convert(1) }},
		{"fsnap to-canonical --parallel 2", func() procStats { return convert(2) }},
		{"ldb scan (every column family)", func() procStats {
			var p procStats
			for _, d := range dirs {
				for _, cf := range append([]string{"default"}, cfs...) {
					p.add(run(b, "ldb", "--db="+d, "--column_family="+cf, "--ignore_unknown_options", "scan"))
				}
			}
			return p
		}},
		{"sst_dump --command=scan", func() procStats {
			var p procStats
			for _, d := range dirs {
				p.add(run(b, "sst_dump", "--file="+d, "--command=scan"))
			}
			return p
		}},
		{"sst_dump --command=check (no output)", func() procStats {
			var p procStats
			for _, d := range dirs {
				p.add(run(b, "sst_dump", "--file="+d, "--command=check"))
			}
			return p
		}},
	}
	best := make([]procStats, len(tools))
	b.ResetTimer()
	for r := 0; r < rounds*b.N; r++ {
		for i, tool := range tools {
			p := tool.run()
			if r == 0 || p.wall < best[i].wall {
				best[i] = p
			}
		}
	}
	b.StopTimer()
	c1, c2, ldb := best[0], best[1], best[2]
	b.ReportMetric(mbps(c1.wall), "convert-p1-MB/s")
	b.ReportMetric(c1.rssMB, "convert-p1-peakRSS-MB")
	b.ReportMetric(mbps(c2.wall), "convert-p2-MB/s")
	b.ReportMetric(c2.rssMB, "convert-p2-peakRSS-MB")
	b.ReportMetric(mbps(ldb.wall), "ldb-scan-MB/s")
	b.ReportMetric(ldb.rssMB, "ldb-scan-peakRSS-MB")
	b.ReportMetric(mbps(best[3].wall), "sst_dump-scan-MB/s")
	b.ReportMetric(mbps(best[4].wall), "sst_dump-check-MB/s")
	b.ReportMetric(100*mbps(c1.wall)/mbps(ldb.wall), "p1-%-of-ldb-scan")
	fmt.Printf("\nRocksDB native savepoint: %.2f GB of RocksDB files (%d SSTs, %d entries, 2 instances); best of %d rounds\n",
		float64(files)/1e9, len(snap.SSTs), snap.Entries, rounds*b.N)
	fmt.Printf("| %-36s | %9s | %13s | %13s |\n", "what", "MB/s", "CPU s", "peak RSS (MB)")
	for i, tool := range tools {
		fmt.Printf("| %-36s | %9.1f | %13.2f | %13.0f |\n", tool.name, mbps(best[i].wall), best[i].cpu.Seconds(), best[i].rssMB)
	}
}

// TestCanonicalBenchChild is the benchmark's conversion process.
func TestCanonicalBenchChild(t *testing.T) {
	env := os.Getenv("FSNAP_CANONICAL_CHILD")
	if env == "" {
		t.Skip("only run by BenchmarkToCanonicalRocksDB")
	}
	a := strings.Split(env, "\n")
	par, _ := strconv.Atoi(a[3])
	res, err := ToCanonical(context.Background(), a[0], a[1], CanonicalOptions{Tmp: a[2], Parallel: par})
	if err != nil {
		t.Fatal(err)
	}
	json.NewEncoder(os.Stderr).Encode(map[string]any{"entries": res.Entries, "written": res.BytesWritten})
}

// benchSnapshot generates (or finds in FSNAP_BENCH_DIR) the savepoint.
func benchSnapshot(b *testing.B, size int64) *fixtures.RocksDBSnapshot {
	spec := fixtures.RocksDBSpec{Seed: 7, Parallelism: 2, MaxParallelism: 128, ValueBytes: 1000,
		Keys: fixtures.RocksDBKeysFor(size, 1000)}
	root := os.Getenv("FSNAP_BENCH_DIR")
	if root == "" {
		root = b.TempDir()
	}
	root = filepath.Join(root, fmt.Sprintf("rocksdb-%d-keys", spec.Keys))
	cache := filepath.Join(root, "snapshot.json")
	if bs, err := os.ReadFile(cache); err == nil {
		var s fixtures.RocksDBSnapshot
		if json.Unmarshal(bs, &s) == nil {
			s.Header = fixtures.RocksDBHeader(false)
			return &s
		}
	}
	os.RemoveAll(root)
	start := time.Now()
	s, err := fixtures.WriteRocksDB(context.Background(), root, spec)
	if err != nil {
		b.Fatal(err)
	}
	b.Logf("generated %.2f GB of RocksDB files in %v", float64(s.FileBytes)/1e9, time.Since(start))
	meta := *s
	meta.Metadata, meta.Header = nil, nil
	bs, _ := json.Marshal(&meta)
	os.WriteFile(cache, bs, 0o644)
	return s
}

// instanceDirs places each instance's files under their RocksDB names
// (symbolic links) for ldb and sst_dump, which write a LOG file there.
func instanceDirs(b *testing.B, s *fixtures.RocksDBSnapshot) []string {
	m := loadMeta(b, s.Dir)
	var out []string
	for _, st := range m.Operators[0].Subtasks {
		d := b.TempDir()
		for _, f := range st.ManagedKeyedState.(*format.IncrementalHandle).PrivateState {
			src := filepath.Join(s.Dir, f.Handle.(*format.RelativeFileHandle).RelativePath)
			if err := os.Symlink(src, filepath.Join(d, f.LocalPath)); err != nil {
				b.Fatal(err)
			}
		}
		out = append(out, d)
	}
	return out
}

type procStats struct {
	wall  time.Duration
	cpu   time.Duration // user + system
	rssMB float64       // the largest peak RSS
}

func (p *procStats) add(s procStats) {
	p.wall += s.wall
	p.cpu += s.cpu
	p.rssMB = max(p.rssMB, s.rssMB)
}

func run(b *testing.B, name string, args ...string) procStats {
	return runCmd(b, exec.Command(name, args...))
}

// runCmd runs a process with its output discarded and returns its wall
// time and peak resident set size, measured by GNU time: Linux keeps a
// process's peak RSS across exec, and Go starts processes sharing its
// memory until exec, so the rusage of a process started directly from the
// benchmark (which generated the savepoint) would report the benchmark's
// peak. GNU time forks from its own small memory.
func runCmd(b *testing.B, cmd *exec.Cmd) procStats {
	b.Helper()
	const gnuTime = "/usr/bin/time"
	if _, err := os.Stat(gnuTime); err != nil {
		b.Skipf("peak RSS needs GNU time (apt-get install time): %v", err)
	}
	report := filepath.Join(b.TempDir(), "time")
	t := exec.Command(gnuTime, append([]string{"-f", "%M %U %S", "-o", report}, cmd.Args...)...)
	t.Env = cmd.Env
	var stderr strings.Builder
	t.Stderr = &stderr
	start := time.Now()
	if err := t.Run(); err != nil {
		b.Fatalf("%s: %v\n%s", cmd, err, stderr.String())
	}
	wall := time.Since(start)
	out, err := os.ReadFile(report)
	if err != nil {
		b.Fatal(err)
	}
	var kb int64
	var user, sys float64
	lines := strings.Split(strings.TrimSpace(string(out)), "\n")
	if _, err := fmt.Sscanf(lines[len(lines)-1], "%d %f %f", &kb, &user, &sys); err != nil {
		b.Fatalf("GNU time report %q: %v", out, err)
	}
	return procStats{wall: wall, cpu: time.Duration((user + sys) * float64(time.Second)), rssMB: float64(kb) * 1024 / 1e6}
}
