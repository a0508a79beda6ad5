package verify

import (
	"bytes"
	"encoding/binary"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/fsnap/fsnap/format"
	"github.com/fsnap/fsnap/format/state"
	"github.com/fsnap/fsnap/format/value"
	"github.com/fsnap/fsnap/internal/corpus"
)

// editMetadata parses dir's _metadata, lets edit change the model and
// writes it back with the project's writer.
func editMetadata(t *testing.T, dir string, edit func(m *format.Metadata)) {
	t.Helper()
	p := filepath.Join(dir, format.MetadataFileName)
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	m, err := format.ParseMetadata(b)
	if err != nil {
		t.Fatal(err)
	}
	edit(m)
	out, err := format.AppendMetadata(nil, m)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(p, out, 0o644); err != nil {
		t.Fatal(err)
	}
}

func readMetadata(t testing.TB, dir string) *format.Metadata {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(dir, format.MetadataFileName))
	if err != nil {
		t.Fatal(err)
	}
	m, err := format.ParseMetadata(b)
	if err != nil {
		t.Fatal(err)
	}
	return m
}

// Corpus snapshots the mutations start from.
const (
	// v6 canonical savepoint, every stream a relative file; keyed streams
	// are header-only (all key groups empty).
	baseFiles = "new-stateful-broadcast-udf-migration-itcase-flink2.3-rocksdb-savepoint"
	// v6 canonical savepoint, all inline; a keyed operator (max parallelism
	// 128) with a few non-empty key groups per subtask, uncompressed.
	baseKeyed = "operatorstate__complexKeyed-flink2.3"
	// v4 canonical savepoint with Snappy-compressed key groups.
	baseSnappy = "new-stateful-udf-migration-itcase-flink1.19-rocksdb-savepoint"
	// v6 RocksDB native savepoint: CURRENT, MANIFEST, OPTIONS, SSTs.
	baseRocks = "new-stateful-udf-migration-itcase-flink2.3-rocksdb-savepoint-native"
	// v2 RocksDB savepoint with legacy heap timers in raw keyed state.
	baseTimers = "new-stateful-broadcast-udf-migration-itcase-flink1.9-rocksdb-savepoint"
)

// firstKeyedFile is the first managed keyed handle with a relative file.
func firstKeyedFile(t *testing.T, m *format.Metadata) (*format.KeyGroupsHandle, *format.RelativeFileHandle) {
	for _, r := range keyGroupHandles(m) {
		if rf, ok := r.h.Delegate.(*format.RelativeFileHandle); ok {
			return r.h, rf
		}
	}
	t.Fatal("no keyed handle with a relative file")
	return nil, nil
}

// multiBlock is a keyed handle with inline data and at least two non-empty
// key groups; it returns the handle, its data and the indexes of its
// non-empty groups.
func multiBlock(t *testing.T, m *format.Metadata) (kgRef, *format.ByteStreamHandle, []int) {
	for _, r := range keyGroupHandles(m) {
		bs, ok := r.h.Delegate.(*format.ByteStreamHandle)
		if !ok {
			continue
		}
		var nz []int
		for i, o := range r.h.Offsets {
			if o > 0 {
				nz = append(nz, i)
			}
		}
		if len(nz) >= 2 {
			return r, bs, nz
		}
	}
	t.Fatal("no inline keyed handle with two non-empty key groups")
	return kgRef{}, nil, nil
}

func firstOperatorHandle(t *testing.T, m *format.Metadata) *format.OperatorStateHandle {
	for i := range m.Operators {
		for j := range m.Operators[i].Subtasks {
			if h := m.Operators[i].Subtasks[j].ManagedOperatorState; h != nil && len(h.States) > 0 && len(h.States[0].Offsets) > 0 {
				return h
			}
		}
	}
	t.Fatal("no operator state handle")
	return nil
}

