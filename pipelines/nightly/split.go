package nightly

import (
	"cmp"
	"context"
	"fmt"
	"hash/fnv"
	"maps"
	"reflect"
	"slices"
	"time"

	"github.com/apache/beam/sdks/v2/go/pkg/beam"
	"github.com/apache/beam/sdks/v2/go/pkg/beam/register"
	"github.com/apache/beam/sdks/v2/go/pkg/beam/transforms/stats"

	"github.com/adclick/adclick/internal/blob"
	"github.com/adclick/adclick/internal/countable"
	"github.com/adclick/adclick/internal/rawarchive"
	"github.com/adclick/adclick/pipelines/clickbatch"
)

// Hot ads.
//
// A shard of the clicks' shuffle holds whole ads (settleAdsFn), so one
// ad's day is the least a worker must hold: a hot ad with a tenth of a
// large day would need one large worker. An ad whose day is more than a
// shard's share of the run's clicks is settled split instead, in three
// steps, each holding a shard's share or a bucket per element:
//
//	clicks of hot ads ─▶ KV<impression shard, Batch> ─GroupByKey─▶ settleImpressionsFn: re-deliveries, dedupe
//	    first clicks ─▶ KV<(ad, user) shard, Batch> ─GroupByKey─▶ settleUsersFn: bursts ─▶ AdMinutes
//	    outcomes and placements per quarter hour (AdTally) ─▶ KV<ad, AdTally> ─GroupByKey─▶ mergeTalliesFn ─▶ Counts
//
// Dedupe needs an impression's clicks together, and the burst rule a
// user's first clicks on an ad: an impression's clicks can come from
// several users (a cookie-less browser gets a new key on every click),
// so the two need two shuffles, and the burst rule counts first clicks
// only, so dedupe goes first. Which ads are hot is estimated before the
// clicks are read, from a sample of the archive files (hotAdsFn): a wrong
// estimate costs memory or time, never exactness, since either way every
// rule sees all the clicks it needs.

func init() {
	register.DoFn3x1[context.Context, string, func(string, int64), error](&tallyAdsFn{})
	register.DoFn3x0[[]byte, func(*string, *int64) bool, func(string)](&hotAdsFn{})
	register.Iter2[string, int64]()
	register.Emitter1[string]()
	beam.RegisterType(reflect.TypeOf((*AdTally)(nil)).Elem())
	register.Emitter2[string, AdTally]()
	register.Iter1[AdTally]()
	register.DoFn6x1[context.Context, int, func(*clickbatch.Batch) bool, func(int, clickbatch.Batch), func(string, AdTally), func(string, []byte), error](&settleImpressionsFn{})
	register.DoFn5x1[context.Context, int, func(*clickbatch.Batch) bool, func(string, AdTally), func(int, AdMinutes), error](&settleUsersFn{})
	register.DoFn6x1[context.Context, string, func(*AdTally) bool, func(CountBatch), func(string, int64), func(string, []byte), error](&mergeTalliesFn{})
}

// splitClicks is the clicks of hot ads, of archive_clicks_read.
var splitClicks = beam.NewCounter("adclick", "split_clicks_read")

// hotAds is the run's hot ads, estimated from a sample of its files.
func hotAds(s beam.Scope, cfg Config) beam.PCollection {
	s = s.Scope("hotads")
	sample := beam.Reshuffle(s, beam.CreateList(s, hotSample(cfg.Files)))
	tallies := stats.SumPerKey(s, beam.ParDo(s, &tallyAdsFn{Archive: cfg.Archive}, sample))
	return beam.ParDo(s, &hotAdsFn{Share: hotShare(cfg)}, beam.Impulse(s), beam.SideInput{Input: tallies})
}

// hotShare is the share of the sampled clicks above which an ad is hot:
// Config.HotAdShare, by default a shard's share (1/Shards).
func hotShare(cfg Config) float64 {
	if cfg.HotAdShare > 0 {
		return cfg.HotAdShare
	}
	return 1 / float64(max(cfg.Shards, 1))
}

