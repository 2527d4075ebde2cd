package nightly

import (
	"context"
	"fmt"
	"hash/fnv"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/apache/beam/sdks/v2/go/pkg/beam"
	"github.com/apache/beam/sdks/v2/go/pkg/beam/register"

	"github.com/adclick/adclick/internal/blob"
	"github.com/adclick/adclick/internal/btschema"
	"github.com/adclick/adclick/internal/countable"
	"github.com/adclick/adclick/internal/rawarchive"
	"github.com/adclick/adclick/pipelines/clickbatch"
)

func init() {
	register.DoFn6x1[context.Context, string, func(*string) bool, func(int, clickbatch.Batch), func(int, clickbatch.Batch), func(string, []byte), error](&readFn{})
	register.Iter1[string]()
	register.Emitter2[int, clickbatch.Batch]()
	register.Emitter2[string, []byte]()
	register.Emitter2[string, int64]()
	register.Emitter1[CountBatch]()
	register.Emitter2[int, AdMinutes]()
	register.DoFn7x1[context.Context, int, func(*clickbatch.Batch) bool, func(CountBatch), func(string, int64), func(string, []byte), func(int, AdMinutes), error](&settleAdsFn{})
	register.Iter1[clickbatch.Batch]()
}

// Shard is the shard of an ad (the clicks' shuffle) or of an advertiser
// (the minutes' shuffle): every click of an ad, so of each of its
// impressions and of each user's clicks on it, lands in one shard.
func Shard(id string, shards int) int {
	h := fnv.New32a()
	h.Write([]byte(id))
	return int(h.Sum32() % uint32(max(shards, 1)))
}

// readFn reads one archive file and emits its clicks as one batch per ad
// shard, except the clicks of hot ads (the side input, hotAdsFn), which
// go as one batch per impression shard to be settled split (split.go);
// messages that are not click events (the streaming job dead-lettered
// them) become report parts of their publish day.
type readFn struct {
	Archive string
	Shards  int
	Rules   countable.Rules

	store blob.Store
}

func (fn *readFn) Setup(ctx context.Context) error {
	s, err := blob.Open(ctx, fn.Archive)
	fn.store = s
	return err
}

func (fn *readFn) Teardown() error {
	if fn.store != nil {
		return fn.store.Close()
	}
	return nil
}

func (fn *readFn) ProcessElement(ctx context.Context, file string, hotAds func(*string) bool, emit, emitSplit func(int, clickbatch.Batch), parts func(string, []byte)) error {
	hot := map[string]bool{}
	var ad string
	for hotAds(&ad) {
		hot[ad] = true
	}
	r, err := fn.store.Open(ctx, file)
	if err != nil {
		return err
	}
	defer r.Close()
	shards := make([][]clickbatch.Click, fn.Shards)
	split := make([][]clickbatch.Click, fn.Shards)
	bad := map[string]map[string]int64{} // day → reason → n
	err = rawarchive.Read(r, func(rec *rawarchive.Record) error {
		ev, err := countable.Parse(rec.Data)
		if err != nil {
			day := rec.PublishTime.UTC().Format(time.DateOnly)
			if bad[day] == nil {
				bad[day] = map[string]int64{}
			}
			bad[day][countable.DeadLetterReason(err)]++
			return nil
		}
		c := clickbatch.FromEvent(&ev, fn.Rules)
		if hot[c.AdID] {
			shard := impressionShard(c.Impression, fn.Shards)
			split[shard] = append(split[shard], c)
			return nil
		}
		shard := Shard(c.AdID, fn.Shards)
		shards[shard] = append(shards[shard], c)
		return nil
	})
	if err != nil {
		return fmt.Errorf("read archive file %s: %w", file, err)
	}
	emitShards(shards, emit)
	emitShards(split, emitSplit)
	for day, reasons := range bad {
		emitPart(day, reportPart{Unreadable: reasons}, parts)
	}
	filesRead.Inc(ctx, 1)
	return nil
}

var (
	filesRead     = beam.NewCounter("adclick", "archive_files_read")
	clicksRead    = beam.NewCounter("adclick", "archive_clicks_read")
	mismatched    = beam.NewCounter("adclick", "reconciliation_mismatched_cells")
	absDifference = beam.NewCounter("adclick", "reconciliation_abs_difference")
	// shardClicks is the clicks each settle call held at once, the
	// figure a worker's memory grows with.
	shardClicks = beam.NewDistribution("adclick", "settle_shard_clicks")
)