// rocksFile returns the file of the first RocksDB native handle's private
// file whose local name matches.
func rocksFile(t *testing.T, dir string, m *format.Metadata, match func(string) bool) string {
	for i := range m.Operators {
		for j := range m.Operators[i].Subtasks {
			h, ok := m.Operators[i].Subtasks[j].ManagedKeyedState.(*format.IncrementalHandle)
			if !ok {
				continue
			}
			for _, f := range h.PrivateState {
				if rf, ok := f.Handle.(*format.RelativeFileHandle); ok && match(f.LocalPath) {
					return filepath.Join(dir, rf.RelativePath)
				}
			}
		}
	}
	t.Fatal("no such RocksDB file")
	return ""
}

func mutateFile(t *testing.T, p string, fn func(b []byte) []byte) {
	t.Helper()
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(p, fn(b), 0o644); err != nil {
		t.Fatal(err)
	}
}

// mutateKeyedChunk lets fn change the first Snappy chunk (after the stream
// identifier) of the first compressed key group in a relative file.
func mutateKeyedChunk(t *testing.T, dir string, fn func(chunk []byte)) {
	t.Helper()
	for _, r := range keyGroupHandles(readMetadata(t, dir)) {
		rf, ok := r.h.Delegate.(*format.RelativeFileHandle)
		if !ok {
			continue
		}
		for _, o := range r.h.Offsets {
			if o > 0 {
				mutateFile(t, filepath.Join(dir, rf.RelativePath), func(b []byte) []byte {
					if !bytes.Equal(b[o:o+10], state.SnappyStreamID) {
						t.Fatalf("no Snappy stream at offset %d", o)
					}
					fn(b[o+10:])
					return b
				})
				return
			}
		}
	}
	t.Fatal("no compressed key group")
}

// mutateOperatorChunk lets fn change the Snappy chunk at the first element
// offset of the first compressed operator state stream in a relative file.
func mutateOperatorChunk(t *testing.T, dir string, fn func(chunk []byte)) {
	t.Helper()
	for _, op := range readMetadata(t, dir).Operators {
		for _, sub := range op.Subtasks {
			h := sub.ManagedOperatorState
			if h == nil {
				continue
			}
			rf, ok := h.Delegate.(*format.RelativeFileHandle)
			if !ok {
				continue
			}
			p := filepath.Join(dir, rf.RelativePath)
			b, err := os.ReadFile(p)
			if err != nil {
				t.Fatal(err)
			}
			if oh, err := state.ReadOperatorHeader(b, 0); err != nil || !oh.Compressed {
				continue
			}
			for _, st := range h.States {
				if len(st.Offsets) > 0 {
					mutateFile(t, p, func(b []byte) []byte {
						fn(b[st.Offsets[0]:])
						return b
					})
					return
				}
			}
		}
	}
	t.Fatal("no compressed operator state")
}

type mutation struct {
	name string
	base string
	// from is the lowest level that reads what the mutation breaks.
	from   Level
	mutate func(t *testing.T, dir string)
	want   Code
}

// flipKey changes one bit of the first key of the handle's stream so that
// the key hashes to another key group than the one holding it.
func flipKey(t *testing.T, r kgRef, data []byte, maxPar int) {
	t.Helper()
	ks, err := state.OpenKeyed(bytes.NewReader(data), int64(len(data)), state.KeyGroupsOf(r.h), state.KeyedOptions{MaxParallelism: int32(maxPar)})
	if err != nil {
		t.Fatal(err)
	}
	hash := value.KeyHasher(ks.Header.KeySerializer)
	if hash == nil {
		t.Fatalf("key serializer %s: no known hashCode", ks.Header.KeySerializer.Class)
	}
	it := ks.Iter()
	for it.Next() {
		e := it.Entry()
		if !e.Split || ks.Header.States[e.State].Type == state.PriorityQueueState {
			continue
		}
		at := bytes.Index(data[e.Offset:], e.Key)
		if at < 0 {
			t.Fatalf("key %x not found after offset %d", e.Key, e.Offset)
		}
		key := slices.Clone(e.Key)
		for bit := range 8 {
			key[len(key)-1] = e.Key[len(key)-1] ^ 1<<bit
			if h, ok := hash(key); ok && value.KeyGroupOf(h, maxPar) != int(e.KeyGroup) {
				copy(data[e.Offset+int64(at):], key)
				return
			}
		}
	}
	t.Fatal("no key to move to another key group")
}

