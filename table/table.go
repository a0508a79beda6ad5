// Package table writes flat tables (columns of strings, integers, booleans
// and times) as JSON lines, CSV, Parquet or Arrow IPC (file or stream): the
// inventory's tables and the tabular forms of other documents. Rows stream
// through in bounded memory (Parquet row groups, Arrow batches).
package table

import (
	"encoding/csv"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/apache/arrow/go/v15/arrow"
	"github.com/apache/arrow/go/v15/arrow/array"
	"github.com/apache/arrow/go/v15/arrow/ipc"
	"github.com/apache/arrow/go/v15/parquet"
	"github.com/apache/arrow/go/v15/parquet/compress"
	"github.com/apache/arrow/go/v15/parquet/pqarrow"
)

// Type is a column's type.
type Type int

const (
	String Type = iota
	Int64
	Bool
	Time // UTC, microseconds
)

// Column is one column: its name and type. Every column is nullable.
type Column struct {
	Name string
	Type Type
}

// Format is an output format.
type Format string

const (
	JSONL   Format = "jsonl"
	CSV     Format = "csv"
	Parquet Format = "parquet"
	// ArrowFile is the Arrow IPC file format (Feather v2: a footer indexes
	// the batches, for random access), Arrow the IPC stream format (read
	// front to back, as it arrives). Neither needs a seekable output.
	ArrowFile Format = "arrow"
	Arrow     Format = "arrows"
)

// Formats lists them, for flags.
var Formats = []string{string(JSONL), string(CSV), string(Parquet), string(ArrowFile), string(Arrow)}

// Binary reports whether f is a binary (columnar) format.
func (f Format) Binary() bool { return f == Parquet || f == ArrowFile || f == Arrow }

// Writer writes rows of one table; values are string, int64 (or int,
// int32), bool, time.Time or nil.
type Writer interface {
	Write(row []any) error
	Close() error // flushes and closes the underlying writer
}

// batch is the rows a columnar writer buffers.
const batch = 64 << 10

// New writes a table of the given columns in format f to w, which Close
// closes.
func New(f Format, w io.WriteCloser, cols []Column, opts ...Option) (Writer, error) {
	switch f {
	case JSONL:
		return &jsonWriter{w: w, enc: json.NewEncoder(w), cols: cols}, nil
	case CSV:
		c := &csvWriter{w: w, c: csv.NewWriter(w), cols: cols}
		names := make([]string, len(cols))
		for i, col := range cols {
			names[i] = col.Name
		}
		return c, c.c.Write(names)
	case Parquet, ArrowFile, Arrow:
		return newColumnar(f, w, cols, opts...)
	}
	return nil, fmt.Errorf("unknown table format %q", f)
}

// unknownNull is v, or nil for the zero time: a time not known (a
// folder's without objects), which is null rather than the year 1.
func unknownNull(v any) any {
	if t, ok := v.(time.Time); ok && t.IsZero() {
		return nil
	}
	return v
}

type jsonWriter struct {
	w    io.WriteCloser
	enc  *json.Encoder
	cols []Column
}

func (j *jsonWriter) Write(row []any) error {
	m := make(map[string]any, len(row))
	for i, v := range row {
		if v = unknownNull(v); v != nil {
			if t, ok := v.(time.Time); ok {
				v = t.UTC().Format(time.RFC3339Nano)
			}
			m[j.cols[i].Name] = v
		}
	}
	return j.enc.Encode(m)
}

func (j *jsonWriter) Close() error { return j.w.Close() }

type csvWriter struct {
	w    io.WriteCloser
	c    *csv.Writer
	cols []Column
}

func (c *csvWriter) Write(row []any) error {
	rec := make([]string, len(row))
	for i, v := range row {
		switch x := unknownNull(v).(type) {
		case nil:
		case string:
			rec[i] = x
		case time.Time:
			rec[i] = x.UTC().Format(time.RFC3339Nano)
		case bool:
			rec[i] = strconv.FormatBool(x)
		default:
			rec[i] = fmt.Sprint(x)
		}
	}
	return c.c.Write(rec)
}

func (c *csvWriter) Close() error {
	c.c.Flush()
	err := c.c.Error()
	if cerr := c.w.Close(); err == nil {
		err = cerr
	}
	return err
}

// columnar writes flat rows through a RecordWriter.
type columnar struct{ rw *RecordWriter }

func newColumnar(f Format, w io.WriteCloser, cols []Column, opts ...Option) (*columnar, error) {
	fields := make([]arrow.Field, len(cols))
	for i, c := range cols {
		var t arrow.DataType
		switch c.Type {
		case Int64:
			t = arrow.PrimitiveTypes.Int64
		case Bool:
			t = arrow.FixedWidthTypes.Boolean
		case Time:
			t = &arrow.TimestampType{Unit: arrow.Microsecond, TimeZone: "UTC"}
		default:
			t = arrow.BinaryTypes.String
		}
		fields[i] = arrow.Field{Name: c.Name, Type: t, Nullable: true}
	}
	rw, err := NewRecordWriter(f, w, arrow.NewSchema(fields, nil), opts...)
	if err != nil {
		return nil, err
	}
	return &columnar{rw: rw}, nil
}

