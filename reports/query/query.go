// Package query reads click counts out of the Bigtable views the pipelines
// maintain (internal/btschema): one ad's or an advertiser's series at
// minute, hour, day, month or year granularity in any time zone, and an
// advertiser's top ads over a range.
//
// A bucket is final when every UTC day it overlaps carries the nightly
// batch's reconciled marker; its value is then the batch family's.
// Otherwise it is provisional and the value is the speed family's. Reads
// pick the coarsest rows that serve each UTC day and hour exactly: day
// cells for reconciled days no bucket boundary splits, hour cells for
// other reconciled hours no boundary splits, minute cells for the rest
// (open days, and the hours a half-hour zone's boundaries split).
package query

import (
	"context"
	"fmt"
	"sort"
	"sync"
	"time"

	"cloud.google.com/go/bigtable"

	"github.com/adclick/adclick/internal/btschema"
	"github.com/adclick/adclick/internal/countable"
)

// Granularity of a series.
type Granularity string

const (
	Minute Granularity = "minute"
	Hour   Granularity = "hour"
	Day    Granularity = "day"
	Month  Granularity = "month"
	Year   Granularity = "year"
)

// Granularities in order.
var Granularities = []Granularity{Minute, Hour, Day, Month, Year}

// MaxPoints bounds one series.
const MaxPoints = 1500

// MaxSpan bounds one series' range per granularity, so that no request
// asks for more than a few thousand rows: two days of minutes, 93 days of
// hours, three years of days, 25 years of months or of years.
var MaxSpan = map[Granularity]time.Duration{
	Minute: 2 * 24 * time.Hour,
	Hour:   93 * 24 * time.Hour,
	Day:    3 * 366 * 24 * time.Hour,
	Month:  25 * 366 * 24 * time.Hour,
	Year:   25 * 366 * 24 * time.Hour,
}

// maxCachedDays bounds the reconciled-marker cache: reads are clamped to
// days that can hold counts, so this is a safety net, not a working size.
const maxCachedDays = 4096

// floorTTL is how long the earliest readable day is reused.
const floorTTL = 10 * time.Minute

// Point is one bucket of a series. Open marks the bucket still in
// progress (it holds now): its count can only grow until it ends, so a
// chart should not draw it as a drop.
type Point struct {
	Start  time.Time `json:"start"`
	Clicks int64     `json:"clicks"`
	Final  bool      `json:"final"`
	Open   bool      `json:"open,omitempty"`
}

// Reader reads counts from the clicks table.
type Reader struct {
	tbl *bigtable.Table
	now func() time.Time

	mu         sync.Mutex
	reconciled map[int64]bool // UTC day (unix s) → marked
	checkedAt  map[int64]time.Time
	floor      time.Time // the earliest day that can hold counts
	floorAt    time.Time
}

// NewReader reads from tbl.
func NewReader(tbl *bigtable.Table, now func() time.Time) *Reader {
	if now == nil {
		now = time.Now
	}
	return &Reader{tbl: tbl, now: now, reconciled: map[int64]bool{}, checkedAt: map[int64]time.Time{}}
}

// Buckets returns the starts of the buckets of g in loc that cover
// [from, to), aligned to loc's calendar: from is rounded down to its
// bucket. It fails beyond MaxPoints.
func Buckets(from, to time.Time, g Granularity, loc *time.Location) ([]time.Time, error) {
	start := truncate(from.In(loc), g)
	var out []time.Time
	for t := start; t.Before(to); t = next(t, g) {
		if len(out) == MaxPoints {
			return nil, fmt.Errorf("more than %d %s buckets from %s to %s", MaxPoints, g, from.Format(time.RFC3339), to.Format(time.RFC3339))
		}
		out = append(out, t)
	}
	return out, nil
}

func truncate(t time.Time, g Granularity) time.Time {
	switch g {
	case Minute:
		return t.Truncate(time.Minute)
	case Hour:
		// Truncate works on absolute time, so in zones with half-hour
		// offsets it would not give local hours.
		return time.Date(t.Year(), t.Month(), t.Day(), t.Hour(), 0, 0, 0, t.Location())
	case Day:
		return time.Date(t.Year(), t.Month(), t.Day(), 0, 0, 0, 0, t.Location())
	case Year:
		return time.Date(t.Year(), 1, 1, 0, 0, 0, 0, t.Location())
	}
	return time.Date(t.Year(), t.Month(), 1, 0, 0, 0, 0, t.Location())
}