var mutations = []mutation{
	// Presence and size.
	{"deleted file", baseFiles, LevelFiles, func(t *testing.T, dir string) {
		_, rf := firstKeyedFile(t, readMetadata(t, dir))
		if err := os.Remove(filepath.Join(dir, rf.RelativePath)); err != nil {
			t.Fatal(err)
		}
	}, FileMissing},
	{"truncated file", baseFiles, LevelFiles, func(t *testing.T, dir string) {
		_, rf := firstKeyedFile(t, readMetadata(t, dir))
		mutateFile(t, filepath.Join(dir, rf.RelativePath), func(b []byte) []byte { return b[:len(b)/2] })
	}, FileTruncated},
	{"file grown", baseFiles, LevelFiles, func(t *testing.T, dir string) {
		_, rf := firstKeyedFile(t, readMetadata(t, dir))
		mutateFile(t, filepath.Join(dir, rf.RelativePath), func(b []byte) []byte { return append(b, 0) })
	}, FileSizeDiffers},
	{"handle size mismatch", baseFiles, LevelFiles, func(t *testing.T, dir string) {
		editMetadata(t, dir, func(m *format.Metadata) { _, rf := firstKeyedFile(t, m); rf.Size-- })
	}, FileSizeDiffers},

	// A key byte flipped: the stream still decodes, the key's hash says it is misplaced.
	{"key in another key group", baseKeyed, LevelDeep, func(t *testing.T, dir string) {
		editMetadata(t, dir, func(m *format.Metadata) {
			r, bs, _ := multiBlock(t, m)
			flipKey(t, r, bs.Data, int(m.Operators[r.op].MaxParallelism))
		})
	}, KeyInWrongGroup},

	// Relocatability and path safety.
	{"absolute path", baseFiles, LevelFiles, func(t *testing.T, dir string) {
		editMetadata(t, dir, func(m *format.Metadata) {
			h, rf := firstKeyedFile(t, m)
			h.Delegate = &format.FileHandle{Path: "file:" + filepath.Join(dir, rf.RelativePath), Size: rf.Size}
		})
	}, NotRelocatableAbsolute},
	{"entropy-injected path", baseFiles, LevelFiles, func(t *testing.T, dir string) {
		editMetadata(t, dir, func(m *format.Metadata) {
			h, rf := firstKeyedFile(t, m)
			moved := filepath.Join(filepath.Dir(dir), "ab12", filepath.Base(dir), rf.RelativePath)
			os.MkdirAll(filepath.Dir(moved), 0o755)
			if err := os.Rename(filepath.Join(dir, rf.RelativePath), moved); err != nil {
				t.Fatal(err)
			}
			h.Delegate = &format.FileHandle{Path: "file:" + moved, Size: rf.Size}
		})
	}, NotRelocatableEntropy},
	{"escaping relative path", baseFiles, LevelFiles, func(t *testing.T, dir string) {
		editMetadata(t, dir, func(m *format.Metadata) {
			_, rf := firstKeyedFile(t, m)
			// The file is there too, so following the name would "work".
			b, _ := os.ReadFile(filepath.Join(dir, rf.RelativePath))
			os.WriteFile(filepath.Join(filepath.Dir(dir), rf.RelativePath), b, 0o644)
			rf.RelativePath = "../" + rf.RelativePath
		})
	}, UnsafeRelativePath},
	{"absolute path with ..", baseFiles, LevelFiles, func(t *testing.T, dir string) {
		editMetadata(t, dir, func(m *format.Metadata) {
			h, rf := firstKeyedFile(t, m)
			h.Delegate = &format.FileHandle{Path: "file:" + dir + "/../" + filepath.Base(dir) + "/" + rf.RelativePath, Size: rf.Size}
		})
	}, UnsafeAbsolutePath},

	// Key groups.
	{"key-group gap", baseKeyed, LevelFiles, func(t *testing.T, dir string) {
		editMetadata(t, dir, func(m *format.Metadata) {
			for _, r := range keyGroupHandles(m) {
				if n := len(r.h.Offsets); n > 1 && r.h.Offsets[n-1] == 0 {
					r.h.Range.Count--
					r.h.Offsets = r.h.Offsets[:n-1]
					return
				}
			}
			t.Fatal("no handle ends with an empty key group")
		})
	}, KeyGroupsGap},
	{"key-group overlap", baseKeyed, LevelFiles, func(t *testing.T, dir string) {
		editMetadata(t, dir, func(m *format.Metadata) {
			h := keyGroupHandles(m)[0].h
			if h.Range.Start != 0 {
				t.Fatal("the first subtask does not start at key group 0")
			}
			h.Range.Count++
			h.Offsets = append(h.Offsets, 0)
		})
	}, KeyGroupsOverlap},
	{"key-group range outside max parallelism", baseKeyed, LevelFiles, func(t *testing.T, dir string) {
		editMetadata(t, dir, func(m *format.Metadata) {
			// Keep 0..127 covered: subtask 3 also claims a group 128.
			hs := keyGroupHandles(m)
			h := hs[len(hs)-1].h
			h.Range.Count++
			h.Offsets = append(h.Offsets, 0)
		})
	}, KeyGroupsOutOfRange},
	{"offset past the end", baseKeyed, LevelFiles, func(t *testing.T, dir string) {
		editMetadata(t, dir, func(m *format.Metadata) {
			r, bs, nz := multiBlock(t, m)
			r.h.Offsets[nz[1]] = int64(len(bs.Data)) + 100
		})
	}, KeyGroupOffsetOutside},
	{"offsets not increasing", baseKeyed, LevelFiles, func(t *testing.T, dir string) {
		editMetadata(t, dir, func(m *format.Metadata) {
			r, _, nz := multiBlock(t, m)
			o := r.h.Offsets
			o[nz[0]], o[nz[1]] = o[nz[1]], o[nz[0]]
		})
	}, KeyGroupOffsetsOrder},
	{"offset inside the header", baseKeyed, LevelHeaders, func(t *testing.T, dir string) {
		editMetadata(t, dir, func(m *format.Metadata) {
			r, _, nz := multiBlock(t, m)
			r.h.Offsets[nz[0]] = 6
		})
	}, KeyGroupOffsetInHeader},

	// Consistency.
	{"parallelism exceeds max", baseKeyed, LevelFiles, func(t *testing.T, dir string) {
		editMetadata(t, dir, func(m *format.Metadata) {
			for i := range m.Operators {
				if op := &m.Operators[i]; op.UID == "first" {
					op.MaxParallelism = op.Parallelism - 1
					return
				}
			}
			t.Fatal("no operator first")
		})
	}, ParallelismExceedsMax},
	{"duplicate operator", baseKeyed, LevelFiles, func(t *testing.T, dir string) {
		editMetadata(t, dir, func(m *format.Metadata) {
			m.Operators[1].ID, m.Operators[1].UID = m.Operators[0].ID, m.Operators[0].UID
		})
	}, DuplicateOperator},
	{"uid does not hash to the id", baseKeyed, LevelFiles, func(t *testing.T, dir string) {
		editMetadata(t, dir, func(m *format.Metadata) { m.Operators[0].UID = "not-" + m.Operators[0].UID })
	}, OperatorUIDMismatch},
	{"operator offset past the end", baseKeyed, LevelFiles, func(t *testing.T, dir string) {
		editMetadata(t, dir, func(m *format.Metadata) {
			h := firstOperatorHandle(t, m)
			h.States[0].Offsets[0] = h.Delegate.StateSize() + 5
		})
	}, OperatorOffsetOutside},
	{"operator state not in the header", baseKeyed, LevelHeaders, func(t *testing.T, dir string) {
		editMetadata(t, dir, func(m *format.Metadata) { firstOperatorHandle(t, m).States[0].Name += "-renamed" })
	}, OperatorStatesMismatch},

	// State streams.
	{"header version", baseKeyed, LevelHeaders, func(t *testing.T, dir string) {
		editMetadata(t, dir, func(m *format.Metadata) {
			_, bs, _ := multiBlock(t, m)
			binary.BigEndian.PutUint32(bs.Data, 0x7fffffff)
		})
	}, HeaderUnreadable},
	{"corrupt key-group prefix", baseKeyed, LevelDeep, func(t *testing.T, dir string) {
		editMetadata(t, dir, func(m *format.Metadata) {
			// The second block: i16 state id, i32 key length, then the
			// key whose first byte is the key-group prefix.
			r, bs, nz := multiBlock(t, m)
			bs.Data[r.h.Offsets[nz[1]]+6] ^= 0x01
		})
	}, StreamCorrupt},
	{"bytes after the last key group", baseKeyed, LevelDeep, func(t *testing.T, dir string) {
		editMetadata(t, dir, func(m *format.Metadata) {
			_, bs, _ := multiBlock(t, m)
			bs.Data = append(bs.Data, 1, 2, 3)
		})
	}, KeyGroupExtent},
	{"bytes after a header-only stream", baseFiles, LevelHeaders, func(t *testing.T, dir string) {
		editMetadata(t, dir, func(m *format.Metadata) {
			h, rf := firstKeyedFile(t, m)
			for _, o := range h.Offsets {
				if o != 0 {
					t.Fatal("the stream has data")
				}
			}
			mutateFile(t, filepath.Join(dir, rf.RelativePath), func(b []byte) []byte { return append(b, 0, 0, 0, 0) })
			rf.Size += 4
		})
	}, KeyGroupExtent},
	// A chunk is type, u24 length, u32 CRC and data.
	{"Snappy checksum", baseSnappy, LevelDeep, func(t *testing.T, dir string) {
		mutateKeyedChunk(t, dir, func(chunk []byte) { chunk[4] ^= 0xff })
	}, SnappyChecksum},
	{"Snappy chunk runs into the next key group", baseSnappy, LevelDeep, func(t *testing.T, dir string) {
		mutateKeyedChunk(t, dir, func(chunk []byte) { chunk[1] += 16 })
	}, SnappyCorrupt},
	// Operator state goes through the iterator's error alone (no separate
	// diagnosis), so these check that the Snappy error's kind survives it.
	{"Snappy checksum in operator state", baseSnappy, LevelDeep, func(t *testing.T, dir string) {
		mutateOperatorChunk(t, dir, func(chunk []byte) { chunk[4] ^= 0xff })
	}, SnappyChecksum},
	{"reserved Snappy chunk type in operator state", baseSnappy, LevelDeep, func(t *testing.T, dir string) {
		mutateOperatorChunk(t, dir, func(chunk []byte) { chunk[0] = 0x02 })
	}, SnappyCorrupt},
	{"legacy timers overrun their block", baseTimers, LevelHeaders, func(t *testing.T, dir string) {
		editMetadata(t, dir, func(m *format.Metadata) {
			for i := range m.Operators {
				for j := range m.Operators[i].Subtasks {
					if h, ok := m.Operators[i].Subtasks[j].RawKeyedState.(*format.KeyGroupsHandle); ok {
						bs := h.Delegate.(*format.ByteStreamHandle)
						bs.Data = append(bs.Data, 0)
						return
					}
				}
			}
			t.Fatal("no raw keyed state")
		})
	}, RawKeyedTimersCorrupt},
	{"CURRENT names another MANIFEST", baseRocks, LevelHeaders, func(t *testing.T, dir string) {
		mutateFile(t, rocksFile(t, dir, readMetadata(t, dir), func(n string) bool { return n == "CURRENT" }), func(b []byte) []byte {
			return bytes.Replace(b, []byte("MANIFEST-0"), []byte("MANIFEST-9"), 1)
		})
	}, RocksDBCurrentMismatch},
	{"SST without footer magic", baseRocks, LevelDeep, func(t *testing.T, dir string) {
		mutateFile(t, rocksFile(t, dir, readMetadata(t, dir), func(n string) bool { return strings.HasSuffix(n, ".sst") }), func(b []byte) []byte {
			b[len(b)-1] ^= 0xff
			return b
		})
	}, RocksDBSSTCorrupt},
}

