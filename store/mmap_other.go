//go:build !linux

package store

// mapFile reads nothing outside the heap where MAP_POPULATE is not known:
// ReadAllKept then reads as ReadAll does.
func mapFile(path string, limit int64) (b []byte, ok bool, err error) { return nil, false, nil }