// CountBatch is Counts that cross to the writers as one element: a
// runner's cost is per element (Prism re-heaps a stage's whole pending
// set for every bundle it adds to it), and the day has millions of
// counts.
type CountBatch struct {
	Counts []Count
}

// countBatchSize is how many Counts a CountBatch holds at most.
const countBatchSize = 4096

// countBatcher gathers emitted Counts into CountBatches.
type countBatcher struct {
	emit func(CountBatch)
	buf  []Count
}

func (b *countBatcher) add(c Count) {
	b.buf = append(b.buf, c)
	if len(b.buf) == countBatchSize {
		b.flush()
	}
}

func (b *countBatcher) flush() {
	if len(b.buf) > 0 {
		b.emit(CountBatch{Counts: b.buf})
		b.buf = nil
	}
}

// Count is an exact count of one bucket of a series (an ad,
// btschema.AllAds or a campaign's), or of one ad's clicks of one day: of
// kind btschema.Placement those shown in placement Column, of kind
// btschema.Outcomes those of outcome Column.
type Count struct {
	Kind       btschema.Kind
	Advertiser string
	Ad         string
	Start      time.Time
	Column     string
	N          int64
}

// settleAdsFn settles one ad shard: every click of its ads. Per ad:
//
//   - re-deliveries of one click (same click id) collapse into one;
//   - of an impression's clicks that countable accepts, the first by
//     countable.Rank counts and the rest are duplicates, whichever file or
//     day they came in; a first click past the burst rule's limit for its
//     user and ad is invalid_burst (countable.BurstTracker, over the clicks
//     read, the look-back included); only clicks in [FromMs, ToMs) are
//     counted and reported (earlier ones were read so their impressions'
//     first clicks are known);
//   - outcome counts per quarter hour and day, and placement counts per
//     quarter hour and day, are complete here and emitted;
//   - the countable clicks per minute and campaign go to the ad's
//     advertiser's shard (AdMinutes), where reconcileFn sums the
//     advertiser's and campaigns' series and compares them with the speed
//     cells.
//
// An impression belongs to one ad, so an ad's shard holds all it needs:
// what one worker holds is the clicks of its shard's ads, not of an
// advertiser's (docs/batch.md, "Memory per worker").
//
// Outputs: Counts; outcome counts keyed "day|advertiser|ad|outcome";
// report parts keyed by day; AdMinutes keyed by advertiser shard.
type settleAdsFn struct {
	FromMs, ToMs int64
	Rules        countable.Rules
	// Shards of the advertisers' shuffle.
	Shards int
}

func (fn *settleAdsFn) ProcessElement(ctx context.Context, _ int, batches func(*clickbatch.Batch) bool, emitBatch func(CountBatch), outcomes func(string, int64), parts func(string, []byte), minutes func(int, AdMinutes)) error {
	clicks, redelivered := readClicks(batches, true)
	clicksRead.Inc(ctx, int64(len(clicks)))
	shardClicks.Update(ctx, int64(len(clicks)))
	byAd := map[string][]*clickbatch.Click{}
	for _, c := range clicks {
		byAd[c.AdID] = append(byAd[c.AdID], c)
	}
	clicks = nil
	report := map[string]*reportPart{}
	if redelivered > 0 {
		report[time.UnixMilli(fn.FromMs).UTC().Format(time.DateOnly)] = &reportPart{Redelivered: redelivered}
	}
	counts := countBatcher{emit: emitBatch}
	for ad, clicks := range byAd {
		for _, m := range fn.settle(ad, clicks, counts.add, outcomes, report) {
			minutes(Shard(m.Advertiser, fn.Shards), m)
		}
		delete(byAd, ad)
	}
	counts.flush()
	for day, p := range report {
		emitPart(day, *p, parts)
	}
	return nil
}

// readClicks collects the clicks of a shard's batches, re-deliveries of
// one click (same click id) collapsed where collapse.
func readClicks(batches func(*clickbatch.Batch) bool, collapse bool) (clicks []*clickbatch.Click, redelivered int64) {
	var seen map[countable.ID]bool
	if collapse {
		seen = map[countable.ID]bool{}
	}
	var b clickbatch.Batch
	for batches(&b) {
		for i := range b.Clicks {
			c := &b.Clicks[i]
			if collapse {
				if seen[c.ClickID] {
					redelivered++
					continue
				}
				seen[c.ClickID] = true
			}
			clicks = append(clicks, c)
		}
		b = clickbatch.Batch{} // the iterator decodes into b: keep the clicks taken
	}
	return clicks, redelivered
}

