package nightly

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"maps"
	"math/rand/v2"
	"slices"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"cloud.google.com/go/bigtable"
	"github.com/apache/beam/sdks/v2/go/pkg/beam"
	"github.com/apache/beam/sdks/v2/go/pkg/beam/testing/ptest"

	"github.com/adclick/adclick/internal/blob"
	"github.com/adclick/adclick/internal/btschema"
	"github.com/adclick/adclick/internal/clickevent"
	"github.com/adclick/adclick/internal/countable"
	"github.com/adclick/adclick/internal/gcpnames"
	"github.com/adclick/adclick/internal/localstack/lstest"
	"github.com/adclick/adclick/internal/rawarchive"
	"github.com/adclick/adclick/internal/token"
	"github.com/adclick/adclick/internal/warehouse"
	"github.com/adclick/adclick/internal/warehouse/bqtest"
)

func TestMain(m *testing.M) { ptest.MainRet(m) }

var day0 = time.Date(2026, 11, 26, 0, 0, 0, 0, time.UTC)

// world is a generated archive with its known answer.
type world struct {
	files map[time.Time][]rawarchive.Record // by file start
	// want: counted clicks per "advertiser/ad/minute-ms", and outcomes per
	// "day|outcome", over every click of every day.
	want     map[string]int64
	outcomes map[string]int64
	seq      int
	// copies are the file start times of re-delivered copies of clicks.
	copies []time.Time
	// placements: counted clicks per "advertiser/ad/day-ms" and placement label.
	placements map[string]map[string]int64
	// quarters: clicks per ad and quarter hour, by outcome (any click) and
	// by placement label (counted ones): btschema.Quarters' cells.
	quarters map[quarterCell]int64
}

// quarterCell is one cell of a PlacementQuarters or OutcomeQuarters row.
type quarterCell struct {
	kind    btschema.Kind
	ad      string
	quarter time.Time
	column  string
}

func newWorld() *world {
	return &world{files: map[time.Time][]rawarchive.Record{}, want: map[string]int64{}, outcomes: map[string]int64{}, placements: map[string]map[string]int64{}, quarters: map[quarterCell]int64{}}
}

// click archives one click in the file started at file, and returns it.
func (w *world) click(file time.Time, imp token.ImpressionID, impTime time.Time, ad string, at time.Time, mut ...func(*clickevent.Event)) *clickevent.Event {
	w.seq++
	ev := &clickevent.Event{SchemaVersion: 1, ClickID: fmt.Sprintf("%032x", w.seq), ImpressionID: imp.String(),
		AdID: ad, AdvertiserID: "adv-" + ad[:2], CampaignID: campaignOf(ad, at), PlacementID: placementOf(ad, w.seq), ImpressionTime: impTime, ExpiresAt: impTime.Add(time.Hour),
		ClickTime: at, UserKey: "user-" + imp.String()[:12], UAClass: clickevent.UABrowser}
	for _, f := range mut {
		f(ev)
	}
	w.add(file, ev)
	return ev
}

func (w *world) add(file time.Time, ev *clickevent.Event) {
	data, _ := clickevent.Marshal(ev)
	w.files[file] = append(w.files[file], rawarchive.Record{
		Subscription: "projects/p/subscriptions/clicks-archive", MessageID: "m-" + ev.ClickID + "-" + strconv.Itoa(len(w.files[file])),
		PublishTime: ev.ClickTime.Add(50 * time.Millisecond), Attributes: clickevent.Attributes(ev), Data: data,
	})
}

// count records the expected outcome of a click.
func (w *world) count(ev *clickevent.Event, o countable.Outcome) {
	w.outcomes[ev.ClickTime.UTC().Format(time.DateOnly)+"|"+string(o)]++
	quarter := ev.ClickTime.UTC().Truncate(btschema.Quarter)
	w.quarters[quarterCell{btschema.OutcomeQuarters, ev.AdID, quarter, string(o)}]++
	if o == countable.Counted {
		w.quarters[quarterCell{btschema.PlacementQuarters, ev.AdID, quarter, btschema.PlacementLabel(ev.PlacementID)}]++
		minute := strconv.FormatInt(ev.ClickTime.Truncate(time.Minute).UnixMilli(), 10)
		w.want[ev.AdvertiserID+"/"+ev.AdID+"/"+minute]++
		w.want[ev.AdvertiserID+"/"+btschema.AllAds+"/"+minute]++
		w.want[ev.AdvertiserID+"/"+btschema.CampaignSeries(ev.CampaignID)+"/"+minute]++
		day := ev.AdvertiserID + "/" + ev.AdID + "/" + strconv.FormatInt(ev.ClickTime.UTC().Truncate(24*time.Hour).UnixMilli(), 10)
		if w.placements[day] == nil {
			w.placements[day] = map[string]int64{}
		}
		w.placements[day][btschema.PlacementLabel(ev.PlacementID)]++
	}
}

