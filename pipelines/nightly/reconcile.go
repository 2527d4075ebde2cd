package nightly

import (
	"context"
	"fmt"
	"regexp"
	"strings"
	"time"

	"cloud.google.com/go/bigtable"
	"github.com/apache/beam/sdks/v2/go/pkg/beam"
	"github.com/apache/beam/sdks/v2/go/pkg/beam/register"

	"github.com/adclick/adclick/internal/btschema"
)

func init() {
	register.DoFn3x1[context.Context, []byte, func(string, int64), error](&readSpeedFn{})
	register.Function6x1(compare)
	register.Iter1[int64]()
	register.Emitter1[Count]()
	register.Emitter1[Diff]()
	register.Function2x0(rollUpFn)
	register.Function3x0(toCount)
}

// readSpeedFn reads the speed layer's minute cells of [FromMs, ToMs):
// every m# row of those days (a scan with a row-key filter on the date).
type readSpeedFn struct {
	Project, Instance string
	FromMs, ToMs      int64
}

func (fn *readSpeedFn) ProcessElement(ctx context.Context, _ []byte, emit func(string, int64)) error {
	if fn.Instance == "" {
		return nil
	}
	client, err := bigtable.NewClient(ctx, fn.Project, fn.Instance)
	if err != nil {
		return fmt.Errorf("bigtable client %s/%s: %w", fn.Project, fn.Instance, err)
	}
	defer client.Close()
	from, to := time.UnixMilli(fn.FromMs).UTC(), time.UnixMilli(fn.ToMs).UTC()
	var days []string
	for d := from; d.Before(to); d = d.AddDate(0, 0, 1) {
		days = append(days, d.Format("20060102"))
	}
	// Minute rows end in the hour: yyyymmddhh.
	filter := bigtable.ChainFilters(
		bigtable.RowKeyFilter(fmt.Sprintf(`^m#[^#]+#[^#]+#(%s)\d\d$`, strings.Join(days, "|"))),
		bigtable.FamilyFilter("^"+regexp.QuoteMeta(btschema.FamilySpeed)+"$"),
		bigtable.LatestNFilter(1),
	)
	var readErr error
	err = client.Open(btschema.Table).ReadRows(ctx, bigtable.PrefixRange("m#"), func(r bigtable.Row) bool {
		parts := strings.Split(r.Key(), "#")
		start, err := time.Parse("2006010215", parts[3])
		if err != nil {
			readErr = fmt.Errorf("speed row %s: %w", r.Key(), err)
			return false
		}
		for _, cell := range r[btschema.FamilySpeed] {
			minute, err := btschema.BucketTime(btschema.Minute, start, strings.TrimPrefix(cell.Column, btschema.FamilySpeed+":"))
			if err != nil {
				readErr = fmt.Errorf("speed row %s: %w", r.Key(), err)
				return false
			}
			n, err := btschema.DecodeCount(cell.Value)
			if err != nil {
				readErr = fmt.Errorf("speed cell %s %s: %w", r.Key(), cell.Column, err)
				return false
			}
			emit(minuteKey(parts[1], parts[2], minute), n)
		}
		return true
	}, bigtable.RowFilter(filter))
	if err == nil {
		err = readErr
	}
	if err != nil {
		return fmt.Errorf("read speed cells %s to %s: %w", from.Format(time.DateOnly), to.Format(time.DateOnly), err)
	}
	return nil
}

// Count is an exact count of one bucket of an ad (or btschema.AllAds).
type Count struct {
	Kind       btschema.Kind
	Advertiser string
	Ad         string
	Start      time.Time
	N          int64
}

// Diff is a minute where the speed layer and the batch disagree.
type Diff struct {
	Advertiser string
	Ad         string
	Minute     time.Time
	Speed      int64
	Batch      int64
}

var (
	mismatched    = beam.NewCounter("adclick", "reconciliation_mismatched_cells")
	absDifference = beam.NewCounter("adclick", "reconciliation_abs_difference")
)

// compare joins a minute's batch count with its speed cell. Every minute
// either layer has becomes a Count, zero where only the speed layer
// counted, so that the batch cell overrides it; disagreements become Diffs.
func compare(ctx context.Context, key string, batchN, speedN func(*int64) bool, emit func(Count), diff func(Diff)) error {
	var b, s int64
	var hasBatch, hasSpeed bool
	var n int64
	for batchN(&n) {
		b, hasBatch = b+n, true
	}
	for speedN(&n) {
		s, hasSpeed = n, true
	}
	advertiser, ad, minute, err := splitMinuteKey(key)
	if err != nil {
		return err
	}
	if hasBatch || hasSpeed {
		emit(Count{Kind: btschema.Minute, Advertiser: advertiser, Ad: ad, Start: minute, N: b})
	}
	if b != s {
		diff(Diff{Advertiser: advertiser, Ad: ad, Minute: minute, Speed: s, Batch: b})
		mismatched.Inc(ctx, 1)
		absDifference.Inc(ctx, abs(b-s))
	}
	return nil
}

func abs(n int64) int64 {
	if n < 0 {
		return -n
	}
	return n
}

// rollUp adds hour and day counts, summed from the minutes, to them.
func rollUp(s beam.Scope, minutes beam.PCollection) beam.PCollection {
	s = s.Scope("rollUp")
	sums := beam.CombinePerKey(s, sum, beam.ParDo(s, rollUpFn, minutes))
	return beam.Flatten(s, minutes, beam.ParDo(s, toCount, sums))
}

func rollUpFn(c Count, emit func(string, int64)) {
	hour := c.Start.Truncate(time.Hour)
	day := time.Date(c.Start.Year(), c.Start.Month(), c.Start.Day(), 0, 0, 0, 0, time.UTC)
	emit(string(btschema.Hour)+"/"+minuteKey(c.Advertiser, c.Ad, hour), c.N)
	emit(string(btschema.Day)+"/"+minuteKey(c.Advertiser, c.Ad, day), c.N)
}

func toCount(key string, n int64, emit func(Count)) {
	kind, rest, _ := strings.Cut(key, "/")
	advertiser, ad, start, err := splitMinuteKey(rest)
	if err != nil {
		panic(err) // keys are made by rollUpFn
	}
	emit(Count{Kind: btschema.Kind(kind[0]), Advertiser: advertiser, Ad: ad, Start: start, N: n})
}
