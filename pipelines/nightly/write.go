package nightly

import (
	"context"
	"fmt"
	"strings"
	"time"

	"cloud.google.com/go/bigtable"
	"github.com/apache/beam/sdks/v2/go/pkg/beam/register"
	"github.com/google/uuid"
	"github.com/xitongsys/parquet-go/writer"

	"github.com/adclick/adclick/internal/blob"
	"github.com/adclick/adclick/internal/btschema"
	"github.com/adclick/adclick/internal/warehouse"
)

func init() {
	register.DoFn3x1[context.Context, CountBatch, func(string), error](&writeParquetFn{})
	register.DoFn4x1[context.Context, string, int64, func(string), error](&writeParquetOutcomesFn{})
	register.DoFn3x0[context.Context, CountBatch, func(int64)](&writeBigtableFn{})
	register.Emitter1[string]()
	register.Emitter1[int64]()
}

// partWriter writes one Parquet part file per table partition per
// bundle into the run's staging location. Each bundle emits the names of
// the files it closed: only those are published, so the files of a
// failed attempt that Dataflow retried are left behind in staging,
// never counted twice.
type partWriter struct {
	store blob.Store
	open  map[string]*openPart
}

type openPart struct {
	name string
	w    blob.Writer
	pw   *writer.ParquetWriter
}

func (p *partWriter) setup(ctx context.Context, staging string) error {
	s, err := blob.Open(ctx, staging)
	p.store = s
	return err
}

func (p *partWriter) write(ctx context.Context, t warehouse.Table, partition time.Time, row any) error {
	key := t.PartitionDir(partition)
	op, ok := p.open[key]
	if !ok {
		name := t.PartFile(partition, uuid.NewString())
		w, err := p.store.Create(ctx, name)
		if err != nil {
			return err
		}
		pw, err := t.ParquetWriter(w)
		if err != nil {
			w.Abort()
			return err
		}
		op = &openPart{name: name, w: w, pw: pw}
		if p.open == nil {
			p.open = map[string]*openPart{}
		}
		p.open[key] = op
	}
	if err := op.pw.Write(row); err != nil {
		return fmt.Errorf("write %s row: %w", t.Name, err)
	}
	return nil
}

// finish closes the bundle's files and emits their names. An error fails
// the bundle; its retry writes files of other names.
func (p *partWriter) finish(emit func(string)) error {
	defer func() { p.open = nil }()
	var closed []string
	for key, op := range p.open {
		if err := op.pw.WriteStop(); err != nil {
			op.w.Abort()
			return fmt.Errorf("finish parquet %s: %w", key, err)
		}
		if err := op.w.Close(); err != nil {
			return err
		}
		closed = append(closed, op.name)
	}
	for _, name := range closed {
		emit(name)
	}
	return nil
}

// writeParquetFn writes counts into the ad, advertiser and campaign count tables;
// zero counts (written to Bigtable only, to override the speed layer) are
// left out.
type writeParquetFn struct {
	Staging string
	parts   partWriter
}

func (fn *writeParquetFn) Setup(ctx context.Context) error { return fn.parts.setup(ctx, fn.Staging) }

func (fn *writeParquetFn) ProcessElement(ctx context.Context, b CountBatch, _ func(string)) error {
	for _, c := range b.Counts {
		if err := fn.write(ctx, c); err != nil {
			return err
		}
	}
	return nil
}

func (fn *writeParquetFn) write(ctx context.Context, c Count) error {
	if c.N == 0 {
		return nil
	}
	switch c.Kind {
	case btschema.Outcomes:
		return nil // writeParquetOutcomesFn writes the outcomes table
	case btschema.PlacementQuarters, btschema.OutcomeQuarters:
		return nil // Bigtable only: the warehouse keeps UTC days
	}
	if c.Kind == btschema.Placement {
		t, err := warehouse.Lookup(warehouse.PlacementTable)
		if err != nil {
			return err
		}
		return fn.parts.write(ctx, t, c.Start, warehouse.PlacementRow{Date: warehouse.EpochDay(c.Start), AdvertiserID: c.Advertiser, AdID: c.Ad, PlacementID: c.Column, Clicks: c.N})
	}
	gran := map[btschema.Kind]string{btschema.Minute: "minute", btschema.Hour: "hour", btschema.Day: "day"}[c.Kind]
	level, id := warehouse.AdLevel, c.Ad
	if c.Ad == btschema.AllAds {
		level = warehouse.AdvertiserLevel
	} else if campaign, ok := btschema.CampaignOf(c.Ad); ok {
		level, id = warehouse.CampaignLevel, campaign
	}
	t, err := warehouse.Lookup(warehouse.CountTable(level, gran))
	if err != nil {
		return err
	}
	partition := t.PartitionOf(c.Start)
	return fn.parts.write(ctx, t, partition, warehouse.CountRow(level, c.Start, partition, c.Advertiser, id, c.N))
}

