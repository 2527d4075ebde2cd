// Package query reads click counts out of the Bigtable views the pipelines
// maintain (internal/btschema): one ad's or an advertiser's series at
// minute, hour, day or month granularity in any time zone, and an
// advertiser's top ads over a range.
//
// A bucket is final when every UTC day it overlaps carries the nightly
// batch's reconciled marker; its value is then the batch family's.
// Otherwise it is provisional and the value is the speed family's. Reads
// pick the cheapest rows: hour cells (h#) for reconciled days, minute
// cells (m#) for the rest and for the edges of buckets that do not fall on
// whole UTC hours (zones with half-hour offsets).
package query

import (
	"context"
	"fmt"
	"sort"
	"strings"
	"sync"
	"time"

	"cloud.google.com/go/bigtable"

	"github.com/adclick/adclick/internal/btschema"
)

// Granularity of a series.
type Granularity string

const (
	Minute Granularity = "minute"
	Hour   Granularity = "hour"
	Day    Granularity = "day"
	Month  Granularity = "month"
)

// Granularities in order.
var Granularities = []Granularity{Minute, Hour, Day, Month}

// MaxPoints bounds one series.
const MaxPoints = 1500

// MaxSpan bounds one series' range per granularity, so that no request
// asks for more than a few thousand rows: two days of minutes, 93 days of
// hours, three years of days, 25 years of months.
var MaxSpan = map[Granularity]time.Duration{
	Minute: 2 * 24 * time.Hour,
	Hour:   93 * 24 * time.Hour,
	Day:    3 * 366 * 24 * time.Hour,
	Month:  25 * 366 * 24 * time.Hour,
}

// maxCachedDays bounds the reconciled-marker cache: reads are clamped to
// days that can hold counts, so this is a safety net, not a working size.
const maxCachedDays = 4096

// floorTTL is how long the earliest readable day is reused.
const floorTTL = 10 * time.Minute

// Point is one bucket of a series.
type Point struct {
	Start  time.Time `json:"start"`
	Clicks int64     `json:"clicks"`
	Final  bool      `json:"final"`
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
	v, err := r.load(ctx, advertiser, ad, buckets[0], end, g == Minute)
	if err != nil {
		return nil, err
	}
	points := make([]Point, len(buckets))
	for i, b := range buckets {
		n, final := v.sum(b, next(b, g))
		points[i] = Point{Start: b, Clicks: n, Final: final}
	}
	return points, nil
}

// values holds what was read: per UTC minute for the hours read at minute
// level, per UTC hour for the rest; and which UTC days are reconciled.
type values struct {
	minutes    map[int64]int64 // unix minute start → clicks
	minuteHrs  map[int64]bool  // UTC hours whose minutes were read
	hours      map[int64]int64 // unix hour start → clicks
	reconciled map[int64]bool  // unix day start → marked
}

// sum adds the clicks of [from, to) and reports whether all are final.
func (v *values) sum(from, to time.Time) (int64, bool) {
	var n int64
	final := true
	for day := from.UTC().Truncate(24 * time.Hour); day.Before(to); day = day.Add(24 * time.Hour) {
		final = final && v.reconciled[day.Unix()]
	}
	t := from.UTC()
	for t.Before(to) {
		hour := t.Truncate(time.Hour)
		if t.Equal(hour) && !hour.Add(time.Hour).After(to) && !v.minuteHrs[hour.Unix()] {
			n += v.hours[hour.Unix()]
			t = hour.Add(time.Hour)
			continue
		}
		n += v.minutes[t.Truncate(time.Minute).Unix()]
		t = t.Truncate(time.Minute).Add(time.Minute)
	}
	return n, final
}

// load reads [from, to) for one ad: reconciled days from hour cells of the
// batch family, other days from minute cells of the speed family, and at
// minute level any hour that is only partly inside (or every hour, when
// minutes are asked for).
func (r *Reader) load(ctx context.Context, advertiser, ad string, from, to time.Time, minutes bool) (*values, error) {
	v := &values{minutes: map[int64]int64{}, minuteHrs: map[int64]bool{}, hours: map[int64]int64{}, reconciled: map[int64]bool{}}
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
	days, err := r.reconciledDays(ctx, from, to)
	if err != nil {
		return nil, err
	}
	v.reconciled = days
	first := from.UTC().Truncate(time.Hour)
	last := to.UTC().Add(-time.Nanosecond).Truncate(time.Hour)
	var minuteHours []time.Time
	var hourDays []time.Time
	for h := first; !h.After(last); h = h.Add(time.Hour) {
		day := h.Truncate(24 * time.Hour)
		partial := h.Before(from) || h.Add(time.Hour).After(to)
		if minutes || partial || !days[day.Unix()] {
			minuteHours = append(minuteHours, h)
			v.minuteHrs[h.Unix()] = true
		} else if len(hourDays) == 0 || !hourDays[len(hourDays)-1].Equal(day) {
			hourDays = append(hourDays, day)
		}
	}
	if err := r.readMinutes(ctx, advertiser, ad, minuteHours, days, v); err != nil {
		return nil, err
	}
	if err := r.readHours(ctx, advertiser, ad, hourDays, v); err != nil {
		return nil, err
	}
	return v, nil
}