func next(t time.Time, g Granularity) time.Time {
	switch g {
	case Minute:
		return t.Add(time.Minute)
	case Hour:
		return t.Add(time.Hour)
	case Day:
		return t.AddDate(0, 0, 1)
	case Year:
		return t.AddDate(1, 0, 0)
	}
	return t.AddDate(0, 1, 0)
}

// Series returns the points of ad (btschema.AllAds for the advertiser's
// total) of advertiser over [from, to) at granularity g in loc, zeros
// filled in.
func (r *Reader) Series(ctx context.Context, advertiser, ad string, from, to time.Time, g Granularity, loc *time.Location) ([]Point, error) {
	buckets, err := Buckets(from, to, g, loc)
	if err != nil {
		return nil, err
	}
	if len(buckets) == 0 {
		return []Point{}, nil
	}
	end := next(buckets[len(buckets)-1], g)
	v, err := r.load(ctx, advertiser, ad, append(buckets, end))
	if err != nil {
		return nil, err
	}
	points := make([]Point, len(buckets))
	now := r.now()
	for i, b := range buckets {
		end := next(b, g)
		n, final := v.sum(b, end)
		points[i] = Point{Start: b, Clicks: n, Final: final, Open: !now.Before(b) && now.Before(end)}
	}
	return points, nil
}

// values holds what was read, each UTC day, hour or minute at the
// coarsest level that serves it: whole reconciled days that no bucket
// boundary splits from day cells, other whole reconciled hours from hour
// cells, everything else from minute cells.
type values struct {
	days, hours, minutes map[int64]int64 // unix bucket start → clicks
	wholeDays            map[int64]bool  // UTC days read from day cells
	wholeHours           map[int64]bool  // UTC hours read from hour cells
	reconciled           map[int64]bool  // unix day start → marked
	// from, to is the span read; nothing outside it can hold counts.
	from, to time.Time
}

func newValues() *values {
	return &values{days: map[int64]int64{}, hours: map[int64]int64{}, minutes: map[int64]int64{},
		wholeDays: map[int64]bool{}, wholeHours: map[int64]bool{}, reconciled: map[int64]bool{}}
}

// sum adds the clicks of [from, to) and reports whether all are final.
func (v *values) sum(from, to time.Time) (int64, bool) {
	var n int64
	final := true
	for day := from.UTC().Truncate(24 * time.Hour); day.Before(to); day = day.Add(24 * time.Hour) {
		final = final && v.reconciled[day.Unix()]
	}
	if from.Before(v.from) {
		from = v.from
	}
	if to.After(v.to) {
		to = v.to
	}
	for t := from.UTC(); t.Before(to); {
		switch {
		case v.wholeDays[t.Unix()] && !t.Add(24*time.Hour).After(to):
			n += v.days[t.Unix()]
			t = t.Add(24 * time.Hour)
		case v.wholeHours[t.Unix()] && !t.Add(time.Hour).After(to):
			n += v.hours[t.Unix()]
			t = t.Add(time.Hour)
		default:
			n += v.minutes[t.Truncate(time.Minute).Unix()]
			t = t.Truncate(time.Minute).Add(time.Minute)
		}
	}
	return n, final
}

