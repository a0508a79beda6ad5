package state

import (
	"fmt"

	"github.com/fsnap/fsnap/format/internal/binio"
)

// Before Flink 1.10 the RocksDB backend kept timers on the heap by default
// (and before 1.5 every backend did) and wrote them into raw keyed state,
// one block per key group: InternalTimerServiceSerializationProxy, a
// PostVersionedIOReadableWritable (magic F1 CD 85 9F, i32 version), i32
// number of timer services, and per service its name, its key and namespace
// serializers and the event- and processing-time timers (key, namespace,
// timestamp). The serializers are snapshots in version 2 (Flink 1.7 – 1.9),
// Java objects with config snapshots in a block with resilience in version
// 1 (1.4 – 1.6), and bare Java objects in Flink 1.3, which wrote neither
// magic nor version.

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

// LooksLikeTimerServices reports whether b (the start of a raw keyed state
// block) holds legacy timer services rather than user bytes: the
// PostVersionedIOReadableWritable magic, or Flink 1.3's form (a small
// service count, a service name, a Java-serialized key serializer).
func LooksLikeTimerServices(b []byte) bool {
	if len(b) >= 4 && be32(b) == PostVersionedMagic {
		return true
	}
	if len(b) < 8 {
		return false
	}
	n := be32(b)
	l := int(b[4])<<8 | int(b[5])
	return n >= 1 && n <= 1024 && 6+l+2 <= len(b) && b[6+l] == 0xAC && b[6+l+1] == 0xED
}

// ReadTimerServices decodes one key group's block of legacy timer services
// at the start of b (base: its file offset). It returns the services and
// the bytes read.
func ReadTimerServices(b []byte, base int64) ([]TimerService, int, error) {
	d := binio.NewDecoder(b, base)
	r := &snapReader{d: d}
	// Flink 1.3 wrote no magic and no version: the service count comes first.
	version := int32(0)
	if len(b) >= 4 && uint32(be32(b)) == PostVersionedMagic {
		d.I32("timer services magic")
		at := d.Offset()
		version = d.I32("timer services version")
		if !d.Failed() && (version < 1 || version > 2) {
			return nil, 0, &VersionError{Header: "InternalTimerServiceSerializationProxy", Version: version,
				Detail: fmt.Sprintf("at offset %d: versions 1 (Flink 1.4 – 1.6) and 2 (1.7 – 1.9) are read", at)}
		}
	}
	n := d.Count("timer service count", 10)
	var out []TimerService
	for i := 0; i < n && !d.Failed(); i++ {
		var s TimerService
		s.Name = d.UTF("timer service name")
		var ps []Part
		switch version {
		case 2:
			s.KeySerializer = r.nested(&ps, "timer key serializer")
			s.NamespaceSerializer = r.nested(&ps, "timer namespace serializer")
		case 1: // serializers and config snapshots with resilience
			if es := r.resilienceBlock(&ps, "timer serializers", 2); len(es) == 2 {
				s.KeySerializer, s.NamespaceSerializer = es[0].pick(), es[1].pick()
			}
		default: // two Java-serialized serializers
			s.KeySerializer = r.derivedJava(&ps, "timer key serializer")
			s.NamespaceSerializer = r.derivedJava(&ps, "timer namespace serializer")
		}
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
