package speed

import (
	"context"
	"crypto/rand"
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"time"

	"github.com/apache/beam/sdks/v2/go/pkg/beam"
	"github.com/apache/beam/sdks/v2/go/pkg/beam/core/graph/mtime"
	"github.com/apache/beam/sdks/v2/go/pkg/beam/core/state"
	"github.com/apache/beam/sdks/v2/go/pkg/beam/core/timers"
	"github.com/apache/beam/sdks/v2/go/pkg/beam/register"

	"github.com/adclick/adclick/internal/countable"
	"github.com/adclick/adclick/pipelines/clickbatch"
)

func init() {
	register.DoFn6x1[context.Context, state.Provider, timers.Provider, string, clickbatch.Batch, func(beam.EventTime, clickbatch.Click), error](&dedupeFn{})
}

// dedupeFn passes the first click of each impression and drops the rest.
// Its state, per key (a shard of impression ids in one epoch of impression
// time), is a bag of the impressions seen, 8 bytes each (impKey), appended
// once per bundle, and a fingerprint of that set; one event-time timer per
// key forgets the whole epoch after Horizon.
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

func (fn *dedupeFn) ProcessElement(ctx context.Context, sp state.Provider, tp timers.Provider, key string, b clickbatch.Batch, emit func(beam.EventTime, clickbatch.Click)) error {
	epoch, err := dedupeKeyEpoch(key)
	if err != nil {
		return err
	}
	set, err := fn.load(ctx, sp, key, epoch)
	if err != nil {
		return err
	}
	defer set.mu.Unlock()
	// The key's first write sets its timer, the only one it needs: a
	// timer set again replaces the earlier one, but Prism keeps every
	// setting pending until it fires, Horizon later, and that grew the
	// job by 8 bytes per impression (docs/streaming.md). A failed bundle
	// loses its timer with its writes, so the retry is a first write too.
	first := set.fp.n == 0

	clickbatch.SortFirst(b.Clicks)
	added := make([]byte, 1, 1+impKeyBytes*len(b.Clicks))
	added[0] = seenTag
	for _, c := range b.Clicks {
		k := impKey(c.Impression)
		if !set.add(k) {
			outcomeCounter(countable.Duplicate).Inc(ctx, 1)
			continue
		}
		added = binary.BigEndian.AppendUint64(added, k)
		clicksFirst.Inc(ctx, 1)
		emit(mtime.Time(c.ClickTimeMs), c)
	}
	if len(added) == 1 {
		return nil
	}
	if err := fn.Seen.Add(sp, added); err != nil {
		return fmt.Errorf("dedupe %s: append %d impressions: %w", key, len(added)/impKeyBytes, err)
	}
	if err := fn.Fingerprint.Write(sp, set.fp.bytes()); err != nil {
		return fmt.Errorf("dedupe %s: write fingerprint: %w", key, err)
	}
	if first {
		// No output timestamp: the timer only clears state, and a timer
		// that held the watermark would delay every window by Horizon.
		fn.Forget.Set(tp, epoch.Add(Epoch+Horizon), timers.WithNoOutputTimestamp())
	}
	return nil
}

// load returns the key's set of seen impressions, locked, rebuilt from
// state unless the cached one matches the fingerprint in state.
func (fn *dedupeFn) load(ctx context.Context, sp state.Provider, key string, epoch time.Time) (*seenSet, error) {
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
		if err := eachSeen(chunk, set.add); err != nil {
			set.mu.Unlock()
			return nil, fmt.Errorf("dedupe %s: %w", key, err)
		}
	}
	if set.fp != want {
		set.mu.Unlock()
		return nil, fmt.Errorf("dedupe %s: state holds %d impressions (sum %x) but its fingerprint says %d (sum %x)", key, set.fp.n, set.fp.sum, want.n, want.sum)
	}
	rebuilds.Inc(ctx, 1)
	return set, nil
}

func (fn *dedupeFn) OnTimer(ctx context.Context, sp state.Provider, tp timers.Provider, key string, _ timers.Context, _ func(beam.EventTime, clickbatch.Click)) error {
	fn.cache.drop(key)
	keysForgotten.Inc(ctx, 1)
	if err := fn.Seen.Clear(sp); err != nil {
		return fmt.Errorf("dedupe %s: forget seen impressions: %w", key, err)
	}
	if err := fn.Fingerprint.Clear(sp); err != nil {
		return fmt.Errorf("dedupe %s: forget fingerprint: %w", key, err)
	}
	return nil
}

// impKey is what dedupe remembers of an impression: the first 8 bytes of
// its id. Two impressions of one key are told apart unless their ids
// share those 64 bits, of which the key's shard fixes a few: a new
// impression is taken for a seen one with probability about E / 2^64,
// E the impressions of its epoch (6 M in 10 minutes at 10k clicks/s:
// 3 x 10^-13 a click, one valid click every ten years or so at the
// design scale). Ids are random 128-bit values the click service mints
// and signs into the token, so no one can aim for a collision; and the
// speed layer is provisional: the nightly compares whole ids and counts
// such a click. Half the bytes of a whole id, in state and in the cache
// (docs/streaming.md, "Early panes and dedupe memory").
func impKey(id countable.ID) uint64 { return binary.BigEndian.Uint64(id[:impKeyBytes]) }

const impKeyBytes = 8

// seenTag starts every chunk of the seen bag, followed by impression keys.
// Chunks written before keys were 8 bytes hold whole 16-byte ids, a length
// that is a multiple of 16, which a tagged chunk never has; a rebuild
// reads both (their keys and the fingerprint's sum are the same first 8
// bytes), so a running job's state survives an update to this form.
const seenTag = 0x08

// eachSeen calls add with every impression key of a chunk of the bag.
func eachSeen(chunk []byte, add func(uint64) bool) error {
	const idBytes = len(countable.ID{})
	switch {
	case len(chunk)%impKeyBytes == 1 && chunk[0] == seenTag:
		for i := 1; i < len(chunk); i += impKeyBytes {
			add(binary.BigEndian.Uint64(chunk[i:]))
		}
	case len(chunk)%idBytes == 0:
		for i := 0; i < len(chunk); i += idBytes {
			add(impKey(countable.ID(chunk[i : i+idBytes])))
		}
	default:
		return fmt.Errorf("seen impressions: a chunk of %d bytes is neither tagged keys nor whole ids", len(chunk))
	}
	return nil
}

var (
	rebuilds      = beam.NewCounter("adclick", "dedupe_rebuilds")
	keysForgotten = beam.NewCounter("adclick", "dedupe_keys_forgotten")
)
