package dump_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/apache/arrow/go/v15/arrow/ipc"
	"github.com/fsnap/fsnap/dump"
	"github.com/fsnap/fsnap/fixtures"
	"github.com/fsnap/fsnap/format"
	"github.com/fsnap/fsnap/internal/corpus"
	"github.com/fsnap/fsnap/internal/testservers"
	"github.com/fsnap/fsnap/snapshot/source"
	"github.com/fsnap/fsnap/table"
)

func run(t *testing.T, dir string, opt dump.Options, sink dump.Sink) (dump.Stats, error) {
	t.Helper()
	s, src, err := source.Load(context.Background(), dir)
	if err != nil {
		t.Fatal(err)
	}
	defer src.Close()
	if opt.FirstKeyGroup == 0 && opt.LastKeyGroup == 0 {
		opt.FirstKeyGroup, opt.LastKeyGroup = -1, -1
	}
	return dump.Dump(context.Background(), s, src, opt, sink)
}

func parquetDump(t *testing.T, dir string, opts ...table.Option) (string, dump.Stats) {
	t.Helper()
	out := t.TempDir()
	c := dump.NewColumnar(dump.Parquet, func(name string) (io.WriteCloser, error) {
		p := filepath.Join(out, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			return nil, err
		}
		return os.Create(p)
	}, opts...)
	st, err := run(t, dir, dump.Options{}, c)
	if cerr := c.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		t.Fatal(err)
	}
	return out, st
}

func id(uid string) string { return format.OperatorIDFromUID(uid).String() }

// query runs SQL in DuckDB and renders the rows as sorted lines.
func query(t *testing.T, sql string) []string {
	t.Helper()
	var out []string
	for _, r := range testservers.DuckDB(t, sql) {
		b, _ := json.Marshal(r)
		out = append(out, string(b))
	}
	sort.Strings(out)
	return out
}

var dragons = []string{`{"v":"Here be dragons!"}`, `{"v":"Here be more dragons!"}`, `{"v":"Here be the mostest dragons!"}`, `{"v":"Here be yet more dragons!"}`}

// TestParquetGroundTruth: the stateful job of section 1, dumped to Parquet
// from a canonical savepoint of each backend and a heap savepoint, and
// read back by DuckDB: state-name k → k in the flat maps, k → k in
// namespace k in the timely operators, four event and four processing
// timers with namespace = key, the sources' dragons.
func TestParquetGroundTruth(t *testing.T) {
	for _, name := range []string{
		"new-stateful-udf-migration-itcase-flink1.20-hashmap-savepoint",
		"new-stateful-udf-migration-itcase-flink1.20-rocksdb-savepoint",
		"new-stateful-udf-migration-itcase-flink1.12-savepoint", // heap layout
	} {
		t.Run(name, func(t *testing.T) {
			out, st := parquetDump(t, corpus.Find(t, name).Dir)
			want := []string{`{"k":"0","v":"0"}`, `{"k":"1","v":"1"}`, `{"k":"2","v":"2"}`, `{"k":"3","v":"3"}`}
			for i := 1; i <= 2; i++ {
				fm := filepath.Join(out, id(fmt.Sprintf("CheckpointingKeyedStateFlatMap%d", i)), "state-name.parquet")
				if got := query(t, fmt.Sprintf(`select key.f0 as k, value as v from '%s'`, fm)); fmt.Sprint(got) != fmt.Sprint(want) {
					t.Errorf("flatMap%d state-name: %v", i, got)
				}
				dir := filepath.Join(out, id(fmt.Sprintf("CheckpointingTimelyStatefulOperator%d", i)))
				if got := query(t, fmt.Sprintf(`select key.f0 as k, value as v from '%s' where namespace = key.f0`, filepath.Join(dir, "state-name.parquet"))); fmt.Sprint(got) != fmt.Sprint(want) {
					t.Errorf("timely%d state-name: %v", i, got)
				}
				for _, kind := range []string{"event", "processing"} {
					f := filepath.Join(dir, "_timer_state_"+kind+"_timer.parquet")
					if _, err := os.Stat(f); err != nil {
						continue // heap timers of older savepoints are raw keyed state
					}
					got := query(t, fmt.Sprintf(`select count(*) as n, count(distinct value.key.f0) as keys from '%s' where value.namespace = value.key.f0`, f))
					if fmt.Sprint(got) != `[{"keys":"4","n":"4"}]` {
						t.Errorf("timely%d %s timers: %v", i, kind, got)
					}
				}
				src := filepath.Join(out, id(fmt.Sprintf("CheckpointingSource%d", i)), "operator-source-state.parquet")
				if got := query(t, fmt.Sprintf(`select value as v from '%s'`, src)); fmt.Sprint(got) != fmt.Sprint(dragons) {
					t.Errorf("source%d: %v", i, got)
				}
			}
			if st.Rows < 40 {
				t.Errorf("%d rows", st.Rows)
			}
		})
	}
}

