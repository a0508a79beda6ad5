package main

import (
	"bytes"
	"fmt"
	"io"
	"runtime"
	"strconv"

	jsonv2 "github.com/go-json-experiment/json"
	"github.com/go-json-experiment/json/jsontext"

	"github.com/fsnap/fsnap/inspect"
)

// writeReportJSON prints an inspect report as writeJSON does. A report of
// many operators has its operators array encoded in chunks on every core,
// in order: for a million operators the encoding is half a command's CPU.
// The bytes are the same either way.
func writeReportJSON(w io.Writer, r *inspect.Report) error {
	if len(r.Operators) < 2*jsonChunk {
		return writeJSON(w, r)
	}
	head := *r
	head.Operators = []inspect.OperatorInfo{}
	return writeJSONChunked(w, &head, "operators", r.Operators)
}

const jsonChunk = 256

// writeJSONChunked prints doc, whose top-level key holds an empty array,
// with that array filled with items, encoded jsonChunk at a time by
// parallel workers and written in order.
func writeJSONChunked[T any](w io.Writer, doc any, key string, items []T) error {
	var head bytes.Buffer
	if err := jsonv2.MarshalWrite(&head, doc, jsonDoc); err != nil {
		return err
	}
	// A top-level key starts a line indented once; no string holds a newline.
	mark := []byte("\n  " + strconv.Quote(key) + ": []")
	at := bytes.Index(head.Bytes(), mark)
	if at < 0 {
		return fmt.Errorf("no empty %q array in the document", key)
	}
	open := at + len(mark) - 1 // just after '['

	// Each chunk is encoded as an array one level deep and written without
	// its brackets: "\n    {…},\n    {…}".
	type chunk struct {
		buf bytes.Buffer
		err error
	}
	n := (len(items) + jsonChunk - 1) / jsonChunk
	workers := max(runtime.GOMAXPROCS(0), 1)
	done := make([]chan *chunk, n)
	for i := range done {
		done[i] = make(chan *chunk, 1)
	}
	free := make(chan *chunk, workers+2) // bounds the chunks in memory
	for range cap(free) {
		free <- &chunk{}
	}
	next := make(chan int)
	go func() {
		defer close(next)
		for i := range n {
			next <- i
		}
	}()
	for range workers {
		go func() {
			// One encoder per worker, reset per chunk: encoding into a new
			// one each time left a megabyte of garbage per chunk.
			enc := jsontext.NewEncoder(io.Discard)
			for {
				// The chunk before the index: a worker holding the next
				// index to write then never waits for the writer.
				c := <-free
				i, ok := <-next
				if !ok {
					free <- c
					return
				}
				c.buf.Reset()
				part := items[i*jsonChunk : min((i+1)*jsonChunk, len(items))]
				enc.Reset(&c.buf, jsonDoc, jsontext.WithIndentPrefix("  "))
				c.err = jsonv2.MarshalEncode(enc, part, jsonDoc)
				done[i] <- c
			}
		}()
	}
	return writeLines(w, func(w io.Writer) error {
		var werr error
		write := func(b []byte) {
			if werr == nil {
				_, werr = w.Write(b)
			}
		}
		write(head.Bytes()[:open])
		for i := range n {
			c := <-done[i]
			if c.err != nil && werr == nil {
				werr = c.err
			}
			b := bytes.TrimSuffix(c.buf.Bytes(), []byte("\n")) // the encoder ends each value so
			if len(b) >= 4 {                                   // "[" … "\n  ]"
				if i > 0 {
					write([]byte{','})
				}
				write(b[1 : len(b)-4])
			}
			free <- c
		}
		write([]byte("\n  "))
		write(head.Bytes()[open:])
		write([]byte{'\n'})
		return werr
	})
}
