package nightly

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"sort"
	"time"

	"github.com/apache/beam/sdks/v2/go/pkg/beam/register"

	"github.com/adclick/adclick/internal/blob"
	"github.com/adclick/adclick/internal/btschema"
	"github.com/adclick/adclick/internal/countable"
)

func init() {
	register.DoFn4x1[context.Context, string, func(*[]byte) bool, func(string), error](&writeReportFn{})
	register.Iter1[[]byte]()
}

// Report is the reconciliation report of one day.
type Report struct {
	Date string `json:"date"`
	// Clicks of the day by outcome, counted included.
	Outcomes map[countable.Outcome]int64 `json:"outcomes"`
	// Archived is every click of the day (all outcomes).
	Archived int64 `json:"archived"`
	// Unreadable messages published that day, by dead-letter reason.
	Unreadable map[string]int64 `json:"unreadable"`
	// Redelivered copies of clicks already read (same click id), across
	// the whole run: the archive is at-least-once.
	Redelivered int64 `json:"redelivered"`
	// SpeedTotal and BatchTotal are the day's clicks per the speed layer's
	// cells and per this run.
	SpeedTotal int64 `json:"speed_total"`
	BatchTotal int64 `json:"batch_total"`
	// MismatchedCells are minute cells (ads and advertiser totals) where
	// the two differ; AbsDifference the sum of |speed - batch| over them.
	MismatchedCells int64 `json:"mismatched_cells"`
	AbsDifference   int64 `json:"abs_difference"`
	// LargestDifferences are the worst cells, largest first.
	LargestDifferences []ReportDiff `json:"largest_differences"`
	// SplitAds are the hot ads of the run, settled by impression and by
	// user rather than whole so that no worker holds one's whole day
	// (split.go): how the counts were made, not what they are.
	SplitAds []string `json:"split_ads"`
}

// ReportDiff is one mismatched cell.
type ReportDiff struct {
	Advertiser string    `json:"advertiser_id"`
	Ad         string    `json:"ad_id"`
	Minute     time.Time `json:"minute"`
	Speed      int64     `json:"speed"`
	Batch      int64     `json:"batch"`
}

// MaxReportedDiffs bounds LargestDifferences.
const MaxReportedDiffs = 20

// ReportName is where a day's report goes: reconciliation/date=YYYY-MM-DD/report.json.
func ReportName(day time.Time) string {
	return "reconciliation/date=" + day.UTC().Format(time.DateOnly) + "/report.json"
}

// reportPart is a piece of a day's report, from one shard or one file;
// the parts merge in writeReportFn.
type reportPart struct {
	Outcomes        map[string]int64 `json:",omitempty"`
	Unreadable      map[string]int64 `json:",omitempty"`
	Redelivered     int64            `json:",omitempty"`
	Mismatched      int64            `json:",omitempty"`
	AbsDifference   int64            `json:",omitempty"`
	SpeedMinusBatch int64            `json:",omitempty"` // over advertiser totals
	Diffs           []ReportDiff     `json:",omitempty"` // the largest MaxReportedDiffs
	SplitAds        []string         `json:",omitempty"`
}

func part(report map[string]*reportPart, day string) *reportPart {
	p, ok := report[day]
	if !ok {
		p = &reportPart{}
		report[day] = p
	}
	return p
}

func (p *reportPart) addOutcome(o string, n int64) {
	if p.Outcomes == nil {
		p.Outcomes = map[string]int64{}
	}
	p.Outcomes[o] += n
}

func (p *reportPart) addDiff(d ReportDiff) {
	p.Mismatched++
	p.AbsDifference += abs(d.Speed - d.Batch)
	if d.Ad == btschema.AllAds {
		p.SpeedMinusBatch += d.Speed - d.Batch
	}
	p.Diffs = append(p.Diffs, d)
	if len(p.Diffs) > 4*MaxReportedDiffs {
		p.trim()
	}
}

// trim keeps the largest differences, largest first, ties in a fixed order.
func (p *reportPart) trim() {
	sort.Slice(p.Diffs, func(i, j int) bool {
		a, b := p.Diffs[i], p.Diffs[j]
		if da, db := abs(a.Speed-a.Batch), abs(b.Speed-b.Batch); da != db {
			return da > db
		}
		if !a.Minute.Equal(b.Minute) {
			return a.Minute.Before(b.Minute)
		}
		return a.Advertiser+"/"+a.Ad < b.Advertiser+"/"+b.Ad
	})
	if len(p.Diffs) > MaxReportedDiffs {
		p.Diffs = p.Diffs[:MaxReportedDiffs]
	}
}

func emitPart(day string, p reportPart, emit func(string, []byte)) {
	b, _ := json.Marshal(p)
	emit(day, b)
}

// writeReportFn merges a day's parts, writes its report to staging and
// emits the report's name.
// Days outside the run (unreadable messages published on another day)
// are dropped.
type writeReportFn struct {
	Staging      string
	FromMs, ToMs int64
}

func (fn *writeReportFn) ProcessElement(ctx context.Context, day string, parts func(*[]byte) bool, emit func(string)) error {
	d, err := time.Parse(time.DateOnly, day)
	if err != nil || d.UnixMilli() < fn.FromMs || d.UnixMilli() >= fn.ToMs {
		return nil
	}
	r := Report{Date: day, Outcomes: map[countable.Outcome]int64{}, Unreadable: map[string]int64{}, LargestDifferences: []ReportDiff{}, SplitAds: []string{}}
	for _, o := range countable.Outcomes {
		r.Outcomes[o] = 0
	}
	var merged reportPart
	var raw []byte
	for parts(&raw) {
		var p reportPart
		if err := json.Unmarshal(raw, &p); err != nil {
			return fmt.Errorf("report %s: part %s: %w", day, raw, err)
		}
		for o, n := range p.Outcomes {
			r.Outcomes[countable.Outcome(o)] += n
			r.Archived += n
		}
		for reason, n := range p.Unreadable {
			r.Unreadable[reason] += n
		}
		r.Redelivered += p.Redelivered
		r.MismatchedCells += p.Mismatched
		r.AbsDifference += p.AbsDifference
		merged.SpeedMinusBatch += p.SpeedMinusBatch
		merged.Diffs = append(merged.Diffs, p.Diffs...)
		r.SplitAds = append(r.SplitAds, p.SplitAds...)
	}
	slices.Sort(r.SplitAds)
	r.SplitAds = slices.Compact(r.SplitAds)
	merged.trim()
	r.LargestDifferences = append(r.LargestDifferences, merged.Diffs...)
	r.BatchTotal = r.Outcomes[countable.Counted]
	r.SpeedTotal = r.BatchTotal + merged.SpeedMinusBatch
	if err := writeJSON(ctx, fn.Staging, ReportName(d), r); err != nil {
		return err
	}
	emit(ReportName(d))
	return nil
}

func writeJSON(ctx context.Context, loc, name string, v any) error {
	store, err := blob.Open(ctx, loc)
	if err != nil {
		return err
	}
	defer store.Close()
	w, err := store.Create(ctx, name)
	if err != nil {
		return err
	}
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	if err := enc.Encode(v); err != nil {
		w.Abort()
		return fmt.Errorf("write %s: %w", name, err)
	}
	return w.Close()
}