// TestParquetCompression: every codec --compression offers writes pages
// of that codec, which DuckDB reads back to the same rows.
func TestParquetCompression(t *testing.T) {
	dir := corpus.Find(t, "new-stateful-udf-migration-itcase-flink1.20-hashmap-savepoint").Dir
	want := []string{`{"k":"0","v":"0"}`, `{"k":"1","v":"1"}`, `{"k":"2","v":"2"}`, `{"k":"3","v":"3"}`}
	for c, codec := range map[table.Compression]string{table.Snappy: "SNAPPY", table.Zstd: "ZSTD", table.Gzip: "GZIP", table.Uncompressed: "UNCOMPRESSED"} {
		out, _ := parquetDump(t, dir, table.WithCompression(c))
		f := filepath.Join(out, id("CheckpointingKeyedStateFlatMap1"), "state-name.parquet")
		if got := query(t, fmt.Sprintf(`select key.f0 as k, value as v from '%s'`, f)); fmt.Sprint(got) != fmt.Sprint(want) {
			t.Errorf("%s: %v", c, got)
		}
		if got := query(t, fmt.Sprintf(`select distinct compression as c from parquet_metadata('%s')`, f)); fmt.Sprint(got) != fmt.Sprintf(`[{"c":"%s"}]`, codec) {
			t.Errorf("%s: pages are %v", c, got)
		}
	}
	if _, err := table.ParseCompression("lzo"); err == nil {
		t.Error("lzo accepted")
	}
}

// TestScalaParquet: the Scala job's case classes become structs, its
// enum names strings, its Kryo keys bytes.
func TestScalaParquet(t *testing.T) {
	out, _ := parquetDump(t, corpus.Find(t, "stateful-scala-udf-migration-itcase-flink1.14-hashmap-savepoint").Dir)
	dir := filepath.Join(out, "d1392353922252257afa15351a98bae9")
	got := query(t, fmt.Sprintf(`select value.f0 as s, value.f1 as n, octet_length(key) as kb from '%s'`, filepath.Join(dir, "caseClassState.parquet")))
	want := []string{`{"kb":"2","n":"0","s":"0"}`, `{"kb":"2","n":"2","s":"1"}`, `{"kb":"2","n":"4","s":"2"}`, `{"kb":"2","n":"6","s":"3"}`}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("caseClassState: %v", got)
	}
	if got := query(t, fmt.Sprintf(`select distinct value as v from '%s'`, filepath.Join(dir, "enumOneState.parquet"))); fmt.Sprint(got) != `[{"v":"THREE"}]` {
		t.Errorf("enumOneState: %v", got)
	}
}

