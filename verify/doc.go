// Package verify checks a Flink snapshot's integrity and relocatability and
// says why, finding by finding, so that a CI gate can trust a yes or a no
// before a snapshot is moved, relied on for an upgrade, or kept as the only
// backup.
//
//	s, ref, err := snapsrc.Load(ctx, "s3://bucket/savepoints/savepoint-1a2b3c-0123456789ab")
//	r, err := verify.Check(ctx, s, ref, verify.Options{Level: verify.LevelDeep})
//	if r.Fails(verify.Error) { ... }
//
// Every finding has a severity, a stable Code and the operator, subtask,
// slot, file, key group and byte offset it concerns. Problems of the
// snapshot are findings, never errors of Check. One cause gives one finding:
// a stream whose file is missing, of the wrong size, unsafe or whose offsets
// are wrong is not read, so it adds no stream findings.
//
// # Levels
//
// LevelFiles reads _metadata and stats every file; it reads no state bytes.
// LevelHeaders (the default) also decodes the header of every keyed,
// operator and RocksDB meta stream, checks that a keyed header ends where
// the first key-group block begins, sniffs keyed streams' layout (reading
// their first block), decodes the first key group of legacy timers in raw
// keyed state, and checks that RocksDB's CURRENT names a MANIFEST of the
// snapshot. LevelDeep walks
// every keyed stream (unified and heap layouts, Snappy-compressed or not),
// every managed operator stream and the legacy timers Flink wrote into raw
// keyed state, to the end: every entry, every end-of-key-group mark, every
// block's extent (it ends exactly where the next block or the stream
// begins), every Snappy chunk's CRC-32C; and the footer magic of every
// RocksDB SST file.
//
// Streams in formats of user code (raw operator state, raw keyed state other
// than Flink's legacy timers), channel (in-flight) state, coordinator state
// and changelog records are checked for presence and size only; the report
// counts them as opaque.
//
// # Finding codes
//
// Severity is the default; --require relocatable (Options.RequireRelocatable)
// raises every not-relocatable-* finding to error.
//
//	code                               severity  meaning
//	-- presence and size (every file a handle names, stat in parallel) --
//	file-missing                       error     the file does not exist
//	file-truncated                     error     the file is shorter than its handle (or its furthest file-merging segment) says
//	file-size-mismatch                 error     the file is longer than its handle says
//	file-not-checked                   warning   an absolute path fsnap cannot reach (hdfs://, another store); presence unknown
//	store-error                        error     the store failed (not "not found"); the CLI exits 3
//	-- relocatability (every handle inline or relative to the snapshot directory) --
//	not-relocatable-absolute-path      warning   an absolute path (also one into the snapshot directory itself)
//	not-relocatable-entropy-path       warning   an entropy-injected path: the snapshot directory with one extra element
//	not-relocatable-shared             warning   a file in a checkpoint's shared/ folder (incremental checkpoints)
//	not-relocatable-task-owned         warning   a file in a checkpoint's taskowned/ folder
//	not-relocatable-changelog          warning   a changelog (DSTL) file of the changelog state backend
//	not-relocatable-file-merging       warning   file-merging segments (Flink 1.20+) of a shared physical file
//	-- path safety (never followed by any fsnap command) --
//	unsafe-relative-path               error     a relative name with "..", ".", an empty element, a leading "/", ":", NUL or backslash
//	unsafe-absolute-path               error     an absolute path with such elements, or not absolute at all
//	-- key groups --
//	key-groups-gap                     error     key groups no subtask holds, though Flink assigns them to a subtask that stored state
//	key-groups-overlap                 error     key groups two subtasks both hold
//	key-groups-out-of-range            error     a handle's range lies outside 0..maxParallelism-1
//	keyed-subtask-without-state        info      a keyed subtask stored no keyed state (Flink omits such subtasks); its key groups restore empty
//	key-group-offset-out-of-file       error     a key-group offset outside its stream (managed: 0 means empty, else < size)
//	key-group-offsets-not-increasing   error     non-empty key groups' offsets do not increase with the key group
//	key-group-offset-in-header         error     a key-group offset inside the stream header
//	key-group-extent-mismatch          error     the header does not end where the first block begins; (deep) a block's entries and marks do not end where the next block (or the stream) begins
//	key-in-wrong-key-group             error     (deep) a key whose hashCode fsnap knows (boxed primitives, String, Flink tuples of them) lies in another key group than Flink assigns it
//	operator-offset-out-of-file        error     an operator state element offset outside its stream
//	-- consistency --
//	parallelism-exceeds-max            error     parallelism greater than max parallelism
//	parallelism-invalid                error     parallelism less than 1
//	max-parallelism-invalid            error     max parallelism outside 1..32768
//	duplicate-operator                 error     two operators with one id (Flink keeps only one)
//	operator-uid-mismatch              warning   a stored uid whose murmur3 hash is not the operator id
//	subtask-index-out-of-range         error     a subtask index outside 0..parallelism-1
//	duplicate-subtask                  error     a subtask index stored twice
//	operator-finished                  info      all subtasks had finished; restored as finished
//	operator-partially-finished        info      some subtasks had finished and carry no state
//	savepoint-channel-state            error     a savepoint carries in-flight channel state (only unaligned checkpoints do)
//	-- state streams --
//	header-unreadable                  error     a keyed or operator stream header (or RocksDB meta stream) does not decode
//	operator-states-mismatch           error     the metadata names an operator state the stream header does not
//	stream-corrupt                     error     a stream does not parse (wrong key-group prefix, state id, length, mark ...)
//	stream-read-error                  error     reading a present file failed (changed since it was stat'ed)
//	snappy-checksum                    error     a Snappy chunk's CRC-32C does not match its data
//	snappy-corrupt                     error     malformed Snappy framing (identifier, chunk type, chunk length)
//	raw-keyed-timers-corrupt           error     (deep) legacy timers in raw keyed state do not decode or do not fill their block
//	file-outside-root                  error     (--require self-contained=ROOT) a file the snapshot uses lies outside ROOT
//	-- formats fsnap does not read (never errors: the bytes may well be valid) --
//	unsupported-serializer             warning   a header names a serializer snapshot class fsnap cannot decode, outside any framing; the states before it are read
//	unsupported-header-version         warning   a stream header version above those fsnap reads (1 to 6), perhaps a later Flink's; not checked further
//	unsupported-value-format           warning   (deep) a heap-layout or broadcast state whose values fsnap cannot measure; walked up to it
//	unsupported-timer-format           warning   (deep) legacy timers in raw keyed state of a version fsnap does not know
//	rocksdb-files-incomplete           error     a RocksDB native handle without CURRENT or MANIFEST
//	rocksdb-current-mismatch           error     CURRENT names a MANIFEST that is not among the snapshot's files
//	rocksdb-sst-corrupt                error     (deep) an SST file that does not end with a RocksDB table magic number
//	rocksdb-instance-corrupt           error     (deep) RocksDB cannot open or read the instance (block checksums, MANIFEST, CURRENT, OPTIONS)
//	rocksdb-not-opened                 warning   (deep) a build without RocksDB did not check the instances' blocks
//
// Inline handle names (ByteStreamStateHandle) are opaque: Flink sometimes
// names inline streams by the file path they would have had (e.g.
// file:/tmp/junit…/savepoint-…/<uuid>), but their bytes are in _metadata, so
// they are neither files to check nor a reason the snapshot is not
// relocatable.
package verify
