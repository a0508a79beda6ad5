package state

import "sort"

// KeyedSizes are the entry counts and bytes of a keyed stream per state and
// key group, found by walking it.
type KeyedSizes struct {
	States        []string // state names, by kv-state id
	FirstKeyGroup int32
	NumKeyGroups  int
	entries       []int64 // [group*len(States)+state]
	bytes         []int64
	// Stored is the bytes each key group's block occupies in the file
	// (compressed size when compressed; 0 for an empty group).
	Stored []int64
}

// Entries is the number of entries of state in key group FirstKeyGroup+g.
func (k *KeyedSizes) Entries(g, state int) int64 { return k.entries[g*len(k.States)+state] }

// Bytes is the serialized (decompressed) bytes of state in key group
// FirstKeyGroup+g, length fields included.
func (k *KeyedSizes) Bytes(g, state int) int64 { return k.bytes[g*len(k.States)+state] }

// StateTotal sums a state over all key groups.
func (k *KeyedSizes) StateTotal(state int) (entries, bytes int64) {
	for g := 0; g < k.NumKeyGroups; g++ {
		entries += k.Entries(g, state)
		bytes += k.Bytes(g, state)
	}
	return
}

// GroupTotal sums all states of key group FirstKeyGroup+g.
func (k *KeyedSizes) GroupTotal(g int) (entries, bytes int64) {
	for s := range k.States {
		entries += k.Entries(g, s)
		bytes += k.Bytes(g, s)
	}
	return
}

// Sizes walks the stream and counts entries and bytes per state and key
// group.
func (s *KeyedStream) Sizes() (*KeyedSizes, error) {
	ns := len(s.Header.States)
	ng := len(s.Groups.Offsets)
	k := &KeyedSizes{FirstKeyGroup: s.Groups.First, NumKeyGroups: ng,
		entries: make([]int64, ng*ns), bytes: make([]int64, ng*ns), Stored: make([]int64, ng)}
	for _, st := range s.Header.States {
		k.States = append(k.States, st.Name)
	}
	// Block spans from the sorted offsets.
	type og struct {
		off int64
		g   int
	}
	var ogs []og
	for g, o := range s.Groups.Offsets {
		if o > 0 {
			ogs = append(ogs, og{o, g})
		}
	}
	sort.Slice(ogs, func(i, j int) bool { return ogs[i].off < ogs[j].off })
	for i, x := range ogs {
		end := s.size
		if i+1 < len(ogs) {
			end = ogs[i+1].off
		}
		k.Stored[x.g] = end - x.off
	}
	it := s.Iter()
	for it.Next() {
		e := it.Entry()
		i := int(e.KeyGroup-s.Groups.First)*ns + e.State
		k.entries[i]++
		k.bytes[i] += int64(e.Size)
	}
	return k, it.Err()
}

// OperatorStateSize is the size of one operator state in one stream.
type OperatorStateSize struct {
	Name     string
	Kind     string // SPLIT_DISTRIBUTE, UNION, BROADCAST
	Elements int64  // list elements or broadcast entries
	Bytes    int64  // serialized (decompressed) bytes of elements / entries
}

// Sizes walks the stream and sums every state's elements and bytes.
func (s *OperatorStream) Sizes() ([]OperatorStateSize, error) {
	out := make([]OperatorStateSize, len(s.States))
	for i, st := range s.States {
		out[i] = OperatorStateSize{Name: st.Meta.Name, Kind: st.Meta.Kind()}
	}
	it := s.Iter()
	for it.Next() {
		e := it.Element()
		out[e.State].Elements++
		out[e.State].Bytes += int64(len(e.Key) + len(e.Value))
	}
	return out, it.Err()
}
