package speed

import (
	"math/rand/v2"
	"os"
	"runtime"
	"strconv"
	"strings"
	"testing"
)

// TestIDSetAgainstMap: the same answers as a map over a stream of new and
// repeated ids, at sizes around the run boundaries, with the runs kept
// few and sorted; Clear empties it for reuse.
func TestIDSetAgainstMap(t *testing.T) {
	for _, n := range []int{1, pendingIDs - 1, pendingIDs, pendingIDs + 1, 10 * pendingIDs, 50_000} {
		t.Run(strconv.Itoa(n), func(t *testing.T) {
			r := rand.New(rand.NewPCG(uint64(n), 7))
			s, truth := newIDSet(), map[uint64]bool{}
			var seen []uint64
			for len(truth) < n {
				id := r.Uint64()
				if len(seen) > 0 && r.IntN(4) == 0 {
					id = seen[r.IntN(len(seen))] // a duplicate
				}
				if got, want := s.Add(id), !truth[id]; got != want {
					t.Fatalf("Add(%x) after %d ids = %v, want %v", id, len(truth), got, want)
				}
				truth[id] = true
				seen = append(seen, id)
			}
			if s.Len() != n {
				t.Errorf("Len = %d, want %d", s.Len(), n)
			}
			held := len(s.pending)
			for i, run := range s.runs.runs {
				held += len(run)
				for j := 1; j < len(run); j++ {
					if run[j-1] >= run[j] {
						t.Fatalf("run %d not sorted at %d", i, j)
					}
				}
				if i > 0 && len(s.runs.runs[i-1]) < 2*len(run) {
					t.Errorf("run %d of %d ids after one of %d: runs must halve", i, len(run), len(s.runs.runs[i-1]))
				}
			}
			if held != n {
				t.Errorf("runs and buffer hold %d ids, want %d", held, n)
			}
			s.Clear()
			if s.Len() != 0 || len(s.runs.runs) != 0 || !s.Add(seen[0]) {
				t.Errorf("after Clear: %d ids, %d runs", s.Len(), len(s.runs.runs))
			}
		})
	}
}

// BenchmarkIDSetMemory adds a million random keys and reports the
// resident memory they take per key (the runs are outside the Go heap,
// so it reads the process's RSS) and the cost of an Add.
func BenchmarkIDSetMemory(b *testing.B) {
	const n = 1_000_000
	r := rand.New(rand.NewPCG(1, 2))
	ids := make([]uint64, n)
	for i := range ids {
		ids[i] = r.Uint64()
	}
	b.ResetTimer()
	for b.Loop() {
		runtime.GC()
		before := rssBytes(b)
		s := newIDSet()
		for _, id := range ids {
			s.Add(id)
		}
		runtime.GC()
		b.ReportMetric(float64(rssBytes(b)-before)/n, "RSS-bytes/id")
		runtime.KeepAlive(s)
		s.Clear()
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*n), "ns/add")
}

func rssBytes(b *testing.B) int64 {
	raw, err := os.ReadFile("/proc/self/statm")
	if err != nil {
		b.Skip("no /proc/self/statm:", err)
	}
	f := strings.Fields(string(raw))
	pages, _ := strconv.ParseInt(f[1], 10, 64)
	return pages * int64(os.Getpagesize())
}
