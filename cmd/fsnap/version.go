package main

import (
	"fmt"
	"runtime"
	"strings"

	"github.com/fsnap/fsnap/internal/rocks"
)

// versionLine is what `fsnap version` prints: the version, the Go release
// and platform, and the features built in, so that a user of a release
// binary can tell whether it reads RocksDB native state.
func versionLine() string {
	features := []string{"s3", "gcs", "azure", "file"}
	if rocks.Available {
		features = append([]string{"rocksdb"}, features...)
	} else {
		features = append(features, "no rocksdb: inspect --rocksdb, migrate to-canonical and dump of RocksDB native snapshots need the build with RocksDB")
	}
	return fmt.Sprintf("fsnap %s (%s %s/%s; %s)", version, runtime.Version(), runtime.GOOS, runtime.GOARCH, strings.Join(features, ", "))
}
