package table

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"strconv"
	"testing"
	"time"

	"github.com/apache/arrow/go/v15/arrow"
	"github.com/apache/arrow/go/v15/arrow/array"
	"github.com/apache/arrow/go/v15/arrow/ipc"
	"github.com/apache/arrow/go/v15/arrow/memory"
	"github.com/apache/arrow/go/v15/parquet/file"
	"github.com/apache/arrow/go/v15/parquet/pqarrow"
)

type closer struct{ bytes.Buffer }

func (*closer) Close() error { return nil }

// rows is more than two batches, so that batches are written by the
// writer goroutine while the next ones are built.
const rows = 2*batch + 1234

// TestRecordWriterOrder: Parquet and Arrow files and streams of several
// batches hold every row once, in the order written.
func TestRecordWriterOrder(t *testing.T) {
	for _, f := range []Format{Parquet, ArrowFile, Arrow} {
		var out closer
		w, err := New(f, &out, Columns("n:i s:s"))
		if err != nil {
			t.Fatal(err)
		}
		for i := range rows {
			if err := w.Write([]any{int64(i), strconv.Itoa(i)}); err != nil {
				t.Fatal(err)
			}
		}
		if err := w.Close(); err != nil {
			t.Fatal(err)
		}
		var ns []int64
		var ss []string
		collect := func(n *array.Int64, s *array.String) {
			for i := 0; i < n.Len(); i++ {
				ns, ss = append(ns, n.Value(i)), append(ss, s.Value(i))
			}
		}
		switch f {
		case Arrow:
			r, err := ipc.NewReader(bytes.NewReader(out.Bytes()))
			if err != nil {
				t.Fatal(err)
			}
			for r.Next() {
				collect(r.Record().Column(0).(*array.Int64), r.Record().Column(1).(*array.String))
			}
			r.Release()
		case ArrowFile:
			// The footer's index, read from the end, finds every batch.
			r, err := ipc.NewFileReader(bytes.NewReader(out.Bytes()))
			if err != nil {
				t.Fatal(err)
			}
			if r.NumRecords() != 3 {
				t.Errorf("arrow file: %d record batches, want 3", r.NumRecords())
			}
			for i := range r.NumRecords() {
				rec, err := r.Record(i)
				if err != nil {
					t.Fatal(err)
				}
				collect(rec.Column(0).(*array.Int64), rec.Column(1).(*array.String))
			}
			r.Close()
		default:
			pf, err := file.NewParquetReader(bytes.NewReader(out.Bytes()))
			if err != nil {
				t.Fatal(err)
			}
			if pf.NumRowGroups() != 3 {
				t.Errorf("parquet: %d row groups, want 3", pf.NumRowGroups())
			}
			fr, err := pqarrow.NewFileReader(pf, pqarrow.ArrowReadProperties{}, memory.DefaultAllocator)
			if err != nil {
				t.Fatal(err)
			}
			tbl, err := fr.ReadTable(context.Background())
			if err != nil {
				t.Fatal(err)
			}
			for i, c := range tbl.Column(0).Data().Chunks() {
				collect(c.(*array.Int64), tbl.Column(1).Data().Chunk(i).(*array.String))
			}
			tbl.Release()
		}
		if len(ns) != rows {
			t.Fatalf("%s: %d rows read, %d written", f, len(ns), rows)
		}
		for i := range ns {
			if ns[i] != int64(i) || ss[i] != strconv.Itoa(i) {
				t.Fatalf("%s: row %d is (%d, %q)", f, i, ns[i], ss[i])
			}
		}
	}
}

type failing struct{ left int }

var errFull = errors.New("disk full")

func (f *failing) Write(b []byte) (int, error) {
	if f.left < len(b) {
		return 0, errFull
	}
	f.left -= len(b)
	return len(b), nil
}

func (*failing) Close() error { return nil }

// TestRecordWriterError: a write of the first batch that fails on the
// writer goroutine stops the rows by the third batch (the goroutine took
// the second only after failing), Close says it too, and nothing hangs.
func TestRecordWriterError(t *testing.T) {
	for _, f := range []Format{Parquet, ArrowFile, Arrow} {
		w, err := New(f, &failing{left: 64 << 10}, Columns("n:i s:s"))
		if err != nil {
			t.Fatal(err)
		}
		n := 0
		for ; n < 5*batch; n++ {
			if err = w.Write([]any{int64(n), strconv.Itoa(n)}); err != nil {
				break
			}
		}
		if !errors.Is(err, errFull) || n >= 3*batch {
			t.Errorf("%s: err = %v after %d rows, want the writer's error by row %d", f, err, n, 3*batch)
		}
		if err := w.Close(); !errors.Is(err, errFull) {
			t.Errorf("%s: Close: %v", f, err)
		}
	}
}

// TestZeroTimeIsNull: the zero time (a time not known) is written as null
// in every format, a real time as itself.
func TestZeroTimeIsNull(t *testing.T) {
	cols := Columns("t:t")
	when := time.Date(2026, 12, 6, 18, 0, 0, 0, time.UTC)
	for _, f := range []Format{JSONL, CSV, Arrow} {
		var out closer
		w, err := New(f, &out, cols)
		if err != nil {
			t.Fatal(err)
		}
		for _, v := range []any{time.Time{}, when} {
			if err := w.Write([]any{v}); err != nil {
				t.Fatal(err)
			}
		}
		if err := w.Close(); err != nil {
			t.Fatal(err)
		}
		var got string
		switch f {
		case Arrow:
			r, err := ipc.NewReader(bytes.NewReader(out.Bytes()))
			if err != nil {
				t.Fatal(err)
			}
			for r.Next() {
				c := r.Record().Column(0).(*array.Timestamp)
				got = fmt.Sprint(c.IsNull(0), c.Value(1).ToTime(arrow.Microsecond).Equal(when))
			}
			r.Release()
		default:
			got = out.String()
		}
		want := map[Format]string{JSONL: "{}\n{\"t\":\"2026-12-06T18:00:00Z\"}\n", CSV: "t\n\n2026-12-06T18:00:00Z\n", Arrow: "true true"}[f]
		if got != want {
			t.Errorf("%s: %q, want %q", f, got, want)
		}
	}
}

// TestRow: values land in their columns' places, the rest null, and a
// name that is no column panics (a typo would otherwise drop a value).
func TestRow(t *testing.T) {
	cols := Columns("a:s b:i c:b")
	if got := fmt.Sprint(Row(cols, map[string]any{"c": true, "a": "x"})); got != "[x <nil> true]" {
		t.Errorf("Row = %s", got)
	}
	defer func() {
		if recover() == nil {
			t.Error("an unknown name did not panic")
		}
	}()
	Row(cols, map[string]any{"a": "x", "d": 1})
}
