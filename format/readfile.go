package format

import "fmt"

func tooLarge(path string, n int64) error {
	return fmt.Errorf("%s: %d bytes, more than the %d fsnap reads", path, n, int64(MaxMetadataFileSize))
}
