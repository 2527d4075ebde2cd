package query

import (
	"context"
	"fmt"
	"testing"
	"time"

	"cloud.google.com/go/bigtable"

	"github.com/adclick/adclick/internal/btschema"
	"github.com/adclick/adclick/internal/gcpnames"
	"github.com/adclick/adclick/internal/localstack/lstest"
)

// The fixture: ad "a1" of "acme" gets, in every minute of two UTC days,
// speed count 2; day1 (2026-03-07) is reconciled with batch count 1 per
// minute; day2 (2026-03-08, a DST change in New York) is not.
var (
	day1 = time.Date(2026, 3, 7, 0, 0, 0, 0, time.UTC)
	day2 = day1.AddDate(0, 0, 1)
)

func fixture(t *testing.T) *Reader {
	t.Helper()
	lstest.Start(t)
	lstest.KeepSpeedCells(t, gcpnames.LocalProject) // the fixture is dated
	ctx := context.Background()
	c, err := bigtable.NewClient(ctx, gcpnames.LocalProject, gcpnames.BigtableInstance)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	tbl := c.Open(btschema.Table)
	rows := map[string]*bigtable.Mutation{}
	mut := func(key string) *bigtable.Mutation {
		if rows[key] == nil {
			rows[key] = bigtable.NewMutation()
		}
		return rows[key]
	}
	for m := day1; m.Before(day2.AddDate(0, 0, 1)); m = m.Add(time.Minute) {
		mut(btschema.RowKey(btschema.Minute, "acme", "a1", m)).Set(btschema.FamilySpeed, btschema.Qualifier(btschema.Minute, m), btschema.SpeedTimestamp(m, 2), btschema.EncodeCount(2))
		mut(btschema.TopRowKey("acme", m)).Set(btschema.FamilySpeed, "a1", btschema.SpeedTimestamp(m, 2), btschema.EncodeCount(2))
		mut(btschema.TopRowKey("acme", m)).Set(btschema.FamilySpeed, btschema.CampaignSeries("c1"), btschema.SpeedTimestamp(m, 2), btschema.EncodeCount(2))
		if m.Minute()%2 == 0 {
			mut(btschema.TopRowKey("acme", m)).Set(btschema.FamilySpeed, "a2", btschema.SpeedTimestamp(m, 1), btschema.EncodeCount(1))
		}
		if m.Before(day2) {
			run := btschema.BatchTimestamp(day2)
			mut(btschema.RowKey(btschema.Minute, "acme", "a1", m)).Set(btschema.FamilyBatch, btschema.Qualifier(btschema.Minute, m), run, btschema.EncodeCount(1))
			mut(btschema.TopRowKey("acme", m)).Set(btschema.FamilyBatch, "a1", run, btschema.EncodeCount(1))
			mut(btschema.TopRowKey("acme", m)).Set(btschema.FamilyBatch, btschema.CampaignSeries("c1"), run, btschema.EncodeCount(1))
			if m.Minute() == 0 {
				mut(btschema.RowKey(btschema.Hour, "acme", "a1", m)).Set(btschema.FamilyBatch, btschema.Qualifier(btschema.Hour, m), run, btschema.EncodeCount(60))
			}
			if m.Equal(day1) {
				mut(btschema.RowKey(btschema.Day, "acme", "a1", m)).Set(btschema.FamilyBatch, btschema.Qualifier(btschema.Day, m), run, btschema.EncodeCount(1440))
			}
		}
	}
	// a1's placements: day1's by the marking run, one left by an earlier
	// run, and day2's (not reconciled) to be ignored.
	run := btschema.BatchTimestamp(day2)
	mut(btschema.RowKey(btschema.Placement, "acme", "a1", day1)).Set(btschema.FamilyBatch, "site-a", run, btschema.EncodeCount(5))
	mut(btschema.RowKey(btschema.Placement, "acme", "a1", day1)).Set(btschema.FamilyBatch, "site-b", run, btschema.EncodeCount(3))
	mut(btschema.RowKey(btschema.Placement, "acme", "a1", day1)).Set(btschema.FamilyBatch, "folded-later", btschema.BatchTimestamp(day1), btschema.EncodeCount(9))
	mut(btschema.RowKey(btschema.Placement, "acme", "a1", day2)).Set(btschema.FamilyBatch, "site-a", run, btschema.EncodeCount(100))
	// a1's outcomes of day1: two reasons of invalid traffic, the counted,
	// and an outcome only an earlier run found.
	for outcome, n := range map[string]int64{"invalid_too_fast": 2, "invalid_burst": 1, "counted": 1440} {
		mut(btschema.RowKey(btschema.Outcomes, "acme", "a1", day1)).Set(btschema.FamilyBatch, outcome, run, btschema.EncodeCount(n))
	}
	mut(btschema.RowKey(btschema.Outcomes, "acme", "a1", day1)).Set(btschema.FamilyBatch, "invalid_datacenter", btschema.BatchTimestamp(day1), btschema.EncodeCount(7))
	mut(btschema.ReconciledRowKey(day1)).Set(btschema.FamilyBatch, btschema.ReconciledColumn, btschema.BatchTimestamp(day2), []byte("run"))
	var keys []string
	var muts []*bigtable.Mutation
	for k, m := range rows {
		keys, muts = append(keys, k), append(muts, m)
	}
	for start := 0; start < len(keys); start += 500 {
		end := min(start+500, len(keys))
		if errs, err := tbl.ApplyBulk(ctx, keys[start:end], muts[start:end]); err != nil || errs != nil {
			t.Fatal(err, errs)
		}
	}
	return NewReader(tbl, nil)
}

