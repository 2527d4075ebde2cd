package speed

import (
	"context"
	"crypto/rand"
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"sync"
	"time"

	"github.com/apache/beam/sdks/v2/go/pkg/beam"
	"github.com/apache/beam/sdks/v2/go/pkg/beam/core/graph/mtime"
	"github.com/apache/beam/sdks/v2/go/pkg/beam/core/state"
	"github.com/apache/beam/sdks/v2/go/pkg/beam/core/timers"
	"github.com/apache/beam/sdks/v2/go/pkg/beam/register"

	"github.com/adclick/adclick/internal/countable"
)

func init() {
	register.DoFn6x1[context.Context, state.Provider, timers.Provider, string, ClickBatch, func(beam.EventTime, Click), error](&dedupeFn{})
}

// dedupeFn passes the first click of each impression and drops the rest.
// Its state, per key (a shard of impression ids in one epoch of impression
// time), is a bag of the impression ids seen, 16 bytes each, appended once
// per bundle, and a fingerprint of that set; one event-time timer per key
// forgets the whole epoch after Horizon.
//
// Reading the bag for every bundle would cost the whole set each time, so
// the decoded set is cached in memory across bundles and checked against
// the fingerprint in state before use: after a failed bundle, or when the
// runner moved the key elsewhere and back, they differ and the set is
// rebuilt from the bag. State stays the truth; the cache only saves work.
type dedupeFn struct {
	// CacheID names this transform's cache in the process.
	CacheID     string
	Seen        state.Bag[[]byte]
	Fingerprint state.Value[[]byte]
	Forget      timers.EventTime

	cache *seenCache
}

func newDedupeFn() *dedupeFn {
	var id [8]byte
	rand.Read(id[:])
	return &dedupeFn{
		CacheID:     hex.EncodeToString(id[:]),
		Seen:        state.MakeBagState[[]byte]("seen"),
		Fingerprint: state.MakeValueState[[]byte]("fingerprint"),
		Forget:      timers.InEventTime("forget"),
	}
}

func (fn *dedupeFn) Setup() {
	fn.cache = cacheFor(fn.CacheID)
}

func (fn *dedupeFn) ProcessElement(ctx context.Context, sp state.Provider, tp timers.Provider, key string, b ClickBatch, emit func(beam.EventTime, Click)) error {
	epoch, err := dedupeKeyEpoch(key)
	if err != nil {
		return err
	}
	set, err := fn.load(sp, key, epoch)
	if err != nil {
		return err
	}
	defer set.mu.Unlock()

	b.sortFirst()
	var added []byte
	for _, c := range b.Clicks {
		if !set.add(c.Impression) {
			outcomeCounter(countable.Duplicate).Inc(ctx, 1)
			continue
		}
		added = append(added, c.Impression[:]...)
		outcomeCounter(countable.Counted).Inc(ctx, 1)
		emit(mtime.Time(c.ClickTimeMs), c)
	}
	if len(added) == 0 {
		return nil
	}
	if err := fn.Seen.Add(sp, added); err != nil {
		return fmt.Errorf("dedupe %s: append %d impressions: %w", key, len(added)/len(Impression{}), err)
	}
	if err := fn.Fingerprint.Write(sp, set.fp.bytes()); err != nil {
		return fmt.Errorf("dedupe %s: write fingerprint: %w", key, err)
	}
	// No output timestamp: the timer only clears state, and a timer that
	// held the watermark would delay every window by Horizon.
	fn.Forget.Set(tp, epoch.Add(Epoch+Horizon), timers.WithNoOutputTimestamp())
	return nil
}

