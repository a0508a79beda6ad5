package dump

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/fsnap/fsnap/fixtures"
	"github.com/fsnap/fsnap/internal/testservers"
	"github.com/fsnap/fsnap/snapshot/source"
)

func dumpTo(t *testing.T, dir string, sink Sink) (Stats, error) {
	t.Helper()
	s, src, err := source.Load(context.Background(), dir)
	if err != nil {
		t.Fatal(err)
	}
	defer src.Close()
	return Dump(context.Background(), s, src, Options{FirstKeyGroup: -1, LastKeyGroup: -1}, sink)
}

func parquetTo(t *testing.T, dir, out string) (*Columnar, Stats, error) {
	c := NewColumnar(Parquet, func(name string) (io.WriteCloser, error) {
		p := filepath.Join(out, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			return nil, err
		}
		return os.Create(p)
	})
	st, err := dumpTo(t, dir, c)
	if cerr := c.Close(); cerr != nil {
		t.Fatal(cerr)
	}
	return c, st, err
}

// TestDirectEntries: the generated savepoint's Long → byte[] and Long →
// Long states go to Parquet through Entry (their bytes appended without
// decoding), and DuckDB reads back exactly the rows the decoding path
// writes as JSON lines, count = key × 7 included. A byte[] whose length
// prefix is off by one is left to the decoder, which names file and offset.
func TestDirectEntries(t *testing.T) {
	root := t.TempDir()
	sp, err := fixtures.WriteKeyedSavepoint(context.Background(), fixtures.Dir(root), fixtures.KeyedSpec{
		Seed: 3, Parallelism: 2, MaxParallelism: 128, Bytes: 256 << 10, ValueBytes: 24})
	if err != nil {
		t.Fatal(err)
	}
	dir := filepath.Join(root, sp.Dir)

	var jl bytes.Buffer
	if _, err := dumpTo(t, dir, NewJSONL(&jl)); err != nil {
		t.Fatal(err)
	}
	want := map[string][]string{}
	var firstPayload []byte
	for _, line := range strings.Split(strings.TrimSpace(jl.String()), "\n") {
		var r struct {
			State    string
			Subtask  int64
			KeyGroup int64 `json:"key_group"`
			Key      int64
			Value    json.RawMessage
		}
		if err := json.Unmarshal([]byte(line), &r); err != nil {
			t.Fatal(err)
		}
		v := string(r.Value)
		if r.State == fixtures.KeyedPayloadState {
			var b struct{ Base64 string }
			json.Unmarshal(r.Value, &b)
			v = b.Base64
			if firstPayload == nil {
				firstPayload, _ = base64.StdEncoding.DecodeString(b.Base64)
			}
		}
		want[r.State] = append(want[r.State], fmt.Sprintf("%d %d %d %s", r.Subtask, r.KeyGroup, r.Key, v))
	}
	if len(want[fixtures.KeyedPayloadState]) < 1000 || len(want[fixtures.KeyedCountState]) != len(want[fixtures.KeyedPayloadState]) {
		t.Fatalf("JSON lines: %d payload and %d count rows", len(want[fixtures.KeyedPayloadState]), len(want[fixtures.KeyedCountState]))
	}

	out := t.TempDir()
	c, st, err := parquetTo(t, dir, out)
	if err != nil {
		t.Fatal(err)
	}
	for _, w := range c.order {
		if w.key == nil {
			t.Errorf("state %s did not go through Entry", w.t.State)
		}
	}
	base := filepath.Join(out, fixtures.KeyedOperatorUID)
	for state, sel := range map[string]string{
		fixtures.KeyedPayloadState: "to_base64(value)",
		fixtures.KeyedCountState:   "value",
	} {
		var got []string
		for _, r := range testservers.DuckDB(t, fmt.Sprintf(`select subtask, key_group, key, %s as v from '%s/%s.parquet'`, sel, base, state)) {
			got = append(got, fmt.Sprintf("%v %v %v %v", r["subtask"], r["key_group"], r["key"], r["v"]))
		}
		w := want[state]
		sort.Strings(got)
		sort.Strings(w)
		if strings.Join(got, "\n") != strings.Join(w, "\n") {
			t.Errorf("%s: DuckDB reads %d rows, the decoded dump has %d; first %q vs %q", state, len(got), len(w), got[:min(1, len(got))], w[:1])
		}
	}
	bad := testservers.DuckDB(t, fmt.Sprintf(`select count(*) as n from '%s/%s.parquet' where value <> key * 7`, base, fixtures.KeyedCountState))
	if fmt.Sprint(bad[0]["n"]) != "0" || st.Rows != int64(2*len(want[fixtures.KeyedCountState])) {
		t.Errorf("count ≠ key × 7 in %v rows; %d rows dumped", bad[0]["n"], st.Rows)
	}

	// One byte more in the first payload's length prefix.
	files, _ := filepath.Glob(filepath.Join(dir, "*"))
	damaged := ""
	for _, f := range files {
		b, _ := os.ReadFile(f)
		if i := bytes.Index(b, firstPayload); i >= 4 && damaged == "" {
			binary.BigEndian.PutUint32(b[i-4:], uint32(len(firstPayload)+1))
			os.WriteFile(f, b, 0o644)
			damaged = filepath.Base(f)
		}
	}
	if damaged == "" {
		t.Fatal("first payload not found in the state files")
	}
	if _, _, err := parquetTo(t, dir, t.TempDir()); err == nil || !strings.Contains(err.Error(), damaged) || !strings.Contains(err.Error(), "offset") {
		t.Errorf("damaged byte[] length: err = %v, want one naming %s and an offset", err, damaged)
	}
}