// sortByRank orders clicks by countable.Rank: an impression's first click
// before its others, a user's clicks in time.
func sortByRank(clicks []*clickbatch.Click) {
	slices.SortFunc(clicks, func(a, b *clickbatch.Click) int { return a.Rank.Compare(b.Rank) })
}

type adBucket struct {
	ad      string
	startMs int64
}

// settle settles one ad's clicks and returns its countable clicks per
// minute and campaign, one AdMinutes per advertiser the clicks name:
// dedupe and bursts run over all of the ad's clicks, and each click counts
// under the advertiser the click service recorded with it (an ad the
// catalog moved during the day counts under both, each impression once).
func (fn *settleAdsFn) settle(ad string, clicks []*clickbatch.Click, emit func(Count), outcomes func(string, int64), report map[string]*reportPart) []AdMinutes {
	sortByRank(clicks)
	counted := map[countable.ID]bool{}
	byAdvertiser := adSettlement{}
	bursts := fn.Rules.NewBurstTracker()
	for _, c := range clicks {
		o := c.Class.Outcome()
		if c.Class == clickbatch.ClassCounted {
			if counted[c.Impression] {
				o = countable.Duplicate
			} else if bursts.Burst(ad, c.UserKey, c.ClickTimeMs) {
				o = countable.InvalidBurst
			}
			counted[c.Impression] = true
		}
		if inRun(c, fn.FromMs, fn.ToMs) {
			byAdvertiser.add(c, o)
		}
	}
	var out []AdMinutes
	for advertiser, a := range byAdvertiser {
		emitOutcomes(advertiser, a.byOutcome, emit, outcomes, report)
		emitPlacements(advertiser, a.placements, emit)
		out = append(out, newAdMinutes(advertiser, ad, a.minutes))
	}
	return out
}

// adCounts is one ad's counts under one advertiser.
type adCounts struct {
	minutes    map[campaignMinute]int64
	placements map[adBucket]map[string]int64 // quarter hour → placement label → clicks
	byOutcome  map[adOutcome]int64           // by quarter hour
}

func newAdCounts() *adCounts {
	return &adCounts{minutes: map[campaignMinute]int64{}, placements: map[adBucket]map[string]int64{}, byOutcome: map[adOutcome]int64{}}
}

// adSettlement is one ad's counts by the advertiser each click was
// recorded under.
type adSettlement map[string]*adCounts

// of is advertiser's counts, new if need be.
func (s adSettlement) of(advertiser string) *adCounts {
	a := s[advertiser]
	if a == nil {
		a = newAdCounts()
		s[advertiser] = a
	}
	return a
}

// add counts click c, settled as outcome o.
func (s adSettlement) add(c *clickbatch.Click, o countable.Outcome) {
	a := s.of(c.AdvertiserID)
	quarter := c.ClickTimeMs / quarterMs * quarterMs
	a.byOutcome[adOutcome{quarter, c.AdID, o}]++
	if o == countable.Counted {
		a.minutes[campaignMinute{c.CampaignID, c.ClickTimeMs / 60000 * 60000}]++
		a.addPlacement(adBucket{c.AdID, quarter}, btschema.PlacementLabel(c.PlacementID), 1)
	}
}

func (a *adCounts) addPlacement(q adBucket, label string, n int64) {
	if a.placements[q] == nil {
		a.placements[q] = map[string]int64{}
	}
	a.placements[q][label] += n
}

// adOutcome is one ad's clicks of one outcome in one bucket.
type adOutcome struct {
	startMs int64
	ad      string
	outcome countable.Outcome
}

// emitOutcomes emits an advertiser's outcome counts per ad and quarter
// hour, and their sums per ad and UTC day (Counts, the warehouse's
// outcome rows and the report).
func emitOutcomes(advertiser string, byQuarter map[adOutcome]int64, emit func(Count), outcomes func(string, int64), report map[string]*reportPart) {
	byDay := map[adOutcome]int64{}
	for k, n := range byQuarter {
		emit(Count{Kind: btschema.OutcomeQuarters, Advertiser: advertiser, Ad: k.ad, Start: time.UnixMilli(k.startMs).UTC(), Column: string(k.outcome), N: n})
		k.startMs = k.startMs / dayMs * dayMs
		byDay[k] += n
	}
	for k, n := range byDay {
		day := time.UnixMilli(k.startMs).UTC()
		dayText := day.Format(time.DateOnly)
		outcomes(dayText+"|"+advertiser+"|"+k.ad+"|"+string(k.outcome), n)
		part(report, dayText).addOutcome(string(k.outcome), n)
		emit(Count{Kind: btschema.Outcomes, Advertiser: advertiser, Ad: k.ad, Start: day, Column: string(k.outcome), N: n})
	}
}