// load reads the buckets between consecutive bounds for one ad, at the
// coarsest level each UTC day and hour allows (values). Only reconciled
// days have hour and day cells (the nightly writes them); the speed layer
// writes minutes only.
func (r *Reader) load(ctx context.Context, advertiser, ad string, bounds []time.Time) (*values, error) {
	v := newValues()
	from, to := bounds[0], bounds[len(bounds)-1]
	// No counts exist before the floor or after now: read neither.
	floor, err := r.readableFrom(ctx)
	if err != nil {
		return nil, err
	}
	if from.Before(floor) {
		from = floor
	}
	if now := r.now().Add(time.Minute); to.After(now) {
		to = now
	}
	if !from.Before(to) {
		return v, nil
	}
	v.from, v.to = from, to
	if v.reconciled, err = r.reconciledDays(ctx, from, to); err != nil {
		return nil, err
	}
	dayRows, hourRows, minuteRows := v.plan(advertiser, ad, bounds, from, to)
	for _, level := range []struct {
		rows  bigtable.RowList
		read  map[int64]bool // which buckets this level serves
		store map[int64]int64
		unit  time.Duration
	}{
		{dayRows, v.wholeDays, v.days, 24 * time.Hour},
		{hourRows, v.wholeHours, v.hours, time.Hour},
		{minuteRows, nil, v.minutes, time.Minute},
	} {
		if len(level.rows) == 0 {
			continue
		}
		err := btschema.ReadCells(ctx, r.tbl, level.rows, "", func(c btschema.Cell) {
			if level.read != nil && !level.read[c.Bucket.Unix()] {
				return // a day or hour this level does not serve
			}
			if layer(v.reconciled, c.Bucket) == c.Family {
				level.store[c.Bucket.Unix()] = c.N
			}
		})
		if err != nil {
			return nil, fmt.Errorf("read %s of %s/%s: %w", level.unit, advertiser, ad, err)
		}
	}
	return v, nil
}

// plan picks the rows to read for [from, to) split at bounds, and marks
// the days and hours that day and hour cells serve.
func (v *values) plan(advertiser, ad string, bounds []time.Time, from, to time.Time) (dayRows, hourRows, minuteRows bigtable.RowList) {
	// whole: [a, a+d) is inside [from, to) and no bound splits it.
	whole := func(a time.Time, d time.Duration) bool {
		b := a.Add(d)
		if a.Before(from) || b.After(to) {
			return false
		}
		i := sort.Search(len(bounds), func(i int) bool { return bounds[i].After(a) })
		return i == len(bounds) || !bounds[i].Before(b)
	}
	addRow := func(rows *bigtable.RowList, k btschema.Kind, t time.Time) {
		key := btschema.RowKey(k, advertiser, ad, t)
		if n := len(*rows); n == 0 || (*rows)[n-1] != key {
			*rows = append(*rows, key)
		}
	}
	for day := from.UTC().Truncate(24 * time.Hour); day.Before(to); day = day.Add(24 * time.Hour) {
		final := v.reconciled[day.Unix()]
		if final && whole(day, 24*time.Hour) {
			v.wholeDays[day.Unix()] = true
			addRow(&dayRows, btschema.Day, day)
			continue
		}
		for h := day; h.Before(day.Add(24*time.Hour)) && h.Before(to); h = h.Add(time.Hour) {
			switch {
			case !h.Add(time.Hour).After(from):
			case final && whole(h, time.Hour):
				v.wholeHours[h.Unix()] = true
				addRow(&hourRows, btschema.Hour, day)
			default:
				addRow(&minuteRows, btschema.Minute, h)
			}
		}
	}
	return dayRows, hourRows, minuteRows
}

// layer is the family a bucket's value comes from: the batch's on a
// reconciled day, the speed layer's otherwise.
func layer(reconciled map[int64]bool, bucket time.Time) string {
	if reconciled[bucket.UTC().Truncate(24*time.Hour).Unix()] {
		return btschema.FamilyBatch
	}
	return btschema.FamilySpeed
}

// reconcileTTL is how long a day's marker answer is reused. A day becomes
// reconciled once a night; until then, re-checking every request would
// double the reads.
const reconcileTTL = 30 * time.Second

// readableFrom is the earliest day that can hold counts: the first
// reconciled day (batch cells) or the oldest day speed cells are kept,
// whichever is earlier. Cached for floorTTL.
func (r *Reader) readableFrom(ctx context.Context) (time.Time, error) {
	now := r.now()
	r.mu.Lock()
	floor, at := r.floor, r.floorAt
	r.mu.Unlock()
	if !at.IsZero() && now.Sub(at) < floorTTL {
		return floor, nil
	}
	floor = now.Add(-btschema.SpeedRetention).UTC().Truncate(24 * time.Hour)
	first, ok, err := btschema.EarliestReconciled(ctx, r.tbl)
	if err != nil {
		return time.Time{}, fmt.Errorf("read the earliest reconciled day: %w", err)
	}
	if ok && first.Before(floor) {
		floor = first
	}
	r.mu.Lock()
	r.floor, r.floorAt = floor, now
	r.mu.Unlock()
	return floor, nil
}

