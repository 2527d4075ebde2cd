package nightly

import (
	"context"
	"fmt"
	"reflect"
	"sort"
	"time"

	"cloud.google.com/go/bigtable"
	"github.com/apache/beam/sdks/v2/go/pkg/beam"
	"github.com/apache/beam/sdks/v2/go/pkg/beam/register"

	"github.com/adclick/adclick/internal/btschema"
)

func init() {
	beam.RegisterType(reflect.TypeOf((*AdMinutes)(nil)).Elem())
	register.DoFn3x1[context.Context, []byte, func(int, AdMinutes), error](&speedAdvertisersFn{})
	register.DoFn5x1[context.Context, int, func(*AdMinutes) bool, func(CountBatch), func(string, []byte), error](&reconcileFn{})
	register.Iter1[AdMinutes]()
}

// AdMinutes is one ad's countable clicks per minute and campaign (the
// campaign recorded with each click), as they cross from the ad's shard to
// its advertiser's: entry i is Counts[i] clicks in the minute starting at
// StartMs[i] under campaign Campaigns[Campaign[i]]. With Ad empty it only
// names an advertiser whose speed cells need reconciling.
type AdMinutes struct {
	Advertiser, Ad string
	Campaigns      []string
	Campaign       []int32
	StartMs        []int64
	Counts         []int64
}

// reconcileMinutes is the minute buckets each reconcile call held.
var reconcileMinutes = beam.NewDistribution("adclick", "reconcile_shard_minutes")

type campaignMinute struct {
	campaign string
	startMs  int64
}

func newAdMinutes(advertiser, ad string, minutes map[campaignMinute]int64) AdMinutes {
	m := AdMinutes{Advertiser: advertiser, Ad: ad}
	index := map[string]int32{}
	keys := make([]campaignMinute, 0, len(minutes))
	for k := range minutes {
		keys = append(keys, k)
	}
	sort.Slice(keys, func(i, j int) bool { // the same bytes for the same counts
		if keys[i].startMs != keys[j].startMs {
			return keys[i].startMs < keys[j].startMs
		}
		return keys[i].campaign < keys[j].campaign
	})
	for _, k := range keys {
		i, ok := index[k.campaign]
		if !ok {
			i = int32(len(m.Campaigns))
			index[k.campaign] = i
			m.Campaigns = append(m.Campaigns, k.campaign)
		}
		m.Campaign = append(m.Campaign, i)
		m.StartMs = append(m.StartMs, k.startMs)
		m.Counts = append(m.Counts, minutes[k])
	}
	return m
}

// reconcileFn settles one advertiser shard's minutes: per advertiser, the
// minute counts of each ad, of each campaign and of the advertiser (summed
// from its ads' AdMinutes) are compared with the speed cells: every minute
// either has becomes a Count, zero where only the speed layer counted, and
// disagreements go to the report; hour and day counts are summed from the
// minutes. What it holds is an advertiser's minutes, not its clicks.
type reconcileFn struct {
	Project, Instance, AppProfile string
	FromMs, ToMs                  int64
	TimeoutMs                     int64

	client *bigtable.Client
}

func (fn *reconcileFn) Setup(ctx context.Context) error {
	if fn.Instance == "" {
		return nil
	}
	c, err := btschema.Dial(ctx, fn.Project, fn.Instance, fn.AppProfile)
	if err != nil {
		return err
	}
	fn.client = c
	return nil
}

func (fn *reconcileFn) Teardown() error {
	if fn.client != nil {
		return fn.client.Close()
	}
	return nil
}

func (fn *reconcileFn) ProcessElement(ctx context.Context, _ int, ads func(*AdMinutes) bool, emitBatch func(CountBatch), parts func(string, []byte)) error {
	byAdvertiser := map[string]map[adBucket]int64{}
	var m AdMinutes
	for ads(&m) {
		minutes := byAdvertiser[m.Advertiser]
		if minutes == nil {
			minutes = map[adBucket]int64{}
			byAdvertiser[m.Advertiser] = minutes
		}
		for i, n := range m.Counts {
			start, campaign := m.StartMs[i], m.Campaigns[m.Campaign[i]]
			minutes[adBucket{m.Ad, start}] += n
			minutes[adBucket{btschema.AllAds, start}] += n
			if campaign != "" {
				minutes[adBucket{btschema.CampaignSeries(campaign), start}] += n
			}
		}
		m = AdMinutes{}
	}
	var held int
	for _, minutes := range byAdvertiser {
		held += len(minutes)
	}
	reconcileMinutes.Update(ctx, int64(held))
	report := map[string]*reportPart{}
	counts := countBatcher{emit: emitBatch}
	for advertiser, minutes := range byAdvertiser {
		if err := fn.reconcile(ctx, advertiser, minutes, counts.add, report); err != nil {
			return err
		}
	}
	counts.flush()
	for day, p := range report {
		p.trim()
		emitPart(day, *p, parts)
	}
	return nil
}