// maxHotSampleFiles bounds the estimate's reading: a sixteenth of the
// run's files, at most this many.
const maxHotSampleFiles = 64

// hotSample picks the files the estimate reads, evenly spread over the
// run's files (named by start time, so over the day).
func hotSample(files []string) []string {
	if len(files) == 0 {
		return nil
	}
	n := min(max(len(files)/16, 1), maxHotSampleFiles)
	sample := make([]string, n)
	for i := range sample {
		sample[i] = files[i*len(files)/n]
	}
	return sample
}

// tallyAdsFn counts one archive file's clicks per ad.
type tallyAdsFn struct {
	Archive string

	store blob.Store
}

func (fn *tallyAdsFn) Setup(ctx context.Context) error {
	s, err := blob.Open(ctx, fn.Archive)
	fn.store = s
	return err
}

func (fn *tallyAdsFn) Teardown() error {
	if fn.store != nil {
		return fn.store.Close()
	}
	return nil
}

func (fn *tallyAdsFn) ProcessElement(ctx context.Context, file string, emit func(string, int64)) error {
	r, err := fn.store.Open(ctx, file)
	if err != nil {
		return err
	}
	defer r.Close()
	byAd := map[string]int64{}
	err = rawarchive.Read(r, func(rec *rawarchive.Record) error {
		if ev, err := countable.Parse(rec.Data); err == nil {
			byAd[ev.AdID]++
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("sample archive file %s for hot ads: %w", file, err)
	}
	for ad, n := range byAd {
		emit(ad, n)
	}
	return nil
}

// hotAdsFn emits the ads with more than Share of the sampled clicks.
type hotAdsFn struct {
	Share float64
}

func (fn *hotAdsFn) ProcessElement(_ []byte, tallies func(*string, *int64) bool, emit func(string)) {
	byAd := map[string]int64{}
	var total int64
	var ad string
	var n int64
	for tallies(&ad, &n) {
		byAd[ad] += n
		total += n
	}
	for ad, n := range byAd {
		if float64(n) > fn.Share*float64(total) {
			emit(ad)
		}
	}
}

// settleSplit settles the hot ads' clicks (KV<impression shard, Batch>):
// the same outputs as settleAdsFn's.
func settleSplit(s beam.Scope, cfg Config, clicks beam.PCollection) (counts, outcomes, parts, minutes beam.PCollection) {
	s = s.Scope("split")
	from, to := cfg.From.UnixMilli(), cfg.To.UnixMilli()
	firsts, dedupeTallies, dedupeParts := beam.ParDo3(s, &settleImpressionsFn{FromMs: from, ToMs: to, Shards: cfg.Shards}, beam.GroupByKey(s, clicks))
	burstTallies, minutes := beam.ParDo2(s, &settleUsersFn{FromMs: from, ToMs: to, Rules: cfg.Rules, Shards: cfg.Shards}, beam.GroupByKey(s, firsts))
	counts, outcomes, tallyParts := beam.ParDo3(s, &mergeTalliesFn{FromMs: from, ToMs: to}, beam.GroupByKey(s, beam.Flatten(s, dedupeTallies, burstTallies)))
	return counts, outcomes, beam.Flatten(s, dedupeParts, tallyParts), minutes
}

// impressionShard is the shard of an impression's clicks.
func impressionShard(id countable.ID, shards int) int {
	h := fnv.New32a()
	h.Write(id[:])
	return int(h.Sum32() % uint32(max(shards, 1)))
}

// userShard is the shard of a user's first clicks on an ad.
func userShard(c *clickbatch.Click, shards int) int {
	h := fnv.New32a()
	h.Write([]byte(c.AdID))
	h.Write(c.UserKey[:])
	return int(h.Sum32() % uint32(max(shards, 1)))
}

// emitShards emits each non-empty shard's clicks as one batch.
func emitShards(shards [][]clickbatch.Click, emit func(int, clickbatch.Batch)) {
	for shard, clicks := range shards {
		if len(clicks) > 0 {
			emit(shard, clickbatch.Batch{Clicks: clicks})
		}
	}
}

// settleImpressionsFn settles one impression shard of hot ads' clicks:
// re-deliveries collapse, and of each impression's clicks that countable
// accepts the first by Rank goes on to the burst rule (settleUsersFn, by
// its ad and user's shard); the others are settled here (duplicates, and
// what countable refused) and leave as AdTallies of their ads.
type settleImpressionsFn struct {
	FromMs, ToMs int64
	Shards       int
}

func (fn *settleImpressionsFn) ProcessElement(ctx context.Context, _ int, batches func(*clickbatch.Batch) bool, emitFirsts func(int, clickbatch.Batch), tallies func(string, AdTally), parts func(string, []byte)) error {
	clicks, redelivered := readClicks(batches, true)
	sortByRank(clicks)
	clicksRead.Inc(ctx, int64(len(clicks)))
	splitClicks.Inc(ctx, int64(len(clicks)))
	shardClicks.Update(ctx, int64(len(clicks)))
	firsts := make([][]clickbatch.Click, fn.Shards)
	settled := map[string]adSettlement{}
	counted := map[countable.ID]bool{}
	for _, c := range clicks {
		o := c.Class.Outcome()
		if c.Class == clickbatch.ClassCounted {
			if !counted[c.Impression] {
				counted[c.Impression] = true
				shard := userShard(c, fn.Shards)
				firsts[shard] = append(firsts[shard], *c)
				continue
			}
			o = countable.Duplicate
		}
		if inRun(c, fn.FromMs, fn.ToMs) {
			settlementOf(settled, c.AdID).add(c, o)
		}
	}
	emitShards(firsts, emitFirsts)
	for ad, s := range settled {
		tallies(ad, newAdTally(s))
	}
	if redelivered > 0 {
		emitPart(time.UnixMilli(fn.FromMs).UTC().Format(time.DateOnly), reportPart{Redelivered: redelivered}, parts)
	}
	return nil
}

func settlementOf(byAd map[string]adSettlement, ad string) adSettlement {
	s := byAd[ad]
	if s == nil {
		s = adSettlement{}
		byAd[ad] = s
	}
	return s
}

// settleUsersFn applies the burst rule to one shard of hot ads' first
// clicks (every first click of a user on an ad is in one shard, the
// look-back's included) and settles them: counted or invalid_burst. Their
// minutes go to the advertisers' shards (reconcileFn sums an ad's
// AdMinutes from every shard), their outcomes and placements leave as
// AdTallies.
type settleUsersFn struct {
	FromMs, ToMs int64
	Rules        countable.Rules
	Shards       int
}

func (fn *settleUsersFn) ProcessElement(ctx context.Context, _ int, batches func(*clickbatch.Batch) bool, tallies func(string, AdTally), minutes func(int, AdMinutes)) error {
	clicks, _ := readClicks(batches, false) // re-deliveries were collapsed by impression
	sortByRank(clicks)
	shardClicks.Update(ctx, int64(len(clicks)))
	settled := map[string]adSettlement{}
	bursts := fn.Rules.NewBurstTracker()
	for _, c := range clicks {
		o := countable.Counted
		if bursts.Burst(c.AdID, c.UserKey, c.ClickTimeMs) {
			o = countable.InvalidBurst
		}
		if inRun(c, fn.FromMs, fn.ToMs) {
			settlementOf(settled, c.AdID).add(c, o)
		}
	}
	for ad, s := range settled {
		tallies(ad, newAdTally(s))
		for advertiser, a := range s {
			if len(a.minutes) > 0 {
				minutes(Shard(advertiser, fn.Shards), newAdMinutes(advertiser, ad, a.minutes))
			}
		}
	}
	return nil
}

// mergeTalliesFn sums a hot ad's AdTallies from every shard and emits
// its outcome and placement counts as settleAdsFn does an ad's (the
// placement cap needs the ad's whole day), and names the ad in the run's
// reports.
type mergeTalliesFn struct {
	FromMs, ToMs int64
}

func (fn *mergeTalliesFn) ProcessElement(ctx context.Context, ad string, tallies func(*AdTally) bool, emitBatch func(CountBatch), outcomes func(string, int64), parts func(string, []byte)) error {
	settled := adSettlement{}
	var t AdTally
	for tallies(&t) {
		if err := t.addTo(ad, settled); err != nil {
			return fmt.Errorf("merge the counts of hot ad %s: %w", ad, err)
		}
		t = AdTally{}
	}
	report := map[string]*reportPart{}
	counts := countBatcher{emit: emitBatch}
	for advertiser, a := range settled {
		emitOutcomes(advertiser, a.byOutcome, counts.add, outcomes, report)
		emitPlacements(advertiser, a.placements, counts.add)
	}
	counts.flush()
	for _, day := range Days(time.UnixMilli(fn.FromMs), time.UnixMilli(fn.ToMs)) {
		part(report, day.Format(time.DateOnly)).SplitAds = []string{ad}
	}
	for day, p := range report {
		emitPart(day, *p, parts)
	}
	return nil
}

// AdTally is part of one hot ad's outcome and placement counts, per
// advertiser and quarter hour, from one shard: what settleAdsFn holds of
// an ad in adCounts (less the minutes, which go to the advertisers'
// shards as AdMinutes), in columns.
type AdTally struct {
	// Names holds each advertiser, outcome and placement label once.
	Names []string
	// Per bucket: its advertiser and label (an outcome, or a placement
	// label where Placement) as indexes into Names, its quarter hour's
	// start and its clicks.
	Advertiser, Label []int32
	Placement         []bool
	StartMs           []int64
	Counts            []int64
}

// newAdTally is s's outcomes and placements, in a fixed order: the same
// counts make the same bytes.
func newAdTally(s adSettlement) AdTally {
	var t AdTally
	index := map[string]int32{}
	name := func(v string) int32 {
		i, ok := index[v]
		if !ok {
			i = int32(len(t.Names))
			index[v] = i
			t.Names = append(t.Names, v)
		}
		return i
	}
	byStart := func(x, y adBucket) int { return cmp.Compare(x.startMs, y.startMs) } // one ad
	for _, advertiser := range slices.Sorted(maps.Keys(s)) {
		a := s[advertiser]
		for _, k := range slices.SortedFunc(maps.Keys(a.byOutcome), func(x, y adOutcome) int {
			return cmp.Or(cmp.Compare(x.startMs, y.startMs), cmp.Compare(x.outcome, y.outcome))
		}) {
			t.add(name(advertiser), name(string(k.outcome)), false, k.startMs, a.byOutcome[k])
		}
		for _, q := range slices.SortedFunc(maps.Keys(a.placements), byStart) {
			for _, label := range slices.Sorted(maps.Keys(a.placements[q])) {
				t.add(name(advertiser), name(label), true, q.startMs, a.placements[q][label])
			}
		}
	}
	return t
}

func (t *AdTally) add(advertiser, label int32, placement bool, startMs, n int64) {
	t.Advertiser = append(t.Advertiser, advertiser)
	t.Label = append(t.Label, label)
	t.Placement = append(t.Placement, placement)
	t.StartMs = append(t.StartMs, startMs)
	t.Counts = append(t.Counts, n)
}

// addTo adds t, a tally of ad, to s.
func (t *AdTally) addTo(ad string, s adSettlement) error {
	n := len(t.Counts)
	if len(t.Advertiser) != n || len(t.Label) != n || len(t.Placement) != n || len(t.StartMs) != n {
		return fmt.Errorf("tally columns of unequal lengths")
	}
	for i := range n {
		if int(t.Advertiser[i]) >= len(t.Names) || int(t.Label[i]) >= len(t.Names) {
			return fmt.Errorf("tally bucket %d names no. %d/%d of %d", i, t.Advertiser[i], t.Label[i], len(t.Names))
		}
		a := s.of(t.Names[t.Advertiser[i]])
		label := t.Names[t.Label[i]]
		if t.Placement[i] {
			a.addPlacement(adBucket{ad, t.StartMs[i]}, label, t.Counts[i])
		} else {
			a.byOutcome[adOutcome{t.StartMs[i], ad, countable.Outcome(label)}] += t.Counts[i]
		}
	}
	return nil
}