// CachedDays is how many days' markers the reader remembers.
func (r *Reader) CachedDays() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.checkedAt)
}

// reconciledDays returns which UTC days overlapping [from, to) carry the
// reconciled marker.
func (r *Reader) reconciledDays(ctx context.Context, from, to time.Time) (map[int64]bool, error) {
	out := map[int64]bool{}
	first := from.UTC().Truncate(24 * time.Hour)
	now := r.now()
	var missing []time.Time
	r.mu.Lock()
	for d := first; d.Before(to); d = d.Add(24 * time.Hour) {
		if at, ok := r.checkedAt[d.Unix()]; ok && (r.reconciled[d.Unix()] || now.Sub(at) < reconcileTTL) {
			out[d.Unix()] = r.reconciled[d.Unix()]
			continue
		}
		missing = append(missing, d)
	}
	r.mu.Unlock()
	if len(missing) == 0 {
		return out, nil
	}
	marked, err := btschema.ReadReconciled(ctx, r.tbl, missing[0], missing[len(missing)-1].Add(24*time.Hour))
	if err != nil {
		return nil, err
	}
	found := map[int64]bool{}
	for day := range marked {
		found[day.Unix()] = true
	}
	r.mu.Lock()
	if len(r.checkedAt)+len(missing) > maxCachedDays {
		r.reconciled, r.checkedAt = map[int64]bool{}, map[int64]time.Time{}
	}
	for _, d := range missing {
		r.reconciled[d.Unix()] = found[d.Unix()]
		r.checkedAt[d.Unix()] = now
		out[d.Unix()] = found[d.Unix()]
	}
	r.mu.Unlock()
	return out, nil
}

// Ranked is one ad's or campaign's clicks over a range, and whether the
// count is final.
type Ranked struct {
	ID     string
	Clicks int64
	Final  bool
}

// MaxTopRange bounds Top: its rows hold one minute each.
const MaxTopRange = 24 * time.Hour

// Top returns advertiser's n most clicked ads over [from, to) (whole
// minutes), most clicked first, ties by ad id.
func (r *Reader) Top(ctx context.Context, advertiser string, from, to time.Time, n int) ([]Ranked, error) {
	return r.top(ctx, advertiser, from, to, n, false)
}

// TopCampaigns returns advertiser's n most clicked campaigns over [from,
// to), as Top does for ads: by the campaign recorded with each click.
func (r *Reader) TopCampaigns(ctx context.Context, advertiser string, from, to time.Time, n int) ([]Ranked, error) {
	return r.top(ctx, advertiser, from, to, n, true)
}

// top ranks the ads (or the campaigns) of advertiser's top rows over
// [from, to): the rows hold both, campaigns under btschema.CampaignSeries.
func (r *Reader) top(ctx context.Context, advertiser string, from, to time.Time, n int, campaigns bool) ([]Ranked, error) {
	from, to = from.UTC().Truncate(time.Minute), to.UTC()
	if to.Sub(from) > MaxTopRange {
		return nil, fmt.Errorf("top over %v: at most %v", to.Sub(from), MaxTopRange)
	}
	days, err := r.reconciledDays(ctx, from, to)
	if err != nil {
		return nil, err
	}
	sums := map[string]int64{}
	final := true
	for d := from.Truncate(24 * time.Hour); d.Before(to); d = d.Add(24 * time.Hour) {
		final = final && days[d.Unix()]
	}
	err = btschema.ReadCells(ctx, r.tbl, btschema.TopRows(advertiser, from, to), "", func(c btschema.Cell) {
		id, isCampaign := btschema.CampaignOf(c.Ad)
		if isCampaign != campaigns {
			return
		}
		if !campaigns {
			id = c.Ad
		}
		if layer(days, c.Bucket) == c.Family {
			sums[id] += c.N
		}
	})
	if err != nil {
		return nil, fmt.Errorf("read top rows of %s: %w", advertiser, err)
	}
	out := make([]Ranked, 0, len(sums))
	for id, c := range sums {
		if c > 0 {
			out = append(out, Ranked{ID: id, Clicks: c, Final: final})
		}
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].Clicks != out[j].Clicks {
			return out[i].Clicks > out[j].Clicks
		}
		return out[i].ID < out[j].ID
	})
	if len(out) > n {
		out = out[:n]
	}
	return out, nil
}