// placementOf is where the seq-th click's ad was shown: the hot ad on a
// new placement each time (past the daily cap), the others on three
// slots each, a few on none or on an id that is not printable.
func placementOf(ad string, seq int) string {
	switch {
	case seq%41 == 0:
		return ""
	case seq%43 == 0:
		return "bad\x01id"
	case ad == "aa-hot":
		return fmt.Sprintf("hot-%05d", seq)
	}
	return fmt.Sprintf("slot %s #%d", ad, seq%3)
}

// capped is the placement table's expectation: the cap most clicked
// placements, ties to the smaller label, the rest as (other).
func capped(byLabel map[string]int64, limit int) map[string]int64 {
	type lc struct {
		label string
		n     int64
	}
	var all []lc
	for l, n := range byLabel {
		all = append(all, lc{l, n})
	}
	sort.Slice(all, func(i, j int) bool {
		return all[i].n > all[j].n || all[i].n == all[j].n && all[i].label < all[j].label
	})
	out := map[string]int64{}
	for i, x := range all {
		if i < limit {
			out[x.label] = x.n
		} else {
			out[btschema.OtherPlacements] += x.n
		}
	}
	return out
}

// campaignOf is the campaign an ad's clicks carry at t: aa-1 moves from
// "spring" to "summer" at noon of each day, and keeps its morning clicks
// in "spring"; the other ads stay in their advertiser's campaign.
func campaignOf(ad string, at time.Time) string {
	if ad == "aa-1" {
		if at.UTC().Hour() < 12 {
			return "spring"
		}
		return "summer"
	}
	return "camp-" + ad[:2]
}

// generate builds days [day0, day0+n) of traffic with every trap.
func generate(n int) *world { return generateFrom(day0, n) }

