package nightly

import (
	"encoding/binary"
	"fmt"
	"reflect"

	"github.com/apache/beam/sdks/v2/go/pkg/beam"

	"github.com/adclick/adclick/internal/countable"
	"github.com/adclick/adclick/pipelines/speed"
)

// Class is what countable.Classify said of a click, before dedupe.
type Class byte

const (
	ClassCounted Class = iota // countable unless a duplicate
	ClassExpired
	ClassBot
	ClassInvalid
)

func classOf(o countable.Outcome) Class {
	switch o {
	case countable.Expired:
		return ClassExpired
	case countable.Bot:
		return ClassBot
	case countable.Invalid:
		return ClassInvalid
	}
	return ClassCounted
}

// Outcome is the class as a countable outcome.
func (c Class) Outcome() countable.Outcome {
	return [...]countable.Outcome{countable.Counted, countable.Expired, countable.Bot, countable.Invalid}[c]
}

// Click is what the batch keeps of a raw click for dedupe and counting.
type Click struct {
	Impression speed.Impression
	// ClickID is the click id's 16 bytes (speed.ParseImpression's form).
	ClickID      speed.Impression
	AdID         string
	AdvertiserID string
	ClickTimeMs  int64
	Class        Class
}

// ClickBatch is one file's clicks of one advertiser shard: batches, not
// clicks, cross the shuffle. Advertisers names advertisers the speed layer
// counted in the run's days, so their shard settles them even when the
// archive holds no countable click of theirs.
type ClickBatch struct {
	Clicks      []Click
	Advertisers []string
}

func init() {
	t := reflect.TypeOf((*ClickBatch)(nil)).Elem()
	beam.RegisterType(t)
	beam.RegisterCoder(t, encodeBatch, decodeBatch)
}

// encodeBatch is the batch's wire form, compact because every click
// crosses the shuffle once: the advertisers list, a table of the distinct
// ad and advertiser ids, then per click its impression and click id (16
// bytes each), class, click time as a delta from the batch's first, and
// the table indexes of its ad and advertiser.
func encodeBatch(b ClickBatch) []byte {
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
	refs := make([][2]uint64, len(b.Clicks))
	for i := range b.Clicks {
		refs[i] = [2]uint64{ref(b.Clicks[i].AdID), ref(b.Clicks[i].AdvertiserID)}
	}
	n := 3 * binary.MaxVarintLen64
	for _, s := range append(table, b.Advertisers...) {
		n += binary.MaxVarintLen64 + len(s)
	}
	n += len(b.Clicks) * (16 + 16 + 1 + 3*binary.MaxVarintLen64)
	buf := make([]byte, 0, n)
	appendStrings := func(ss []string) {
		buf = binary.AppendUvarint(buf, uint64(len(ss)))
		for _, s := range ss {
			buf = binary.AppendUvarint(buf, uint64(len(s)))
			buf = append(buf, s...)
		}
	}
	appendStrings(b.Advertisers)
	appendStrings(table)
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
		buf = append(buf, byte(c.Class))
		buf = binary.AppendVarint(buf, c.ClickTimeMs-base)
		buf = binary.AppendUvarint(buf, refs[i][0])
		buf = binary.AppendUvarint(buf, refs[i][1])
	}
	return buf
}

var errTruncated = fmt.Errorf("decode click batch: truncated")

func decodeBatch(buf []byte) (ClickBatch, error) {
	uvarint := func() (uint64, error) {
		v, k := binary.Uvarint(buf)
		if k <= 0 {
			return 0, errTruncated
		}
		buf = buf[k:]
		return v, nil
	}
	strs := func() ([]string, error) {
		n, err := uvarint()
		if err != nil || n > uint64(len(buf)) {
			return nil, errTruncated
		}
		out := make([]string, n)
		for i := range out {
			l, err := uvarint()
			if err != nil || l > uint64(len(buf)) {
				return nil, errTruncated
			}
			out[i], buf = string(buf[:l]), buf[l:]
		}
		return out, nil
	}
	var b ClickBatch
	var err error
	if b.Advertisers, err = strs(); err != nil {
		return ClickBatch{}, err
	}
	if len(b.Advertisers) == 0 {
		b.Advertisers = nil
	}
	table, err := strs()
	if err != nil {
		return ClickBatch{}, err
	}
	n, err := uvarint()
	if err != nil || n > uint64(len(buf)) {
		return ClickBatch{}, errTruncated
	}
	base, k := binary.Varint(buf)
	if k <= 0 {
		return ClickBatch{}, errTruncated
	}
	buf = buf[k:]
	b.Clicks = make([]Click, n)
	for i := range b.Clicks {
		c := &b.Clicks[i]
		if len(buf) < 33 {
			return ClickBatch{}, errTruncated
		}
		copy(c.Impression[:], buf)
		copy(c.ClickID[:], buf[16:])
		c.Class = Class(buf[32])
		buf = buf[33:]
		d, k := binary.Varint(buf)
		if k <= 0 {
			return ClickBatch{}, errTruncated
		}
		buf = buf[k:]
		c.ClickTimeMs = base + d
		ad, err1 := uvarint()
		adv, err2 := uvarint()
		if err1 != nil || err2 != nil || ad >= uint64(len(table)) || adv >= uint64(len(table)) {
			return ClickBatch{}, errTruncated
		}
		c.AdID, c.AdvertiserID = table[ad], table[adv]
	}
	return b, nil
}
