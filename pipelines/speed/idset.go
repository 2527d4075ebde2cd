package speed

// Part of the dedupe cache seam (seencache.go): how the cached sets hold
// their impression ids.
//
// A Go map of 16-byte ids costs about 26 bytes an id live (slots, control
// bytes, growth slack) and, on the Go heap, up to twice that in resident
// memory at the default GC target; with the copy in state that came to
// ~120 bytes of RSS per remembered impression (docs/streaming.md). The
// sets are large, long-lived and pointer-free, so they live in sorted
// runs of bare ids in memory mapped outside the Go heap: 16 bytes an id,
// not scanned by the GC and not counted in its target, returned to the
// system the moment a run is merged away or its set dropped.

import (
	"encoding/binary"
	"runtime"
	"sort"

	"github.com/adclick/adclick/internal/countable"
)

// pendingIDs is how many new ids a set gathers on the heap before they
// become a run: one 4 KiB page.
const pendingIDs = 256

// idSet is a set of impression ids: a small sorted buffer of the newest
// and sorted runs of the rest, each run at least twice the size of the
// next, so a lookup searches O(log n) runs. Not safe for concurrent use
// (seenSet's lock guards it).
type idSet struct {
	pending []countable.ID
	runs    *idRuns
	n       int
}

// idRuns owns the mapped runs; a set's cleanup frees them once the set
// is unreachable (a set dropped from the cache while a bundle still held
// it is freed when that bundle lets go).
type idRuns struct {
	runs [][]countable.ID
}

func newIDSet() *idSet {
	s := &idSet{pending: make([]countable.ID, 0, pendingIDs), runs: &idRuns{}}
	runtime.AddCleanup(s, func(r *idRuns) { r.free() }, s.runs)
	return s
}

// Len is how many ids the set holds.
func (s *idSet) Len() int { return s.n }

// Add adds id and reports whether it was new.
func (s *idSet) Add(id countable.ID) bool {
	i, found := search(s.pending, id)
	if found || s.runs.contains(id) {
		return false
	}
	s.pending = append(s.pending, countable.ID{})
	copy(s.pending[i+1:], s.pending[i:])
	s.pending[i] = id
	s.n++
	if len(s.pending) == pendingIDs {
		s.runs.push(s.pending)
		s.pending = s.pending[:0]
	}
	return true
}

// Clear empties the set and frees its runs.
func (s *idSet) Clear() {
	s.runs.free()
	s.pending, s.n = s.pending[:0], 0
}

func (r *idRuns) contains(id countable.ID) bool {
	for _, run := range r.runs {
		if _, found := search(run, id); found {
			return true
		}
	}
	return false
}

// push adds sorted ids, none already held, as a run, merging the
// smallest runs while one is less than twice the next.
func (r *idRuns) push(ids []countable.ID) {
	run := mapIDs(len(ids))
	copy(run, ids)
	r.runs = append(r.runs, run)
	for n := len(r.runs); n >= 2 && len(r.runs[n-2]) < 2*len(r.runs[n-1]); n = len(r.runs) {
		a, b := r.runs[n-2], r.runs[n-1]
		merged := mapIDs(len(a) + len(b))
		mergeIDs(merged, a, b)
		unmapIDs(a)
		unmapIDs(b)
		r.runs = append(r.runs[:n-2], merged)
	}
}

func (r *idRuns) free() {
	for _, run := range r.runs {
		unmapIDs(run)
	}
	r.runs = nil
}

// mergeIDs merges sorted, disjoint a and b into dst (len(a)+len(b)).
func mergeIDs(dst, a, b []countable.ID) {
	i, j := 0, 0
	for k := range dst {
		if j == len(b) || i < len(a) && less(a[i], b[j]) {
			dst[k], i = a[i], i+1
		} else {
			dst[k], j = b[j], j+1
		}
	}
}

// search finds id in sorted ids: its index, or where it would go.
func search(ids []countable.ID, id countable.ID) (int, bool) {
	i := sort.Search(len(ids), func(i int) bool { return !less(ids[i], id) })
	return i, i < len(ids) && ids[i] == id
}

func less(a, b countable.ID) bool {
	a0, b0 := binary.BigEndian.Uint64(a[:8]), binary.BigEndian.Uint64(b[:8])
	if a0 != b0 {
		return a0 < b0
	}
	return binary.BigEndian.Uint64(a[8:]) < binary.BigEndian.Uint64(b[8:])
}
