package speed

import (
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"reflect"
	"sort"

	"github.com/apache/beam/sdks/v2/go/pkg/beam"
)

// Impression is an impression id in its 16 raw bytes, the form dedupe
// keeps in memory and in state.
type Impression [16]byte

// ParseImpression turns an impression id (32 hex digits, as the click
// service writes it) into its raw bytes. Any other spelling is hashed, so
// dedupe still works on ids it cannot decode.
func ParseImpression(id string) Impression {
	var imp Impression
	if len(id) == 2*len(imp) {
		if _, err := hex.Decode(imp[:], []byte(id)); err == nil {
			return imp
		}
	}
	sum := sha256.Sum256([]byte(id))
	copy(imp[:], sum[:])
	return imp
}

// ClickBatch is the clicks of one bundle that share a dedupe key. Batches,
// not single clicks, cross the dedupe shuffle, so its cost grows with
// bundles and shards, not with clicks.
type ClickBatch struct {
	Clicks []Click
}

func init() {
	beam.RegisterType(reflect.TypeOf((*ClickBatch)(nil)).Elem())
	beam.RegisterCoder(reflect.TypeOf((*ClickBatch)(nil)).Elem(), encodeClickBatch, decodeClickBatch)
}

// sortFirst orders clicks the way countable.First does, so that within a
// batch the earliest click of an impression is the one that counts.
func (b ClickBatch) sortFirst() {
	sort.Slice(b.Clicks, func(i, j int) bool {
		ci, cj := &b.Clicks[i], &b.Clicks[j]
		if ci.ClickTimeMs != cj.ClickTimeMs {
			return ci.ClickTimeMs < cj.ClickTimeMs
		}
		return ci.ClickID < cj.ClickID
	})
}

// encodeClickBatch is the batch's wire form: a count, then per click the
// impression bytes, the click time and three length-prefixed strings. A
// hand-written coder keeps reflection off the hot path.
func encodeClickBatch(b ClickBatch) []byte {
	n := binary.MaxVarintLen64
	for i := range b.Clicks {
		c := &b.Clicks[i]
		n += len(c.Impression) + 3*binary.MaxVarintLen64 + len(c.ClickID) + len(c.AdID) + len(c.AdvertiserID)
	}
	buf := make([]byte, 0, n)
	buf = binary.AppendUvarint(buf, uint64(len(b.Clicks)))
	for i := range b.Clicks {
		c := &b.Clicks[i]
		buf = append(buf, c.Impression[:]...)
		buf = binary.AppendVarint(buf, c.ClickTimeMs)
		for _, s := range [...]string{c.ClickID, c.AdID, c.AdvertiserID} {
			buf = binary.AppendUvarint(buf, uint64(len(s)))
			buf = append(buf, s...)
		}
	}
	return buf
}

func decodeClickBatch(buf []byte) (ClickBatch, error) {
	r := reader{buf: buf}
	n := r.uvarint()
	if r.err == nil && n > uint64(len(buf)) {
		return ClickBatch{}, fmt.Errorf("decode click batch: %d clicks in %d bytes", n, len(buf))
	}
	b := ClickBatch{Clicks: make([]Click, n)}
	for i := range b.Clicks {
		c := &b.Clicks[i]
		copy(c.Impression[:], r.bytes(len(c.Impression)))
		c.ClickTimeMs = r.varint()
		c.ClickID, c.AdID, c.AdvertiserID = r.str(), r.str(), r.str()
	}
	if r.err != nil {
		return ClickBatch{}, fmt.Errorf("decode click batch: %w", r.err)
	}
	return b, nil
}

type reader struct {
	buf []byte
	err error
}

func (r *reader) fail(what string) {
	if r.err == nil {
		r.err = fmt.Errorf("truncated %s", what)
	}
	r.buf = nil
}

func (r *reader) uvarint() uint64 {
	v, n := binary.Uvarint(r.buf)
	if n <= 0 {
		r.fail("uvarint")
		return 0
	}
	r.buf = r.buf[n:]
	return v
}

func (r *reader) varint() int64 {
	v, n := binary.Varint(r.buf)
	if n <= 0 {
		r.fail("varint")
		return 0
	}
	r.buf = r.buf[n:]
	return v
}

func (r *reader) bytes(n int) []byte {
	if n > len(r.buf) {
		r.fail("bytes")
		return nil
	}
	b := r.buf[:n]
	r.buf = r.buf[n:]
	return b
}

func (r *reader) str() string {
	n := r.uvarint()
	if n > uint64(len(r.buf)) {
		r.fail("string")
		return ""
	}
	return string(r.bytes(int(n)))
}
