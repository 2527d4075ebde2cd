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
// mid-write, was never acknowledged, so readers drop it. The replayer seals
// the open segment, re-publishes sealed segments oldest first, and deletes
// (or rewrites, on partial failure) each one.
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
	nextSeq uint64
}

type appendReq struct {
	rec  []byte
	errc chan error
}

// Open opens (creating if needed) the spool in dir and counts the records
// already there, which the replayer will send.
func Open(dir string) (*Spool, error) {
	if err := os.MkdirAll(dir, 0o750); err != nil {
		return nil, fmt.Errorf("spool %s: %w", dir, err)
	}
	s := &Spool{dir: dir, reqs: make(chan appendReq, 1024), writerDone: make(chan struct{})}
	names, err := s.segments()
	if err != nil {
		return nil, err
	}
	for _, n := range names {
		recs, err := s.Read(n)
		if err != nil {
			return nil, err
		}
		s.depth.Add(int64(len(recs)))
		if seq := seqOf(n); seq >= s.nextSeq {
			s.nextSeq = seq + 1
		}
	}
	go s.writeLoop()
	return s, nil
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
	for _, r := range batch {
		writeRecord(w, r.rec)
	}
	if err := w.Flush(); err != nil {
		return fmt.Errorf("spool write %s: %w", s.curName, err)
	}
	if err := s.cur.Sync(); err != nil {
		return fmt.Errorf("spool sync %s: %w", s.curName, err)
	}
	s.curRecs += int64(len(batch))
	s.depth.Add(int64(len(batch)))
	return nil
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
	f, err := os.OpenFile(filepath.Join(s.dir, name), os.O_CREATE|os.O_EXCL|os.O_WRONLY|os.O_APPEND, 0o640)
	if err != nil {
		return fmt.Errorf("spool create %s: %w", name, err)
	}
	// The new name must survive a crash too, or its synced records would.
	if err := syncDir(s.dir); err != nil {
		f.Close()
		return err
	}
	s.nextSeq++
	s.cur, s.curName, s.curRecs = f, name, 0
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

// Read returns the intact records of a sealed segment. A torn or corrupt
// tail ends the segment; it was never acknowledged to a client.
func (s *Spool) Read(name string) ([][]byte, error) {
	f, err := os.Open(filepath.Join(s.dir, name))
	if err != nil {
		return nil, fmt.Errorf("spool read %s: %w", name, err)
	}
	defer f.Close()
	r := bufio.NewReader(f)
	var recs [][]byte
	var hdr [8]byte
	for {
		if _, err := io.ReadFull(r, hdr[:]); err != nil {
			return recs, nil // clean end, or a torn header
		}
		n := binary.LittleEndian.Uint32(hdr[0:4])
		if n > MaxRecord {
			return recs, nil
		}
		rec := make([]byte, n)
		if _, err := io.ReadFull(r, rec); err != nil {
			return recs, nil
		}
		if crc32.Checksum(rec, castagnoli) != binary.LittleEndian.Uint32(hdr[4:8]) {
			return recs, nil
		}
		recs = append(recs, rec)
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
	f, err := os.OpenFile(path, os.O_CREATE|os.O_TRUNC|os.O_WRONLY, 0o640)
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
