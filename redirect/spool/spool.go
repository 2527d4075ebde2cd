// Package spool is the click service's durable fallback: an append-only,
// fsynced log of messages that could not be handed to Pub/Sub in time.
//
// A click is answered only after its message is either accepted by Pub/Sub
// or appended here and synced, so the spool is what keeps the promise that
// a redirected click is never lost. Appends are group-committed: many
// concurrent clicks share one fsync.
//
// The spool is a folder of segment files named seg-<20-digit seq>.log, each
// a sequence of records
//
//	uint32 length | uint32 CRC-32C of payload | payload
//
// (little-endian). A torn record at the end of a segment, left by a crash
// mid-write, was never acknowledged, so readers drop it. A write or sync
// that fails cuts the segment back to its last synced record before
// anything else is appended, so a record acknowledged later never sits
// behind a torn one. A bad record that is not the segment's last is
// corruption: the segment moves to the quarantine folder (never deleted;
// docs/click-service.md says how to recover it) and the others go on. The
// replayer seals the open segment, re-publishes sealed segments oldest
// first, and deletes (or rewrites, on partial failure) each one.
package spool

import (
	"bufio"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
)

// MaxRecord bounds one record; Pub/Sub's own limit is 10 MB.
const MaxRecord = 1 << 20

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// ErrClosed is returned by Append after Close.
var ErrClosed = errors.New("spool: closed")

// ErrCorrupt is wrapped by Read when a bad record is not a torn tail.
var ErrCorrupt = errors.New("spool: corrupt segment")

// QuarantineDir is the folder, inside the spool's, of corrupt segments.
const QuarantineDir = "quarantine"

// Spool is safe for concurrent use.
type Spool struct {
	dir        string
	reqs       chan appendReq
	writerDone chan struct{}
	depth      atomic.Int64

	closeMu sync.RWMutex // held shared while sending on reqs, exclusively to close it
	closed  bool

	mu      sync.Mutex // guards the fields below and segment rotation
	cur     *os.File
	curName string
	curRecs int64
	curSize int64 // bytes synced in cur: where a failed write is cut back to
	nextSeq uint64

	quarantined atomic.Int64
}

type appendReq struct {
	rec  []byte
	errc chan error
}

// Open opens (creating if needed) the spool in dir and counts the records
// already there, which the replayer will send.
func Open(dir string) (*Spool, error) {
	// Clicks carry user keys: only the service's own user reads them.
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("spool %s: %w", dir, err)
	}
	if err := os.Chmod(dir, 0o700); err != nil {
		return nil, fmt.Errorf("spool %s: %w", dir, err)
	}
	s := &Spool{dir: dir, reqs: make(chan appendReq, 1024), writerDone: make(chan struct{})}
	names, err := s.segments()
	if err != nil {
		return nil, err
	}
	for _, n := range names {
		if seq := seqOf(n); seq >= s.nextSeq {
			s.nextSeq = seq + 1
		}
		recs, err := s.Read(n)
		if errors.Is(err, ErrCorrupt) {
			if qerr := s.quarantine(n); qerr != nil {
				return nil, qerr
			}
			continue
		}
		if err != nil {
			return nil, err
		}
		s.depth.Add(int64(len(recs)))
	}
	go s.writeLoop()
	return s, nil
}

// Quarantined is how many corrupt segments this spool moved aside since
// Open (those Open found included).
func (s *Spool) Quarantined() int64 { return s.quarantined.Load() }

// Quarantine moves a corrupt segment (Read said ErrCorrupt) out of the
// replay into QuarantineDir, keeping it for inspection, and recounts the
// spool's depth without it.
func (s *Spool) Quarantine(name string) error {
	if err := s.quarantine(name); err != nil {
		return err
	}
	return s.recount()
}

func (s *Spool) quarantine(name string) error {
	q := filepath.Join(s.dir, QuarantineDir)
	if err := os.MkdirAll(q, 0o700); err != nil {
		return fmt.Errorf("spool quarantine %s: %w", name, err)
	}
	if err := os.Rename(filepath.Join(s.dir, name), filepath.Join(q, name)); err != nil {
		return fmt.Errorf("spool quarantine %s: %w", name, err)
	}
	s.quarantined.Add(1)
	return syncDir(s.dir)
}

// recount sets the depth from the segments on disk.
func (s *Spool) recount() error {
	names, err := s.segments()
	if err != nil {
		return err
	}
	var n int64
	for _, name := range names {
		recs, _ := s.Read(name)
		n += int64(len(recs))
	}
	s.mu.Lock()
	if s.cur != nil {
		n += s.curRecs
	}
	s.mu.Unlock()
	s.depth.Store(n)
	return nil
}

