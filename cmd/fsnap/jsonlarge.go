package main

import (
	"bytes"
	"fmt"
	"io"
	"runtime"

	jsonv2 "github.com/go-json-experiment/json"

	"github.com/fsnap/fsnap/inspect"
)

// writeReportRows prints head, whose operators are empty, with n operators
// made by row (inspect.Operator: a large report is then never held whole),
// as writeJSON prints the whole report. The operators are encoded in
// chunks on every core (by operatorJSON) and written in order: for a
// million operators the encoding is half a command's CPU. The head is
// encoded as it goes too: with --files it is most of the bytes.
func writeReportRows(w io.Writer, head *inspect.Report, n int, row func(i int) inspect.OperatorInfo) error {
	sp := &spliceWriter{w: w, mark: []byte("\n  \"operators\": []"), insert: func(w io.Writer) error {
		return writeOperatorChunks(w, n, row)
	}}
	err := jsonv2.MarshalWrite(sp, head, jsonDoc)
	if err == nil {
		_, err = sp.Write([]byte{'\n'})
	}
	if err == nil && !sp.done {
		err = fmt.Errorf("no empty operators array in the report")
	}
	if ferr := sp.flush(); err == nil {
		err = ferr
	}
	return err
}

// spliceWriter passes a document on, running insert just after the '[' of
// mark, the first time it appears. What comes before the mark is held
// until then (a top-level key starts a line indented once, and no string
// holds a newline, so the mark is found whole); what comes after goes out
// in whole lines, so the redactor below never sees a cut URL.
type spliceWriter struct {
	w      io.Writer
	mark   []byte
	insert func(io.Writer) error
	buf    []byte
	done   bool
	lines  *lineWriter
}

func (s *spliceWriter) Write(p []byte) (int, error) {
	if s.done {
		return s.lines.Write(p)
	}
	s.buf = append(s.buf, p...)
	at := bytes.Index(s.buf, s.mark)
	if at < 0 {
		return len(p), nil
	}
	open := at + len(s.mark) - 1 // just after '['
	s.done = true
	if _, err := s.w.Write(s.buf[:open]); err != nil {
		return 0, err
	}
	if err := s.insert(s.w); err != nil {
		return 0, err
	}
	s.lines = newLineWriter(s.w)
	if _, err := s.lines.Write(append([]byte("\n  "), s.buf[open:]...)); err != nil {
		return 0, err
	}
	s.buf = nil
	return len(p), nil
}

func (s *spliceWriter) flush() error {
	if s.lines == nil {
		return nil
	}
	return s.lines.Flush()
}

// writeOperatorChunks writes the inside of the operators array, encoded
// jsonChunk operators at a time on every core, in order.
func writeOperatorChunks(w io.Writer, n int, row func(i int) inspect.OperatorInfo) error {
	// Each chunk is its operators' part of the array, "\n    {…},\n    {…}",
	// after a comma but for the first.
	type chunk struct {
		buf []byte
		err error
	}
	chunks := (n + jsonChunk - 1) / jsonChunk
	workers := max(runtime.GOMAXPROCS(0), 1)
	done := make([]chan *chunk, chunks)
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
		for i := range chunks {
			next <- i
		}
	}()
	for range workers {
		go func() {
			enc := newOperatorJSON()
			for {
				// The chunk before the index: a worker holding the next
				// index to write then never waits for the writer.
				c := <-free
				i, ok := <-next
				if !ok {
					free <- c
					return
				}
				c.buf = c.buf[:0]
				if i > 0 {
					c.buf = append(c.buf, ',')
				}
				c.buf, c.err = enc.appendOperators(c.buf, i*jsonChunk, min((i+1)*jsonChunk, n), row)
				done[i] <- c
			}
		}()
	}
	// Written as they come, one write per chunk: a chunk ends between two
	// operators, so no URL is cut for the redactor below, and no line
	// buffer needs to copy 200 MB.
	var werr error
	write := func(b []byte) {
		if werr == nil {
			_, werr = w.Write(b)
		}
	}
	for i := range chunks {
		c := <-done[i]
		if c.err != nil && werr == nil {
			werr = c.err
		}
		write(c.buf)
		free <- c
	}
	return werr
}

const jsonChunk = 256
