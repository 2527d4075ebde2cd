package spool

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"testing"
)

func TestAppendSealReadDone(t *testing.T) {
	dir := t.TempDir()
	s, err := Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	var wg sync.WaitGroup
	for i := range 100 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := s.Append(ctx, fmt.Appendf(nil, "rec-%03d", i)); err != nil {
				t.Error(err)
			}
		}()
	}
	wg.Wait()
	if s.Depth() != 100 {
		t.Fatalf("Depth = %d, want 100", s.Depth())
	}
	segs, err := s.Seal()
	if err != nil || len(segs) != 1 {
		t.Fatalf("Seal = %v, %v", segs, err)
	}
	recs, err := s.Read(segs[0])
	if err != nil || len(recs) != 100 {
		t.Fatalf("Read = %d records, %v", len(recs), err)
	}
	seen := map[string]bool{}
	for _, r := range recs {
		seen[string(r)] = true
	}
	if len(seen) != 100 {
		t.Errorf("records not distinct: %d", len(seen))
	}
	// Appends after a seal go to a new segment.
	s.Append(ctx, []byte("late"))
	if err := s.Done(segs[0], len(recs), recs[:2]); err != nil {
		t.Fatal(err)
	}
	if s.Depth() != 3 {
		t.Errorf("Depth after partial replay = %d, want 3", s.Depth())
	}
	kept, _ := s.Read(segs[0])
	if len(kept) != 2 {
		t.Errorf("kept %d records, want 2", len(kept))
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if err := s.Append(ctx, []byte("x")); err != ErrClosed {
		t.Errorf("Append after Close = %v", err)
	}
}

func TestReopenCountsAndTornTail(t *testing.T) {
	dir := t.TempDir()
	s, _ := Open(dir)
	ctx := context.Background()
	for i := range 5 {
		s.Append(ctx, fmt.Appendf(nil, "r%d", i))
	}
	s.Close()
	segs, _ := filepath.Glob(filepath.Join(dir, "seg-*.log"))
	if len(segs) != 1 {
		t.Fatalf("segments = %v", segs)
	}
	// A crash mid-write leaves a torn record: a header promising more bytes.
	f, _ := os.OpenFile(segs[0], os.O_APPEND|os.O_WRONLY, 0)
	f.Write([]byte{50, 0, 0, 0, 1, 2, 3, 4, 'x'})
	f.Close()

	s2, err := Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer s2.Close()
	if s2.Depth() != 5 {
		t.Errorf("Depth after reopen = %d, want 5", s2.Depth())
	}
	s2.Append(ctx, []byte("new"))
	names, _ := s2.Seal()
	if len(names) != 2 || names[0] >= names[1] {
		t.Errorf("segments after reopen = %v, want old then new", names)
	}
}

func TestAppendRejectsHugeRecord(t *testing.T) {
	s, _ := Open(t.TempDir())
	defer s.Close()
	if err := s.Append(context.Background(), make([]byte, MaxRecord+1)); err == nil {
		t.Error("accepted an oversized record")
	}
}

func BenchmarkAppendParallel(b *testing.B) {
	s, _ := Open(b.TempDir())
	defer s.Close()
	rec := make([]byte, 400)
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if err := s.Append(context.Background(), rec); err != nil {
				b.Error(err)
			}
		}
	})
}