// Dir is the spool's folder.
func (s *Spool) Dir() string { return s.dir }

// Depth is the number of records waiting to be replayed.
func (s *Spool) Depth() int64 { return s.depth.Load() }

// Append writes rec durably: it returns nil only after rec is on disk and
// fsynced. ctx bounds the wait, but a record already queued may still be
// written after ctx ends (it is then replayed like any other).
func (s *Spool) Append(ctx context.Context, rec []byte) error {
	if len(rec) > MaxRecord {
		return fmt.Errorf("spool: record of %d bytes exceeds %d", len(rec), MaxRecord)
	}
	req := appendReq{rec: rec, errc: make(chan error, 1)}
	s.closeMu.RLock()
	if s.closed {
		s.closeMu.RUnlock()
		return ErrClosed
	}
	select {
	case s.reqs <- req:
		s.closeMu.RUnlock()
	case <-ctx.Done():
		s.closeMu.RUnlock()
		return fmt.Errorf("spool append: %w", ctx.Err())
	}
	select {
	case err := <-req.errc:
		return err
	case <-ctx.Done():
		return fmt.Errorf("spool append: %w", ctx.Err())
	}
}

// writeLoop is the single writer: it drains every queued request, writes
// them in one go, syncs once and answers them all.
func (s *Spool) writeLoop() {
	defer close(s.writerDone)
	var batch []appendReq
	for {
		req, ok := <-s.reqs
		if !ok {
			return
		}
		batch = append(batch[:0], req)
	drain:
		for len(batch) < 4096 {
			select {
			case r, ok := <-s.reqs:
				if !ok {
					break drain
				}
				batch = append(batch, r)
			default:
				break drain
			}
		}
		err := s.writeBatch(batch)
		for _, r := range batch {
			r.errc <- err
		}
	}
}

func (s *Spool) writeBatch(batch []appendReq) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.cur == nil {
		if err := s.openSegment(); err != nil {
			return err
		}
	}
	w := bufio.NewWriterSize(s.cur, 64<<10)
	var size int64
	for _, r := range batch {
		writeRecord(w, r.rec)
		size += 8 + int64(len(r.rec))
	}
	if err := w.Flush(); err != nil {
		return s.cutBack(fmt.Errorf("spool write %s: %w", s.curName, err))
	}
	if err := s.cur.Sync(); err != nil {
		return s.cutBack(fmt.Errorf("spool sync %s: %w", s.curName, err))
	}
	s.curSize += size
	s.curRecs += int64(len(batch))
	s.depth.Add(int64(len(batch)))
	return nil
}

// cutBack undoes a failed write (a full disk, a failed sync): the segment
// is truncated to its last synced record, so no later record lands behind
// torn bytes, where readers would never reach it. If even that fails, the
// segment is closed where it is (its torn tail is then its last record)
// and the next append starts a new one. The batch's error is returned
// either way: none of its clicks is acknowledged.
func (s *Spool) cutBack(err error) error {
	if terr := s.cur.Truncate(s.curSize); terr == nil {
		if serr := s.cur.Sync(); serr == nil {
			return err
		}
	}
	s.cur.Close()
	s.cur = nil
	return err
}

// writeRecord frames rec as length, CRC-32C, payload. Write errors stick
// in w and surface at Flush.
func writeRecord(w *bufio.Writer, rec []byte) {
	var hdr [8]byte
	binary.LittleEndian.PutUint32(hdr[0:4], uint32(len(rec)))
	binary.LittleEndian.PutUint32(hdr[4:8], crc32.Checksum(rec, castagnoli))
	w.Write(hdr[:])
	w.Write(rec)
}

func (s *Spool) openSegment() error {
	name := fmt.Sprintf("seg-%020d.log", s.nextSeq)
	f, err := os.OpenFile(filepath.Join(s.dir, name), os.O_CREATE|os.O_EXCL|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		return fmt.Errorf("spool create %s: %w", name, err)
	}
	// The new name must survive a crash too, or its synced records would.
	if err := syncDir(s.dir); err != nil {
		f.Close()
		return err
	}
	s.nextSeq++
	s.cur, s.curName, s.curRecs, s.curSize = f, name, 0, 0
	return nil
}

// Seal closes the open segment, so everything appended so far is in
// sealed segments, and returns the sealed segments oldest first.
func (s *Spool) Seal() ([]string, error) {
	s.mu.Lock()
	if s.cur != nil {
		err := s.cur.Close()
		s.cur = nil
		if err != nil {
			s.mu.Unlock()
			return nil, fmt.Errorf("spool seal %s: %w", s.curName, err)
		}
	}
	s.mu.Unlock()
	return s.segments()
}

