package speed

// Part of the dedupe cache seam (seencache.go): how the cached sets hold
// their impression keys (impKey: 8 bytes an impression).
//
// A Go map of ids costs about 26 bytes an id live (slots, control bytes,
// growth slack) and, on the Go heap, up to twice that in resident memory
// at the default GC target; with the copy in state that came to ~120
// bytes of RSS per remembered impression (docs/streaming.md). The sets
// are large, long-lived and pointer-free, so they live in sorted runs of
// bare keys in memory mapped outside the Go heap: 8 bytes a key, not
// scanned by the GC and not counted in its target, returned to the
// system the moment a run is merged away or its set dropped.

import (
	"runtime"
	"slices"
)

// pendingIDs is how many new keys a set gathers on the heap before they
// become a run: one 4 KiB page.
const pendingIDs = 512

// idSet is a set of impression keys: a small sorted buffer of the newest
// and sorted runs of the rest, each run at least twice the size of the
// next, so a lookup searches O(log n) runs. Not safe for concurrent use
// (seenSet's lock guards it).
type idSet struct {
	pending []uint64
	runs    *idRuns
	n       int
}

// idRuns owns the mapped runs; a set's cleanup frees them once the set
// is unreachable (a set dropped from the cache while a bundle still held
// it is freed when that bundle lets go).
type idRuns struct {
	runs [][]uint64
}

func newIDSet() *idSet {
	s := &idSet{pending: make([]uint64, 0, pendingIDs), runs: &idRuns{}}
	runtime.AddCleanup(s, func(r *idRuns) { r.free() }, s.runs)
	return s
}

// Len is how many ids the set holds.
func (s *idSet) Len() int { return s.n }

// Add adds id and reports whether it was new.
func (s *idSet) Add(id uint64) bool {
	i, found := slices.BinarySearch(s.pending, id)
	if found || s.runs.contains(id) {
		return false
	}
	s.pending = slices.Insert(s.pending, i, id)
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

func (r *idRuns) contains(id uint64) bool {
	for _, run := range r.runs {
		if _, found := slices.BinarySearch(run, id); found {
			return true
		}
	}
	return false
}

// push adds sorted ids, none already held, as a run, merging the
// smallest runs while one is less than twice the next.
func (r *idRuns) push(ids []uint64) {
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
func mergeIDs(dst, a, b []uint64) {
	i, j := 0, 0
	for k := range dst {
		if j == len(b) || i < len(a) && a[i] < b[j] {
			dst[k], i = a[i], i+1
		} else {
			dst[k], j = b[j], j+1
		}
	}
}
