package state

import (
	"strings"

	"github.com/fsnap/fsnap/format"
)

// RocksDBFileKind classifies a file of a RocksDB native snapshot by its
// local name.
type RocksDBFileKind string

const (
	RocksSST      RocksDBFileKind = "sst"      // 000010.sst
	RocksManifest RocksDBFileKind = "manifest" // MANIFEST-000005
	RocksCurrent  RocksDBFileKind = "current"  // CURRENT
	RocksOptions  RocksDBFileKind = "options"  // OPTIONS-000007
	RocksLog      RocksDBFileKind = "log"      // 000003.log (WAL)
	RocksBlob     RocksDBFileKind = "blob"     // 000012.blob
	RocksOther    RocksDBFileKind = "other"
)

// KindOfRocksDBFile classifies a RocksDB file name.
func KindOfRocksDBFile(name string) RocksDBFileKind {
	switch {
	case strings.HasSuffix(name, ".sst"):
		return RocksSST
	case strings.HasPrefix(name, "MANIFEST-"):
		return RocksManifest
	case name == "CURRENT":
		return RocksCurrent
	case strings.HasPrefix(name, "OPTIONS-"):
		return RocksOptions
	case strings.HasSuffix(name, ".log"):
		return RocksLog
	case strings.HasSuffix(name, ".blob"):
		return RocksBlob
	}
	return RocksOther
}

// RocksDBFile is one file of a RocksDB native snapshot.
type RocksDBFile struct {
	LocalPath string // the name RocksDB knows it by in the instance directory
	Kind      RocksDBFileKind
	Shared    bool // from the shared list (incremental checkpoints), else private
	Handle    format.StreamHandle
}

// RocksDBSnapshot describes a RocksDB native keyed state handle (metadata
// types 5 and 11): the column families, named by the header in its meta
// state handle, and the files to download into one directory to open it.
type RocksDBSnapshot struct {
	Header *KeyedHeader
	// ColumnFamilies are the state names in kv-state id order: one column
	// family each (the "default" family exists too and holds nothing).
	ColumnFamilies []string
	Files          []RocksDBFile
}

// ReadRocksDB decodes the meta state handle bytes of h (the whole stream the
// handle names) and lists the snapshot's files, shared first.
func ReadRocksDB(h *format.IncrementalHandle, meta []byte) (*RocksDBSnapshot, error) {
	hd, err := ReadKeyedHeader(meta, 0)
	if err != nil {
		return nil, err
	}
	return RocksDBOf(h, hd, int64(len(meta)))
}

// CheckRocksDBMeta checks a RocksDB meta stream of metaSize bytes whose
// header is hd: it holds the serialization proxy and nothing after it.
func CheckRocksDBMeta(hd *KeyedHeader, metaSize int64) error {
	if int64(len(hd.Raw)) != metaSize {
		return &Error{Offset: int64(len(hd.Raw)), Msg: "meta state handle holds bytes after the serialization proxy"}
	}
	return nil
}

// RocksDBOf is ReadRocksDB with the meta stream's header already decoded
// (handles sharing one meta stream decode it once); metaSize is the
// stream's length.
func RocksDBOf(h *format.IncrementalHandle, hd *KeyedHeader, metaSize int64) (*RocksDBSnapshot, error) {
	if err := CheckRocksDBMeta(hd, metaSize); err != nil {
		return nil, err
	}
	s := &RocksDBSnapshot{Header: hd, Files: make([]RocksDBFile, 0, len(h.SharedState)+len(h.PrivateState))}
	for _, st := range hd.States {
		s.ColumnFamilies = append(s.ColumnFamilies, st.Name)
	}
	for f, shared := range h.Files() {
		s.Files = append(s.Files, RocksDBFile{LocalPath: f.LocalPath, Kind: KindOfRocksDBFile(f.LocalPath), Shared: shared, Handle: f.Handle})
	}
	return s, nil
}
