package verify

import (
	"testing"

	"github.com/fsnap/fsnap/format"
	"github.com/fsnap/fsnap/internal/corpus"
)

// TestSavepointChannelState (issue 20, item 11): the unaligned 1.17
// checkpoint of the corpus carries channel state, which is right for it;
// the same _metadata marked as a savepoint is flagged.
func TestSavepointChannelState(t *testing.T) {
	dir := corpus.Copy(t, "new-stateful-udf-migration-itcase-flink1.17-rocksdb-checkpoint")
	if r := checkRef(t, dir, Options{Level: LevelFiles}); r.CodeCounts()[SavepointChannelState] != 0 {
		t.Fatalf("the checkpoint is flagged: %+v", r.Findings)
	}
	editMetadata(t, dir, func(m *format.Metadata) { m.Properties = format.NewSavepointProperties("CANONICAL") })
	r := checkRef(t, dir, Options{Level: LevelFiles})
	if n := r.CodeCounts()[SavepointChannelState]; n == 0 || r.Counts.Error == 0 {
		t.Errorf("%d savepoint-channel-state findings, %d errors", n, r.Counts.Error)
	}
}