// TestMutations: each mutation of a copied corpus snapshot gives exactly
// one new finding, of the expected code, at every level that reads what it
// broke, and nothing else.
func TestMutations(t *testing.T) {
	corpus.Require(t)
	for _, mu := range mutations {
		t.Run(mu.name, func(t *testing.T) {
			dir := corpus.Copy(t, mu.base)
			base := checkRef(t, dir, Options{Level: LevelDeep})
			mu.mutate(t, dir)
			for _, level := range []Level{LevelFiles, LevelHeaders, LevelDeep} {
				r := checkRef(t, dir, Options{Level: level})
				added := newFindings(base, r)
				shows := level >= mu.from
				switch {
				case shows && (len(added) != 1 || added[0].Code != mu.want):
					t.Errorf("%s: new findings %s, want exactly one %s", level, describe(added), mu.want)
				case !shows && len(added) != 0:
					t.Errorf("%s: new findings %s, want none at this level", level, describe(added))
				}
				if gone := newFindings(r, base); level == LevelDeep && len(gone) != 0 {
					t.Errorf("%s: findings of the original disappeared: %s", level, describe(gone))
				}
				if shows {
					f := added[0]
					if f.Severity != codeSeverity[mu.want] || f.Message == "" {
						t.Errorf("%s: %+v", level, f)
					}
					t.Logf("%s: %s %s %s", level, f.Severity, f.Code, f.Message)
				}
			}
		})
	}
}