// generateFrom builds days [first, first+n) of traffic with every trap.
func generateFrom(first time.Time, n int) *world {
	w := newWorld()
	rng := rand.New(rand.NewPCG(1, 2))
	ads := []string{"aa-hot", "aa-1", "aa-2", "bb-1", "bb-2", "cc-1"}
	fileOf := func(t time.Time) time.Time { return t.Truncate(5 * time.Minute) }
	for d := range n + 1 { // the extra day supplies the look-back and late files
		start := first.AddDate(0, 0, d-1)
		for i := 0; i < 600; i++ {
			at := start.Add(time.Duration(rng.Int64N(int64(24 * time.Hour))))
			ad := ads[rng.IntN(len(ads))]
			if i%3 == 0 {
				ad = "aa-hot"
			}
			imp := token.NewImpressionID()
			ev := w.click(fileOf(at), imp, at.Add(-time.Minute), ad, at)
			w.count(ev, countable.Counted)
			switch i % 10 {
			case 1: // a duplicate in a later file
				dup := w.click(fileOf(at.Add(7*time.Minute)), imp, ev.ImpressionTime, ad, at.Add(7*time.Minute))
				w.count(dup, countable.Duplicate)
			case 2: // expired
				w.count(w.click(fileOf(at), token.NewImpressionID(), at.Add(-2*time.Hour), ad, at), countable.Expired)
			case 3: // bot
				w.count(w.click(fileOf(at), token.NewImpressionID(), at.Add(-time.Minute), ad, at, func(e *clickevent.Event) { e.UAClass = clickevent.UABot }), countable.Bot)
			case 4: // invalid: clicked long before its impression
				w.count(w.click(fileOf(at), token.NewImpressionID(), at.Add(time.Hour), ad, at, func(e *clickevent.Event) { e.ExpiresAt = at.Add(2 * time.Hour) }), countable.Invalid)
			case 5: // the same click delivered twice, in two files
				w.add(fileOf(at).Add(5*time.Minute), ev)
				w.copies = append(w.copies, fileOf(at).Add(5*time.Minute))
			case 6: // published late, from a spool, 2 hours after its day
				late := w.click(start.AddDate(0, 0, 1).Add(2*time.Hour), token.NewImpressionID(), at.Add(-time.Minute), ad, at)
				w.count(late, countable.Counted)
			case 8: // invalid traffic, now and then
				switch i % 100 {
				case 8: // a script clicks fresh impressions of one ad: past the burst limit they are bursts
					script := fmt.Sprintf("script-%d-%d", d, i)
					for k := range countable.DefaultRules.BurstClicks + 2 {
						o := countable.Counted
						if k >= countable.DefaultRules.BurstClicks {
							o = countable.InvalidBurst
						}
						when := at.Add(time.Duration(k) * 20 * time.Second)
						w.count(w.click(fileOf(when), token.NewImpressionID(), when.Add(-time.Minute), "bb-2", when, func(e *clickevent.Event) { e.UserKey = script }), o)
					}
				case 18: // clicked 200 ms after the impression was minted
					w.count(w.click(fileOf(at), token.NewImpressionID(), at.Add(-200*time.Millisecond), ad, at), countable.InvalidTooFast)
				case 28: // from a data-centre address
					w.count(w.click(fileOf(at), token.NewImpressionID(), at.Add(-time.Minute), ad, at, func(e *clickevent.Event) { e.Datacenter = true }), countable.InvalidDatacenter)
				}
			case 7: // a bot's click first, a human's later: the human one counts
				shared := token.NewImpressionID()
				bot := w.click(fileOf(at), shared, at.Add(-time.Minute), ad, at, func(e *clickevent.Event) { e.UAClass = clickevent.UABot })
				w.count(bot, countable.Bot)
				human := w.click(fileOf(at.Add(time.Second)), shared, bot.ImpressionTime, ad, at.Add(time.Second))
				w.count(human, countable.Counted)
			}
		}
		// Across midnight: first click at 23:59:50, duplicate at 00:00:10
		// of the next day, in a file started after midnight.
		end := start.AddDate(0, 0, 1)
		imp := token.NewImpressionID()
		before := w.click(fileOf(end.Add(-10*time.Second)), imp, end.Add(-time.Minute), "bb-1", end.Add(-10*time.Second))
		w.count(before, countable.Counted)
		after := w.click(end, imp, before.ImpressionTime, "bb-1", end.Add(10*time.Second))
		w.count(after, countable.Duplicate)
		// A message that is not a click event.
		w.files[fileOf(start.Add(time.Hour))] = append(w.files[fileOf(start.Add(time.Hour))], rawarchive.Record{
			Subscription: "s", MessageID: "junk-" + start.Format(time.DateOnly), PublishTime: start.Add(time.Hour), Data: []byte("not json"), Attributes: map[string]string{},
		})
	}
	return w
}

func (w *world) write(t *testing.T, archive string) {
	t.Helper()
	ctx := context.Background()
	store, err := blob.Open(ctx, archive)
	if err != nil {
		t.Fatal(err)
	}
	for start, recs := range w.files {
		out, err := store.Create(ctx, rawarchive.ObjectName(start, fmt.Sprintf("00000000-0000-0000-0000-%012d", start.Unix())))
		if err != nil {
			t.Fatal(err)
		}
		aw, err := rawarchive.NewWriter(out)
		if err != nil {
			t.Fatal(err)
		}
		if err := aw.Append(recs); err != nil {
			t.Fatal(err)
		}
		if err := out.Close(); err != nil {
			t.Fatal(err)
		}
	}
}

type harness struct {
	archive, output string
	bt              *bigtable.Client
	bq              BigQuery
	hotAdShare      float64
}

func newHarness(t *testing.T, w *world) *harness {
	t.Helper()
	lstest.Start(t)
	lstest.KeepSpeedCells(t, gcpnames.LocalProject) // the days are dated
	h := &harness{archive: t.TempDir(), output: t.TempDir()}
	w.write(t, h.archive)
	c, err := bigtable.NewClient(context.Background(), gcpnames.LocalProject, gcpnames.BigtableInstance)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	h.bt = c
	return h
}

func (h *harness) run(t *testing.T, from time.Time, days int) []Report {
	t.Helper()
	reports, err := h.try(from, days)
	if err != nil {
		t.Fatalf("run %s for %d days: %v", from.Format(time.DateOnly), days, err)
	}
	return reports
}