func (fn *writeParquetFn) FinishBundle(emit func(string)) error { return fn.parts.finish(emit) }

func (fn *writeParquetFn) Teardown() error {
	if fn.parts.store != nil {
		return fn.parts.store.Close()
	}
	return nil
}

// writeParquetOutcomesFn writes outcome counts ("day|advertiser|ad|outcome").
type writeParquetOutcomesFn struct {
	Staging string
	parts   partWriter
}

func (fn *writeParquetOutcomesFn) Setup(ctx context.Context) error {
	return fn.parts.setup(ctx, fn.Staging)
}

func (fn *writeParquetOutcomesFn) ProcessElement(ctx context.Context, key string, n int64, _ func(string)) error {
	parts := strings.Split(key, "|")
	if len(parts) != 4 {
		return fmt.Errorf("outcome key %q: want day|advertiser|ad|outcome", key)
	}
	if parts[1] == "" { // run-level counts (re-deliveries) are for the report only
		return nil
	}
	day, err := time.Parse(time.DateOnly, parts[0])
	if err != nil {
		return fmt.Errorf("outcome key %q: %w", key, err)
	}
	t, err := warehouse.Lookup("ad_click_outcomes_day")
	if err != nil {
		return err
	}
	return fn.parts.write(ctx, t, day, warehouse.OutcomeRow{Date: warehouse.EpochDay(day), AdvertiserID: parts[1], AdID: parts[2], Outcome: parts[3], Clicks: n})
}

func (fn *writeParquetOutcomesFn) FinishBundle(emit func(string)) error {
	return fn.parts.finish(emit)
}

func (fn *writeParquetOutcomesFn) Teardown() error {
	if fn.parts.store != nil {
		return fn.parts.store.Close()
	}
	return nil
}

// writeBigtableFn writes counts into the batch family: the minute, hour and
// day cells, and for minutes the ad's or campaign's cell in its
// advertiser's top row.
// Every cell carries the run's time as its version, so a rerun replaces
// them all. Mutations are sent per bundle with ApplyBulk, and each bundle
// emits how many cells it wrote: the reconciled markers wait on that.
type writeBigtableFn struct {
	Project, Instance, AppProfile string
	RunMs                         int64
	TimeoutMs                     int64

	client *bigtable.Client
	table  *bigtable.Table
	batch  btschema.Batch
	cells  int64
}

func (fn *writeBigtableFn) Setup(ctx context.Context) error {
	if fn.Instance == "" {
		return nil
	}
	c, err := btschema.Dial(ctx, fn.Project, fn.Instance, fn.AppProfile)
	if err != nil {
		return err
	}
	fn.client, fn.table = c, c.Open(btschema.Table)
	return nil
}

func (fn *writeBigtableFn) ProcessElement(ctx context.Context, b CountBatch, _ func(int64)) {
	if fn.client == nil {
		return
	}
	for _, c := range b.Counts {
		fn.write(c)
	}
}

func (fn *writeBigtableFn) write(c Count) {
	fn.cells++
	ts, val := btschema.BatchTimestamp(time.UnixMilli(fn.RunMs)), btschema.EncodeCount(c.N)
	if c.Kind == btschema.Placement || c.Kind == btschema.Outcomes {
		// Versioned by the run, as the day's marker: readers take the
		// marking run's cells only, so a placement an earlier run kept
		// and this one folded into (other), or an outcome a later run no
		// longer finds, is not read.
		fn.batch.Set(btschema.RowKey(c.Kind, c.Advertiser, c.Ad, c.Start), btschema.FamilyBatch, c.Column, ts, val)
		return
	}
	if c.Kind == btschema.PlacementQuarters || c.Kind == btschema.OutcomeQuarters {
		fn.batch.Set(btschema.RowKey(c.Kind, c.Advertiser, c.Ad, c.Start), btschema.FamilyBatch, btschema.QuarterQualifier(c.Start, c.Column), ts, val)
		return
	}
	fn.batch.Set(btschema.RowKey(c.Kind, c.Advertiser, c.Ad, c.Start), btschema.FamilyBatch, btschema.Qualifier(c.Kind, c.Start), ts, val)
	if c.Kind == btschema.Minute && c.Ad != btschema.AllAds {
		fn.batch.Set(btschema.TopRowKey(c.Advertiser, c.Start), btschema.FamilyBatch, c.Ad, ts, val)
	}
}

func (fn *writeBigtableFn) FinishBundle(ctx context.Context, emit func(int64)) error {
	if fn.client == nil {
		return nil
	}
	ctx, cancel := bigtableCall(ctx, fn.TimeoutMs)
	defer cancel()
	if err := fn.batch.Apply(ctx, fn.table); err != nil {
		return fmt.Errorf("write batch cells: %w", err)
	}
	emit(fn.cells)
	fn.cells = 0
	return nil
}

func (fn *writeBigtableFn) Teardown() error {
	if fn.client != nil {
		return fn.client.Close()
	}
	return nil
}