// TestJSONLAndFilters: JSON lines carry the ground truth too; operator,
// state and key-group filters and the limit select rows.
func TestJSONLAndFilters(t *testing.T) {
	dir := corpus.Find(t, "new-stateful-udf-migration-itcase-flink1.20-hashmap-savepoint").Dir
	var b bytes.Buffer
	st, err := run(t, dir, dump.Options{Operator: "CheckpointingKeyedStateFlatMap1", State: "state-name", FirstKeyGroup: -1, LastKeyGroup: -1}, dump.NewJSONL(&b))
	if err != nil || st.Rows != 4 {
		t.Fatalf("%d rows, %v", st.Rows, err)
	}
	for _, line := range strings.Split(strings.TrimSpace(b.String()), "\n") {
		var r struct {
			Key   []int64 `json:"key"`
			Value int64   `json:"value"`
			State string  `json:"state"`
		}
		if err := json.Unmarshal([]byte(line), &r); err != nil || len(r.Key) != 1 || r.Key[0] != r.Value || r.State != "state-name" {
			t.Errorf("row %s (%v)", line, err)
		}
	}
	b.Reset()
	if st, err := run(t, dir, dump.Options{FirstKeyGroup: 1, LastKeyGroup: 1}, dump.NewJSONL(&b)); err != nil || st.Rows == 0 || strings.Contains(b.String(), `"key_group":2`) || strings.Contains(b.String(), "dragons") {
		t.Errorf("key group 1: %d rows, %v", st.Rows, err)
	}
	if st, err := run(t, dir, dump.Options{Limit: 3, FirstKeyGroup: -1, LastKeyGroup: -1}, dump.NewJSONL(&b)); err != nil || st.Rows != 3 {
		t.Errorf("limit 3: %d rows, %v", st.Rows, err)
	}
	if _, err := run(t, dir, dump.Options{Operator: "no-such-uid", FirstKeyGroup: -1, LastKeyGroup: -1}, dump.NewJSONL(&b)); err == nil {
		t.Error("an unknown operator dumped")
	}
}

// TestCorruptStreamLeavesValidFiles: a keyed stream cut short ends the dump
// with an error naming the file and offset; the Parquet files written
// before it are complete (DuckDB reads them).
func TestCorruptStreamLeavesValidFiles(t *testing.T) {
	dir := corpus.Copy(t, "new-stateful-udf-migration-itcase-flink1.20-hashmap-savepoint")
	m, err := os.ReadFile(filepath.Join(dir, "_metadata"))
	if err != nil {
		t.Fatal(err)
	}
	md, err := format.ParseMetadata(m)
	if err != nil {
		t.Fatal(err)
	}
	// Damage the last keyed file in metadata order, so that earlier ones dump.
	var victim string
	var at int64
	for _, op := range md.Operators {
		for _, st := range op.Subtasks {
			if h, ok := st.ManagedKeyedState.(*format.KeyGroupsHandle); ok {
				if f, ok := h.Delegate.(*format.RelativeFileHandle); ok {
					victim = f.RelativePath
					for _, o := range h.Offsets {
						if o > 0 {
							at = o
						}
					}
				}
			}
		}
	}
	p := filepath.Join(dir, victim)
	b, _ := os.ReadFile(p)
	for i := at + 2; i < int64(len(b)); i++ {
		b[i] = 0x7f // state ids and lengths nothing holds
	}
	os.WriteFile(p, b, 0o644)
	for _, kind := range []table.Format{dump.Parquet, dump.ArrowFile} {
		out := t.TempDir()
		c := dump.NewColumnar(kind, func(name string) (io.WriteCloser, error) {
			f := filepath.Join(out, name)
			os.MkdirAll(filepath.Dir(f), 0o755)
			return os.Create(f)
		})
		st, err := run(t, dir, dump.Options{}, c)
		if cerr := c.Close(); cerr != nil {
			t.Fatal(cerr)
		}
		if err == nil || !strings.Contains(err.Error(), victim) || !strings.Contains(err.Error(), "offset") {
			t.Fatalf("err = %v, want one naming %s and an offset", err, victim)
		}
		files, _ := filepath.Glob(filepath.Join(out, "*", "*."+string(kind)))
		total := int64(0)
		for _, f := range files {
			total += fileRows(t, kind, f)
		}
		if len(files) == 0 || total != st.Rows {
			t.Errorf("%s: %d files with %d rows, the dump wrote %d", kind, len(files), total, st.Rows)
		}
	}
}