func TestSeries(t *testing.T) {
	r := fixture(t)
	ny, _ := time.LoadLocation("America/New_York")
	kolkata, _ := time.LoadLocation("Asia/Kolkata")
	tests := []struct {
		name     string
		from, to time.Time
		g        Granularity
		loc      *time.Location
		want     []Point
	}{
		{"minutes of a reconciled hour are the batch's, final", day1.Add(time.Hour), day1.Add(time.Hour + 3*time.Minute), Minute, time.UTC,
			[]Point{{Start: day1.Add(time.Hour), Clicks: 1, Final: true}, {Start: day1.Add(time.Hour + time.Minute), Clicks: 1, Final: true}, {Start: day1.Add(time.Hour + 2*time.Minute), Clicks: 1, Final: true}}},
		{"minutes of an open day are the speed layer's, provisional", day2, day2.Add(2 * time.Minute), Minute, time.UTC,
			[]Point{{Start: day2, Clicks: 2, Final: false}, {Start: day2.Add(time.Minute), Clicks: 2, Final: false}}},
		{"hours across the reconciled boundary", day2.Add(-time.Hour), day2.Add(time.Hour), Hour, time.UTC,
			[]Point{{Start: day2.Add(-time.Hour), Clicks: 60, Final: true}, {Start: day2, Clicks: 120, Final: false}}},
		{"UTC days", day1, day2.AddDate(0, 0, 1), Day, time.UTC,
			[]Point{{Start: day1, Clicks: 1440, Final: true}, {Start: day2, Clicks: 2880, Final: false}}},
		{"zeros are filled in", day2.AddDate(0, 0, 1), day2.AddDate(0, 0, 1).Add(2 * time.Hour), Hour, time.UTC,
			[]Point{{Start: day2.AddDate(0, 0, 1), Clicks: 0, Final: false}, {Start: day2.AddDate(0, 0, 1).Add(time.Hour), Clicks: 0, Final: false}}},
		{"a half-hour zone's day spans two UTC days", time.Date(2026, 3, 8, 0, 0, 0, 0, kolkata), time.Date(2026, 3, 9, 0, 0, 0, 0, kolkata), Day, kolkata,
			// 05:30 of UTC day1 reconciled at 1/min (330 min) ... rest of day2 at 2/min (1110 min).
			[]Point{{Start: time.Date(2026, 3, 8, 0, 0, 0, 0, kolkata), Clicks: 330*1 + 1110*2, Final: false}}},
		{"a half-hour zone's days split a reconciled UTC hour between them", time.Date(2026, 3, 7, 0, 0, 0, 0, kolkata), time.Date(2026, 3, 9, 0, 0, 0, 0, kolkata), Day, kolkata,
			// 7 March: UTC day1 until 18:30 at 1/min; 8 March: day1 from
			// 18:30 at 1/min (330 min), then day2 until 18:30 at 2/min.
			[]Point{{Start: time.Date(2026, 3, 7, 0, 0, 0, 0, kolkata), Clicks: 1110, Final: false}, {Start: time.Date(2026, 3, 8, 0, 0, 0, 0, kolkata), Clicks: 330 + 1110*2, Final: false}}},
		{"New York's spring-forward day has 23 hours", time.Date(2026, 3, 8, 0, 0, 0, 0, ny), time.Date(2026, 3, 9, 0, 0, 0, 0, ny), Day, ny,
			// 00:00 EST = 05:00 UTC of day2; the day ends 04:00 UTC of day3, beyond the data.
			[]Point{{Start: time.Date(2026, 3, 8, 0, 0, 0, 0, ny), Clicks: 19 * 60 * 2, Final: false}}},
		{"hours in New York on spring-forward", time.Date(2026, 3, 8, 1, 0, 0, 0, ny), time.Date(2026, 3, 8, 4, 0, 0, 0, ny), Hour, ny,
			[]Point{{Start: time.Date(2026, 3, 8, 1, 0, 0, 0, ny), Clicks: 120, Final: false}, {Start: time.Date(2026, 3, 8, 3, 0, 0, 0, ny), Clicks: 120, Final: false}}},
		{"a month", time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC), time.Date(2026, 4, 1, 0, 0, 0, 0, time.UTC), Month, time.UTC,
			[]Point{{Start: time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC), Clicks: 1440 + 2880, Final: false}}},
		{"the advertiser total has no cells here", day1, day1.Add(time.Hour), Hour, time.UTC,
			[]Point{{Start: day1, Clicks: 0, Final: true}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ad := "a1"
			if tt.name == "the advertiser total has no cells here" {
				ad = btschema.AllAds
			}
			got, err := r.Series(context.Background(), "acme", ad, tt.from, tt.to, tt.g, tt.loc)
			if err != nil {
				t.Fatal(err)
			}
			if len(got) != len(tt.want) {
				t.Fatalf("%d points, want %d: %+v", len(got), len(tt.want), got)
			}
			for i := range got {
				if !got[i].Start.Equal(tt.want[i].Start) || got[i].Clicks != tt.want[i].Clicks || got[i].Final != tt.want[i].Final {
					t.Errorf("point %d = %+v, want %+v", i, got[i], tt.want[i])
				}
			}
		})
	}
	if _, err := r.Series(context.Background(), "acme", "a1", day1, day1.AddDate(0, 0, 2), Minute, time.UTC); err == nil {
		t.Error("two days of minutes (2880 points) accepted")
	}
}

