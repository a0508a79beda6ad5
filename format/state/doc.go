// Package state reads and writes the state files Flink checkpoints and
// savepoints point to: keyed state streams, operator state streams and the
// meta data of RocksDB native snapshots. It is pure Go and knows nothing of
// storage: callers hand it an io.ReaderAt (or bytes) and what the _metadata
// handle says (offsets, max parallelism).
//
// Headers. ReadKeyedHeader and ReadOperatorHeader decode the
// KeyedBackendSerializationProxy and OperatorBackendSerializationProxy
// (versions 5 and 6) into StateMeta values whose serializers are Snapshot
// trees: class, version and the payload as typed Parts. Snapshot payloads
// have no length, so every class is decoded (KnownClasses); an unknown class
// stops with an *UnknownClassError that names it and its offset, returning
// the states read before. Headers keep their exact bytes (Raw) and Append
// encodes them back to the same bytes.
//
// Keyed streams. OpenKeyed reads the header, checks the key-group offsets
// and sniffs the layout (unified savepoint format or heap checkpoint
// format); Iter walks the entries of every key group without materializing
// the stream and without allocating per entry (Entry views are valid until
// the next call to Next). Snappy-compressed streams (xerial framing, one
// stream per key group) are decoded with CRC-32C checks. Composite keys of
// the unified layout are split into key, namespace and map user key using
// the serializers' layouts (LayoutOf). Sizes counts entries and bytes per
// state and key group. UnifiedWriter writes unified streams (optionally
// compressed) that Flink restores; AppendCompositeKey builds their keys.
//
// Operator streams. OpenOperator pairs the header with the metadata offsets;
// its iterator yields list elements and broadcast entries, checking element
// extents against the serializers where they are known.
//
// RocksDB native snapshots. ReadRocksDB names the column families from the
// meta state handle and lists the SST, MANIFEST, CURRENT and OPTIONS files.
// ReadTimerServices reads the heap timers that Flink ≤ 1.9 RocksDB backends
// wrote into raw keyed state.
//
// Values are decoded by package format/value.
package state
