//go:build !cgo || norocksdb

package rocks

// Available reports whether this build can open RocksDB instances.
const Available = false

// DB is an open RocksDB instance (never, in this build).
type DB struct{}

// Iterator walks one column family (never, in this build).
type Iterator struct{}

// ErrExists is returned by Create for a directory that holds files.
var ErrExists = ErrUnavailable

func OpenReadOnly(string) (*DB, error)                    { return nil, ErrUnavailable }
func Create(string, []string, CreateOptions) (*DB, error) { return nil, ErrUnavailable }
func (*DB) ColumnFamilies() []string                      { return nil }
func (*DB) HasColumnFamily(string) bool                   { return false }
func (*DB) SetReadahead(int)                              {}
func (*DB) NewIterator(string) (*Iterator, error)         { return nil, ErrUnavailable }
func (*DB) Files() []SSTFile                              { return nil }
func (*DB) Property(string, string) string                { return "" }
func (*DB) Close() error                                  { return nil }
func (*DB) Put(int, []byte, []byte) error                 { return ErrUnavailable }
func (*DB) Merge(int, []byte, []byte) error               { return ErrUnavailable }
func (*DB) Delete(int, []byte) error                      { return ErrUnavailable }
func (*DB) Flush() error                                  { return ErrUnavailable }
func (*DB) CompactAll() error                             { return ErrUnavailable }
func (*DB) Checkpoint(string) error                       { return ErrUnavailable }
func (*Iterator) Seek([]byte)                             {}
func (*Iterator) SeekToFirst()                            {}
func (*Iterator) SeekToLast()                             {}
func (*Iterator) Valid() bool                             { return false }
func (*Iterator) Next()                                   {}
func (*Iterator) Key() []byte                             { return nil }
func (*Iterator) Value() []byte                           { return nil }
func (*Iterator) Err() error                              { return ErrUnavailable }
func (*Iterator) Close()                                  {}

// Scanner reads one column family in batches (never, in this build).
type Scanner struct{}

func (*DB) NewScanner(string) (*Scanner, error) { return nil, ErrUnavailable }
func (*Scanner) Seek([]byte)                    {}
func (*Scanner) SeekToFirst()                   {}
func (*Scanner) Valid() bool                    { return false }
func (*Scanner) Next()                          {}
func (*Scanner) Key() []byte                    { return nil }
func (*Scanner) Value() []byte                  { return nil }
func (*Scanner) Err() error                     { return ErrUnavailable }
func (*Scanner) Close()                         {}