func TestTop(t *testing.T) {
	r := fixture(t)
	got, err := r.Top(context.Background(), "acme", day2.Add(-10*time.Minute), day2.Add(10*time.Minute), 5)
	if err != nil {
		t.Fatal(err)
	}
	// a1: 10 batch minutes at 1 + 10 speed minutes at 2; a2: speed only,
	// 5 even minutes of day1 and 5 of day2 at 1, but day1 is reconciled
	// and the batch has no a2 cells: 5.
	want := []Ranked{{"a1", 30, false}, {"a2", 5, false}}
	if len(got) != len(want) || got[0] != want[0] || got[1] != want[1] {
		t.Errorf("Top = %+v, want %+v", got, want)
	}
	if one, _ := r.Top(context.Background(), "acme", day2, day2.Add(time.Minute), 1); len(one) != 1 || one[0].ID != "a1" {
		t.Errorf("Top 1 = %+v", one)
	}
	if _, err := r.Top(context.Background(), "acme", day1, day2.Add(time.Hour), 5); err == nil {
		t.Error("a 25-hour top accepted")
	}
}

// TestReadPlan: reads stay cheap. A range of reconciled days that no
// bucket splits reads one day row per month; a zone's day boundaries split
// UTC days into hour rows; only open days and split hours read minutes.
func TestReadPlan(t *testing.T) {
	kolkata, _ := time.LoadLocation("Asia/Kolkata")
	paris, _ := time.LoadLocation("Europe/Paris")
	year := time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)
	for _, tt := range []struct {
		name                 string
		from, to             time.Time
		g                    Granularity
		loc                  *time.Location
		openFrom             time.Time // days from here are not reconciled
		days, hours, minutes int
	}{
		{"a year of months, UTC", year, year.AddDate(1, 0, 0), Month, time.UTC, year.AddDate(2, 0, 0), 12, 0, 0},
		{"a year of days, UTC", year, year.AddDate(1, 0, 0), Day, time.UTC, year.AddDate(2, 0, 0), 12, 0, 0},
		{"a year of months in Paris", time.Date(2025, 1, 1, 0, 0, 0, 0, paris), time.Date(2026, 1, 1, 0, 0, 0, 0, paris), Month, paris, year.AddDate(2, 0, 0),
			// whole UTC days in 12 month rows; the 11 inner month boundaries
			// and both ends (23:00 UTC) split a day each: 13 hour rows
			12, 13, 0},
		{"90 days of days in Kolkata", time.Date(2025, 3, 1, 0, 0, 0, 0, kolkata), time.Date(2025, 5, 30, 0, 0, 0, 0, kolkata), Day, kolkata, year.AddDate(2, 0, 0),
			// every UTC day is split at 18:30: hour rows, and the split hour in minutes
			0, 91, 91},
		{"a week of hours with the last day open", year, year.AddDate(0, 0, 7), Hour, time.UTC, year.AddDate(0, 0, 6), 0, 6, 24},
		{"minutes of a reconciled hour", year, year.Add(time.Hour), Minute, time.UTC, year.AddDate(1, 0, 0), 0, 0, 1},
	} {
		t.Run(tt.name, func(t *testing.T) {
			buckets, err := Buckets(tt.from, tt.to, tt.g, tt.loc)
			if err != nil {
				t.Fatal(err)
			}
			bounds := append(buckets, next(buckets[len(buckets)-1], tt.g))
			v := newValues()
			for d := tt.from.UTC().Truncate(24 * time.Hour); d.Before(tt.openFrom); d = d.Add(24 * time.Hour) {
				v.reconciled[d.Unix()] = true
			}
			days, hours, minutes := v.plan("acme", "a1", bounds, bounds[0], bounds[len(bounds)-1])
			if len(days) != tt.days || len(hours) != tt.hours || len(minutes) != tt.minutes {
				t.Errorf("reads %d day, %d hour and %d minute rows, want %d, %d and %d", len(days), len(hours), len(minutes), tt.days, tt.hours, tt.minutes)
			}
		})
	}
}

