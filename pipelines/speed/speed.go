// Package speed is the streaming pipeline's logic from raw Pub/Sub messages
// to Bigtable cells, independent of where the messages come from: Dataflow's
// Pub/Sub connector in production, the pull source on Prism locally.
//
//	Message ─Parse─▶ KV<dedupe key, ClickBatch> ─Dedupe─▶ Click ─1-min windows, triggers─▶
//	    KV<advertiser/ad, 1> ─Sum (lifted before the shuffle)─▶ per-pane deltas
//	    ─▶ global window, keyed by ad-minute ─accumulate─▶ absolute totals ─▶ WriteCounts ─▶ Bigtable
//	Parse's second output: DeadLetter (messages that are not click events)
//
// What crosses a shuffle grows with bundles, shards and ads, not with
// clicks: Parse gathers a bundle's clicks into one batch per dedupe key,
// Dedupe keeps one state per key (a shard of impression ids and a slice of
// impression time), and the per-ad sums are lifted before their shuffle.
// The windowed panes are discarding (each carries the clicks since the
// last one); a stateful step in the global window adds them into absolute
// totals per ad-minute, so every write is an absolute count and
// idempotent.
package speed

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/apache/beam/sdks/v2/go/pkg/beam"
	"github.com/apache/beam/sdks/v2/go/pkg/beam/core/graph/mtime"
	"github.com/apache/beam/sdks/v2/go/pkg/beam/core/graph/window"
	"github.com/apache/beam/sdks/v2/go/pkg/beam/core/graph/window/trigger"
	"github.com/apache/beam/sdks/v2/go/pkg/beam/core/state"
	"github.com/apache/beam/sdks/v2/go/pkg/beam/core/timers"
	"github.com/apache/beam/sdks/v2/go/pkg/beam/register"

	"github.com/adclick/adclick/internal/countable"
)

// Windowing parameters. AllowedLateness bounds how late a click may reach
// its minute in the speed layer; later ones wait for the nightly batch.
const (
	Window          = time.Minute
	EarlyFiring     = 5 * time.Second
	LateFiring      = time.Second
	AllowedLateness = 10 * time.Minute
	// Epoch is the slice of impression time that one dedupe key covers.
	Epoch = 10 * time.Minute
	// Horizon is how long, in event time after the end of its epoch, an
	// impression is remembered. Every countable click falls within
	// MaxTokenLifetime of its impression (countable rejects longer tokens),
	// and its minute can still change for Window plus AllowedLateness: a
	// duplicate later than that could not change a count anyway.
	Horizon = countable.MaxTokenLifetime + Window + AllowedLateness
	// DefaultShards is how many shards of impression ids dedupe keeps per
	// epoch: each is processed serially, so more spread the work over
	// more workers, at the cost of more, smaller batches per bundle.
	DefaultShards = 16
)

// Message is a Pub/Sub message as every source hands it over.
type Message struct {
	ID         string
	Data       []byte
	Attributes map[string]string
}

// Click is the part of a click event the counting needs: small, because it
// crosses the dedupe shuffle.
type Click struct {
	Impression   Impression
	ClickID      string
	AdID         string
	AdvertiserID string
	ClickTimeMs  int64
}

// DeadLetter is a message that is not a readable click event.
type DeadLetter struct {
	Message Message
	Reason  string
	Detail  string
}

func init() {
	register.DoFn4x0[context.Context, Message, func(beam.EventTime, string, ClickBatch), func(DeadLetter)](&parseFn{})
	register.Emitter3[beam.EventTime, string, ClickBatch]()
	register.Emitter1[DeadLetter]()
	register.Emitter2[beam.EventTime, Click]()
	register.Function2x0(keyByAd)
	register.Emitter2[string, int64]()
	register.Function2x1(sum)
	register.Function3x2(keyByMinute)
	register.DoFn5x1[state.Provider, timers.Provider, string, int64, func(MinuteCount), error](&accumulateFn{})
	register.Emitter1[MinuteCount]()
}

