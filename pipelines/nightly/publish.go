package nightly

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"path"
	"time"

	"github.com/xitongsys/parquet-go/reader"

	"github.com/adclick/adclick/internal/blob"
	"github.com/adclick/adclick/internal/warehouse"
)

// Partition is one table partition a run replaced.
type Partition struct {
	Table     warehouse.Table
	Partition time.Time
	// Files are the partition's Parquet files, as gs:// URLs or paths.
	Files []string
}

// Days lists the UTC days of [from, to).
func Days(from, to time.Time) []time.Time {
	var days []time.Time
	for d := from.UTC(); d.Before(to); d = d.AddDate(0, 0, 1) {
		days = append(days, d)
	}
	return days
}

// rollUp recomputes the month tables for each month that days touch from
// the day tables' published partitions of that month, then the year
// tables for each year they touch from the month tables' partitions of
// that year: a month or a year is never re-read from raw. Each goes
// through staging under the run's name, so a retried publication
// rewrites the same file.
func rollUp(ctx context.Context, out blob.Store, staging, runID string, days []time.Time) ([]Partition, error) {
	var done []Partition
	for _, step := range []struct {
		from, to string
		periods  []time.Time
	}{
		{"day", "month", periodsOf(warehouse.ByMonth, days)},
		{"month", "year", periodsOf(warehouse.ByYear, days)},
	} {
		for _, period := range step.periods {
			for _, level := range warehouse.Levels {
				p, err := rollUpOne(ctx, out, staging, runID, level, step.from, step.to, period)
				if err != nil {
					return done, err
				}
				done = append(done, p)
			}
		}
	}
	return done, nil
}

// rollUpOne sums the partitions of the from table inside one partition of
// the to table and publishes the sums as that partition.
func rollUpOne(ctx context.Context, out blob.Store, staging, runID string, level warehouse.Level, from, to string, period time.Time) (Partition, error) {
	src, err := warehouse.Lookup(warehouse.CountTable(level, from))
	if err != nil {
		return Partition{}, err
	}
	dst, err := warehouse.Lookup(warehouse.CountTable(level, to))
	if err != nil {
		return Partition{}, err
	}
	sums, err := sumPartitions(ctx, out, src, dst.Partition, period)
	if err != nil {
		return Partition{}, err
	}
	var files []string
	if len(sums) > 0 {
		name := staging + dst.PartFile(period, "rollup-"+runID)
		if err := writeRollup(ctx, out, name, dst, level, period, sums); err != nil {
			return Partition{}, err
		}
		files = append(files, name)
	}
	return publish(ctx, out, dst, period, files)
}

// periodsOf lists the first days of the periods that days touch.
func periodsOf(p warehouse.Period, days []time.Time) []time.Time {
	var out []time.Time
	for _, d := range days {
		start := p.Start(d)
		if len(out) == 0 || !out[len(out)-1].Equal(start) {
			out = append(out, start)
		}
	}
	return out
}

// publish makes a partition hold exactly the staged files.
func publish(ctx context.Context, out blob.Store, t warehouse.Table, partition time.Time, staged []string) (Partition, error) {
	dir := t.PartitionDir(partition)
	if err := blob.PublishFiles(ctx, out, staged, dir); err != nil {
		return Partition{}, fmt.Errorf("publish %s: %w", dir, err)
	}
	p := Partition{Table: t, Partition: partition}
	for _, name := range staged {
		p.Files = append(p.Files, out.URL(dir+path.Base(name)))
	}
	return p, nil
}

// adKey is an ad's, a campaign's (ad: the campaign) or an advertiser's
// (ad empty) sum.
type adKey struct{ advertiser, ad string }