// TestOpenBucket: the bucket that holds now is marked open, in any
// granularity and zone; the others are not.
func TestOpenBucket(t *testing.T) {
	r := fixture(t)
	now := day2.Add(10*time.Hour + 30*time.Minute + 20*time.Second)
	r.now = func() time.Time { return now }
	kolkata, _ := time.LoadLocation("Asia/Kolkata")
	for _, tt := range []struct {
		g        Granularity
		loc      *time.Location
		from     time.Time
		wantOpen time.Time
	}{
		{Minute, time.UTC, now.Add(-3 * time.Minute), now.Truncate(time.Minute)},
		{Hour, time.UTC, now.Add(-3 * time.Hour), now.Truncate(time.Hour)},
		{Day, kolkata, now.Add(-48 * time.Hour), time.Date(2026, 3, 8, 0, 0, 0, 0, kolkata)},
		{Year, kolkata, now.AddDate(-2, 0, 0), time.Date(2026, 1, 1, 0, 0, 0, 0, kolkata)},
	} {
		points, err := r.Series(context.Background(), "acme", "a1", tt.from, now.Add(time.Minute), tt.g, tt.loc)
		if err != nil {
			t.Fatal(err)
		}
		var open []time.Time
		for _, p := range points {
			if p.Open {
				open = append(open, p.Start)
			}
		}
		if len(open) != 1 || !open[0].Equal(tt.wantOpen) {
			t.Errorf("%s in %s: open buckets %v, want only %s", tt.g, tt.loc, open, tt.wantOpen)
		}
	}
}