// MaxPlacementRange bounds TopPlacements: one row per day.
const MaxPlacementRange = 93 * 24 * time.Hour

// PlacementClicks is one placement's clicks of an ad.
type PlacementClicks struct {
	PlacementID string `json:"placement_id"`
	Clicks      int64  `json:"clicks"`
}

// PlacementDay is one reconciled UTC day's top placements of an ad.
type PlacementDay struct {
	Date       string            `json:"date"`
	Placements []PlacementClicks `json:"placements"`
}

// Placements is which placements brought an ad's clicks: the top over
// the reconciled days of a range, and each day's top.
type Placements struct {
	Top   []PlacementClicks `json:"placements"`
	ByDay []PlacementDay    `json:"by_day"`
}

// TopPlacements returns an ad's n most clicked placements over the days
// in loc of [from, to) that the nightly has reconciled, and each of those
// days' n most clicked (placements are counted by the nightly only, so
// every number is final). A day's cells are the marking run's: an
// earlier run's placement that a later one folded into (other) is not
// counted twice.
func (r *Reader) TopPlacements(ctx context.Context, advertiser, ad string, from, to time.Time, loc *time.Location, n int) (Placements, error) {
	out := Placements{Top: []PlacementClicks{}, ByDay: []PlacementDay{}}
	sums := map[string]int64{}
	byDay := map[time.Time]map[string]int64{}
	days, err := r.readFinalDays(ctx, btschema.Placement, advertiser, ad, from, to, loc, func(day time.Time, placement string, n int64) {
		if byDay[day] == nil {
			byDay[day] = map[string]int64{}
		}
		sums[placement] += n
		byDay[day][placement] += n
	})
	if err != nil {
		return out, fmt.Errorf("placements of %s/%s: %w", advertiser, ad, err)
	}
	out.Top = rankPlacements(sums, n)
	for _, d := range days {
		out.ByDay = append(out.ByDay, PlacementDay{Date: d.Format(time.DateOnly), Placements: rankPlacements(byDay[d], n)})
	}
	return out, nil
}

// DayStarts returns the starts of loc's days overlapping [from, to)
// followed by the end of the last, at most MaxPlacementRange of days.
// Each must fall on a quarter hour of UTC: the per-day views sum quarter
// hours (btschema.Quarter) into days. Every zone in use today does; a
// local mean time of the 19th century does not.
func DayStarts(from, to time.Time, loc *time.Location) ([]time.Time, error) {
	if to.Sub(from) > MaxPlacementRange {
		return nil, fmt.Errorf("a range of %v: at most %v", to.Sub(from).Round(time.Hour), MaxPlacementRange)
	}
	f := from.In(loc)
	day := time.Date(f.Year(), f.Month(), f.Day(), 0, 0, 0, 0, loc)
	starts := []time.Time{day}
	for day.Before(to) {
		day = time.Date(day.Year(), day.Month(), day.Day()+1, 0, 0, 0, 0, loc)
		starts = append(starts, day)
	}
	for _, s := range starts {
		if !s.Equal(s.Truncate(btschema.Quarter)) {
			return nil, fmt.Errorf("%s's day %s starts at %s UTC, not on a quarter hour", loc, s.Format(time.DateOnly), s.UTC().Format(time.TimeOnly))
		}
	}
	return starts, nil
}