func (c *columnar) Write(row []any) error {
	rb := c.rw.Builder()
	for i, v := range row {
		b := rb.Field(i)
		if v = unknownNull(v); v == nil {
			b.AppendNull()
			continue
		}
		switch b := b.(type) {
		case *array.Int64Builder:
			switch x := v.(type) {
			case int64:
				b.Append(x)
			case int:
				b.Append(int64(x))
			case int32:
				b.Append(int64(x))
			default:
				return fmt.Errorf("column %d: %T is not an integer", i, v)
			}
		case *array.BooleanBuilder:
			b.Append(v.(bool))
		case *array.TimestampBuilder:
			b.Append(arrow.Timestamp(v.(time.Time).UnixMicro()))
		case *array.StringBuilder:
			if s, ok := v.(string); ok {
				b.Append(s)
			} else {
				b.Append(fmt.Sprint(v))
			}
		}
	}
	return c.rw.RowDone()
}

func (c *columnar) Close() error { return c.rw.Close() }

// RecordWriter writes rows appended to its Arrow record builder as a
// Parquet file (Snappy unless WithCompression says otherwise, no
// dictionary pages: values are mostly distinct) or an Arrow IPC file or
// stream, a row group or record batch of 65,536 rows at a time. Batches are encoded, compressed and written on a goroutine of
// their own while the next one is built, and Snappy pages are compressed
// on every core (snappyPages). The builder's buffers are recycled from
// batch to batch (recycler): per table, the batch being built, the one
// being written, the one written last and at most a batch and a half of
// free buffers are in memory. Close writes the rest and the footer, then
// closes w.
type RecordWriter struct {
	w    io.WriteCloser
	rb   *array.RecordBuilder
	n    int
	pq   *pqarrow.FileWriter
	ipcw interface {
		Write(arrow.Record) error
		Close() error // writes the end (and a file's footer), leaving w open
	}
	recs  chan arrow.Record // to the writer goroutine
	done  chan struct{}     // closed when it has stopped
	last  arrow.Record      // the batch written last (Parquet: see writeLoop)
	alloc *recycler
	mu    sync.Mutex
	err   error // the writer goroutine's first error
}

// Compression is the codec of Parquet pages.
type Compression string

const (
	Snappy       Compression = "snappy" // the default: fast, about 2:1 on text
	Zstd         Compression = "zstd"   // smaller, slower
	Gzip         Compression = "gzip"
	Uncompressed Compression = "none" // fastest to write, largest
)

var codecs = map[Compression]compress.Compression{
	Snappy: compress.Codecs.Snappy, Zstd: compress.Codecs.Zstd,
	Gzip: compress.Codecs.Gzip, Uncompressed: compress.Codecs.Uncompressed,
}

// ParseCompression reads a codec name: snappy, zstd, gzip or none.
func ParseCompression(s string) (Compression, error) {
	c := Compression(strings.ToLower(s))
	if _, ok := codecs[c]; !ok {
		return "", fmt.Errorf("compression %q: want snappy, zstd, gzip or none", s)
	}
	return c, nil
}

// Option sets how a file is written.
type Option func(*options)

type options struct{ compression Compression }

// WithCompression sets the codec of Parquet pages (Snappy by default; Arrow
// files are not compressed).
func WithCompression(c Compression) Option { return func(o *options) { o.compression = c } }

// NewRecordWriter starts a file of the given schema in format f (Parquet
// or Arrow) on w.
func NewRecordWriter(f Format, w io.WriteCloser, schema *arrow.Schema, opts ...Option) (*RecordWriter, error) {
	o := options{compression: Snappy}
	for _, opt := range opts {
		opt(&o)
	}
	c, err := ParseCompression(string(o.compression))
	if err != nil {
		w.Close()
		return nil, err
	}
	codec := codecs[c]
	r := &RecordWriter{w: w, alloc: &recycler{},
		recs: make(chan arrow.Record), done: make(chan struct{})}
	r.rb = array.NewRecordBuilder(r.alloc, schema)
	switch f {
	case Parquet:
		props := parquet.NewWriterProperties(parquet.WithCompression(codec),
			parquet.WithDictionaryDefault(false), parquet.WithMaxRowGroupLength(batch))
		if r.pq, err = pqarrow.NewFileWriter(schema, w, props, pqarrow.DefaultWriterProps()); err != nil {
			w.Close()
			return nil, err
		}
	case Arrow:
		r.ipcw = ipc.NewWriter(w, ipc.WithSchema(schema))
	case ArrowFile:
		if r.ipcw, err = ipc.NewFileWriter(&offsetWriter{w: w}, ipc.WithSchema(schema)); err != nil {
			w.Close()
			return nil, err
		}
	default:
		w.Close()
		return nil, fmt.Errorf("%q is not a columnar format", f)
	}
	go r.writeLoop()
	return r, nil
}

