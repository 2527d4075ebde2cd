// Package speed is the streaming pipeline's logic from raw Pub/Sub messages
// to Bigtable cells, independent of where the messages come from: Dataflow's
// Pub/Sub connector in production, the pull source on Prism locally.
//
//	Message ─Parse─▶ KV<impression, Click> ─Dedupe─▶ Click ─1-min windows, triggers─▶
//	    KV<advertiser/ad, 1> ─Sum (lifted before the shuffle)─▶ WriteCounts ─▶ Bigtable
//	Parse's second output: DeadLetter (messages that are not click events)
//
// Dedupe runs in the global window, keyed by impression, with an event-time
// timer that forgets an impression after Horizon. Counts are absolute per
// pane (accumulating), so every write is idempotent.
package speed

import (
	"context"
	"fmt"
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
	AllowedLateness = 10 * time.Minute
	// Horizon is how long an impression is remembered for dedupe, in event
	// time after its first click. It covers the longest token lifetime (a
	// later click is expired anyway, so never counted) plus the allowed
	// lateness and the clock skew countable accepts, so a late duplicate
	// still finds its first click.
	Horizon = countable.MaxTokenLifetime + AllowedLateness + countable.ClockSkew
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
	register.DoFn4x0[context.Context, Message, func(beam.EventTime, string, Click), func(DeadLetter)](&parseFn{})
	register.Emitter3[beam.EventTime, string, Click]()
	register.Emitter1[DeadLetter]()
	register.DoFn6x0[context.Context, state.Provider, timers.Provider, string, Click, func(Click)](&dedupeFn{})
	register.Emitter1[Click]()
	register.Function2x0(keyByAd)
	register.Emitter2[string, int64]()
	register.Function2x1(sum)
}

// parseFn parses, classifies and keys clicks by impression. Clicks that can
// never count are counted in metrics by outcome and go no further.
type parseFn struct{}

// Metrics need the bundle's context: with any other they are dropped.
func (fn *parseFn) ProcessElement(ctx context.Context, m Message, emit func(beam.EventTime, string, Click), dead func(DeadLetter)) {
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
	ts := mtime.FromTime(ev.ClickTime)
	emit(ts, ev.ImpressionID, Click{ClickID: ev.ClickID, AdID: ev.AdID, AdvertiserID: ev.AdvertiserID, ClickTimeMs: ev.ClickTime.UnixMilli()})
}

// dedupeFn passes the first click of each impression it sees and drops
// the rest, remembering an impression for Horizon of event time.
type dedupeFn struct {
	Seen   state.Value[bool]
	Forget timers.EventTime
}

func (fn *dedupeFn) ProcessElement(ctx context.Context, sp state.Provider, tp timers.Provider, impression string, c Click, emit func(Click)) {
	seen, _, err := fn.Seen.Read(sp)
	if err != nil {
		panic(fmt.Sprintf("dedupe %s: read state: %v", impression, err))
	}
	if seen {
		outcomeCounter(countable.Duplicate).Inc(ctx, 1)
		return
	}
	if err := fn.Seen.Write(sp, true); err != nil {
		panic(fmt.Sprintf("dedupe %s: write state: %v", impression, err))
	}
	// No output timestamp: the timer only clears state, and a timer that
	// held the watermark would delay every window by Horizon.
	fn.Forget.Set(tp, time.UnixMilli(c.ClickTimeMs).Add(Horizon), timers.WithNoOutputTimestamp())
	outcomeCounter(countable.Counted).Inc(ctx, 1)
	emit(c)
}

func (fn *dedupeFn) OnTimer(sp state.Provider, tp timers.Provider, impression string, timer timers.Context, _ func(Click)) {
	fn.Seen.Clear(sp)
}

func keyByAd(c Click, emit func(string, int64)) {
	emit(CountKey(c.AdvertiserID, c.AdID), 1)
	emit(CountKey(c.AdvertiserID, AllAds), 1)
}

func sum(a, b int64) int64 { return a + b }

// Count is the speed layer: messages in, per-minute counts out (keyed by
// CountKey, absolute per pane), and dead letters.
func Count(s beam.Scope, msgs beam.PCollection) (counts, dead beam.PCollection) {
	s = s.Scope("speed.Count")
	keyed, dead := beam.ParDo2(s, &parseFn{}, msgs)
	first := beam.ParDo(s, &dedupeFn{Seen: state.MakeValueState[bool]("seen"), Forget: timers.InEventTime("forget")}, keyed)
	windowed := beam.WindowInto(s, window.NewFixedWindows(Window), first,
		beam.Trigger(trigger.AfterEndOfWindow().
			EarlyFiring(trigger.Repeat(trigger.AfterProcessingTime().PlusDelay(EarlyFiring))).
			LateFiring(trigger.Repeat(trigger.AfterCount(1)))),
		beam.AllowedLateness(AllowedLateness),
		beam.PanesAccumulate(),
	)
	ones := beam.ParDo(s, keyByAd, windowed)
	return beam.CombinePerKey(s, sum, ones), dead
}