// TestTopCampaigns: the top rows hold campaigns beside ads; each ranking
// sees only its own.
func TestTopCampaigns(t *testing.T) {
	r := fixture(t)
	from, to := day2.Add(-10*time.Minute), day2.Add(10*time.Minute)
	ads, err := r.Top(context.Background(), "acme", from, to, 5)
	if err != nil {
		t.Fatal(err)
	}
	for _, a := range ads {
		if _, ok := btschema.CampaignOf(a.ID); ok {
			t.Errorf("top ads list campaign %s", a.ID)
		}
	}
	got, err := r.TopCampaigns(context.Background(), "acme", from, to, 5)
	if err != nil {
		t.Fatal(err)
	}
	// 10 batch minutes at 1 + 10 speed minutes at 2, as a1.
	if want := []Ranked{{ID: "c1", Clicks: 30, Final: false}}; len(got) != 1 || got[0] != want[0] {
		t.Errorf("TopCampaigns = %+v, want %+v", got, want)
	}
}

// TestTopPlacements: reconciled days only, the marking run's cells only.
func TestTopPlacements(t *testing.T) {
	r := fixture(t)
	got, err := r.TopPlacements(context.Background(), "acme", "a1", day1, day2.AddDate(0, 0, 1), time.UTC, 10)
	if err != nil {
		t.Fatal(err)
	}
	want := []PlacementClicks{{"site-a", 5}, {"site-b", 3}}
	if len(got.Top) != 2 || got.Top[0] != want[0] || got.Top[1] != want[1] {
		t.Errorf("top placements = %+v, want %+v", got.Top, want)
	}
	if len(got.ByDay) != 1 || got.ByDay[0].Date != "2026-03-07" || len(got.ByDay[0].Placements) != 2 || got.ByDay[0].Placements[0] != want[0] {
		t.Errorf("placements by day = %+v, want day1's only", got.ByDay)
	}
	if one, _ := r.TopPlacements(context.Background(), "acme", "a1", day1, day2, time.UTC, 1); len(one.Top) != 1 || one.Top[0].PlacementID != "site-a" || len(one.ByDay[0].Placements) != 1 {
		t.Errorf("top 1 placement = %+v", one)
	}
	if _, err := r.TopPlacements(context.Background(), "acme", "a1", day1, day1.AddDate(0, 0, 94), time.UTC, 10); err == nil {
		t.Error("94 days of placements accepted")
	}
}

// TestInvalidClicks: per reconciled day, the invalid-traffic reasons of
// the marking run, zeros included, nothing else.
func TestInvalidClicks(t *testing.T) {
	r := fixture(t)
	got, err := r.InvalidClicks(context.Background(), "acme", "a1", day1, day2.AddDate(0, 0, 1), time.UTC)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 1 || got[0].Date != "2026-03-07" || got[0].Total != 3 || len(got[0].Reasons) != 3 ||
		got[0].Reasons["invalid_too_fast"] != 2 || got[0].Reasons["invalid_burst"] != 1 || got[0].Reasons["invalid_datacenter"] != 0 {
		t.Errorf("InvalidClicks = %+v", got)
	}
}