// load returns the key's set of seen impressions, locked, rebuilt from
// state unless the cached one matches the fingerprint in state.
func (fn *dedupeFn) load(sp state.Provider, key string, epoch time.Time) (*seenSet, error) {
	raw, _, err := fn.Fingerprint.Read(sp)
	if err != nil {
		return nil, fmt.Errorf("dedupe %s: read fingerprint: %w", key, err)
	}
	want, err := parseFingerprint(raw)
	if err != nil {
		return nil, fmt.Errorf("dedupe %s: %w", key, err)
	}
	set := fn.cache.get(key, epoch)
	set.mu.Lock()
	if set.fp == want {
		return set, nil
	}
	chunks, _, err := fn.Seen.Read(sp)
	if err != nil {
		set.mu.Unlock()
		return nil, fmt.Errorf("dedupe %s: read seen impressions: %w", key, err)
	}
	set.reset()
	for _, chunk := range chunks {
		for i := 0; i+len(Impression{}) <= len(chunk); i += len(Impression{}) {
			set.add(Impression(chunk[i : i+len(Impression{})]))
		}
	}
	if set.fp != want {
		set.mu.Unlock()
		return nil, fmt.Errorf("dedupe %s: state holds %d impressions (sum %x) but its fingerprint says %d (sum %x)", key, set.fp.n, set.fp.sum, want.n, want.sum)
	}
	rebuilds.Inc(context.Background(), 1)
	return set, nil
}

func (fn *dedupeFn) OnTimer(ctx context.Context, sp state.Provider, tp timers.Provider, key string, _ timers.Context, _ func(beam.EventTime, Click)) error {
	fn.Seen.Clear(sp)
	fn.Fingerprint.Clear(sp)
	fn.cache.drop(key)
	return nil
}

var rebuilds = beam.NewCounter("adclick", "dedupe_rebuilds")

// fingerprint identifies a set of impressions: its size and the sum of
// its members' first 8 bytes. Impression ids are random, so two different
// sets of equal size share a sum with probability 2^-64.
type fingerprint struct {
	n   uint64
	sum uint64
}

func (f fingerprint) bytes() []byte {
	return binary.BigEndian.AppendUint64(binary.BigEndian.AppendUint64(make([]byte, 0, 16), f.n), f.sum)
}

func parseFingerprint(b []byte) (fingerprint, error) {
	switch len(b) {
	case 0:
		return fingerprint{}, nil
	case 16:
		return fingerprint{n: binary.BigEndian.Uint64(b), sum: binary.BigEndian.Uint64(b[8:])}, nil
	}
	return fingerprint{}, fmt.Errorf("fingerprint of %d bytes, want 16", len(b))
}

// seenSet is one key's seen impressions, as cached in memory.
type seenSet struct {
	mu    sync.Mutex
	epoch time.Time
	fp    fingerprint
	ids   map[Impression]struct{}
}

func (s *seenSet) reset() {
	s.fp = fingerprint{}
	s.ids = map[Impression]struct{}{}
}

// add records imp and reports whether it was new.
func (s *seenSet) add(imp Impression) bool {
	if _, ok := s.ids[imp]; ok {
		return false
	}
	s.ids[imp] = struct{}{}
	s.fp.n++
	s.fp.sum += binary.BigEndian.Uint64(imp[:8])
	return true
}

// seenCache holds one dedupe transform's sets in this process. It is
// shared by the transform's DoFn instances because the runner may hand a
// key to any of them from bundle to bundle.
type seenCache struct {
	mu     sync.Mutex
	sets   map[string]*seenSet
	newest time.Time
}

var caches sync.Map // CacheID → *seenCache

func cacheFor(id string) *seenCache {
	c, _ := caches.LoadOrStore(id, &seenCache{sets: map[string]*seenSet{}})
	return c.(*seenCache)
}

// get returns key's set, creating an empty one (whose zero fingerprint
// matches empty state). Sets of epochs long past Horizon, whose timers
// fired on another worker, are dropped on the way.
func (c *seenCache) get(key string, epoch time.Time) *seenSet {
	c.mu.Lock()
	defer c.mu.Unlock()
	if epoch.After(c.newest) {
		c.newest = epoch
		for k, s := range c.sets {
			if s.epoch.Add(Epoch + Horizon + Epoch).Before(c.newest) {
				delete(c.sets, k)
			}
		}
	}
	s, ok := c.sets[key]
	if !ok {
		s = &seenSet{epoch: epoch, ids: map[Impression]struct{}{}}
		c.sets[key] = s
	}
	return s
}

func (c *seenCache) drop(key string) {
	c.mu.Lock()
	delete(c.sets, key)
	c.mu.Unlock()
}