// parseFn parses and classifies messages and gathers the bundle's
// countable clicks into one batch per dedupe key, emitted when the bundle
// finishes. Clicks that can never count are counted in metrics by outcome
// and go no further.
type parseFn struct {
	Shards int

	batches map[string]*pendingBatch
}

type pendingBatch struct {
	batch    ClickBatch
	earliest int64 // ms: the batch's timestamp, so no click in it is earlier
}

func (fn *parseFn) StartBundle(context.Context, func(beam.EventTime, string, ClickBatch), func(DeadLetter)) {
	fn.batches = map[string]*pendingBatch{}
}

// Metrics need the bundle's context: with any other they are dropped.
func (fn *parseFn) ProcessElement(ctx context.Context, m Message, _ func(beam.EventTime, string, ClickBatch), dead func(DeadLetter)) {
	ev, err := countable.Parse(m.Data)
	if err != nil {
		deadLetters.Inc(ctx, 1)
		dead(DeadLetter{Message: m, Reason: countable.DeadLetterReason(err), Detail: err.Error()})
		return
	}
	if o := countable.Classify(&ev); o != countable.Counted {
		outcomeCounter(o).Inc(ctx, 1)
		return
	}
	c := Click{Impression: ParseImpression(ev.ImpressionID), ClickID: ev.ClickID, AdID: ev.AdID, AdvertiserID: ev.AdvertiserID, ClickTimeMs: ev.ClickTime.UnixMilli()}
	key := DedupeKey(c.Impression, ev.ImpressionTime, fn.Shards)
	pb, ok := fn.batches[key]
	if !ok {
		pb = &pendingBatch{earliest: c.ClickTimeMs}
		fn.batches[key] = pb
	}
	pb.batch.Clicks = append(pb.batch.Clicks, c)
	pb.earliest = min(pb.earliest, c.ClickTimeMs)
}

func (fn *parseFn) FinishBundle(_ context.Context, emit func(beam.EventTime, string, ClickBatch), _ func(DeadLetter)) {
	for key, pb := range fn.batches {
		emit(mtime.Time(pb.earliest), key, pb.batch)
	}
	fn.batches = nil
}

// DedupeKey is the dedupe state an impression belongs to: its shard of
// impression ids and the epoch of its impression time, "shard/epoch" with
// the epoch as Unix seconds. All clicks of an impression share it.
func DedupeKey(imp Impression, impressionTime time.Time, shards int) string {
	shard := int(imp[0]) % max(shards, 1)
	epoch := impressionTime.Truncate(Epoch).Unix()
	return strconv.Itoa(shard) + "/" + strconv.FormatInt(epoch, 10)
}

// dedupeKeyEpoch returns the start of the epoch a DedupeKey names.
func dedupeKeyEpoch(key string) (time.Time, error) {
	_, epoch, ok := strings.Cut(key, "/")
	sec, err := strconv.ParseInt(epoch, 10, 64)
	if !ok || err != nil {
		return time.Time{}, fmt.Errorf("dedupe key %q: want shard/epoch", key)
	}
	return time.Unix(sec, 0), nil
}

func keyByAd(c Click, emit func(string, int64)) {
	emit(CountKey(c.AdvertiserID, c.AdID), 1)
	emit(CountKey(c.AdvertiserID, AllAds), 1)
}

func sum(a, b int64) int64 { return a + b }