// TestDaysInZones: the per-day views sum the nightly's quarter hours into
// the days of the zone asked for, a day final only when every UTC day it
// overlaps is reconciled; UTC days read the day cells. Zones half and
// three quarters of an hour off UTC, and a day of 25 hours.
func TestDaysInZones(t *testing.T) {
	r := fixture(t)
	ctx := context.Background()
	first := time.Date(2026, 10, 31, 0, 0, 0, 0, time.UTC) // New York leaves DST on 1 November
	run, stale := btschema.BatchTimestamp(first.AddDate(0, 0, 5)), btschema.BatchTimestamp(first.AddDate(0, 0, 4))
	type cell struct {
		quarter time.Time
		column  string
		n       int64
	}
	var placements, outcomes []cell
	var b btschema.Batch
	for d := 0; d < 4; d++ { // 31 Oct to 3 Nov; the first three reconciled
		day := first.AddDate(0, 0, d)
		dayTotals := map[btschema.Kind]map[string]int64{btschema.Placement: {}, btschema.Outcomes: {}}
		for q := day; q.Before(day.AddDate(0, 0, 1)); q = q.Add(btschema.Quarter) {
			i := int64(q.Sub(first) / btschema.Quarter)
			qp := []cell{{q, "site-x", 1 + i%2}}
			if i%5 == 0 {
				qp = append(qp, cell{q, "site-y", 1})
			}
			qo := []cell{{q, "invalid_too_fast", 1 + i%3}, {q, "counted", 2}}
			for k, cells := range map[btschema.Kind][]cell{btschema.Placement: qp, btschema.Outcomes: qo} {
				for _, c := range cells {
					b.Set(btschema.RowKey(btschema.Quarters(k), "acme", "z1", q), btschema.FamilyBatch, btschema.QuarterQualifier(q, c.column), run, btschema.EncodeCount(c.n))
					dayTotals[k][c.column] += c.n
				}
			}
			placements, outcomes = append(placements, qp...), append(outcomes, qo...)
		}
		for k, totals := range dayTotals {
			for column, n := range totals {
				b.Set(btschema.RowKey(k, "acme", "z1", day), btschema.FamilyBatch, column, run, btschema.EncodeCount(n))
			}
		}
		// An earlier run's quarter that the marking run no longer wrote.
		b.Set(btschema.RowKey(btschema.PlacementQuarters, "acme", "z1", day), btschema.FamilyBatch, btschema.QuarterQualifier(day.Add(time.Hour), "stale"), stale, btschema.EncodeCount(50))
		if d < 3 {
			b.Set(btschema.ReconciledRowKey(day), btschema.FamilyBatch, btschema.ReconciledColumn, run, []byte("run"))
		}
	}
	if err := b.Apply(ctx, r.tbl); err != nil {
		t.Fatal(err)
	}
	reconciled := func(u time.Time) bool { return !u.Before(first) && u.Before(first.AddDate(0, 0, 3)) }

	for _, tt := range []struct {
		tz        string
		wantFinal []string
	}{
		{"UTC", []string{"2026-10-31", "2026-11-01", "2026-11-02"}},
		{"Asia/Kathmandu", []string{"2026-11-01", "2026-11-02"}},   // +05:45: a day starts 18:15 UTC the day before
		{"America/New_York", []string{"2026-10-31", "2026-11-01"}}, // 1 November has 25 hours
		{"America/St_Johns", []string{"2026-10-31", "2026-11-01"}}, // -02:30, then -03:30
		{"Australia/Lord_Howe", []string{"2026-11-01", "2026-11-02"}},
	} {
		loc, err := time.LoadLocation(tt.tz)
		if err != nil {
			t.Fatal(err)
		}
		from, to := time.Date(2026, 10, 30, 0, 0, 0, 0, loc), time.Date(2026, 11, 5, 0, 0, 0, 0, loc)
		// The truth: each quarter under its date in loc, where every UTC
		// day that date overlaps is reconciled.
		final := map[string]bool{}
		for _, d := range tt.wantFinal {
			final[d] = true
		}
		sum := func(cells []cell, column string) map[string]int64 {
			out := map[string]int64{}
			for _, c := range cells {
				if date := c.quarter.In(loc).Format(time.DateOnly); final[date] && c.column == column && reconciled(c.quarter.Truncate(24*time.Hour)) {
					out[date] += c.n
				}
			}
			return out
		}
		wantX, wantY, wantFast := sum(placements, "site-x"), sum(placements, "site-y"), sum(outcomes, "invalid_too_fast")

		got, err := r.TopPlacements(ctx, "acme", "z1", from, to, loc, 10)
		if err != nil {
			t.Fatalf("%s: %v", tt.tz, err)
		}
		var dates []string
		var topX int64
		for _, d := range got.ByDay {
			dates = append(dates, d.Date)
			byID := map[string]int64{}
			for _, p := range d.Placements {
				byID[p.PlacementID] = p.Clicks
			}
			if len(byID) != 2 || byID["site-x"] != wantX[d.Date] || byID["site-y"] != wantY[d.Date] || wantX[d.Date] < 90 {
				t.Errorf("%s: placements of %s = %v, want site-x %d, site-y %d", tt.tz, d.Date, byID, wantX[d.Date], wantY[d.Date])
			}
			topX += wantX[d.Date]
		}
		if fmt.Sprint(dates) != fmt.Sprint(tt.wantFinal) {
			t.Errorf("%s: placement days %v, want %v", tt.tz, dates, tt.wantFinal)
		}
		if len(got.Top) != 2 || got.Top[0].PlacementID != "site-x" || got.Top[0].Clicks != topX {
			t.Errorf("%s: top placements %+v, want site-x at %d first", tt.tz, got.Top, topX)
		}

		invalid, err := r.InvalidClicks(ctx, "acme", "z1", from, to, loc)
		if err != nil {
			t.Fatalf("%s: %v", tt.tz, err)
		}
		dates = nil
		for _, d := range invalid {
			dates = append(dates, d.Date)
			if d.Reasons["invalid_too_fast"] != wantFast[d.Date] || d.Total != wantFast[d.Date] || wantFast[d.Date] == 0 {
				t.Errorf("%s: invalid clicks of %s = %+v, want %d too fast", tt.tz, d.Date, d, wantFast[d.Date])
			}
		}
		if fmt.Sprint(dates) != fmt.Sprint(tt.wantFinal) {
			t.Errorf("%s: invalid-click days %v, want %v", tt.tz, dates, tt.wantFinal)
		}
	}
}