// emitPlacements emits an advertiser's placement counts per ad and UTC
// day, capped (capPlacements), and per quarter hour under the same
// labels: a placement the day folds into (other) is (other) in each of
// its quarters too, so the quarters of a day sum to its cells.
func emitPlacements(advertiser string, byQuarter map[adBucket]map[string]int64, emit func(Count)) {
	byDay := map[adBucket]map[string]int64{}
	for q, labels := range byQuarter {
		day := adBucket{q.ad, q.startMs / dayMs * dayMs}
		if byDay[day] == nil {
			byDay[day] = map[string]int64{}
		}
		for label, n := range labels {
			byDay[day][label] += n
		}
	}
	kept := map[adBucket]map[string]int64{}
	for day, labels := range byDay {
		kept[day] = capPlacements(labels, btschema.DefaultMaxPlacements)
		for label, n := range kept[day] {
			emit(Count{Kind: btschema.Placement, Advertiser: advertiser, Ad: day.ad, Start: time.UnixMilli(day.startMs).UTC(), Column: label, N: n})
		}
	}
	for q, labels := range byQuarter {
		dayKept := kept[adBucket{q.ad, q.startMs / dayMs * dayMs}]
		capped := map[string]int64{}
		for label, n := range labels {
			if _, ok := dayKept[label]; !ok {
				label = btschema.OtherPlacements
			}
			capped[label] += n
		}
		for label, n := range capped {
			emit(Count{Kind: btschema.PlacementQuarters, Advertiser: advertiser, Ad: q.ad, Start: time.UnixMilli(q.startMs).UTC(), Column: label, N: n})
		}
	}
}

// inRun reports whether c was clicked in the run's days [fromMs, toMs):
// clicks before were read so that their impressions' first clicks and
// their users' bursts are known, and are counted by the run of their day.
func inRun(c *clickbatch.Click, fromMs, toMs int64) bool {
	return c.ClickTimeMs >= fromMs && c.ClickTimeMs < toMs
}

const quarterMs = int64(btschema.Quarter / time.Millisecond)

const dayMs = 24 * 60 * 60 * 1000

// capPlacements keeps the max most clicked placements (ties to the
// smaller label) and sums the rest into btschema.OtherPlacements: the
// same answer whatever order the clicks came in.
func capPlacements(byPlacement map[string]int64, max int) map[string]int64 {
	if max <= 0 {
		max = btschema.DefaultMaxPlacements
	}
	if len(byPlacement) <= max {
		return byPlacement
	}
	labels := make([]string, 0, len(byPlacement))
	for l := range byPlacement {
		labels = append(labels, l)
	}
	sort.Slice(labels, func(i, j int) bool {
		if byPlacement[labels[i]] != byPlacement[labels[j]] {
			return byPlacement[labels[i]] > byPlacement[labels[j]]
		}
		return labels[i] < labels[j]
	})
	out := map[string]int64{}
	for i, l := range labels {
		if i < max && l != btschema.OtherPlacements {
			out[l] = byPlacement[l]
		} else {
			out[btschema.OtherPlacements] += byPlacement[l]
		}
	}
	return out
}

func abs(n int64) int64 {
	if n < 0 {
		return -n
	}
	return n
}

func minuteKey(advertiser, ad string, minute time.Time) string {
	return advertiser + "/" + ad + "/" + strconv.FormatInt(minute.UnixMilli(), 10)
}

// splitMinuteKey undoes minuteKey.
func splitMinuteKey(k string) (advertiser, ad string, minute time.Time, err error) {
	parts := strings.Split(k, "/")
	if len(parts) != 3 {
		return "", "", time.Time{}, fmt.Errorf("minute key %q: want advertiser/ad/minute", k)
	}
	ms, err := strconv.ParseInt(parts[2], 10, 64)
	if err != nil {
		return "", "", time.Time{}, fmt.Errorf("minute key %q: %w", k, err)
	}
	return parts[0], parts[1], time.UnixMilli(ms).UTC(), nil
}
