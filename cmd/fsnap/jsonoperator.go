package main

import (
	"strconv"
	"strings"

	jsonv2 "github.com/go-json-experiment/json"
	"github.com/go-json-experiment/json/jsontext"

	"github.com/fsnap/fsnap/inspect"
)

// operatorJSON appends a report's operators as jsonDoc writes them inside
// the report's operators array, without the library's reflection: in a
// report of 100,000 operators that encoding was most of the command's
// time, and most of the bytes are the states' serializer trees, which
// operators share (inspect builds one per distinct header). Each distinct
// tree is encoded once, by the library, and copied after that. What is
// rare (escaped strings, skew ratios, serializer trees) goes through the
// library; TestOperatorJSON holds the result to the library's bytes.
type operatorJSON struct {
	b     []byte
	trees map[treeKey][]byte
	err   error
}

type treeKey struct {
	first *inspect.SerializerInfo
	n     int
	depth int
}

func newOperatorJSON() *operatorJSON { return &operatorJSON{trees: map[treeKey][]byte{}} }

// operatorDepth is the nesting of an operator in the report: the report
// object, then its operators array.
const operatorDepth = 2

// appendOperators appends the operators from to to (exclusive), made by
// row, as the inside of the operators array: "\n    {…},\n    {…}".
func (e *operatorJSON) appendOperators(dst []byte, from, to int, row func(i int) inspect.OperatorInfo) ([]byte, error) {
	e.b, e.err = dst, nil
	for i := from; i < to; i++ {
		if i > from {
			e.b = append(e.b, ',')
		}
		e.newline(operatorDepth)
		op := row(i)
		e.operator(&op)
	}
	return e.b, e.err
}

func (e *operatorJSON) operator(op *inspect.OperatorInfo) {
	const d = operatorDepth + 1
	e.b = append(e.b, '{')
	e.key(d, "id", true)
	e.str(op.ID)
	if op.UID != "" {
		e.key(d, "uid", false)
		e.str(op.UID)
	}
	if op.Name != "" {
		e.key(d, "name", false)
		e.str(op.Name)
	}
	e.key(d, "parallelism", false)
	e.int(int64(op.Parallelism))
	e.key(d, "max_parallelism", false)
	e.int(int64(op.MaxParallelism))
	e.key(d, "subtasks_with_state", false)
	e.int(int64(op.SubtasksWithState))
	e.key(d, "finished_subtasks", false)
	e.int(int64(op.FinishedSubtasks))
	e.key(d, "fully_finished", false)
	e.b = strconv.AppendBool(e.b, op.FullyFinished)
	e.key(d, "bytes", false)
	e.stateBytes(d, &op.Bytes)
	e.key(d, "files", false)
	e.int(int64(op.Files))
	e.key(d, "handles", false)
	e.strings(d, op.Handles)
	if len(op.States) > 0 {
		e.key(d, "states", false)
		e.b = append(e.b, '[')
		for i := range op.States {
			if i > 0 {
				e.b = append(e.b, ',')
			}
			e.newline(d + 1)
			e.state(d+1, &op.States[i])
		}
		e.newline(d)
		e.b = append(e.b, ']')
	}
	if op.KeySerializer != nil {
		e.key(d, "key_serializer", false)
		e.tree(treeKey{op.KeySerializer, -1, d}, op.KeySerializer)
	}
	if len(op.KeyGroups) > 0 {
		e.key(d, "key_groups", false)
		e.b = append(e.b, '[')
		for i, kg := range op.KeyGroups {
			if i > 0 {
				e.b = append(e.b, ',')
			}
			e.newline(d + 1)
			e.b = append(e.b, '{')
			e.key(d+2, "key_group", true)
			e.int(int64(kg.KeyGroup))
			e.key(d+2, "entries", false)
			e.int(kg.Entries)
			e.key(d+2, "bytes", false)
			e.int(kg.Bytes)
			e.newline(d + 1)
			e.b = append(e.b, '}')
		}
		e.newline(d)
		e.b = append(e.b, ']')
	}
	if op.Skew != nil {
		e.key(d, "skew", false)
		e.library(d, op.Skew)
	}
	if len(op.Notes) > 0 {
		e.key(d, "notes", false)
		e.strings(d, op.Notes)
	}
	e.newline(d - 1)
	e.b = append(e.b, '}')
}