// TestDayStarts: a zone's days over a range, refused where a day does not
// start on a quarter hour of UTC or the range is too long.
func TestDayStarts(t *testing.T) {
	kolkata, _ := time.LoadLocation("Asia/Kolkata")
	newYork, _ := time.LoadLocation("America/New_York")
	for _, tt := range []struct {
		name     string
		from, to time.Time
		loc      *time.Location
		want     int // days; 0 for an error
	}{
		{"three UTC days", day1, day1.AddDate(0, 0, 3), time.UTC, 3},
		{"a partial day at each end", day1.Add(time.Hour), day1.AddDate(0, 0, 2).Add(time.Hour), time.UTC, 3},
		{"a day of 23 hours", time.Date(2026, 3, 8, 0, 0, 0, 0, newYork), time.Date(2026, 3, 9, 0, 0, 0, 0, newYork), newYork, 1},
		{"Kolkata today", time.Date(2026, 3, 8, 0, 0, 0, 0, kolkata), time.Date(2026, 3, 10, 0, 0, 0, 0, kolkata), kolkata, 2},
		{"Kolkata's mean time of 1899", time.Date(1899, 3, 8, 0, 0, 0, 0, kolkata), time.Date(1899, 3, 9, 0, 0, 0, 0, kolkata), kolkata, 0},
		{"too long", day1, day1.Add(MaxPlacementRange + 48*time.Hour), time.UTC, 0},
	} {
		starts, err := DayStarts(tt.from, tt.to, tt.loc)
		if tt.want == 0 {
			if err == nil {
				t.Errorf("%s: accepted %v", tt.name, starts)
			}
			continue
		}
		if err != nil || len(starts) != tt.want+1 || !starts[len(starts)-1].Before(tt.to.Add(24*time.Hour)) {
			t.Errorf("%s: %v, %v; want %d days", tt.name, starts, err, tt.want)
		}
	}
}
