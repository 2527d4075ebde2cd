package speed

// Runner seam: where panes become absolute totals.
//
// The natural Beam shape is accumulating panes written as they fire. Two
// Prism behaviours rule it out, both found by profiling the local job
// (docs/streaming.md, "Beam Go sharp edges"):
//
//   - with accumulating panes Prism keeps every element of a window until
//     the window expires and re-sorts all of them on each watermark change:
//     65 % of the job's CPU at 4k clicks/s;
//   - Prism drops a stateful DoFn's per-window state when the watermark
//     passes the window's end, ignoring allowed lateness, so a per-window
//     total would be forgotten before its late panes come.
//
// So panes are discarding (deltas) and accumulateFn adds them up in the
// global window, under a key that names the minute, with a timer that
// forgets the total once no pane can come. Dataflow would keep per-window
// state through the allowed lateness; the global-window form is correct
// there too, and one code path is what the local tests prove.

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/apache/beam/sdks/v2/go/pkg/beam"
	"github.com/apache/beam/sdks/v2/go/pkg/beam/core/graph/window"
	"github.com/apache/beam/sdks/v2/go/pkg/beam/core/state"
	"github.com/apache/beam/sdks/v2/go/pkg/beam/core/timers"
	"github.com/apache/beam/sdks/v2/go/pkg/beam/register"

	"github.com/adclick/adclick/internal/countable"
)

func init() {
	register.Function3x2(keyByMinute)
	register.DoFn6x1[context.Context, state.Provider, timers.Provider, string, int64, func(MinuteCount), error](&accumulateFn{})
	register.Emitter1[MinuteCount]()
}

// MinuteCount is the absolute number of countable clicks of one ad (or
// AllAds) of an advertiser in one minute, as the speed layer knows it so
// far.
type MinuteCount struct {
	Advertiser string
	Ad         string
	Minute     time.Time
	N          int64
}

// totals turns per-pane deltas (KV<advertiser/ad, int64> in minute
// windows) into absolute MinuteCounts in the global window.
func totals(s beam.Scope, deltas beam.PCollection) beam.PCollection {
	byMinute := beam.WindowInto(s.Scope("Totals"), window.NewGlobalWindows(), beam.ParDo(s, keyByMinute, deltas))
	return beam.ParDo(s, &accumulateFn{Total: state.MakeValueState[int64]("total"), Expire: timers.InEventTime("expire")}, byMinute)
}

// keyByMinute moves a pane's window into its key: CountKey@minute (Unix ms).
func keyByMinute(w beam.Window, key string, delta int64) (string, int64) {
	start := w.(window.IntervalWindow).Start
	return key + "@" + strconv.FormatInt(int64(start), 10), delta
}

func splitMinuteKey(k string) (advertiser, ad string, minute time.Time, err error) {
	// The last "@": a campaign's series starts with one.
	i := strings.LastIndexByte(k, '@')
	if i < 0 {
		return "", "", time.Time{}, fmt.Errorf("count key %q: want advertiser/series@minute", k)
	}
	countKey, ms := k[:i], k[i+1:]
	n, perr := strconv.ParseInt(ms, 10, 64)
	if perr != nil {
		return "", "", time.Time{}, fmt.Errorf("count key %q: want advertiser/ad@minute", k)
	}
	advertiser, ad = SplitCountKey(countKey)
	return advertiser, ad, time.UnixMilli(n).UTC(), nil
}

// accumulateFn adds each pane's delta to its minute's total and emits the
// total: the absolute count, which only grows, so a write of a later pane
// always carries the larger version. The total is forgotten when no pane
// can come any more: after the window and its allowed lateness.
//
// The advertiser totals' deltas are the clicks the speed layer counted:
// they feed adclick/clicks_counted, so the counter says what Bigtable
// holds (a click dedupe passed but the window dropped as too late is in
// clicks_first, not here).
type accumulateFn struct {
	Total  state.Value[int64]
	Expire timers.EventTime
}

func (fn *accumulateFn) ProcessElement(ctx context.Context, sp state.Provider, tp timers.Provider, key string, delta int64, emit func(MinuteCount)) error {
	advertiser, ad, minute, err := splitMinuteKey(key)
	if err != nil {
		return err
	}
	total, known, err := fn.Total.Read(sp)
	if err != nil {
		return fmt.Errorf("accumulate %s: read total: %w", key, err)
	}
	total += delta
	if err := fn.Total.Write(sp, total); err != nil {
		return fmt.Errorf("accumulate %s: write total: %w", key, err)
	}
	if !known {
		// The minute's first pane sets its timer, as dedupe does: Prism
		// keeps every setting of a timer pending until it fires.
		fn.Expire.Set(tp, minute.Add(Window+AllowedLateness+Window), timers.WithNoOutputTimestamp())
	}
	if ad == AllAds {
		outcomeCounter(countable.Counted).Inc(ctx, delta)
	}
	emit(MinuteCount{Advertiser: advertiser, Ad: ad, Minute: minute, N: total})
	return nil
}

var totalsForgotten = beam.NewCounter("adclick", "totals_forgotten")

func (fn *accumulateFn) OnTimer(ctx context.Context, sp state.Provider, tp timers.Provider, key string, _ timers.Context, _ func(MinuteCount)) error {
	totalsForgotten.Inc(ctx, 1)
	if err := fn.Total.Clear(sp); err != nil {
		return fmt.Errorf("accumulate %s: forget total: %w", key, err)
	}
	return nil
}
