package main

import (
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"syscall"
	"testing"

	"github.com/fsnap/fsnap/internal/corpus"
)

// BenchmarkLargeMetadata runs the commands users run on huge _metadata, as
// processes of the built binary, as users run them: ns/op is the wall time
// of one run, peak-MB the largest peak RSS of the runs, cpu-s/op the user
// and system CPU of one run, x-file the peak over the _metadata size.
//
// The snapshots are the corpus's Flink 2.3 RocksDB incremental checkpoint
// with its _metadata grown (../shared/tools/grow_metadata.py: operators
// repeated with fresh ids) to 100 MB and 1 GB, its 82 state files beside
// it, and a root of ten such checkpoints (hard links). They are made once
// in $TMPDIR/fsnap-bench-large and kept for the next run (1.2 GB).
//
// FSNAP_BENCH_BASELINE names another fsnap binary (an older build) to run
// the same commands in the same run, as the sub-benchmarks baseline/….
//
//	go test ./cmd/fsnap -run '^$' -bench LargeMetadata -benchtime 3x
func BenchmarkLargeMetadata(b *testing.B) {
	bin, data := largeBench(b)
	bins := []struct{ name, path string }{{"", bin}}
	if base := os.Getenv("FSNAP_BENCH_BASELINE"); base != "" {
		bins = append(bins, struct{ name, path string }{"baseline/", base})
	}
	big, huge, root := filepath.Join(data, "100MB"), filepath.Join(data, "1GB"), filepath.Join(data, "root10")
	for _, c := range []struct {
		name string
		file string // the _metadata the peak is compared with
		args []string
	}{
		{"100MB/inspect-metadata-only-json", big, []string{"inspect", "--metadata-only", "-o", "json", big}},
		{"100MB/inspect", big, []string{"inspect", big}},
		{"100MB/inspect-json", big, []string{"inspect", "-o", "json", big}},
		{"100MB/verify", big, []string{"verify", big}},
		{"root10/ls", big, []string{"ls", root}},
		{"root10/deps", big, []string{"deps", root}},
		{"root10/gc", big, []string{"gc", root}},
		{"1GB/inspect-metadata-only-json", huge, []string{"inspect", "--metadata-only", "-o", "json", huge}},
	} {
		for _, bn := range bins {
			benchCommand(b, bn.name+c.name, bn.path, c.file, c.args)
		}
	}
}

// benchCommand runs fsnap (the binary bin) with args b.N times.
func benchCommand(b *testing.B, name, bin, file string, args []string) {
	b.Run(name, func(b *testing.B) {
		fi, err := os.Stat(filepath.Join(file, "_metadata"))
		if err != nil {
			b.Fatal(err)
		}
		var peak int64
		var cpu float64
		for b.Loop() {
			cmd := exec.Command(bin, args...)
			cmd.Stdout, cmd.Stderr = io.Discard, io.Discard
			if err := cmd.Run(); err != nil && cmd.ProcessState.ExitCode() > 1 {
				b.Fatalf("%v: %v", args, err)
			}
			ru := cmd.ProcessState.SysUsage().(*syscall.Rusage)
			peak = max(peak, ru.Maxrss<<10)
			cpu += float64(ru.Utime.Nano()+ru.Stime.Nano()) / 1e9
		}
		b.ReportMetric(float64(peak)/1e6, "peak-MB")
		b.ReportMetric(float64(peak)/float64(fi.Size()), "x-file")
		b.ReportMetric(cpu/float64(b.N), "cpu-s/op")
	})
}

var largeOnce struct {
	sync.Once
	bin, data string
	err       error
}

// largeBench builds fsnap and makes (or finds) the benchmark's snapshots.
func largeBench(b *testing.B) (bin, data string) {
	src := corpus.Find(b, "new-stateful-udf-migration-itcase-flink2.3-rocksdb-checkpoint").Dir
	grow := filepath.Join(filepath.Dir(corpus.Root()), "tools", "grow_metadata.py")
	if _, err := os.Stat(grow); err != nil {
		b.Skipf("no %s: %v", grow, err)
	}
	o := &largeOnce
	o.Do(func() {
		o.data = filepath.Join(os.TempDir(), "fsnap-bench-large")
		o.bin = filepath.Join(o.data, "fsnap")
		if out, err := exec.Command("go", "build", "-o", o.bin, ".").CombinedOutput(); err != nil {
			o.err = fmt.Errorf("go build: %v\n%s", err, out)
			return
		}
		for _, s := range []struct {
			dir string
			mb  int
		}{{"100MB", 100}, {"1GB", 1000}} {
			dir := filepath.Join(o.data, s.dir)
			if _, err := os.Stat(filepath.Join(dir, "_metadata")); err == nil {
				continue
			}
			// Never the corpus's _metadata: grow_metadata writes the new one,
			// and a link would let it overwrite the corpus file.
			if o.err = copyStateFiles(src, dir, false); o.err != nil {
				return
			}
			cmd := exec.Command("python3", grow, filepath.Join(src, "_metadata"), fmt.Sprint(s.mb), filepath.Join(dir, "_metadata"))
			if out, err := cmd.CombinedOutput(); err != nil {
				o.err = fmt.Errorf("%s: %v\n%s", grow, err, out)
				return
			}
		}
		job := filepath.Join(o.data, "root10", "6d2c1a0f0e4b4c8a9f1e2d3c4b5a6978")
		for i := 1; i <= 10; i++ {
			chk := filepath.Join(job, fmt.Sprintf("chk-%d", i))
			if _, err := os.Stat(filepath.Join(chk, "_metadata")); err == nil {
				continue
			}
			if o.err = copyStateFiles(filepath.Join(o.data, "100MB"), chk, true); o.err != nil {
				return
			}
		}
		for _, d := range []string{"shared", "taskowned"} {
			if o.err = os.MkdirAll(filepath.Join(job, d), 0o755); o.err != nil {
				return
			}
		}
	})
	if o.err != nil {
		b.Fatal(o.err)
	}
	return o.bin, o.data
}

// copyStateFiles hard-links (or copies) the files of dir src into dst,
// _metadata too when withMetadata.
func copyStateFiles(src, dst string, withMetadata bool) error {
	if err := os.MkdirAll(dst, 0o755); err != nil {
		return err
	}
	es, err := os.ReadDir(src)
	if err != nil {
		return err
	}
	for _, e := range es {
		from, to := filepath.Join(src, e.Name()), filepath.Join(dst, e.Name())
		if e.IsDir() || (e.Name() == "_metadata" && !withMetadata) {
			continue
		}
		if os.Link(from, to) == nil {
			continue
		}
		b, err := os.ReadFile(from)
		if err == nil {
			err = os.WriteFile(to, b, 0o644)
		}
		if err != nil {
			return err
		}
	}
	return nil
}
