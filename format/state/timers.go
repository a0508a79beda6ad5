package state

import (
	"fmt"

	"github.com/fsnap/fsnap/format/internal/binio"
)

// Before Flink 1.10 the RocksDB backend kept timers on the heap by default
// and wrote them into raw keyed state, one block per key group:
// InternalTimerServiceSerializationProxy, a PostVersionedIOReadableWritable
// (magic F1 CD 85 9F, i32 version), i32 number of timer services, and per
// service its name, key and namespace serializer snapshots and the event-
// and processing-time timers (key, namespace, timestamp).

// PostVersionedMagic opens PostVersionedIOReadableWritable streams.
const PostVersionedMagic = 0xF1CD859F

// LegacyTimer is one timer of a raw-keyed-state timer service.
type LegacyTimer struct {
	Key, Namespace []byte // serialized with the service's serializers
	Timestamp      int64
}

// TimerService is the timers of one internal timer service in one key group.
type TimerService struct {
	Name                string
	KeySerializer       *Snapshot
	NamespaceSerializer *Snapshot
	EventTimers         []LegacyTimer
	ProcessingTimers    []LegacyTimer
}

// ReadTimerServices decodes one key group's block of legacy timer services
// at the start of b (base: its file offset). It returns the services and
// the bytes read.
func ReadTimerServices(b []byte, base int64) ([]TimerService, int, error) {
	d := binio.NewDecoder(b, base)
	r := &snapReader{d: d}
	if m := uint32(d.I32("timer services magic")); !d.Failed() && m != PostVersionedMagic {
		d.FailAt(base, "timer services: magic %08x, want %08x", m, uint32(PostVersionedMagic))
	}
	at := d.Offset()
	if v := d.I32("timer services version"); !d.Failed() && v != 2 {
		d.FailAt(at, "timer services version %d: only version 2 (Flink 1.7 – 1.9) is read", v)
	}
	n := d.Count("timer service count", 10)
	var out []TimerService
	for i := 0; i < n && !d.Failed(); i++ {
		var s TimerService
		s.Name = d.UTF("timer service name")
		var ps []Part
		s.KeySerializer = r.nested(&ps, "timer key serializer")
		s.NamespaceSerializer = r.nested(&ps, "timer namespace serializer")
		if d.Failed() {
			break
		}
		kl, err := LayoutOf(s.KeySerializer)
		if err != nil {
			return nil, 0, fmt.Errorf("timer service %q: %w", s.Name, err)
		}
		nl, err := LayoutOf(s.NamespaceSerializer)
		if err != nil {
			return nil, 0, fmt.Errorf("timer service %q: %w", s.Name, err)
		}
		for _, list := range []*[]LegacyTimer{&s.EventTimers, &s.ProcessingTimers} {
			c := d.Count("timer count", 8)
			for k := 0; k < c && !d.Failed(); k++ {
				var t LegacyTimer
				rest := d.Buffer()[d.Pos():]
				kn, err := kl.Measure(rest)
				if err != nil {
					d.Failf("timer key: %v", err)
					break
				}
				t.Key = d.Bytes(kn, "timer key")
				nn, err := nl.Measure(d.Buffer()[d.Pos():])
				if err != nil {
					d.Failf("timer namespace: %v", err)
					break
				}
				t.Namespace = d.Bytes(nn, "timer namespace")
				t.Timestamp = d.I64("timer timestamp")
				*list = append(*list, t)
			}
		}
		out = append(out, s)
	}
	if err := convertErr(r); err != nil {
		return nil, 0, err
	}
	return out, d.Pos(), nil
}
