package spool

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"syscall"
	"testing"
)

// TestWriteFailureCutsBack: a batch whose write fails part-way (the file
// size limit, as a full disk would) is refused, and the next append,
// which succeeds, is readable after it: the torn bytes were cut away.
// Before, the later record sat behind the torn one and was lost. The
// limit applies to a whole process, so the spool runs in a child.
func TestWriteFailureCutsBack(t *testing.T) {
	if dir := os.Getenv("SPOOL_FSIZE_CHILD"); dir != "" {
		fsizeChild(dir)
		return
	}
	dir := t.TempDir()
	cmd := exec.Command(os.Args[0], "-test.run=^TestWriteFailureCutsBack$")
	cmd.Env = append(os.Environ(), "SPOOL_FSIZE_CHILD="+dir)
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("child: %v\n%s", err, out)
	}
	if !bytes.Contains(out, []byte("big append refused")) {
		t.Fatalf("the child's big append was not refused:\n%s", out)
	}
	s, err := Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if s.Depth() != 11 {
		t.Errorf("depth after reopening = %d, want the 11 acknowledged records", s.Depth())
	}
	segs, err := s.Seal()
	if err != nil || len(segs) != 1 {
		t.Fatalf("segments %v, %v", segs, err)
	}
	recs, err := s.Read(segs[0])
	if err != nil || len(recs) != 11 || string(recs[10]) != "after the failure" {
		t.Fatalf("read %d records (%v), want 11 ending with the one acknowledged after the failure", len(recs), err)
	}
}

func fsizeChild(dir string) {
	signal.Ignore(syscall.SIGXFSZ) // a write past the limit then fails with EFBIG
	if err := syscall.Setrlimit(syscall.RLIMIT_FSIZE, &syscall.Rlimit{Cur: 4096, Max: 4096}); err != nil {
		fmt.Println("setrlimit:", err)
		os.Exit(1)
	}
	s, err := Open(dir)
	if err != nil {
		fmt.Println("open:", err)
		os.Exit(1)
	}
	ctx := context.Background()
	for i := range 10 {
		if err := s.Append(ctx, bytes.Repeat([]byte{byte('a' + i)}, 100)); err != nil {
			fmt.Println("small append:", err)
			os.Exit(1)
		}
	}
	if err := s.Append(ctx, bytes.Repeat([]byte("x"), 3500)); err != nil {
		fmt.Println("big append refused:", err)
	}
	if err := s.Append(ctx, []byte("after the failure")); err != nil {
		fmt.Println("append after the failure:", err)
		os.Exit(1)
	}
	if err := s.Close(); err != nil {
		fmt.Println("close:", err)
		os.Exit(1)
	}
	os.Exit(0)
}

// TestCorruptSegmentIsQuarantined: a flipped byte in the first record of
// a segment is corruption, not a torn tail: Open moves the segment to the
// quarantine folder (kept, not deleted), counts it, and opens the rest.
func TestCorruptSegmentIsQuarantined(t *testing.T) {
	dir := t.TempDir()
	s, err := Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	for i := range 5 {
		if err := s.Append(context.Background(), fmt.Appendf(nil, "record-%d", i)); err != nil {
			t.Fatal(err)
		}
	}
	segs, _ := s.Seal()
	s.Close()
	if err := os.WriteFile(filepath.Join(dir, "seg-99999999999999999999.log"), nil, 0o600); err != nil {
		t.Fatal(err) // an empty, healthy segment beside it
	}
	path := filepath.Join(dir, segs[0])
	data, _ := os.ReadFile(path)
	data[8] ^= 0x01 // first payload byte
	if err := os.WriteFile(path, data, 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Read(segs[0]); !errors.Is(err, ErrCorrupt) {
		t.Fatalf("Read of a segment corrupt in its first record: %v, want ErrCorrupt", err)
	}

	s2, err := Open(dir)
	if err != nil {
		t.Fatalf("Open with a corrupt segment: %v", err)
	}
	defer s2.Close()
	if s2.Quarantined() != 1 || s2.Depth() != 0 {
		t.Errorf("quarantined %d, depth %d; want 1 and 0", s2.Quarantined(), s2.Depth())
	}
	if kept, err := os.ReadFile(filepath.Join(dir, QuarantineDir, segs[0])); err != nil || !bytes.Equal(kept, data) {
		t.Errorf("the corrupt segment is not kept whole in quarantine: %v", err)
	}
	if _, err := os.Stat(path); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("the corrupt segment is still replayable: %v", err)
	}
}

// TestTornLastRecordIsNotCorruption: a last record whose checksum fails
// (a crash mid-write) ends the segment quietly; it was never acknowledged.
func TestTornLastRecordIsNotCorruption(t *testing.T) {
	dir := t.TempDir()
	s, err := Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	for i := range 3 {
		s.Append(context.Background(), fmt.Appendf(nil, "record-%d", i))
	}
	segs, _ := s.Seal()
	s.Close()
	path := filepath.Join(dir, segs[0])
	data, _ := os.ReadFile(path)
	data[len(data)-1] ^= 0xff
	os.WriteFile(path, data, 0o600)
	recs, err := s.Read(segs[0])
	if err != nil || len(recs) != 2 {
		t.Errorf("Read = %d records, %v; want the 2 before the torn tail and no error", len(recs), err)
	}
}

// TestSpoolIsPrivate: clicks carry user keys; only the service's user
// may read the spool.
func TestSpoolIsPrivate(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "spool")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	s, err := Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	s.Append(context.Background(), []byte("r"))
	segs, _ := s.Seal()
	for path, want := range map[string]os.FileMode{dir: 0o700, filepath.Join(dir, segs[0]): 0o600} {
		st, err := os.Stat(path)
		if err != nil || st.Mode().Perm() != want {
			t.Errorf("%s: mode %v (%v), want %v", path, st.Mode().Perm(), err, want)
		}
	}
}
