// Package clickbatch is the click as both pipelines carry it across their
// shuffles (the streaming job's dedupe, the nightly's ad shards),
// and the batch of clicks that crosses instead of single clicks, with the
// one coder that puts a batch on the wire.
//
// A batch, not a click, is the shuffle's element, so a shuffle's cost
// grows with bundles and keys, not with clicks.
package clickbatch

import (
	"encoding/binary"
	"fmt"
	"reflect"
	"slices"

	"github.com/apache/beam/sdks/v2/go/pkg/beam"

	"github.com/adclick/adclick/internal/clickevent"
	"github.com/adclick/adclick/internal/countable"
)

// Class is what countable.Classify said of a click, before dedupe, in a
// byte.
type Class byte

const (
	ClassCounted Class = iota // countable unless a duplicate
	ClassExpired
	ClassBot
	ClassInvalid
	ClassDatacenter
	ClassTooFast
	numClasses
)

var classOutcomes = [numClasses]countable.Outcome{countable.Counted, countable.Expired, countable.Bot, countable.Invalid,
	countable.InvalidDatacenter, countable.InvalidTooFast}

// ClassOf is the class of an outcome of Classify.
func ClassOf(o countable.Outcome) Class {
	for c, out := range classOutcomes {
		if out == o {
			return Class(c)
		}
	}
	return ClassInvalid
}

// Outcome is the class as a countable outcome.
func (c Class) Outcome() countable.Outcome {
	if c >= numClasses {
		return countable.Invalid
	}
	return classOutcomes[c]
}

// Click is what the pipelines keep of a click event for dedupe and
// counting.
type Click struct {
	Impression countable.ID
	countable.Rank
	AdID         string
	AdvertiserID string
	// CampaignID is the campaign the click service recorded with the
	// click (the ad's campaign then, not the catalog's today); may be empty.
	CampaignID string
	// PlacementID is where the ad was shown, signed into the token; free
	// text from the ad server, may be empty.
	PlacementID string
	// UserKey is the click's keyed user hash, for the burst rule, in its
	// 16 bytes (countable.ParseID): the zero ID where it is not needed
	// (the speed layer), which costs nothing on the wire.
	UserKey countable.ID
	Class   Class
}

// FromEvent is the click of a parsed event, classified under rules.
func FromEvent(e *clickevent.Event, rules countable.Rules) Click {
	return Click{
		Impression: countable.ParseID(e.ImpressionID), Rank: countable.RankOf(e),
		AdID: e.AdID, AdvertiserID: e.AdvertiserID, CampaignID: e.CampaignID, PlacementID: e.PlacementID,
		UserKey: countable.ParseID(e.UserKey), Class: ClassOf(rules.Classify(e)),
	}
}

// SortFirst orders clicks by countable.Rank, so that the first click of
// each impression comes before its others.
func SortFirst(clicks []Click) {
	slices.SortFunc(clicks, func(a, b Click) int { return a.Rank.Compare(b.Rank) })
}

// Batch is clicks that share a shuffle key.
type Batch struct {
	Clicks []Click
}

func init() {
	t := reflect.TypeOf((*Batch)(nil)).Elem()
	beam.RegisterType(t)
	beam.RegisterCoder(t, Encode, Decode)
}

// clickFixed is a click's fixed-size part on the wire: impression and
// click id, and the class.
const clickFixed = 2*len(countable.ID{}) + 1

// hasUserKey marks, in the class byte, a click whose user key follows.
const hasUserKey = 0x80

// Encode is the batch's wire form, compact because every click crosses a
// shuffle: a table of the distinct ad and advertiser ids,
// the clicks' count and the first one's time, then per click its
// impression and click id, class (its high bit set when a user key
// follows), the user key's 16 bytes if any, click time as a delta from
// the first, and the table indexes of its ad, advertiser, campaign and
// placement. Hand-written, to keep reflection off the hot path.
func Encode(b Batch) []byte {
	index := map[string]uint64{}
	var table []string
	ref := func(s string) uint64 {
		i, ok := index[s]
		if !ok {
			i = uint64(len(table))
			index[s] = i
			table = append(table, s)
		}
		return i
	}
	refs := make([][4]uint64, len(b.Clicks))
	for i := range b.Clicks {
		c := &b.Clicks[i]
		refs[i] = [4]uint64{ref(c.AdID), ref(c.AdvertiserID), ref(c.CampaignID), ref(c.PlacementID)}
	}
	n := 4 * binary.MaxVarintLen64
	for _, s := range table {
		n += binary.MaxVarintLen64 + len(s)
	}
	n += len(b.Clicks) * (clickFixed + len(countable.ID{}) + 5*binary.MaxVarintLen64)
	buf := make([]byte, 0, n)
	buf = appendStrings(buf, table)
	buf = binary.AppendUvarint(buf, uint64(len(b.Clicks)))
	var base int64
	if len(b.Clicks) > 0 {
		base = b.Clicks[0].ClickTimeMs
	}
	buf = binary.AppendVarint(buf, base)
	for i := range b.Clicks {
		c := &b.Clicks[i]
		buf = append(buf, c.Impression[:]...)
		buf = append(buf, c.ClickID[:]...)
		if c.UserKey == (countable.ID{}) {
			buf = append(buf, byte(c.Class))
		} else {
			buf = append(buf, byte(c.Class)|hasUserKey)
			buf = append(buf, c.UserKey[:]...)
		}
		buf = binary.AppendVarint(buf, c.ClickTimeMs-base)
		for _, r := range refs[i] {
			buf = binary.AppendUvarint(buf, r)
		}
	}
	return buf
}