// readFinalDays reads ad's counts of kind k (Placement or Outcomes: per
// column, per UTC day and per quarter hour) for the days in loc of [from,
// to) that are final: every UTC day they overlap reconciled. It calls fn
// with each count the UTC day's marking run wrote (an earlier run's
// column that a later run no longer writes is not read), under the
// start of its day in loc, and returns those days, oldest first. Where
// loc's days are UTC days it reads one cell per column and day; else the
// quarter hours.
func (r *Reader) readFinalDays(ctx context.Context, k btschema.Kind, advertiser, ad string, from, to time.Time, loc *time.Location, fn func(day time.Time, column string, n int64)) ([]time.Time, error) {
	starts, err := DayStarts(from, to, loc)
	if err != nil {
		return nil, err
	}
	utcFrom := starts[0].UTC().Truncate(24 * time.Hour)
	utcTo := starts[len(starts)-1].UTC().Add(24*time.Hour - time.Nanosecond).Truncate(24 * time.Hour)
	marked, err := btschema.ReadReconciled(ctx, r.tbl, utcFrom, utcTo)
	if err != nil {
		return nil, err
	}
	aligned := true
	final := make([]bool, len(starts)-1)
	var days []time.Time
	var end time.Time // of the last final day
	for i, start := range starts[:len(final)] {
		aligned = aligned && start.Equal(start.Truncate(24*time.Hour))
		final[i] = true
		for u := start.UTC().Truncate(24 * time.Hour); u.Before(starts[i+1]); u = u.Add(24 * time.Hour) {
			_, ok := marked[u]
			final[i] = final[i] && ok
		}
		if final[i] {
			days, end = append(days, start), starts[i+1]
		}
	}
	if len(days) == 0 {
		return []time.Time{}, nil
	}
	rows := k
	if !aligned {
		rows = btschema.Quarters(k)
	}
	err = btschema.ReadCells(ctx, r.tbl, btschema.SeriesRows(rows, advertiser, ad, days[0], end), btschema.FamilyBatch,
		func(c btschema.Cell) {
			run, ok := marked[c.Bucket.Truncate(24*time.Hour)]
			if !ok || c.Version != run {
				return
			}
			// The day holding c: the last start at or before it.
			i := sort.Search(len(final), func(i int) bool { return starts[i+1].After(c.Bucket) })
			if i < len(final) && !c.Bucket.Before(starts[i]) && final[i] {
				fn(starts[i], c.Column, c.N)
			}
		})
	if err != nil {
		return nil, fmt.Errorf("read %c rows: %w", rows, err)
	}
	return days, nil
}

// rankPlacements is the n most clicked, ties to the smaller id.
func rankPlacements(sums map[string]int64, n int) []PlacementClicks {
	out := make([]PlacementClicks, 0, len(sums))
	for p, c := range sums {
		out = append(out, PlacementClicks{PlacementID: p, Clicks: c})
	}
	sort.Slice(out, func(i, j int) bool {
		return out[i].Clicks > out[j].Clicks || out[i].Clicks == out[j].Clicks && out[i].PlacementID < out[j].PlacementID
	})
	if len(out) > n {
		out = out[:n]
	}
	return out
}

// InvalidDay is one day's invalid clicks of an ad (not billed), by
// reason (countable.InvalidTraffic).
type InvalidDay struct {
	Date    string           `json:"date"`
	Reasons map[string]int64 `json:"reasons"`
	Total   int64            `json:"total"`
}

// InvalidClicks returns an ad's invalid clicks per reconciled day in loc
// of [from, to) (at most MaxPlacementRange): the nightly classifies
// invalid traffic exactly, so only reconciled days have the numbers.
// Days without invalid clicks are listed with zeros.
func (r *Reader) InvalidClicks(ctx context.Context, advertiser, ad string, from, to time.Time, loc *time.Location) ([]InvalidDay, error) {
	invalid := map[string]bool{}
	for _, o := range countable.InvalidTraffic {
		invalid[string(o)] = true
	}
	byDay := map[time.Time]*InvalidDay{}
	days, err := r.readFinalDays(ctx, btschema.Outcomes, advertiser, ad, from, to, loc, func(day time.Time, outcome string, n int64) {
		if invalid[outcome] {
			d := invalidDay(byDay, day)
			d.Reasons[outcome] += n
			d.Total += n
		}
	})
	if err != nil {
		return nil, fmt.Errorf("invalid clicks of %s/%s: %w", advertiser, ad, err)
	}
	out := make([]InvalidDay, len(days))
	for i, d := range days {
		out[i] = *invalidDay(byDay, d)
	}
	return out, nil
}

// invalidDay is day's entry, every reason at zero until counted.
func invalidDay(byDay map[time.Time]*InvalidDay, day time.Time) *InvalidDay {
	d, ok := byDay[day]
	if !ok {
		d = &InvalidDay{Date: day.Format(time.DateOnly), Reasons: map[string]int64{}}
		for _, o := range countable.InvalidTraffic {
			d.Reasons[string(o)] = 0
		}
		byDay[day] = d
	}
	return d
}
