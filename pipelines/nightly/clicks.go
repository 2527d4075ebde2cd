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
	Impression   speed.Impression
	ClickID      string
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

func encodeBatch(b ClickBatch) []byte {
	n := binary.MaxVarintLen64
	for i := range b.Clicks {
		c := &b.Clicks[i]
		n += 16 + 1 + 4*binary.MaxVarintLen64 + len(c.ClickID) + len(c.AdID) + len(c.AdvertiserID)
	}
	for _, a := range b.Advertisers {
		n += binary.MaxVarintLen64 + len(a)
	}
	buf := binary.AppendUvarint(make([]byte, 0, n), uint64(len(b.Advertisers)))
	for _, a := range b.Advertisers {
		buf = binary.AppendUvarint(buf, uint64(len(a)))
		buf = append(buf, a...)
	}
	buf = binary.AppendUvarint(buf, uint64(len(b.Clicks)))
	for i := range b.Clicks {
		c := &b.Clicks[i]
		buf = append(buf, c.Impression[:]...)
		buf = append(buf, byte(c.Class))
		buf = binary.AppendVarint(buf, c.ClickTimeMs)
		for _, s := range [...]string{c.ClickID, c.AdID, c.AdvertiserID} {
			buf = binary.AppendUvarint(buf, uint64(len(s)))
			buf = append(buf, s...)
		}
	}
	return buf
}

func decodeBatch(buf []byte) (ClickBatch, error) {
	var b ClickBatch
	str := func() (string, bool) {
		l, k := binary.Uvarint(buf)
		if k <= 0 || l > uint64(len(buf)-k) {
			return "", false
		}
		s := string(buf[k : k+int(l)])
		buf = buf[k+int(l):]
		return s, true
	}
	count := func() (uint64, bool) {
		n, k := binary.Uvarint(buf)
		if k <= 0 || n > uint64(len(buf)) {
			return 0, false
		}
		buf = buf[k:]
		return n, true
	}
	na, ok := count()
	if !ok {
		return ClickBatch{}, fmt.Errorf("decode click batch: bad advertiser count")
	}
	for range na {
		a, ok := str()
		if !ok {
			return ClickBatch{}, fmt.Errorf("decode click batch: truncated advertiser")
		}
		b.Advertisers = append(b.Advertisers, a)
	}
	n, ok := count()
	if !ok {
		return ClickBatch{}, fmt.Errorf("decode click batch: bad click count")
	}
	b.Clicks = make([]Click, n)
	for i := range b.Clicks {
		c := &b.Clicks[i]
		if len(buf) < 17 {
			return ClickBatch{}, fmt.Errorf("decode click batch: truncated at click %d", i)
		}
		copy(c.Impression[:], buf)
		c.Class = Class(buf[16])
		buf = buf[17:]
		var k int
		c.ClickTimeMs, k = binary.Varint(buf)
		if k <= 0 {
			return ClickBatch{}, fmt.Errorf("decode click batch: truncated at click %d", i)
		}
		buf = buf[k:]
		var ok1, ok2, ok3 bool
		c.ClickID, ok1 = str()
		c.AdID, ok2 = str()
		c.AdvertiserID, ok3 = str()
		if !ok1 || !ok2 || !ok3 {
			return ClickBatch{}, fmt.Errorf("decode click batch: truncated at click %d", i)
		}
	}
	return b, nil
}