// readMinutes reads the minute rows (one per UTC hour) of hours.
func (r *Reader) readMinutes(ctx context.Context, advertiser, ad string, hours []time.Time, reconciled map[int64]bool, v *values) error {
	if len(hours) == 0 {
		return nil
	}
	keys := make(bigtable.RowList, len(hours))
	for i, h := range hours {
		keys[i] = btschema.RowKey(btschema.Minute, advertiser, ad, h)
	}
	return r.read(ctx, keys, btschema.Minute, reconciled, func(t time.Time, n int64) { v.minutes[t.Unix()] = n })
}

// readHours reads the hour rows (one per UTC day) of reconciled days.
func (r *Reader) readHours(ctx context.Context, advertiser, ad string, days []time.Time, v *values) error {
	if len(days) == 0 {
		return nil
	}
	keys := make(bigtable.RowList, len(days))
	for i, d := range days {
		keys[i] = btschema.RowKey(btschema.Hour, advertiser, ad, d)
	}
	all := map[int64]bool{}
	for _, d := range days {
		all[d.Unix()] = true
	}
	return r.read(ctx, keys, btschema.Hour, all, func(t time.Time, n int64) { v.hours[t.Unix()] = n })
}

// read reads rows of kind k and calls fn with each bucket's value: the
// batch cell on reconciled days, the speed cell otherwise.
func (r *Reader) read(ctx context.Context, keys bigtable.RowList, k btschema.Kind, reconciled map[int64]bool, fn func(time.Time, int64)) error {
	var bad error
	err := r.tbl.ReadRows(ctx, keys, func(row bigtable.Row) bool {
		start, err := btschema.ParseRowStart(k, row.Key())
		if err != nil {
			bad = err
			return false
		}
		final := reconciled[start.Truncate(24*time.Hour).Unix()]
		fam := btschema.FamilySpeed
		if final {
			fam = btschema.FamilyBatch
		}
		for _, c := range row[fam] {
			t, err := btschema.BucketTime(k, start, strings.TrimPrefix(c.Column, fam+":"))
			if err != nil {
				bad = fmt.Errorf("row %s: %w", row.Key(), err)
				return false
			}
			n, err := btschema.DecodeCount(c.Value)
			if err != nil {
				bad = fmt.Errorf("row %s cell %s: %w", row.Key(), c.Column, err)
				return false
			}
			fn(t, n)
		}
		return true
	}, bigtable.RowFilter(bigtable.LatestNFilter(1)))
	if err != nil {
		return fmt.Errorf("read %d %c rows: %w", len(keys), k, err)
	}
	return bad
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
	rng := bigtable.NewRange(btschema.ReconciledRowKey(missing[0]), btschema.ReconciledRowKey(missing[len(missing)-1].Add(24*time.Hour)))
	found := map[int64]bool{}
	err := r.tbl.ReadRows(ctx, rng, func(row bigtable.Row) bool {
		if t, err := btschema.ParseReconciledRowKey(row.Key()); err == nil {
			found[t.Unix()] = true
		}
		return true
	}, bigtable.RowFilter(bigtable.ChainFilters(bigtable.FamilyFilter(btschema.FamilyBatch), bigtable.LatestNFilter(1), bigtable.StripValueFilter())))
	if err != nil {
		return nil, fmt.Errorf("read reconciled markers: %w", err)
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

// AdClicks is one ad's clicks over a range.
type AdClicks struct {
	AdID   string `json:"ad_id"`
	Clicks int64  `json:"clicks"`
	Final  bool   `json:"final"`
}

// MaxTopRange bounds Top: its rows hold one minute each.
const MaxTopRange = 24 * time.Hour

// Top returns advertiser's n most clicked ads over [from, to) (whole
// minutes), most clicked first, ties by ad id.
func (r *Reader) Top(ctx context.Context, advertiser string, from, to time.Time, n int) ([]AdClicks, error) {
	from, to = from.UTC().Truncate(time.Minute), to.UTC()
	if to.Sub(from) > MaxTopRange {
		return nil, fmt.Errorf("top ads over %v: at most %v", to.Sub(from), MaxTopRange)
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
	rng := bigtable.NewRange(btschema.TopRowKey(advertiser, from), btschema.TopRowKey(advertiser, to.Add(-time.Nanosecond).Truncate(time.Minute).Add(time.Minute)))
	var bad error
	err = r.tbl.ReadRows(ctx, rng, func(row bigtable.Row) bool {
		start, err := btschema.ParseRowStart(btschema.Top, row.Key())
		if err != nil {
			bad = err
			return false
		}
		fam := btschema.FamilySpeed
		if days[start.Truncate(24*time.Hour).Unix()] {
			fam = btschema.FamilyBatch
		}
		for _, c := range row[fam] {
			if v, err := btschema.DecodeCount(c.Value); err == nil {
				sums[strings.TrimPrefix(c.Column, fam+":")] += v
			}
		}
		return true
	}, bigtable.RowFilter(bigtable.LatestNFilter(1)))
	if err != nil {
		return nil, fmt.Errorf("read top rows of %s: %w", advertiser, err)
	}
	if bad != nil {
		return nil, bad
	}
	out := make([]AdClicks, 0, len(sums))
	for ad, c := range sums {
		if c > 0 {
			out = append(out, AdClicks{AdID: ad, Clicks: c, Final: final})
		}
	}
	sortTop(out)
	if len(out) > n {
		out = out[:n]
	}
	return out, nil
}

func sortTop(ads []AdClicks) {
	sort.Slice(ads, func(i, j int) bool {
		if ads[i].Clicks != ads[j].Clicks {
			return ads[i].Clicks > ads[j].Clicks
		}
		return ads[i].AdID < ads[j].AdID
	})
}
