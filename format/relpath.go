package format

import (
	"fmt"
	"strings"
)

// CheckRelativePath reports whether a relative file handle's path is a safe
// name inside the snapshot directory. Flink writes bare file names; anything
// that could leave the directory (.., an absolute path, NUL, a backslash, an
// empty name) is refused, so no caller ever follows it.
func CheckRelativePath(p string) error {
	switch {
	case p == "":
		return fmt.Errorf("empty relative path")
	case strings.ContainsRune(p, 0):
		return fmt.Errorf("relative path %q contains NUL", p)
	case strings.ContainsRune(p, '\\'):
		return fmt.Errorf("relative path %q contains a backslash", p)
	case strings.HasPrefix(p, "/") || strings.Contains(p, ":"):
		return fmt.Errorf("relative path %q is absolute", p)
	}
	for _, e := range strings.Split(p, "/") {
		switch e {
		case "":
			return fmt.Errorf("relative path %q has an empty path element", p)
		case ".", "..":
			return fmt.Errorf("relative path %q has a %q element (it could leave the snapshot directory)", p, e)
		}
	}
	return nil
}