// sumPartitions sums, per ad, advertiser or campaign, the rows of src's published
// partitions within the period of kind p starting at period.
func sumPartitions(ctx context.Context, out blob.Store, src warehouse.Table, p warehouse.Period, period time.Time) (map[adKey]int64, error) {
	layout := map[warehouse.Period]string{warehouse.ByMonth: "2006-01-", warehouse.ByYear: "2006-"}[p]
	names, err := out.List(ctx, src.Name+"/date="+period.Format(layout))
	if err != nil {
		return nil, err
	}
	sums := map[adKey]int64{}
	for _, name := range names {
		err := readParquet(ctx, out, name, src.Row, func(row any) {
			switch r := row.(type) {
			case warehouse.AdRow:
				sums[adKey{r.AdvertiserID, r.AdID}] += r.Clicks
			case warehouse.AdvertiserRow:
				sums[adKey{r.AdvertiserID, ""}] += r.Clicks
			case warehouse.CampaignRow:
				sums[adKey{r.AdvertiserID, r.CampaignID}] += r.Clicks
			}
		})
		if err != nil {
			return nil, err
		}
	}
	return sums, nil
}

// writeRollup writes one bucket's sums (a month or a year starting at
// bucket) as a Parquet file of t.
func writeRollup(ctx context.Context, out blob.Store, name string, t warehouse.Table, level warehouse.Level, bucket time.Time, sums map[adKey]int64) error {
	w, err := out.Create(ctx, name)
	if err != nil {
		return err
	}
	pw, err := t.ParquetWriter(w)
	if err != nil {
		w.Abort()
		return err
	}
	for k, n := range sums {
		if err := pw.Write(warehouse.CountRow(level, bucket, bucket, k.advertiser, k.ad, n)); err != nil {
			w.Abort()
			return fmt.Errorf("write %s row: %w", t.Name, err)
		}
	}
	if err := pw.WriteStop(); err != nil {
		w.Abort()
		return fmt.Errorf("finish %s: %w", t.Name, err)
	}
	return w.Close()
}

// ReadRows calls fn with every row of the Parquet file name, typed as the
// table's Row.
func readParquet(ctx context.Context, store blob.Store, name string, rowType any, fn func(any)) error {
	r, err := store.Open(ctx, name)
	if err != nil {
		return err
	}
	data, err := io.ReadAll(r)
	r.Close()
	if err != nil {
		return fmt.Errorf("read %s: %w", name, err)
	}
	switch rowType.(type) {
	case warehouse.AdRow:
		return readAll[warehouse.AdRow](data, name, fn)
	case warehouse.AdvertiserRow:
		return readAll[warehouse.AdvertiserRow](data, name, fn)
	case warehouse.CampaignRow:
		return readAll[warehouse.CampaignRow](data, name, fn)
	case warehouse.PlacementRow:
		return readAll[warehouse.PlacementRow](data, name, fn)
	case warehouse.OutcomeRow:
		return readAll[warehouse.OutcomeRow](data, name, fn)
	}
	return fmt.Errorf("read parquet %s: unknown row type %T", name, rowType)
}

func readAll[T any](data []byte, name string, fn func(any)) error {
	pr, err := reader.NewParquetReader(warehouse.NewMemFile(data), new(T), 1)
	if err != nil {
		return fmt.Errorf("open parquet %s: %w", name, err)
	}
	defer pr.ReadStop()
	rows := make([]T, pr.GetNumRows())
	if err := pr.Read(&rows); err != nil {
		return fmt.Errorf("read parquet %s: %w", name, err)
	}
	for _, row := range rows {
		fn(row)
	}
	return nil
}

// ReadRows reads every row of every Parquet file of a published partition.
func ReadRows(ctx context.Context, out blob.Store, t warehouse.Table, partition time.Time, fn func(any)) error {
	dir := t.PartitionDir(partition)
	names, err := out.List(ctx, dir)
	if err != nil {
		return err
	}
	for _, n := range names {
		if !warehouse.IsPartFile(dir, n) {
			continue
		}
		if err := readParquet(ctx, out, n, t.Row, fn); err != nil {
			return err
		}
	}
	return nil
}

// ReadReport reads a published day's report.
func ReadReport(ctx context.Context, out blob.Store, day time.Time) (Report, error) {
	var r Report
	rc, err := out.Open(ctx, ReportName(day))
	if err != nil {
		return r, err
	}
	defer rc.Close()
	if err := json.NewDecoder(rc).Decode(&r); err != nil {
		return r, fmt.Errorf("read report of %s: %w", day.Format(time.DateOnly), err)
	}
	return r, nil
}