func (fn *reconcileFn) reconcile(ctx context.Context, advertiser string, minutes map[adBucket]int64, emit func(Count), report map[string]*reportPart) error {
	speedCells, err := fn.readSpeed(ctx, advertiser)
	if err != nil {
		return err
	}
	for k := range speedCells {
		if _, ok := minutes[k]; !ok {
			minutes[k] = 0
		}
	}
	rollups := map[Count]int64{}
	for k, n := range minutes {
		start := time.UnixMilli(k.startMs).UTC()
		emit(Count{Kind: btschema.Minute, Advertiser: advertiser, Ad: k.ad, Start: start, N: n})
		rollups[Count{Kind: btschema.Hour, Advertiser: advertiser, Ad: k.ad, Start: start.Truncate(time.Hour)}] += n
		rollups[Count{Kind: btschema.Day, Advertiser: advertiser, Ad: k.ad, Start: start.Truncate(24 * time.Hour)}] += n
		if s := speedCells[k]; s != n {
			mismatched.Inc(ctx, 1)
			absDifference.Inc(ctx, abs(s-n))
			part(report, start.Format(time.DateOnly)).addDiff(ReportDiff{Advertiser: advertiser, Ad: k.ad, Minute: start, Speed: s, Batch: n})
		}
	}
	for c, n := range rollups {
		c.N = n
		emit(c)
	}
	return nil
}

// readSpeed reads the speed cells of advertiser in the run's days: the
// ads the speed layer's day index lists, and their minute rows of those
// days only.
func (fn *reconcileFn) readSpeed(ctx context.Context, advertiser string) (map[adBucket]int64, error) {
	cells := map[adBucket]int64{}
	if fn.client == nil {
		return cells, nil
	}
	tbl := fn.client.Open(btschema.Table)
	days := Days(time.UnixMilli(fn.FromMs), time.UnixMilli(fn.ToMs))
	ctx, cancel := bigtableCall(ctx, fn.TimeoutMs)
	defer cancel()
	ads, err := btschema.ReadActiveAds(ctx, tbl, advertiser, days)
	if err != nil {
		return nil, err
	}
	err = btschema.ReadSpeedMinutes(ctx, tbl, advertiser, ads, days, func(ad string, minute time.Time, n int64) {
		cells[adBucket{ad, minute.UnixMilli()}] = n
	})
	if err != nil {
		return nil, fmt.Errorf("read speed cells of %s: %w", advertiser, err)
	}
	return cells, nil
}

// speedAdvertisersFn finds the advertisers with speed cells in the run's
// days (the speed layer's day index: a read of the days, not of the
// table's history) and sends each to its advertiser shard, so that minutes the speed layer
// counted get the batch's exact value (0 if need be) even for an
// advertiser the archive holds no countable click of.
type speedAdvertisersFn struct {
	Project, Instance, AppProfile string
	FromMs, ToMs                  int64
	Shards                        int
	TimeoutMs                     int64
}

func (fn *speedAdvertisersFn) ProcessElement(ctx context.Context, _ []byte, emit func(int, AdMinutes)) error {
	if fn.Instance == "" {
		return nil
	}
	client, err := btschema.Dial(ctx, fn.Project, fn.Instance, fn.AppProfile)
	if err != nil {
		return err
	}
	defer client.Close()
	tctx, cancel := bigtableCall(ctx, fn.TimeoutMs)
	defer cancel()
	active, err := btschema.ReadActive(tctx, client.Open(btschema.Table), Days(time.UnixMilli(fn.FromMs), time.UnixMilli(fn.ToMs)))
	if err != nil {
		return fmt.Errorf("list advertisers with speed cells: %w", err)
	}
	for a := range active {
		emit(Shard(a, fn.Shards), AdMinutes{Advertiser: a})
	}
	return nil
}

// DefaultBigtableTimeout bounds each Bigtable call of the nightly: an
// unreachable Bigtable fails the run (the day stays provisional; rerun
// it) instead of holding workers for ever.
const DefaultBigtableTimeout = 2 * time.Minute

func bigtableCall(ctx context.Context, timeoutMs int64) (context.Context, context.CancelFunc) {
	d := time.Duration(timeoutMs) * time.Millisecond
	if d <= 0 {
		d = DefaultBigtableTimeout
	}
	return context.WithTimeout(ctx, d)
}