// writeLoop writes the batches flush hands over; after an error it only
// releases them, and flush returns the error. Releasing a batch returns
// its buffers to the builder's recycler, so a Parquet batch is released
// only after the next one is written: its row group stays open until then,
// and the column chunks' byte-array statistics point into its values.
func (r *RecordWriter) writeLoop() {
	defer close(r.done)
	for rec := range r.recs {
		if r.writeErr() == nil {
			var err error
			if r.pq != nil {
				err = r.pq.Write(rec)
			} else {
				err = r.ipcw.Write(rec)
			}
			if err != nil {
				r.mu.Lock()
				r.err = err
				r.mu.Unlock()
			}
		}
		if r.last != nil {
			r.last.Release()
		}
		r.last = rec
		if r.pq == nil {
			rec.Release()
			r.last = nil
		}
	}
}

func (r *RecordWriter) writeErr() error {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.err
}

// Builder is where the next row's values are appended.
func (r *RecordWriter) Builder() *array.RecordBuilder { return r.rb }

// RowDone counts a row appended to Builder, writing a batch when full.
func (r *RecordWriter) RowDone() error {
	if r.n++; r.n >= batch {
		return r.flush()
	}
	return nil
}

func (r *RecordWriter) flush() error {
	if r.n == 0 {
		return r.writeErr()
	}
	// A full batch is likely followed by another as large: reserve its
	// room now rather than growing the buffers by doubling, row by row.
	type dataBuilder interface {
		DataLen() int
		ReserveData(int)
	}
	full := r.n >= batch
	fields := r.rb.Fields()
	data := make([]int, len(fields))
	for i, b := range fields {
		if b, ok := b.(dataBuilder); ok && full {
			data[i] = b.DataLen()
		}
	}
	r.n = 0
	rec := r.rb.NewRecord()
	var size int
	for _, c := range rec.Columns() {
		size += bufferBytes(c.Data())
	}
	r.alloc.setKeep(size)
	if full {
		r.rb.Reserve(batch)
		for i, b := range fields {
			if b, ok := b.(dataBuilder); ok {
				b.ReserveData(data[i] + data[i]/16) // room for a batch a little larger than this one
			}
		}
	}
	if err := r.writeErr(); err != nil {
		rec.Release()
		return err
	}
	r.recs <- rec
	return nil
}

// bufferBytes is the size of an array's buffers, its children's included.
func bufferBytes(d arrow.ArrayData) int {
	n := 0
	for _, b := range d.Buffers() {
		if b != nil {
			n += b.Cap()
		}
	}
	for _, c := range d.Children() {
		n += bufferBytes(c)
	}
	return n
}

// Close writes what is buffered and the footer, and closes the file.
func (r *RecordWriter) Close() error {
	err := r.flush()
	close(r.recs)
	<-r.done
	if err == nil {
		err = r.writeErr()
	}
	var cerr error
	if r.pq != nil {
		cerr = r.pq.Close() // closes w
		if r.last != nil {
			r.last.Release()
		}
	} else {
		cerr = r.ipcw.Close()
		if e := r.w.Close(); cerr == nil {
			cerr = e
		}
	}
	r.rb.Release()
	if err == nil {
		err = cerr
	}
	return err
}

// Row orders named values as cols are, leaving the others null; a name
// that is not a column is a programming error, and panics.
func Row(cols []Column, values map[string]any) []any {
	row := make([]any, len(cols))
	found := 0
	for i, c := range cols {
		if v, ok := values[c.Name]; ok {
			row[i] = v
			found++
		}
	}
	if found != len(values) {
		panic(fmt.Sprintf("table.Row: %d of the names %v are not columns", len(values)-found, slices.Collect(maps.Keys(values))))
	}
	return row
}

// Columns parses a column list written as "name:type …" with types s
// (string), i (int64), b (bool) and t (time): the tables' schemas read as
// one line each.
func Columns(spec string) []Column {
	var out []Column
	for _, f := range strings.Fields(spec) {
		name, typ, _ := strings.Cut(f, ":")
		t := map[string]Type{"s": String, "i": Int64, "b": Bool, "t": Time}[typ]
		out = append(out, Column{Name: name, Type: t})
	}
	return out
}

// offsetWriter tells the Arrow file writer its offset, the only seek it
// makes, so that the file format streams to any writer (an object
// store's, a pipe) as the stream format does.
type offsetWriter struct {
	w   io.Writer
	off int64
}

func (o *offsetWriter) Write(p []byte) (int, error) {
	n, err := o.w.Write(p)
	o.off += int64(n)
	return n, err
}

func (o *offsetWriter) Seek(offset int64, whence int) (int64, error) {
	if offset != 0 || whence != io.SeekCurrent {
		return 0, errors.New("table: the Arrow file writer's output cannot seek")
	}
	return o.off, nil
}