// newFindings returns the findings of r that base does not have (by code,
// operator, subtask, file and key group).
func newFindings(base, r *Report) []Finding {
	key := func(f Finding) string {
		return strings.Join([]string{string(f.Code), f.Operator, itoa(int(sub(f.Subtask))), f.File, itoa(int(sub(f.KeyGroup)))}, "|")
	}
	var have []string
	for _, f := range base.Findings {
		have = append(have, key(f))
	}
	var out []Finding
	for _, f := range r.Findings {
		k := key(f)
		if i := slices.Index(have, k); i >= 0 {
			have = slices.Delete(have, i, i+1)
			continue
		}
		out = append(out, f)
	}
	return out
}

func describe(fs []Finding) string {
	var parts []string
	for _, f := range fs {
		parts = append(parts, string(f.Code)+": "+f.Message)
	}
	return "[" + strings.Join(parts, "; ") + "]"
}

// TestRequireRelocatable: the same absolute path is a warning, or an error
// under RequireRelocatable; the report says what relocation does.
func TestRequireRelocatable(t *testing.T) {
	corpus.Require(t)
	dir := corpus.Copy(t, baseFiles)
	editMetadata(t, dir, func(m *format.Metadata) {
		h, rf := firstKeyedFile(t, m)
		h.Delegate = &format.FileHandle{Path: "file:" + filepath.Join(dir, rf.RelativePath), Size: rf.Size}
	})
	for _, require := range []bool{false, true} {
		r := checkRef(t, dir, Options{RequireRelocatable: require})
		if len(r.Findings) != 1 || r.Relocatable {
			t.Fatalf("require=%v: %s, relocatable %v", require, describe(r.Findings), r.Relocatable)
		}
		f := r.Findings[0]
		want := Warning
		if require {
			want = Error
		}
		if f.Severity != want || !strings.Contains(f.Relocate, "already in the snapshot directory") ||
			f.Operator == "" || f.Subtask == nil || f.Slot != "managed-keyed" || !strings.HasPrefix(f.File, "file:/") {
			t.Errorf("require=%v: %+v", require, f)
		}
		if r.Fails(Error) != require || !r.Fails(Warning) {
			t.Errorf("require=%v: fails(error)=%v fails(warning)=%v", require, r.Fails(Error), r.Fails(Warning))
		}
	}
}
