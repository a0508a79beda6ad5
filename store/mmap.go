package store

import "sync/atomic"

// KeptLocalFiles is how many more large local files ReadAllKept may read
// into anonymous memory outside Go's heap, populated in one call: a page
// fault costs ~10 µs on a virtual machine, and a 100 MB _metadata read into
// the heap takes 25,000 of them. That memory is never released, hence the
// count: the fsnap command allows one, the snapshot a command loads first
// (later ones are read as usual).
var KeptLocalFiles atomic.Int32

// mapMin is the size from which mapping pays.
const mapMin = 4 << 20