func (h *harness) try(from time.Time, days int) ([]Report, error) {
	return RunDays(context.Background(), RunOptions{
		Archive: h.archive, Output: h.output, From: from, To: from.AddDate(0, 0, days), LateMargin: DefaultLateMargin,
		Shards: harnessShards, HotAdShare: h.hotAdShare, Project: gcpnames.LocalProject, BigtableInstance: gcpnames.BigtableInstance, BigQuery: h.bq,
		Log: slog.New(slog.NewTextHandler(io.Discard, nil)),
		Run: func(ctx context.Context, p *beam.Pipeline) (beam.PipelineResult, error) {
			return ptest.RunWithMetrics(p)
		},
	})
}

// marker returns the version of day's reconciled marker, if any.
func (h *harness) marker(t *testing.T, day time.Time) (bigtable.Timestamp, bool) {
	t.Helper()
	marked, err := btschema.ReadReconciled(context.Background(), h.bt.Open(btschema.Table), day, day.Add(24*time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	ts, ok := marked[day.UTC().Truncate(24*time.Hour)]
	return ts, ok
}

// speed writes a speed-layer cell and its day index cell, as the
// streaming job would.
func (h *harness) speed(t *testing.T, advertiser, ad string, minute time.Time, n int64) {
	t.Helper()
	var b btschema.Batch
	btschema.SetActive(&b, advertiser, ad, minute)
	btschema.SetSpeedMinute(&b, advertiser, ad, minute, n)
	if err := b.Apply(context.Background(), h.bt.Open(btschema.Table)); err != nil {
		t.Fatal(err)
	}
}

// perfectSpeed writes the speed cells the streaming job would have
// written for day, had it been exact.
func (h *harness) perfectSpeed(t *testing.T, w *world, day time.Time) {
	t.Helper()
	var b btschema.Batch
	for k, n := range w.want {
		advertiser, ad, minute, _ := splitMinuteKey(k)
		if !minute.Truncate(24 * time.Hour).Equal(day) {
			continue
		}
		btschema.SetActive(&b, advertiser, ad, minute)
		btschema.SetSpeedMinute(&b, advertiser, ad, minute, n)
	}
	if err := b.Apply(context.Background(), h.bt.Open(btschema.Table)); err != nil {
		t.Fatal(err)
	}
}

// tables reads every published count table into "table|advertiser/ad/bucket-ms" → clicks.
func (h *harness) tables(t *testing.T, days []time.Time) map[string]int64 {
	t.Helper()
	ctx := context.Background()
	out, err := blob.Open(ctx, h.output)
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]int64{}
	for _, tbl := range warehouse.Tables {
		for _, p := range partitions(tbl, days) {
			err := ReadRows(ctx, out, tbl, p, func(row any) {
				switch r := row.(type) {
				case warehouse.AdRow:
					got[fmt.Sprintf("%s|%s/%s/%d", tbl.Name, r.AdvertiserID, r.AdID, r.BucketStart)] += r.Clicks
				case warehouse.AdvertiserRow:
					got[fmt.Sprintf("%s|%s/%s/%d", tbl.Name, r.AdvertiserID, btschema.AllAds, r.BucketStart)] += r.Clicks
				case warehouse.PlacementRow:
					got[fmt.Sprintf("%s|%s/%s/%d|%s", tbl.Name, r.AdvertiserID, r.AdID, warehouse.DayOf(r.Date).UnixMilli(), r.PlacementID)] += r.Clicks
				case warehouse.CampaignRow:
					got[fmt.Sprintf("%s|%s/%s/%d", tbl.Name, r.AdvertiserID, btschema.CampaignSeries(r.CampaignID), r.BucketStart)] += r.Clicks
				case warehouse.OutcomeRow:
					got[fmt.Sprintf("%s|%s|%s", tbl.Name, warehouse.DayOf(r.Date).Format(time.DateOnly), r.Outcome)] += r.Clicks
				}
			})
			if err != nil {
				t.Fatal(err)
			}
		}
	}
	return got
}

func partitions(tbl warehouse.Table, days []time.Time) []time.Time {
	var ps []time.Time
	for _, d := range days {
		p := tbl.PartitionOf(d)
		if len(ps) == 0 || !ps[len(ps)-1].Equal(p) {
			ps = append(ps, p)
		}
	}
	return ps
}

// expected turns the world's answer into the tables' contents for days.
func (w *world) expected(days []time.Time) map[string]int64 {
	in := func(ms int64) bool {
		t := time.UnixMilli(ms).UTC()
		return !t.Before(days[0]) && t.Before(days[len(days)-1].AddDate(0, 0, 1))
	}
	want := map[string]int64{}
	for k, n := range w.want {
		advertiser, ad, minute, _ := splitMinuteKey(k)
		if !in(minute.UnixMilli()) {
			continue
		}
		level := "ad_clicks_"
		if ad == btschema.AllAds {
			level = "advertiser_clicks_"
		} else if _, ok := btschema.CampaignOf(ad); ok {
			level = "campaign_clicks_"
		}
		month := time.Date(minute.Year(), minute.Month(), 1, 0, 0, 0, 0, time.UTC)
		year := time.Date(minute.Year(), 1, 1, 0, 0, 0, 0, time.UTC)
		for g, start := range map[string]time.Time{"minute": minute, "hour": minute.Truncate(time.Hour), "day": minute.Truncate(24 * time.Hour), "month": month, "year": year} {
			want[fmt.Sprintf("%s%s|%s/%s/%d", level, g, advertiser, ad, start.UnixMilli())] += n
		}
	}
	for k, byLabel := range w.placements {
		ms, _ := strconv.ParseInt(k[strings.LastIndexByte(k, '/')+1:], 10, 64)
		if !in(ms) {
			continue
		}
		for label, n := range capped(byLabel, btschema.DefaultMaxPlacements) {
			want["ad_placement_clicks_day|"+k+"|"+label] += n
		}
	}
	for k, n := range w.outcomes {
		day, _ := time.Parse(time.DateOnly, k[:10])
		if in(day.UnixMilli()) {
			want["ad_click_outcomes_day|"+k] += n
		}
	}
	return want
}

func diffMaps(t *testing.T, what string, got, want map[string]int64) {
	t.Helper()
	bad := 0
	for k := range maps.Keys(want) {
		if got[k] != want[k] && bad < 10 {
			t.Errorf("%s %s = %d, want %d", what, k, got[k], want[k])
			bad++
		}
	}
	for k := range maps.Keys(got) {
		if _, ok := want[k]; !ok && bad < 10 {
			t.Errorf("%s %s = %d, not expected", what, k, got[k])
			bad++
		}
	}
}

// batchCell reads a batch cell (ok false if absent).
func (h *harness) batchCell(t *testing.T, k btschema.Kind, advertiser, ad string, at time.Time) (int64, bool) {
	t.Helper()
	n, ok, err := btschema.ReadCount(context.Background(), h.bt.Open(btschema.Table), k, btschema.FamilyBatch, advertiser, ad, at)
	if err != nil {
		t.Fatal(err)
	}
	return n, ok
}

// TestDayMatchesKnownAnswer reconciles one generated day and checks every
// table, Bigtable's batch cells and the report against the answer; then
// runs again and checks that nothing changed.
// harnessShards is the runs' shard count.
const harnessShards = 8

// TestDayMatchesKnownAnswer: the day's tables, cells and report are the
// answer, whichever ads are hot and settled split.
func TestDayMatchesKnownAnswer(t *testing.T) {
	everyAd := []string{"aa-1", "aa-2", "aa-hot", "bb-1", "bb-2", "cc-1"}
	for _, tc := range []struct {
		name       string
		hotAdShare float64 // RunOptions.HotAdShare
		split      func(ads []string) bool
	}{
		{"hot ad split", 0, func(ads []string) bool { return slices.Contains(ads, "aa-hot") && len(ads) < len(everyAd) }},
		{"every ad split", 1e-9, func(ads []string) bool { return slices.Equal(ads, everyAd) }},
		{"no ad split", 1, func(ads []string) bool { return len(ads) == 0 }},
	} {
		t.Run(tc.name, func(t *testing.T) { testDayMatchesKnownAnswer(t, tc.hotAdShare, tc.split) })
	}
}

func testDayMatchesKnownAnswer(t *testing.T, hotAdShare float64, wantSplit func(ads []string) bool) {
	w := generate(1)
	// adv-aa's ads settle in different shards, so its all-ads and campaign
	// series (aa-1 runs two campaigns) are summed across shards.
	if shards := map[int]bool{Shard("aa-hot", harnessShards): true, Shard("aa-1", harnessShards): true, Shard("aa-2", harnessShards): true}; len(shards) < 2 {
		t.Fatalf("adv-aa's ads all settle in one of %d shards: the test no longer sums across shards", harnessShards)
	}
	h := newHarness(t, w)
	h.hotAdShare = hotAdShare
	days := []time.Time{day0}

	// The speed layer got every minute right but two: an overcount, and
	// a minute the batch rejects entirely.
	h.perfectSpeed(t, w, day0)
	var someKey string
	for k := range w.want {
		if a, d, m, _ := splitMinuteKey(k); m.Truncate(24*time.Hour).Equal(day0) && a == "adv-aa" && d != btschema.AllAds {
			someKey = k
			break
		}
	}
	adv, ad, minute, _ := splitMinuteKey(someKey)
	h.speed(t, adv, ad, minute, w.want[someKey]+3)
	ghost := day0.Add(3*time.Hour + 17*time.Minute)
	h.speed(t, "adv-zz", "zz-1", ghost, 2)

	reports := h.run(t, day0, 1)
	want := w.expected(days)
	diffMaps(t, "table", h.tables(t, days), want)

	r := reports[0]
	if !wantSplit(r.SplitAds) {
		t.Errorf("split ads %v (hot ad share %v)", r.SplitAds, hotAdShare)
	}
	wantOutcomes := map[countable.Outcome]int64{}
	var archived int64
	for _, o := range countable.Outcomes {
		wantOutcomes[o] = w.outcomes[day0.Format(time.DateOnly)+"|"+string(o)]
		archived += wantOutcomes[o]
	}
	if !maps.Equal(r.Outcomes, wantOutcomes) || r.Archived != archived {
		t.Errorf("report outcomes %v (archived %d), want %v (%d)", r.Outcomes, r.Archived, wantOutcomes, archived)
	}
	// Bigtable's outcome rows, which the reports' invalid clicks read,
	// say the same per ad, summed over the ads.
	cells := map[countable.Outcome]int64{}
	for _, ad := range []string{"aa-hot", "aa-1", "aa-2", "bb-1", "bb-2", "cc-1"} {
		err := btschema.ReadCells(context.Background(), h.bt.Open(btschema.Table), btschema.SeriesRows(btschema.Outcomes, "adv-"+ad[:2], ad, day0, day0.AddDate(0, 0, 1)), btschema.FamilyBatch,
			func(c btschema.Cell) { cells[countable.Outcome(c.Column)] += c.N })
		if err != nil {
			t.Fatal(err)
		}
	}
	for o, n := range wantOutcomes {
		if cells[o] != n {
			t.Errorf("Bigtable outcome cells of %s: %d, want %d", o, cells[o], n)
		}
	}
	// The quarter rows, which the reports read for zones whose days do
	// not start at UTC midnight, hold each quarter hour's outcomes and
	// placements: a placement past the day's cap is (other) in its
	// quarters too.
	wantQuarters := map[quarterCell]int64{}
	for c, n := range w.quarters {
		if !c.quarter.Truncate(24 * time.Hour).Equal(day0) {
			continue
		}
		if c.kind == btschema.PlacementQuarters {
			day := fmt.Sprintf("adv-%s/%s/%d", c.ad[:2], c.ad, day0.UnixMilli())
			if _, kept := capped(w.placements[day], btschema.DefaultMaxPlacements)[c.column]; !kept {
				c.column = btschema.OtherPlacements
			}
		}
		wantQuarters[c] += n
	}
	gotQuarters := map[quarterCell]int64{}
	for _, ad := range []string{"aa-hot", "aa-1", "aa-2", "bb-1", "bb-2", "cc-1"} {
		for _, k := range []btschema.Kind{btschema.PlacementQuarters, btschema.OutcomeQuarters} {
			err := btschema.ReadCells(context.Background(), h.bt.Open(btschema.Table), btschema.SeriesRows(k, "adv-"+ad[:2], ad, day0, day0.AddDate(0, 0, 1)), btschema.FamilyBatch,
				func(c btschema.Cell) { gotQuarters[quarterCell{c.Kind, c.Ad, c.Bucket, c.Column}] += c.N })
			if err != nil {
				t.Fatal(err)
			}
		}
	}
	if len(wantQuarters) < 100 || !maps.Equal(gotQuarters, wantQuarters) {
		t.Errorf("quarter cells: %d, want %d", len(gotQuarters), len(wantQuarters))
		for c, n := range wantQuarters {
			if gotQuarters[c] != n {
				t.Errorf("  %c %s %v %q = %d, want %d", c.kind, c.ad, c.quarter.Format(time.TimeOnly), c.column, gotQuarters[c], n)
			}
		}
	}
	if r.Unreadable["malformed"] != 1 {
		t.Errorf("report unreadable = %v, want one malformed", r.Unreadable)
	}
	// Every copy in a file the run reads (its look-back included) is
	// collapsed and reported.
	readFrom, readTo := ReadWindow(day0, day0.AddDate(0, 0, 1), DefaultLateMargin)
	var copies int64
	for _, f := range w.copies {
		if !f.Before(readFrom) && f.Before(readTo) {
			copies++
		}
	}
	if copies == 0 || r.Redelivered != copies {
		t.Errorf("report counts %d re-delivered clicks, want %d", r.Redelivered, copies)
	}
	if r.BatchTotal != wantOutcomes[countable.Counted] {
		t.Errorf("report batch total %d, want %d", r.BatchTotal, wantOutcomes[countable.Counted])
	}
	// Only the two doctored cells differ.
	if r.MismatchedCells != 2 || r.AbsDifference != 3+2 {
		t.Errorf("report: %d mismatched cells, abs difference %d; want 2 and 5 (%+v)", r.MismatchedCells, r.AbsDifference, r.LargestDifferences)
	}
	if r.SpeedTotal != r.BatchTotal {
		t.Errorf("report speed total %d, batch total %d: the advertiser totals were not doctored", r.SpeedTotal, r.BatchTotal)
	}
	if len(r.LargestDifferences) == 0 || r.LargestDifferences[0].Speed-r.LargestDifferences[0].Batch != 3 {
		t.Errorf("largest differences %+v, want the overcount first", r.LargestDifferences)
	}

	// Bigtable: the batch cells equal the answer, and the ghost minute is
	// zero in the batch family, so readers see the reconciled 0.
	for k, n := range w.want {
		a, d, m, _ := splitMinuteKey(k)
		if !m.Truncate(24 * time.Hour).Equal(day0) {
			continue
		}
		if got, ok := h.batchCell(t, btschema.Minute, a, d, m); !ok || got != n {
			t.Errorf("batch cell %s = %d (present %v), want %d", k, got, ok, n)
		}
	}
	if got, ok := h.batchCell(t, btschema.Minute, "adv-zz", "zz-1", ghost); !ok || got != 0 {
		t.Errorf("batch cell of the ghost minute = %d (present %v), want a written 0", got, ok)
	}
	if got, ok := h.batchCell(t, btschema.Day, "adv-aa", btschema.AllAds, day0); !ok || got != want[fmt.Sprintf("advertiser_clicks_day|adv-aa/*/%d", day0.UnixMilli())] {
		t.Errorf("batch day cell of adv-aa = %d (present %v)", got, ok)
	}
	// The hot ad's placements pass the cap: 100 kept, the rest in (other);
	// clicks without a placement or with an unprintable one are labelled.
	hotPrefix := fmt.Sprintf("ad_placement_clicks_day|adv-aa/aa-hot/%d|", day0.UnixMilli())
	labels := map[string]int64{}
	for k, n := range want {
		if strings.HasPrefix(k, hotPrefix) {
			labels[strings.TrimPrefix(k, hotPrefix)] = n
		}
	}
	if len(labels) != btschema.DefaultMaxPlacements+1 || labels[btschema.OtherPlacements] == 0 || labels[btschema.NoPlacement] == 0 || labels[btschema.InvalidPlacement] == 0 {
		t.Errorf("the hot ad's expected placements: %d labels, (other) %d, (none) %d, (invalid) %d; the test does not exercise the cap",
			len(labels), labels[btschema.OtherPlacements], labels[btschema.NoPlacement], labels[btschema.InvalidPlacement])
	}
	for _, campaign := range []string{"spring", "summer"} { // aa-1 moved at noon
		key := fmt.Sprintf("campaign_clicks_day|adv-aa/%s/%d", btschema.CampaignSeries(campaign), day0.UnixMilli())
		if got, ok := h.batchCell(t, btschema.Day, "adv-aa", btschema.CampaignSeries(campaign), day0); !ok || got != want[key] || got == 0 {
			t.Errorf("batch day cell of campaign %s = %d (present %v), want %d", campaign, got, ok, want[key])
		}
	}

	if _, ok := h.marker(t, day0); !ok {
		t.Errorf("no reconciled marker of %s", day0.Format(time.DateOnly))
	}

	// A second run changes nothing.
	before := h.tables(t, days)
	again := h.run(t, day0, 1)
	diffMaps(t, "table after a rerun", h.tables(t, days), before)
	again[0].LargestDifferences, r.LargestDifferences = nil, nil
	if fmt.Sprint(again[0]) != fmt.Sprint(r) {
		t.Errorf("rerun report %+v, first %+v", again[0], r)
	}
}

// TestBackfillEqualsSingleDays: three days in one run publish the same
// tables as three runs of one day.
func TestBackfillEqualsSingleDays(t *testing.T) {
	w := generate(3)
	days := []time.Time{day0, day0.AddDate(0, 0, 1), day0.AddDate(0, 0, 2)}
	h := newHarness(t, w)
	h.run(t, day0, 3)
	backfill := h.tables(t, days)
	diffMaps(t, "backfill", backfill, w.expected(days))

	h.output = t.TempDir()
	for _, d := range days {
		h.run(t, d, 1)
	}
	diffMaps(t, "single days", h.tables(t, days), backfill)
}

// TestBackfillAcrossNewYear: a backfill of 30 December to 1 January
// writes two year partitions, each the sum of its own months (rolled up
// from the month tables, never from raw), and reruns of single days
// agree with it.
func TestBackfillAcrossNewYear(t *testing.T) {
	first := time.Date(2026, 12, 30, 0, 0, 0, 0, time.UTC)
	w := generateFrom(first, 3)
	days := []time.Time{first, first.AddDate(0, 0, 1), first.AddDate(0, 0, 2)}
	h := newHarness(t, w)
	h.run(t, first, 3)
	backfill := h.tables(t, days)
	want := w.expected(days)
	diffMaps(t, "backfill", backfill, want)
	years := 0
	for k := range want {
		if strings.HasPrefix(k, "advertiser_clicks_year|adv-aa/") {
			years++
		}
	}
	if years != 2 {
		t.Errorf("adv-aa has %d year rows, want 2 (2026 and 2027)", years)
	}

	h.output = t.TempDir()
	for _, d := range days {
		h.run(t, d, 1)
	}
	diffMaps(t, "single days", h.tables(t, days), backfill)
}

// TestFailedLoadLeavesDayProvisional: the reconciled marker is the run's
// last effect. A BigQuery load that fails (the API answers 500 until the
// load's deadline) fails the run before it, so the day stays provisional
// and BigQuery keeps its previous partition; a rerun completes the day.
func TestFailedLoadLeavesDayProvisional(t *testing.T) {
	w := generate(1)
	h := newHarness(t, w)
	bq := bqtest.Start(t)
	h.bq = BigQuery{Project: "p", Dataset: "clicks_ds", Endpoint: bq.Endpoint(), LoadTimeout: 2 * time.Second}
	dayTable := "ad_clicks_day$" + day0.Format("20060102")

	bq.FailLoads(true)
	if _, err := h.try(day0, 1); err == nil {
		t.Fatal("run with failing BigQuery loads succeeded")
	}
	if _, ok := h.marker(t, day0); ok {
		t.Fatal("day marked reconciled although its loads failed")
	}
	if files, ok := bq.Partition(dayTable); ok {
		t.Fatalf("partition %s loaded from %v by a failed run", dayTable, files)
	}

	bq.FailLoads(false)
	h.run(t, day0, 1)
	first, ok := h.marker(t, day0)
	if !ok {
		t.Fatal("rerun did not mark the day reconciled")
	}
	loaded, ok := bq.Partition(dayTable)
	if !ok || len(loaded) == 0 {
		t.Fatalf("rerun did not load %s", dayTable)
	}

	// Failing again: the earlier run's marker and partition stay as they were.
	bq.FailLoads(true)
	if _, err := h.try(day0, 1); err == nil {
		t.Fatal("second run with failing loads succeeded")
	}
	if again, ok := h.marker(t, day0); !ok || again != first {
		t.Errorf("marker after a failed run: %v (present %v), want the earlier run's %v", again, ok, first)
	}
	if files, _ := bq.Partition(dayTable); !slices.Equal(files, loaded) {
		t.Errorf("partition %s after a failed run loaded from %v, want %v", dayTable, files, loaded)
	}
}
