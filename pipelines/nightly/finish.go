package nightly

import (
	"context"
	"fmt"
	"path"
	"sort"
	"time"

	"cloud.google.com/go/bigtable"
	"github.com/apache/beam/sdks/v2/go/pkg/beam/log"
	"github.com/apache/beam/sdks/v2/go/pkg/beam/register"
	"google.golang.org/api/option"

	"github.com/adclick/adclick/internal/blob"
	"github.com/adclick/adclick/internal/btschema"
	"github.com/adclick/adclick/internal/warehouse"
)

// The run's effects beyond its staging folder happen in two finishing
// stages inside the job, each a DoFn on one impulse whose side inputs are
// the outputs of the stages before it. A side input is complete before
// its consumer runs, so the order is the data's, on Prism as on Dataflow:
//
//	staged file names ─▶ publishFn: partitions swapped in, months and years rolled up, BigQuery loaded ─▶ days
//	Bigtable cells written ────────────────────────────────────────────────────────────────────┐
//	days ─▶ markFn: each day's reconciled marker, the run's last effect; staging removed ◀─────┘
//
// Both are idempotent: a retried bundle publishes the same files, finds
// its BigQuery jobs by their ids and writes the same markers.

func init() {
	register.DoFn4x1[context.Context, []byte, func(*string) bool, func(string), error](&publishFn{})
	register.DoFn4x1[context.Context, []byte, func(*string) bool, func(*int64) bool, error](&markFn{})
	register.Iter1[string]()
	register.Iter1[int64]()
}

// BigQuery is where the nightly loads its partitions. An empty Dataset
// skips the loads (local runs).
type BigQuery struct {
	Project, Dataset string
	// Endpoint overrides the API's address (tests; empty in production).
	Endpoint string
	// LoadTimeout bounds one partition's load, retries included (the
	// client retries a 5xx until its deadline).
	LoadTimeout time.Duration
}

func (b BigQuery) loader(ctx context.Context) (*warehouse.Loader, error) {
	var opts []option.ClientOption
	if b.Endpoint != "" {
		opts = append(opts, option.WithEndpoint(b.Endpoint), option.WithoutAuthentication())
	}
	return warehouse.NewLoader(ctx, b.Project, b.Dataset, opts...)
}

// publishFn makes the staged files the published partitions, day by day
// and table by table (a partition with no staged file is emptied: the run
// found no rows), publishes the reports, rolls up the months and years, loads every
// replaced partition into BigQuery, and emits the days it published.
type publishFn struct {
	Output, Staging string // Staging is a folder of Output: "_staging/RUN/"
	RunID           string
	FromMs, ToMs    int64
	BigQuery        BigQuery
}

func (fn *publishFn) ProcessElement(ctx context.Context, _ []byte, staged func(*string) bool, emit func(string)) error {
	out, err := blob.Open(ctx, fn.Output)
	if err != nil {
		return err
	}
	defer out.Close()
	byDir := map[string][]string{}
	var name string
	for staged(&name) {
		byDir[path.Dir(name)+"/"] = append(byDir[path.Dir(name)+"/"], fn.Staging+name)
	}
	for _, files := range byDir {
		sort.Strings(files)
	}
	days := Days(time.UnixMilli(fn.FromMs), time.UnixMilli(fn.ToMs))
	var published []Partition
	for _, t := range warehouse.Tables {
		if t.Partition != warehouse.ByDay {
			continue // rolled up from the published days below
		}
		for _, day := range days {
			p, err := publish(ctx, out, t, day, byDir[t.PartitionDir(day)])
			if err != nil {
				return err
			}
			published = append(published, p)
		}
	}
	for _, day := range days {
		dir := path.Dir(ReportName(day)) + "/"
		if err := blob.PublishFiles(ctx, out, byDir[dir], dir); err != nil {
			return fmt.Errorf("publish report of %s: %w", day.Format(time.DateOnly), err)
		}
	}
	rollups, err := rollUp(ctx, out, fn.Staging, fn.RunID, days)
	if err != nil {
		return err
	}
	published = append(published, rollups...)
	if err := fn.load(ctx, published); err != nil {
		return err
	}
	for _, day := range days {
		emit(day.Format(time.DateOnly))
	}
	return nil
}

func (fn *publishFn) load(ctx context.Context, published []Partition) error {
	if fn.BigQuery.Dataset == "" {
		log.Infof(ctx, "bigquery loads skipped (no dataset): %d partitions", len(published))
		return nil
	}
	loader, err := fn.BigQuery.loader(ctx)
	if err != nil {
		return err
	}
	defer loader.Close()
	for _, p := range published {
		lctx, cancel := context.WithTimeout(ctx, fn.BigQuery.LoadTimeout)
		err := loader.LoadPartition(lctx, p.Table, p.Partition, p.Files, fn.RunID)
		cancel()
		if err != nil {
			return err
		}
		log.Infof(ctx, "bigquery partition %s replaced from %d files", p.Table.Decorator(p.Partition), len(p.Files))
	}
	return nil
}

// markFn writes the reconciled marker of each published day once every
// Bigtable batch cell is written (its second side input), then removes
// the run's staging folder. A failure before it leaves the days
// provisional; a rerun completes them.
type markFn struct {
	Output, Staging               string
	Project, Instance, AppProfile string
	RunMs                         int64
	TimeoutMs                     int64
}

func (fn *markFn) ProcessElement(ctx context.Context, _ []byte, published func(*string) bool, written func(*int64) bool) error {
	var cells, n int64
	for written(&n) {
		cells += n
	}
	var days []time.Time
	var day string
	for published(&day) {
		d, err := time.Parse(time.DateOnly, day)
		if err != nil {
			return fmt.Errorf("published day %q: %w", day, err)
		}
		days = append(days, d)
	}
	mctx, cancel := bigtableCall(ctx, fn.TimeoutMs)
	defer cancel()
	if err := markReconciled(mctx, fn.Project, fn.Instance, fn.AppProfile, days, time.UnixMilli(fn.RunMs)); err != nil {
		return err
	}
	log.Infof(ctx, "reconciled %d days after %d batch cells", len(days), cells)
	out, err := blob.Open(ctx, fn.Output)
	if err != nil {
		return err
	}
	defer out.Close()
	// Leftover staging costs storage, not correctness (the bucket's
	// lifecycle removes it): the days are final already.
	if err := blob.DeletePrefix(ctx, out, fn.Staging); err != nil {
		log.Warnf(ctx, "remove staging %s: %v", fn.Staging, err)
	}
	return nil
}

// markReconciled writes each day's reconciled marker.
func markReconciled(ctx context.Context, project, instance, appProfile string, days []time.Time, run time.Time) error {
	if instance == "" {
		return nil
	}
	client, err := btschema.Dial(ctx, project, instance, appProfile)
	if err != nil {
		return err
	}
	defer client.Close()
	tbl := client.Open(btschema.Table)
	for _, day := range days {
		m := bigtable.NewMutation()
		m.Set(btschema.FamilyBatch, btschema.ReconciledColumn, btschema.BatchTimestamp(run), []byte(run.Format(time.RFC3339)))
		if err := tbl.Apply(ctx, btschema.ReconciledRowKey(day), m); err != nil {
			return fmt.Errorf("mark %s reconciled: %w", day.Format(time.DateOnly), err)
		}
	}
	return nil
}
