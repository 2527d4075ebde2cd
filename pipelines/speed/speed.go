// Package speed is the streaming pipeline's logic from raw Pub/Sub messages
// to Bigtable cells, independent of where the messages come from: Dataflow's
// Pub/Sub connector in production, the pull source on Prism locally.
//
//	Message ─parse─▶ KV<dedupe key, Batch> ─dedupe─▶ Click ─1-min windows, triggers─▶
//	    KV<advertiser/series, 1> (ad, total, campaign) ─Sum (lifted before the shuffle)─▶ per-pane deltas
//	    ─▶ totals: absolute count per ad-minute ─▶ WriteCounts ─▶ Bigtable
//	parse's second output: DeadLetter (messages that are not click events)
//
// What counts is internal/countable's rule, the nightly's too. The
// pipeline reads as Beam; what a runner forced on it lives in files of
// its own, each saying which runner needs it and what was measured
// (docs/streaming.md, "Runner seams"):
//
//	bundlebatch.go  parse gathers a bundle's clicks into one batch per dedupe key
//	seencache.go    dedupe keeps its decoded state in memory across bundles
//	totals.go       panes are deltas, added up in the global window
package speed

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/apache/beam/sdks/v2/go/pkg/beam"
	"github.com/apache/beam/sdks/v2/go/pkg/beam/core/graph/window"
	"github.com/apache/beam/sdks/v2/go/pkg/beam/core/graph/window/trigger"
	"github.com/apache/beam/sdks/v2/go/pkg/beam/register"

	"github.com/adclick/adclick/internal/btschema"
	"github.com/adclick/adclick/internal/countable"
	"github.com/adclick/adclick/pipelines/clickbatch"
	"github.com/adclick/adclick/pipelines/pubsubmsg"
)

// Windowing parameters. AllowedLateness bounds how late a click may reach
// its minute in the speed layer; later ones wait for the nightly batch.
const (
	Window = time.Minute
	// DefaultEarlyFiring is how often, in processing time, a minute still
	// filling is written: what freshness waits for, at most, and what
	// Bigtable writes grow with (one cell per series and pane).
	DefaultEarlyFiring = 2 * time.Second
	LateFiring         = time.Second
	AllowedLateness    = 10 * time.Minute
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

func init() {
	register.Emitter2[beam.EventTime, clickbatch.Click]()
	register.Function2x0(keyByAd)
	register.Emitter2[string, int64]()
	register.Function2x1(sum)
}

// Options shape the speed layer; zero values take the defaults.
type Options struct {
	// Shards is the number of dedupe shards per epoch (DefaultShards).
	Shards int
	// Rules are the invalid-traffic thresholds (the burst rule needs
	// every click of a user, and is the nightly's: the speed layer counts
	// bursts until then).
	Rules countable.Rules
	// EarlyFiring is the interval of a filling minute's panes
	// (DefaultEarlyFiring).
	EarlyFiring time.Duration
}

// Count is the speed layer: messages (PCollection<pubsubmsg.Message>) in,
// absolute per-minute counts out (PCollection<MinuteCount>, in the global
// window), and dead letters (PCollection<pubsubmsg.DeadLetter>).
func Count(s beam.Scope, msgs beam.PCollection, opt Options) (counts, dead beam.PCollection) {
	s = s.Scope("speed.Count")
	if opt.Shards <= 0 {
		opt.Shards = DefaultShards
	}
	if opt.EarlyFiring <= 0 {
		opt.EarlyFiring = DefaultEarlyFiring
	}
	batches, dead := beam.ParDo2(s, &parseFn{Shards: opt.Shards, Rules: opt.Rules}, msgs)
	first := beam.ParDo(s, newDedupeFn(), batches)
	// Late firings wait on processing time rather than on each element:
	// an element-count trigger stops Prism from lifting the sum before
	// the shuffle.
	windowed := beam.WindowInto(s.Scope("Minutes"), window.NewFixedWindows(Window), first,
		beam.Trigger(trigger.AfterEndOfWindow().
			EarlyFiring(trigger.Repeat(trigger.AfterProcessingTime().PlusDelay(opt.EarlyFiring))).
			LateFiring(trigger.Repeat(trigger.AfterProcessingTime().PlusDelay(LateFiring)))),
		beam.AllowedLateness(AllowedLateness),
		beam.PanesDiscard(), // totals.go adds the deltas up
	)
	ones := beam.ParDo(s, keyByAd, windowed)
	deltas := beam.CombinePerKey(s, sum, ones)
	return totals(s, deltas), dead
}

// parse reads one message: a dead letter, a click that can never count
// (counted in its outcome's counter and dropped), or a countable click
// with its dedupe key.
func parse(ctx context.Context, m pubsubmsg.Message, shards int, rules countable.Rules, dead func(pubsubmsg.DeadLetter)) (key string, c clickbatch.Click, ok bool) {
	clicksRead.Inc(ctx, 1)
	ev, err := countable.Parse(m.Data)
	if err != nil {
		deadLetters.Inc(ctx, 1)
		dead(pubsubmsg.DeadLetter{Message: m, Reason: countable.DeadLetterReason(err), Detail: err.Error()})
		return "", c, false
	}
	c = clickbatch.FromEvent(&ev, rules)
	// The speed layer counts neither placements nor bursts: what it does
	// not need stays off the dedupe shuffle (user keys are all distinct).
	c.PlacementID, c.UserKey = "", countable.ID{}
	if c.Class != clickbatch.ClassCounted {
		outcomeCounter(c.Class.Outcome()).Inc(ctx, 1)
		return "", c, false
	}
	return DedupeKey(c.Impression, ev.ImpressionTime, shards), c, true
}

// DedupeKey is the dedupe state an impression belongs to: its shard of
// impression ids and the epoch of its impression time, "shard/epoch" with
// the epoch as Unix seconds. All clicks of an impression share it.
func DedupeKey(imp countable.ID, impressionTime time.Time, shards int) string {
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

// keyByAd counts a click in its ad's series, its advertiser's total and,
// if it has one, its campaign's series (the campaign the click service
// recorded with it).
func keyByAd(c clickbatch.Click, emit func(string, int64)) {
	emit(CountKey(c.AdvertiserID, c.AdID), 1)
	emit(CountKey(c.AdvertiserID, AllAds), 1)
	if c.CampaignID != "" {
		emit(CountKey(c.AdvertiserID, btschema.CampaignSeries(c.CampaignID)), 1)
	}
}

func sum(a, b int64) int64 { return a + b }
