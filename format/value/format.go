package value

import (
	"encoding/hex"
	"fmt"
	"strconv"
	"strings"

	"github.com/fsnap/fsnap/format/javaser"
	"github.com/fsnap/fsnap/format/state/avro"
)

// Format renders a decoded value on one line, for dumps and messages:
// strings quoted, tuples in parentheses, lists in brackets, maps and
// records in braces, bytes in hex.
func Format(v any) string {
	var b strings.Builder
	format(&b, v, 0)
	return b.String()
}

func format(b *strings.Builder, v any, depth int) {
	if depth > 32 {
		b.WriteString("…")
		return
	}
	switch x := v.(type) {
	case nil:
		b.WriteString("null")
	case string:
		b.WriteString(strconv.Quote(x))
	case []byte:
		b.WriteString("0x" + hex.EncodeToString(x))
	case Raw:
		b.WriteString("raw:0x" + hex.EncodeToString(x))
	case Void:
		b.WriteString("VoidNamespace")
	case CaseClass:
		b.WriteString(x.Class[strings.LastIndexAny(x.Class, ".$")+1:])
		seqIn(b, '(', x.Fields, ')', depth)
	case Option:
		if !x.Some {
			b.WriteString("None")
			break
		}
		wrapped(b, "Some(", x.Value, depth)
	case Try:
		wrapped(b, choose(x.Failure, "Failure(", "Success("), x.Value, depth)
	case Enum:
		if x.Name != "" {
			b.WriteString(x.Name)
		} else {
			fmt.Fprintf(b, "#%d", x.ID)
		}
	case Kryo:
		b.WriteString("kryo:0x" + hex.EncodeToString(x.Bytes))
	case Tuple:
		seqIn(b, '(', []any(x), ')', depth)
	case List:
		seq(b, []any(x), depth)
	case []any:
		seq(b, x, depth)
	case Map:
		b.WriteByte('{')
		for i, e := range x {
			if i > 0 {
				b.WriteString(", ")
			}
			format(b, e.Key, depth+1)
			b.WriteString(": ")
			if e.Null {
				b.WriteString("null")
			} else {
				format(b, e.Value, depth+1)
			}
		}
		b.WriteByte('}')
	case Timer:
		fmt.Fprintf(b, "timer(%d, ", x.Timestamp)
		format(b, x.Key, depth+1)
		b.WriteString(", ")
		format(b, x.Namespace, depth+1)
		b.WriteByte(')')
	case Either:
		wrapped(b, choose(x.Left, "Left(", "Right("), x.Value, depth)
	case TTL:
		fmt.Fprintf(b, "ttl(%d, ", x.LastAccess)
		format(b, x.Value, depth+1)
		b.WriteByte(')')
	case Pojo:
		b.WriteString(x.Class[strings.LastIndexByte(x.Class, '.')+1:])
		formatFields(b, len(x.Fields), func(i int) (string, any) { return x.Fields[i].Name, x.Fields[i].Value }, depth)
	case avro.Record:
		formatFields(b, len(x.Fields), func(i int) (string, any) { return x.Fields[i].Name, x.Fields[i].Value }, depth)
	case avro.Enum:
		b.WriteString(x.Symbol)
	case []avro.MapEntry:
		b.WriteByte('{')
		for i, e := range x {
			if i > 0 {
				b.WriteString(", ")
			}
			b.WriteString(strconv.Quote(e.Key) + ": ")
			format(b, e.Value, depth+1)
		}
		b.WriteByte('}')
	case Java:
		if s, ok := x.Value.(string); ok {
			b.WriteString(strconv.Quote(s))
		} else {
			b.WriteString("java:" + javaser.Describe(x.Value))
		}
	default:
		fmt.Fprint(b, v)
	}
}

func wrapped(b *strings.Builder, open string, v any, depth int) {
	b.WriteString(open)
	format(b, v, depth+1)
	b.WriteByte(')')
}

func choose(c bool, yes, no string) string {
	if c {
		return yes
	}
	return no
}

func seq(b *strings.Builder, x []any, depth int) { seqIn(b, '[', x, ']', depth) }

// seqIn writes the values of x, separated by commas, between open and close.
func seqIn(b *strings.Builder, open byte, x []any, close byte, depth int) {
	b.WriteByte(open)
	for i, e := range x {
		if i > 0 {
			b.WriteString(", ")
		}
		format(b, e, depth+1)
	}
	b.WriteByte(close)
}

// formatFields writes {name: value, …} of n named fields.
func formatFields(b *strings.Builder, n int, field func(i int) (string, any), depth int) {
	b.WriteByte('{')
	for i := range n {
		if i > 0 {
			b.WriteString(", ")
		}
		name, v := field(i)
		b.WriteString(name + ": ")
		format(b, v, depth+1)
	}
	b.WriteByte('}')
}
