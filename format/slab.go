package format

// slab hands out pointers into chunks of Ts, so that a file with a million
// handles costs a few dozen allocations rather than a million. Chunks grow
// geometrically, keeping small files cheap.
type slab[T any] struct {
	buf []T
}

func (s *slab[T]) new() *T {
	if len(s.buf) == cap(s.buf) {
		s.buf = make([]T, 0, min(max(2*cap(s.buf), 4), 4096))
	}
	s.buf = s.buf[:len(s.buf)+1]
	return &s.buf[len(s.buf)-1]
}

// take returns a slice of n Ts (n already bounded by the input size).
func (s *slab[T]) take(n int) []T {
	if n > 512 {
		return make([]T, n)
	}
	if cap(s.buf)-len(s.buf) < n {
		s.buf = make([]T, 0, max(n, min(2*cap(s.buf), 8192)))
	}
	out := s.buf[len(s.buf) : len(s.buf)+n : len(s.buf)+n]
	s.buf = s.buf[:len(s.buf)+n]
	return out
}

// arena holds the slabs of one parse.
type arena struct {
	relative  slab[RelativeFileHandle]
	file      slab[FileHandle]
	bytes     slab[ByteStreamHandle]
	keyGroups slab[KeyGroupsHandle]
	incr      slab[IncrementalHandle]
	opHandles slab[OperatorStateHandle]
	opStates  slab[NamedOperatorState]
	named     slab[NamedHandle]
	subtasks  slab[SubtaskState]
	longs     slab[int64]
}
