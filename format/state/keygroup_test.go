package state_test

import (
	"bytes"
	"testing"

	"github.com/fsnap/fsnap/format/state"
	"github.com/fsnap/fsnap/format/value"
)

// TestKeyGroupsOfCorpusKeys: every key Flink wrote with a serializer whose
// hashCode fsnap knows (Long, String, tuples of them...) lies in the key
// group value.KeyGroupOf computes from it: Java's hashCode and Flink's
// murmur assignment, checked on real bytes.
func TestKeyGroupsOfCorpusKeys(t *testing.T) {
	checked, skipped := 0, 0
	classes := map[string]int{}
	for _, s := range corpusStreams(t) {
		if s.kind != "managedKeyed" {
			continue
		}
		ks, err := state.OpenKeyed(bytes.NewReader(s.data), int64(len(s.data)), state.KeyGroupsOf(s.keyed),
			state.KeyedOptions{Name: s.String(), MaxParallelism: s.op.MaxParallelism})
		if err != nil {
			continue // streams other tests cover
		}
		hash := value.KeyHasher(ks.Header.KeySerializer)
		if hash == nil {
			continue
		}
		it := ks.Iter()
		for it.Next() {
			e := it.Entry()
			if !e.Split || ks.Header.States[e.State].Type == state.PriorityQueueState {
				skipped++
				continue
			}
			h, ok := hash(e.Key)
			if !ok {
				skipped++
				continue
			}
			if kg := value.KeyGroupOf(h, int(s.op.MaxParallelism)); kg != int(e.KeyGroup) {
				t.Fatalf("%s: key %x (hash %d) in key group %d, computed %d", s, e.Key, h, e.KeyGroup, kg)
			}
			checked++
			classes[ks.Header.KeySerializer.Class]++
		}
	}
	if checked < 1000 {
		t.Errorf("only %d keys checked (%d skipped)", checked, skipped)
	}
	t.Logf("%d keys checked by class %v; %d skipped", checked, classes, skipped)
}