// Count is the speed layer: messages in, absolute per-minute counts out
// (PCollection<MinuteCount>, in the global window), and dead letters.
// shards is the number of dedupe shards per epoch (DefaultShards if 0).
func Count(s beam.Scope, msgs beam.PCollection, shards int) (counts, dead beam.PCollection) {
	s = s.Scope("speed.Count")
	if shards <= 0 {
		shards = DefaultShards
	}
	batches, dead := beam.ParDo2(s, &parseFn{Shards: shards}, msgs)
	first := beam.ParDo(s, newDedupeFn(), batches)
	// Panes carry deltas (discarding), and accumulateFn adds them up into
	// the absolute count. Accumulating panes would say the same, but a
	// runner then keeps every element of a window until the window
	// expires, and Prism re-sorts all of them on every watermark change.
	// Late firings wait on processing time rather than on each element:
	// an element-count trigger stops Prism from lifting the sum before
	// the shuffle.
	windowed := beam.WindowInto(s.Scope("Minutes"), window.NewFixedWindows(Window), first,
		beam.Trigger(trigger.AfterEndOfWindow().
			EarlyFiring(trigger.Repeat(trigger.AfterProcessingTime().PlusDelay(EarlyFiring))).
			LateFiring(trigger.Repeat(trigger.AfterProcessingTime().PlusDelay(LateFiring)))),
		beam.AllowedLateness(AllowedLateness),
		beam.PanesDiscard(),
	)
	ones := beam.ParDo(s, keyByAd, windowed)
	deltas := beam.CombinePerKey(s, sum, ones)
	// Totals live in the global window under a key that names the minute:
	// Prism drops a window's state as soon as the watermark passes the
	// window's end, ignoring the allowed lateness, so per-window state
	// would forget the total before the late panes arrive.
	byMinute := beam.WindowInto(s.Scope("Totals"), window.NewGlobalWindows(), beam.ParDo(s, keyByMinute, deltas))
	return beam.ParDo(s, &accumulateFn{Total: state.MakeValueState[int64]("total"), Expire: timers.InEventTime("expire")}, byMinute), dead
}

// MinuteCount is the absolute number of countable clicks of one ad (or AllAds)
// of an advertiser in one minute, as the speed layer knows it so far.
type MinuteCount struct {
	Advertiser string
	Ad         string
	Minute     time.Time
	N          int64
}

// keyByMinute moves a pane's window into its key: CountKey@minute (Unix ms).
func keyByMinute(w beam.Window, key string, delta int64) (string, int64) {
	start := w.(window.IntervalWindow).Start
	return key + "@" + strconv.FormatInt(int64(start), 10), delta
}

func splitMinuteKey(k string) (advertiser, ad string, minute time.Time, err error) {
	countKey, ms, ok := strings.Cut(k, "@")
	n, perr := strconv.ParseInt(ms, 10, 64)
	if !ok || perr != nil {
		return "", "", time.Time{}, fmt.Errorf("count key %q: want advertiser/ad@minute", k)
	}
	advertiser, ad = SplitCountKey(countKey)
	return advertiser, ad, time.UnixMilli(n).UTC(), nil
}

// accumulateFn adds each pane's delta to its minute's total and emits the
// total: the absolute count, which only grows, so a write of a later pane
// always carries the larger version. The total is forgotten when no pane
// can come any more: after the window and its allowed lateness.
type accumulateFn struct {
	Total  state.Value[int64]
	Expire timers.EventTime
}

func (fn *accumulateFn) ProcessElement(sp state.Provider, tp timers.Provider, key string, delta int64, emit func(MinuteCount)) error {
	advertiser, ad, minute, err := splitMinuteKey(key)
	if err != nil {
		return err
	}
	total, _, err := fn.Total.Read(sp)
	if err != nil {
		return fmt.Errorf("accumulate %s: read total: %w", key, err)
	}
	total += delta
	if err := fn.Total.Write(sp, total); err != nil {
		return fmt.Errorf("accumulate %s: write total: %w", key, err)
	}
	fn.Expire.Set(tp, minute.Add(Window+AllowedLateness+Window), timers.WithNoOutputTimestamp())
	emit(MinuteCount{Advertiser: advertiser, Ad: ad, Minute: minute, N: total})
	return nil
}

func (fn *accumulateFn) OnTimer(sp state.Provider, tp timers.Provider, key string, _ timers.Context, _ func(MinuteCount)) {
	fn.Total.Clear(sp)
}
