package main

import (
	"bytes"
	"io"
)

// lineWriter gathers output and passes it on in whole lines, about 64 KiB
// at a time: a 100,000-row report takes a few hundred writes, not millions,
// and the redactor below it always sees whole lines, so a URL is never cut
// in two. Flush passes on the rest.
type lineWriter struct {
	w   io.Writer
	buf []byte
	err error
}

const (
	lineChunk = 64 << 10
	// maxLine bounds the buffer when no newline comes (a huge JSONL row):
	// then it is passed on as it is.
	maxLine = 16 << 20
)

func newLineWriter(w io.Writer) *lineWriter { return &lineWriter{w: w} }

func (l *lineWriter) Write(p []byte) (int, error) {
	if l.err != nil {
		return 0, l.err
	}
	l.buf = append(l.buf, p...)
	if len(l.buf) < lineChunk {
		return len(p), nil
	}
	n := bytes.LastIndexByte(l.buf, '\n') + 1
	if n == 0 && len(l.buf) >= maxLine {
		n = len(l.buf)
	}
	if n > 0 {
		_, l.err = l.w.Write(l.buf[:n])
		l.buf = l.buf[:copy(l.buf, l.buf[n:])]
	}
	return len(p), l.err
}

func (l *lineWriter) Flush() error {
	if l.err == nil && len(l.buf) > 0 {
		_, l.err = l.w.Write(l.buf)
		l.buf = l.buf[:0]
	}
	return l.err
}

// writeLines runs write on a lineWriter over w and flushes it.
func writeLines(w io.Writer, write func(io.Writer) error) error {
	lw := newLineWriter(w)
	err := write(lw)
	if ferr := lw.Flush(); err == nil {
		err = ferr
	}
	return err
}
