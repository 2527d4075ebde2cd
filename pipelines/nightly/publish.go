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

// Months lists the first days of the months that days touch.
func Months(days []time.Time) []time.Time {
	var months []time.Time
	for _, d := range days {
		m := time.Date(d.Year(), d.Month(), 1, 0, 0, 0, 0, time.UTC)
		if len(months) == 0 || !months[len(months)-1].Equal(m) {
			months = append(months, m)
		}
	}
	return months
}

// rollUpMonths recomputes the month tables for each month from the day
// tables' published partitions of that month (a month is never re-read
// from raw), through staging, and publishes them. The staged file's name
// is the run's, so a retried publication rewrites the same file.
func rollUpMonths(ctx context.Context, out blob.Store, staging, runID string, months []time.Time) ([]Partition, error) {
	var done []Partition
	for _, month := range months {
		for _, advertiserLevel := range []bool{false, true} {
			day, err := warehouse.Lookup(warehouse.CountTable(advertiserLevel, "day"))
			if err != nil {
				return done, err
			}
			monthly, err := warehouse.Lookup(warehouse.CountTable(advertiserLevel, "month"))
			if err != nil {
				return done, err
			}
			sums, err := sumMonth(ctx, out, day, month, advertiserLevel)
			if err != nil {
				return done, err
			}
			var files []string
			if len(sums) > 0 {
				name := staging + monthly.PartFile(month, "rollup-"+runID)
				if err := writeMonth(ctx, out, name, monthly, month, sums); err != nil {
					return done, err
				}
				files = append(files, name)
			}
			p, err := publish(ctx, out, monthly, month, files)
			if err != nil {
				return done, err
			}
			done = append(done, p)
		}
	}
	return done, nil
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

type adKey struct{ advertiser, ad string }

func sumMonth(ctx context.Context, out blob.Store, day warehouse.Table, month time.Time, advertiserLevel bool) (map[adKey]int64, error) {
	names, err := out.List(ctx, day.Name+"/date="+month.Format("2006-01-"))
	if err != nil {
		return nil, err
	}
	sums := map[adKey]int64{}
	for _, name := range names {
		err := readParquet(ctx, out, name, day.Row, func(row any) {
			switch r := row.(type) {
			case warehouse.AdRow:
				sums[adKey{r.AdvertiserID, r.AdID}] += r.Clicks
			case warehouse.AdvertiserRow:
				sums[adKey{r.AdvertiserID, ""}] += r.Clicks
			}
		})
		if err != nil {
			return nil, err
		}
	}
	return sums, nil
}

func writeMonth(ctx context.Context, out blob.Store, name string, t warehouse.Table, month time.Time, sums map[adKey]int64) error {
	w, err := out.Create(ctx, name)
	if err != nil {
		return err
	}
	pw, err := t.ParquetWriter(w)
	if err != nil {
		w.Abort()
		return err
	}
	date := warehouse.EpochDay(month)
	for k, n := range sums {
		var row any = warehouse.AdRow{Date: date, BucketStart: month.UnixMilli(), AdvertiserID: k.advertiser, AdID: k.ad, Clicks: n}
		if k.ad == "" {
			row = warehouse.AdvertiserRow{Date: date, BucketStart: month.UnixMilli(), AdvertiserID: k.advertiser, Clicks: n}
		}
		if err := pw.Write(row); err != nil {
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
