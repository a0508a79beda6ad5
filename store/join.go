package store

import (
	"fmt"
	"strings"
)

// Join returns the key of the relative name rel inside the directory dir (a
// key prefix: "" or ending in "/").
//
// Names in snapshot metadata are untrusted, so Join refuses every name that
// could leave dir or that stores would resolve differently: empty names,
// absolute names, "." and ".." elements, empty elements ("a//b"), NUL and
// backslash. A trailing "/" is kept (the result is then a directory prefix).
func Join(dir, rel string) (string, error) {
	if dir != "" && !strings.HasSuffix(dir, "/") {
		return "", fmt.Errorf("store: directory key %q does not end in \"/\"", dir)
	}
	if err := checkRel(rel); err != nil {
		return "", err
	}
	return dir + rel, nil
}

func checkRel(rel string) error {
	bad := func(why string) error {
		return fmt.Errorf("unsafe relative name %q: %s", rel, why)
	}
	switch {
	case rel == "":
		return bad("empty")
	case strings.HasPrefix(rel, "/"):
		return bad("absolute")
	case strings.ContainsRune(rel, 0):
		return bad("contains NUL")
	case strings.ContainsRune(rel, '\\'):
		return bad("contains a backslash")
	}
	elems := strings.Split(strings.TrimSuffix(rel, "/"), "/")
	for _, e := range elems {
		switch e {
		case "":
			return bad("empty path element")
		case ".", "..":
			return bad(fmt.Sprintf("%q path element", e))
		}
	}
	return nil
}
