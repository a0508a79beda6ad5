package verify

import (
	"bytes"
	"context"
	"math/rand/v2"
	"os"
	"path/filepath"
	"testing"

	"github.com/fsnap/fsnap/format"
	"github.com/fsnap/fsnap/internal/corpus"
	"github.com/fsnap/fsnap/snapshot"
	snapsrc "github.com/fsnap/fsnap/snapshot/source"
)

// damageTarget is what of a parsed snapshot random damage can reach.
type damageTarget struct {
	inline []*format.ByteStreamHandle // inline keyed and operator streams
	kgs    []*format.KeyGroupsHandle
}

func targets(m *format.Metadata) damageTarget {
	var d damageTarget
	for oi := range m.Operators {
		for si := range m.Operators[oi].Subtasks {
			st := &m.Operators[oi].Subtasks[si]
			for _, k := range []format.KeyedStateHandle{st.ManagedKeyedState, st.RawKeyedState} {
				if h, ok := k.(*format.KeyGroupsHandle); ok {
					d.kgs = append(d.kgs, h)
					if b, ok := h.Delegate.(*format.ByteStreamHandle); ok {
						d.inline = append(d.inline, b)
					}
				}
			}
			for _, h := range []*format.OperatorStateHandle{st.ManagedOperatorState, st.RawOperatorState} {
				if h != nil {
					if b, ok := h.Delegate.(*format.ByteStreamHandle); ok {
						d.inline = append(d.inline, b)
					}
				}
			}
		}
	}
	return d
}

// TestRandomDamage damages the handles and inline streams of corpus
// snapshots at random (ranges, offsets, parallelism, stream bytes) and
// checks deep: verify reports and never panics or hangs. Every truncated
// stream is an error; flipped bytes are errors unless they fall where any
// byte is valid (inside a value or a name), which is logged as a rate.
func TestRandomDamage(t *testing.T) {
	ctx := context.Background()
	rng := rand.New(rand.NewPCG(5, 6))
	flips, flipsFound := 0, 0
	for _, name := range []string{baseKeyed, baseTimers, "operatorstate__nonKeyed-flink2.3", "new-stateful-udf-migration-itcase-flink1.9-savepoint"} {
		dir := corpus.Find(t, name).Dir
		raw, err := os.ReadFile(filepath.Join(dir, format.MetadataFileName))
		if err != nil {
			t.Fatal(err)
		}
		_, ref, err := snapsrc.Load(ctx, dir)
		if err != nil {
			t.Fatal(err)
		}
		defer ref.Close()
		for i := range 400 {
			m, err := format.ParseMetadata(bytes.Clone(raw)) // Data aliases the input
			if err != nil {
				t.Fatal(err)
			}
			d := targets(m)
			kind := i % 4
			switch {
			case kind == 0 && len(d.kgs) > 0: // metadata damage, no oracle
				h := d.kgs[rng.IntN(len(d.kgs))]
				if len(h.Offsets) > 0 {
					h.Offsets[rng.IntN(len(h.Offsets))] = rng.Int64N(1<<20) - 1000
				}
				h.Range.Start += rng.Int32N(5) - 2
				op := &m.Operators[rng.IntN(len(m.Operators))]
				op.Parallelism, op.MaxParallelism = rng.Int32N(200)-10, rng.Int32N(40000)-10
			case kind == 1 && len(d.inline) > 0: // truncation
				b := d.inline[rng.IntN(len(d.inline))]
				if len(b.Data) == 0 {
					continue
				}
				b.Data = b.Data[:rng.IntN(len(b.Data))]
			case len(d.inline) > 0: // a flipped byte
				b := d.inline[rng.IntN(len(d.inline))]
				if len(b.Data) == 0 {
					continue
				}
				b.Data[rng.IntN(len(b.Data))] ^= byte(1 + rng.IntN(255))
			}
			s := snapshot.FromMetadata(dir, int64(len(raw)), m)
			r, err := Check(ctx, s, ref, Options{Level: LevelDeep})
			if err != nil {
				t.Fatal(err)
			}
			switch kind {
			case 1:
				if r.Counts.Error == 0 {
					t.Errorf("%s #%d: a truncated stream gave no error: %v", name, i, r.CodeCounts())
				}
			case 2, 3:
				flips++
				if r.Counts.Error > 0 || r.Counts.Warning > 0 || r.Has(HeaderUnknownClass) {
					flipsFound++
				}
			}
		}
	}
	t.Logf("%d of %d single-byte flips reported", flipsFound, flips)
	if flipsFound < flips/2 {
		t.Errorf("only %d of %d flipped bytes reported", flipsFound, flips)
	}
}