// fileRows counts a Parquet file's rows with DuckDB, an Arrow IPC file's
// through its footer.
func fileRows(t *testing.T, kind table.Format, f string) int64 {
	if kind == dump.Parquet {
		var n struct{ N string }
		rows := testservers.DuckDB(t, fmt.Sprintf(`select count(*) as n from '%s'`, f))
		b, _ := json.Marshal(rows[0])
		json.Unmarshal(b, &n)
		var k int64
		fmt.Sscan(n.N, &k)
		return k
	}
	b, err := os.ReadFile(f)
	if err != nil {
		t.Fatal(err)
	}
	r, err := ipc.NewFileReader(bytes.NewReader(b))
	if err != nil {
		t.Fatalf("%s: %v", f, err)
	}
	defer r.Close()
	k := int64(0)
	for i := range r.NumRecords() {
		rec, err := r.Record(i)
		if err != nil {
			t.Fatal(err)
		}
		k += rec.NumRows()
	}
	return k
}

// TestProgress: a dump of a generated savepoint of 8 MiB reports its
// progress in steps that never go back, within the streams' total, and
// ends at the total; the total is the state files' size.
func TestProgress(t *testing.T) {
	root := t.TempDir()
	sp, err := fixtures.WriteKeyedSavepoint(context.Background(), fixtures.Dir(root), fixtures.KeyedSpec{
		Seed: 1, Parallelism: 2, MaxParallelism: 128, Bytes: 8 << 20, ValueBytes: 64})
	if err != nil {
		t.Fatal(err)
	}
	dir := filepath.Join(root, sp.Dir)
	s, _, err := source.Load(context.Background(), dir)
	if err != nil {
		t.Fatal(err)
	}
	var files int64
	for _, f := range s.Files {
		files += f.Size
	}
	var calls [][2]int64
	opt := dump.Options{Progress: func(done, total int64) { calls = append(calls, [2]int64{done, total}) }}
	if _, err := run(t, dir, opt, dump.NewJSONL(io.Discard)); err != nil {
		t.Fatal(err)
	}
	if len(calls) < 10 {
		t.Fatalf("%d progress calls for 8 MiB: %v", len(calls), calls)
	}
	last := calls[len(calls)-1]
	if last[0] != files || last[1] != files {
		t.Errorf("last progress %v, want done = total = %d (the state files)", last, files)
	}
	for i := 1; i < len(calls); i++ {
		if calls[i][0] < calls[i-1][0] || calls[i][0] > calls[i][1] {
			t.Fatalf("progress %v after %v", calls[i], calls[i-1])
		}
	}
}

// TestSelectionNotFound: an operator, a state or key groups the snapshot
// does not have are ErrNotFound, not an empty dump; a state that is there
// is found even when the limit stops the dump before its operator.
func TestSelectionNotFound(t *testing.T) {
	dir := corpus.Find(t, "new-stateful-udf-migration-itcase-flink1.20-hashmap-savepoint").Dir
	for _, opt := range []dump.Options{
		{Operator: "nosuch", FirstKeyGroup: -1, LastKeyGroup: -1},
		{State: "nosuch", FirstKeyGroup: -1, LastKeyGroup: -1},
		{FirstKeyGroup: 4, LastKeyGroup: 9}, // max parallelism 4
	} {
		if _, err := run(t, dir, opt, dump.NewJSONL(io.Discard)); !errors.Is(err, dump.ErrNotFound) {
			t.Errorf("%+v: %v, want ErrNotFound", opt, err)
		}
	}
	for _, opt := range []dump.Options{
		{State: "state-name", Limit: 1, FirstKeyGroup: -1, LastKeyGroup: -1},
		{FirstKeyGroup: 3, LastKeyGroup: 3},
	} {
		if st, err := run(t, dir, opt, dump.NewJSONL(io.Discard)); err != nil || st.Rows == 0 {
			t.Errorf("%+v: %d rows, %v", opt, st.Rows, err)
		}
	}
}