func (e *operatorJSON) stateBytes(depth int, b *inspect.StateBytes) {
	d := depth + 1
	e.b = append(e.b, '{')
	e.key(d, "managed_keyed", true)
	e.int(b.ManagedKeyed)
	e.key(d, "raw_keyed", false)
	e.int(b.RawKeyed)
	e.key(d, "managed_operator", false)
	e.int(b.ManagedOperator)
	e.key(d, "raw_operator", false)
	e.int(b.RawOperator)
	e.key(d, "channel", false)
	e.int(b.Channel)
	e.key(d, "coordinator", false)
	e.int(b.Coordinator)
	e.key(d, "total", false)
	e.int(b.Total)
	e.newline(depth)
	e.b = append(e.b, '}')
}

func (e *operatorJSON) state(depth int, s *inspect.StateInfo) {
	d := depth + 1
	e.b = append(e.b, '{')
	e.key(d, "name", true)
	e.str(s.Name)
	e.key(d, "type", false)
	e.str(s.Type)
	e.key(d, "slot", false)
	e.str(s.Slot)
	e.key(d, "serializers", false)
	switch {
	case s.Serializers == nil:
		e.b = append(e.b, "null"...)
	case len(s.Serializers) == 0:
		e.b = append(e.b, "[]"...)
	default:
		e.tree(treeKey{&s.Serializers[0], len(s.Serializers), d}, s.Serializers)
	}
	e.key(d, "subtasks", false)
	e.int(int64(s.Subtasks))
	if s.Entries != nil {
		e.key(d, "entries", false)
		e.int(*s.Entries)
	}
	if s.Bytes != nil {
		e.key(d, "bytes", false)
		e.int(*s.Bytes)
	}
	e.newline(depth)
	e.b = append(e.b, '}')
}

// tree appends a serializer tree (a list, or one serializer with n -1),
// encoded the first time it is met at its depth.
func (e *operatorJSON) tree(k treeKey, v any) {
	if b, ok := e.trees[k]; ok {
		e.b = append(e.b, b...)
		return
	}
	start := len(e.b)
	e.library(k.depth, v)
	e.trees[k] = append([]byte(nil), e.b[start:]...)
}

func (e *operatorJSON) strings(depth int, ss []string) {
	switch {
	case ss == nil:
		e.b = append(e.b, "null"...)
		return
	case len(ss) == 0:
		e.b = append(e.b, "[]"...)
		return
	}
	e.b = append(e.b, '[')
	for i, s := range ss {
		if i > 0 {
			e.b = append(e.b, ',')
		}
		e.newline(depth + 1)
		e.str(s)
	}
	e.newline(depth)
	e.b = append(e.b, ']')
}

// key starts a member of an object whose members sit at depth.
func (e *operatorJSON) key(depth int, name string, first bool) {
	if !first {
		e.b = append(e.b, ',')
	}
	e.newline(depth)
	e.b = append(e.b, '"')
	e.b = append(e.b, name...)
	e.b = append(e.b, `": `...)
}

const indentSpaces = "                                                                "

func (e *operatorJSON) newline(depth int) {
	e.b = append(e.b, '\n')
	for n := 2 * depth; n > 0; {
		m := min(n, len(indentSpaces))
		e.b = append(e.b, indentSpaces[:m]...)
		n -= m
	}
}

func (e *operatorJSON) int(v int64) { e.b = strconv.AppendInt(e.b, v, 10) }

// str appends a string; one the library would escape (quotes, backslashes,
// control characters, <, >, &, anything not ASCII) goes through it.
func (e *operatorJSON) str(s string) {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c < 0x20 || c >= 0x7f || c == '"' || c == '\\' || c == '<' || c == '>' || c == '&' {
			e.library(0, s)
			return
		}
	}
	e.b = append(e.b, '"')
	e.b = append(e.b, s...)
	e.b = append(e.b, '"')
}

// library appends v as jsonDoc encodes it at depth (its lines after the
// first indented to there).
func (e *operatorJSON) library(depth int, v any) {
	b, err := jsonv2.Marshal(v, jsonDoc, jsontext.WithIndentPrefix(spaces(depth)))
	if err != nil && e.err == nil {
		e.err = err
	}
	e.b = append(e.b, b...)
}

func spaces(depth int) string { return strings.Repeat("  ", depth) }
