package format

import "fmt"

// enumName is the name of an enum value from its type's one table of names
// (the names Flink's sources use), or TYPE(n) for a value not in it.
func enumName[T ~uint8 | ~int32](v T, names map[T]string, typ string) string {
	if s, ok := names[v]; ok {
		return s
	}
	return fmt.Sprintf("%s(%d)", typ, v)
}
