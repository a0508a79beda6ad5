package dump

import (
	"encoding/base64"
	"encoding/csv"
	"encoding/json"
	"io"
	"strconv"

	"github.com/fsnap/fsnap/format/javaser"
	"github.com/fsnap/fsnap/format/state/avro"
	"github.com/fsnap/fsnap/format/value"
)

// Plain turns a decoded value into JSON-friendly data: tuples and lists as
// arrays, POJOs and case classes as objects, maps as arrays of {key,
// value}, Either/Option/Try as tagged objects or their value, timers as
// {timestamp, key, namespace}, and bytes fsnap does not decode (Kryo,
// unknown serializers) as {"base64": …} (with the Kryo type).
func Plain(v any) any {
	switch x := v.(type) {
	case nil, bool, string, int8, int16, int32, int64, float32, float64, uint16:
		return x
	case value.Void:
		return nil
	case value.Raw:
		return map[string]any{"base64": base64.StdEncoding.EncodeToString(x)}
	case []byte:
		return map[string]any{"base64": base64.StdEncoding.EncodeToString(x)}
	case value.Kryo:
		return map[string]any{"kryo": x.Class, "base64": base64.StdEncoding.EncodeToString(x.Bytes)}
	case value.Tuple:
		return plainList(x)
	case value.List:
		return plainList(x)
	case []any:
		return plainList(x)
	case value.CaseClass:
		return map[string]any{"class": x.Class, "fields": plainList(x.Fields)}
	case value.Pojo:
		m := map[string]any{}
		for _, f := range x.Fields {
			m[f.Name] = Plain(f.Value)
		}
		return m
	case value.Map:
		out := make([]any, 0, len(x))
		for _, e := range x {
			out = append(out, map[string]any{"key": Plain(e.Key), "value": Plain(e.Value)})
		}
		return out
	case value.Either:
		if x.Left {
			return map[string]any{"left": Plain(x.Value)}
		}
		return map[string]any{"right": Plain(x.Value)}
	case value.Option:
		if !x.Some {
			return nil
		}
		return Plain(x.Value)
	case value.Try:
		if x.Failure {
			return map[string]any{"failure": Plain(x.Value)}
		}
		return map[string]any{"success": Plain(x.Value)}
	case value.Enum:
		if x.Name != "" {
			return x.Name
		}
		return x.ID
	case value.Timer:
		return map[string]any{"timestamp": x.Timestamp, "key": Plain(x.Key), "namespace": Plain(x.Namespace)}
	case value.TTL:
		return map[string]any{"last_access": x.LastAccess, "value": Plain(x.Value)}
	case value.Java:
		if s, ok := x.Value.(string); ok {
			return s
		}
		return map[string]any{"java": javaser.Describe(x.Value)}
	case avro.Record:
		m := map[string]any{}
		for _, f := range x.Fields {
			m[f.Name] = Plain(f.Value)
		}
		return m
	case avro.Enum:
		return x.Symbol
	}
	return value.Format(v)
}

func plainList(x []any) []any {
	out := make([]any, len(x))
	for i, e := range x {
		out[i] = Plain(e)
	}
	return out
}

// columns are the columns of the JSONL and CSV forms, in order.
var columns = []string{"operator", "operator_uid", "state", "state_type", "subtask", "key_group", "key", "namespace", "user_key", "value", "ttl"}

func (r *Row) fields() []any {
	var ttl any
	if r.TTL != nil {
		ttl = *r.TTL
	}
	var kg any = r.KeyGroup
	if r.KeyGroup < 0 {
		kg = nil
	}
	return []any{r.Table.Operator, r.Table.OperatorUID, r.Table.State, r.Table.StateType, r.Subtask, kg,
		Plain(r.Key), Plain(r.NS), Plain(r.UserKey), Plain(r.Value), ttl}
}

// JSONL writes one JSON object per row.
type JSONL struct{ enc *json.Encoder }

func NewJSONL(w io.Writer) *JSONL { return &JSONL{enc: json.NewEncoder(w)} }

func (j *JSONL) Row(r *Row) error {
	f := r.fields()
	m := make(map[string]any, len(columns))
	for i, c := range columns {
		if f[i] != nil && f[i] != "" {
			m[c] = f[i]
		}
	}
	return j.enc.Encode(m)
}

// CSV writes a header and one line per row; structured values are JSON.
type CSV struct {
	w      *csv.Writer
	header bool
}

func NewCSV(w io.Writer) *CSV { return &CSV{w: csv.NewWriter(w)} }

func (c *CSV) Row(r *Row) error {
	if !c.header {
		c.header = true
		if err := c.w.Write(columns); err != nil {
			return err
		}
	}
	rec := make([]string, len(columns))
	for i, f := range r.fields() {
		switch x := f.(type) {
		case nil:
		case string:
			rec[i] = x
		case int32:
			rec[i] = strconv.Itoa(int(x))
		case int64:
			rec[i] = strconv.FormatInt(x, 10)
		default:
			b, err := json.Marshal(x)
			if err != nil {
				return err
			}
			rec[i] = string(b)
		}
	}
	return c.w.Write(rec)
}

// Flush writes what the CSV writer buffers.
func (c *CSV) Flush() error {
	c.w.Flush()
	return c.w.Error()
}