// segments lists sealed and open segment names, oldest first.
func (s *Spool) segments() ([]string, error) {
	ents, err := os.ReadDir(s.dir)
	if err != nil {
		return nil, fmt.Errorf("spool list %s: %w", s.dir, err)
	}
	var names []string
	for _, e := range ents {
		if strings.HasPrefix(e.Name(), "seg-") && strings.HasSuffix(e.Name(), ".log") {
			names = append(names, e.Name())
		}
	}
	s.mu.Lock()
	open := s.curName
	if s.cur == nil {
		open = ""
	}
	s.mu.Unlock()
	out := names[:0]
	for _, n := range names {
		if n != open {
			out = append(out, n)
		}
	}
	sort.Strings(out)
	return out, nil
}

func seqOf(name string) uint64 {
	n, _ := strconv.ParseUint(strings.TrimSuffix(strings.TrimPrefix(name, "seg-"), ".log"), 10, 64)
	return n
}

// Read returns the intact records of a sealed segment. A torn tail (a
// record cut short by the end of the file, or a last record whose
// checksum fails: a crash mid-write) ends the segment; it was never
// acknowledged to a client. Any other bad record is corruption: Read
// returns the records before it and an error wrapping ErrCorrupt that
// gives its offset.
func (s *Spool) Read(name string) ([][]byte, error) {
	f, err := os.Open(filepath.Join(s.dir, name))
	if err != nil {
		return nil, fmt.Errorf("spool read %s: %w", name, err)
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return nil, fmt.Errorf("spool read %s: %w", name, err)
	}
	r := bufio.NewReader(f)
	var recs [][]byte
	var hdr [8]byte
	var off int64
	corrupt := func(why string) ([][]byte, error) {
		return recs, fmt.Errorf("%w: %s: %s at offset %d (%d intact records before it)", ErrCorrupt, name, why, off, len(recs))
	}
	for {
		if _, err := io.ReadFull(r, hdr[:]); err != nil {
			return recs, nil // clean end, or a torn header
		}
		n := int64(binary.LittleEndian.Uint32(hdr[0:4]))
		if n > MaxRecord {
			return corrupt(fmt.Sprintf("record length %d over %d", n, MaxRecord))
		}
		rec := make([]byte, n)
		if _, err := io.ReadFull(r, rec); err != nil {
			return recs, nil // torn payload: the file ends inside it
		}
		if crc32.Checksum(rec, castagnoli) != binary.LittleEndian.Uint32(hdr[4:8]) {
			if off+8+n == st.Size() {
				return recs, nil // the last record, torn
			}
			return corrupt("checksum mismatch")
		}
		recs = append(recs, rec)
		off += 8 + n
	}
}

// Done records the outcome of replaying a sealed segment that held total
// records: the segment is removed, or, when some records must be kept,
// atomically replaced by a segment holding only those.
func (s *Spool) Done(name string, total int, keep [][]byte) error {
	path := filepath.Join(s.dir, name)
	if len(keep) == 0 {
		if err := os.Remove(path); err != nil {
			return fmt.Errorf("spool remove %s: %w", name, err)
		}
	} else {
		tmp := path + ".tmp"
		if err := writeSegment(tmp, keep); err != nil {
			return err
		}
		if err := os.Rename(tmp, path); err != nil {
			return fmt.Errorf("spool replace %s: %w", name, err)
		}
	}
	s.depth.Add(-int64(total - len(keep)))
	return syncDir(s.dir)
}

func writeSegment(path string, recs [][]byte) error {
	f, err := os.OpenFile(path, os.O_CREATE|os.O_TRUNC|os.O_WRONLY, 0o600)
	if err != nil {
		return fmt.Errorf("spool rewrite %s: %w", path, err)
	}
	w := bufio.NewWriter(f)
	for _, rec := range recs {
		writeRecord(w, rec)
	}
	err = w.Flush()
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("spool rewrite %s: %w", path, err)
	}
	return nil
}

func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return fmt.Errorf("spool sync dir %s: %w", dir, err)
	}
	defer d.Close()
	if err := d.Sync(); err != nil {
		return fmt.Errorf("spool sync dir %s: %w", dir, err)
	}
	return nil
}

// Close stops accepting appends, finishes the queued ones and closes the
// open segment. Records stay on disk for the next Open.
func (s *Spool) Close() error {
	s.closeMu.Lock()
	if s.closed {
		s.closeMu.Unlock()
		return nil
	}
	s.closed = true
	close(s.reqs) // the writer answers what is queued, then exits
	s.closeMu.Unlock()
	<-s.writerDone
	_, err := s.Seal()
	return err
}