func appendStrings(buf []byte, ss []string) []byte {
	buf = binary.AppendUvarint(buf, uint64(len(ss)))
	for _, s := range ss {
		buf = binary.AppendUvarint(buf, uint64(len(s)))
		buf = append(buf, s...)
	}
	return buf
}

// Decode reads what Encode wrote; a truncated or inconsistent buffer is an
// error, never a panic or an unbounded allocation.
func Decode(buf []byte) (Batch, error) {
	r := reader{buf: buf}
	var b Batch
	table := r.strings()
	n := r.count(clickFixed + 5)
	base := r.varint()
	if r.err == nil && n > 0 {
		b.Clicks = make([]Click, n)
	}
	for i := range b.Clicks {
		c := &b.Clicks[i]
		copy(c.Impression[:], r.bytes(len(c.Impression)))
		copy(c.ClickID[:], r.bytes(len(c.ClickID)))
		class := r.byte()
		c.Class = Class(class &^ hasUserKey)
		if class&hasUserKey != 0 {
			copy(c.UserKey[:], r.bytes(len(c.UserKey)))
		}
		c.ClickTimeMs = base + r.varint()
		c.AdID, c.AdvertiserID, c.CampaignID, c.PlacementID = r.ref(table), r.ref(table), r.ref(table), r.ref(table)
		if r.err != nil {
			break
		}
	}
	if r.err == nil && len(r.buf) > 0 {
		r.err = fmt.Errorf("%d bytes after the last click", len(r.buf))
	}
	if r.err != nil {
		return Batch{}, fmt.Errorf("decode click batch: %w", r.err)
	}
	return b, nil
}

type reader struct {
	buf []byte
	err error
}

func (r *reader) fail(format string, args ...any) {
	if r.err == nil {
		r.err = fmt.Errorf(format, args...)
	}
	r.buf = nil
}

func (r *reader) uvarint() uint64 {
	v, n := binary.Uvarint(r.buf)
	if n <= 0 {
		r.fail("truncated uvarint")
		return 0
	}
	r.buf = r.buf[n:]
	return v
}

func (r *reader) varint() int64 {
	v, n := binary.Varint(r.buf)
	if n <= 0 {
		r.fail("truncated varint")
		return 0
	}
	r.buf = r.buf[n:]
	return v
}

// count reads a count of items of at least minSize bytes each, refusing
// one the rest of the buffer cannot hold.
func (r *reader) count(minSize int) int {
	n := r.uvarint()
	if n > uint64(len(r.buf)/minSize) {
		r.fail("%d items in %d bytes", n, len(r.buf))
		return 0
	}
	return int(n)
}

func (r *reader) bytes(n int) []byte {
	if n > len(r.buf) {
		r.fail("truncated: %d bytes left, want %d", len(r.buf), n)
		return nil
	}
	b := r.buf[:n]
	r.buf = r.buf[n:]
	return b
}

func (r *reader) byte() byte {
	if b := r.bytes(1); b != nil {
		return b[0]
	}
	return 0
}

func (r *reader) strings() []string {
	n := r.count(1)
	if n == 0 {
		return nil
	}
	out := make([]string, n)
	for i := range out {
		l := r.uvarint()
		if l > uint64(len(r.buf)) {
			r.fail("string of %d bytes in %d", l, len(r.buf))
			return nil
		}
		out[i] = string(r.bytes(int(l)))
	}
	return out
}

func (r *reader) ref(table []string) string {
	i := r.uvarint()
	if r.err == nil && i >= uint64(len(table)) {
		r.fail("id %d of a table of %d", i, len(table))
	}
	if r.err != nil {
		return ""
	}
	return table[i]
}
