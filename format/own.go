package format

import (
	"bytes"
	"strings"
	"unsafe"
)

// owner copies what a parse keeps (strings, inline bytes) out of the input,
// so that the input can be given back while the model lives on: a 100 MB
// _metadata is then not held for as long as its model, only the strings
// in it, each repeated string once where it repeats nearby (RocksDB file
// names, shared paths, state names).
type owner struct {
	chunk     []byte
	chunkSize int
	// seen holds the last two strings seen per pair of slots (the odd one
	// is the older); two, so that two names that meet in a pair and
	// alternate (files used by every subtask) are both kept.
	seen []string
	// The last file handles made per pair of slots of their path: handles
	// naming the same file (a rescaled job's shared files, every subtask's)
	// are one, so the model's cost follows distinct files, not handles.
	files    []*FileHandle
	relative []*RelativeFileHandle
}

// newOwner makes an owner for n bytes of input, its tables (powers of two)
// and chunks sized to it, so that a small file costs little more than its
// strings.
func newOwner(n int) *owner {
	slots := 64
	for slots < 4096 && slots*64 < n {
		slots *= 2
	}
	return &owner{chunkSize: min(max(n/4, 4<<10), 256<<10), seen: make([]string, slots),
		files: make([]*FileHandle, slots/2), relative: make([]*RelativeFileHandle, slots/2)}
}

// str returns s (which aliases the input) copied, or an equal string
// copied before.
func (o *owner) str(s string) string {
	if s == "" {
		return ""
	}
	i := slotOf(s) & uint(len(o.seen)-2)
	if o.seen[i] == s {
		return o.seen[i]
	}
	if o.seen[i+1] == s {
		o.seen[i], o.seen[i+1] = o.seen[i+1], o.seen[i]
		return o.seen[i]
	}
	c := o.bytes([]byte(s))
	o.seen[i+1], o.seen[i] = o.seen[i], unsafe.String(&c[0], len(c))
	return o.seen[i]
}

// fileHandle is a handle naming a whole file.
type fileHandle interface {
	FileHandle | RelativeFileHandle
}

// newFile returns h made in s, or an equal handle from the pair of slots
// of cache that slot falls in (the last two made there), and leaves the
// one returned first in the pair; cache may be nil.
func newFile[H fileHandle](s *slab[H], cache []*H, slot uint, h H) *H {
	if cache == nil {
		n := s.new()
		*n = h
		return n
	}
	i := slot & uint(len(cache)-2)
	if c := cache[i]; c != nil && *c == h {
		return c
	}
	if c := cache[i+1]; c != nil && *c == h {
		cache[i], cache[i+1] = c, cache[i]
		return c
	}
	n := s.new()
	*n = h
	cache[i+1], cache[i] = cache[i], n
	return n
}

// slotOf places s in owner.seen by its length and its first and last
// eight bytes, where names differ (UUIDs, numbered RocksDB files, paths
// ending in them): a fifth of the time of a full hash, and a collision only
// costs a second copy.
func slotOf(s string) uint {
	var a, b uint64
	if len(s) >= 8 {
		a, b = le64(s), le64(s[len(s)-8:])
	} else {
		for i := range len(s) {
			a = a<<8 | uint64(s[i])
		}
	}
	h := (a ^ b*0x9e3779b97f4a7c15 ^ uint64(len(s))) * 0xff51afd7ed558ccd
	return uint(h >> 32) // the well-mixed high bits; callers mask them
}

func le64(s string) uint64 {
	_ = s[7]
	return uint64(s[0]) | uint64(s[1])<<8 | uint64(s[2])<<16 | uint64(s[3])<<24 |
		uint64(s[4])<<32 | uint64(s[5])<<40 | uint64(s[6])<<48 | uint64(s[7])<<56
}

// bytes returns a copy of b (nil stays nil, empty stays empty).
func (o *owner) bytes(b []byte) []byte {
	if b == nil {
		return nil
	}
	if len(b) == 0 {
		return []byte{} // not b[:0:0], which would still point into the input
	}
	if len(b) > o.chunkSize/8 {
		return bytes.Clone(b)
	}
	if len(o.chunk)+len(b) > cap(o.chunk) {
		o.chunk = make([]byte, 0, o.chunkSize)
	}
	start := len(o.chunk)
	o.chunk = append(o.chunk, b...)
	return o.chunk[start:len(o.chunk):len(o.chunk)]
}

// cloneProperties is p with nothing aliasing the input.
func cloneProperties(p *CheckpointProperties) *CheckpointProperties {
	c := *p
	c.Raw = bytes.Clone(p.Raw)
	c.Type = p.Type.clone()
	return &c
}

func (t SnapshotType) clone() SnapshotType {
	t.Name = strings.Clone(t.Name)
	t.SharingFilesStrategy = strings.Clone(t.SharingFilesStrategy)
	t.FormatType = strings.Clone(t.FormatType)
	t.PostCheckpointAction = strings.Clone(t.PostCheckpointAction)
	return t
}
