package nightly

import (
	"context"
	"fmt"
	"log/slog"
	"strings"
	"time"

	"cloud.google.com/go/bigtable"
	"github.com/apache/beam/sdks/v2/go/pkg/beam"

	"github.com/adclick/adclick/internal/blob"
	"github.com/adclick/adclick/internal/btschema"
	"github.com/adclick/adclick/internal/rawarchive"
	"github.com/adclick/adclick/internal/warehouse"
)

// RunOptions is one reconciliation of days [From, To).
type RunOptions struct {
	Archive, Output           string
	From, To                  time.Time
	LateMargin                time.Duration
	Shards                    int
	Project, BigtableInstance string
	// Loader loads BigQuery; nil skips the loads (local runs).
	Loader *warehouse.Loader
	// Run runs the pipeline (beamx.RunWithMetrics, or ptest's in tests).
	Run func(context.Context, *beam.Pipeline) (beam.PipelineResult, error)
	Log *slog.Logger
}

// RunDays reconciles the days: the pipeline into staging, then the
// partitions swapped into place, the months rolled up, BigQuery loaded
// and each day's report logged. It returns the reports.
func RunDays(ctx context.Context, o RunOptions) ([]Report, error) {
	if o.Shards <= 0 {
		o.Shards = DefaultShards
	}
	days := Days(o.From, o.To)
	runAt := time.Now().UTC()
	runID := runAt.Format("20060102t150405z") + fmt.Sprintf("%03d", runAt.Nanosecond()/1e6)

	arch, err := blob.Open(ctx, o.Archive)
	if err != nil {
		return nil, err
	}
	defer arch.Close()
	readFrom, readTo := ReadWindow(o.From, o.To, o.LateMargin)
	files, err := rawarchive.List(ctx, arch, readFrom, readTo)
	if err != nil {
		return nil, err
	}
	o.Log.Info("reconciling", "from", o.From.Format(time.DateOnly), "days", len(days), "archive_files", len(files),
		"files_started_from", readFrom, "files_started_before", readTo, "run", runID)

	out, err := blob.Open(ctx, o.Output)
	if err != nil {
		return nil, err
	}
	defer out.Close()
	staging := "_staging/" + runID + "/"
	p, s := beam.NewPipelineWithRoot()
	Build(s, Config{
		Archive: o.Archive, Files: files, From: o.From, To: o.To, Shards: o.Shards,
		Staging: strings.TrimRight(o.Output, "/") + "/" + staging, Project: o.Project, BigtableInstance: o.BigtableInstance, Run: runAt,
	})
	res, err := o.Run(ctx, p)
	if err != nil {
		return nil, fmt.Errorf("run batch pipeline: %w", err)
	}
	if res != nil {
		for _, c := range res.Metrics().AllMetrics().Counters() {
			o.Log.Info("counter", "name", c.Key.Name, "step", c.Key.Step, "value", c.Result())
		}
	}

	if err := markReconciled(ctx, o.Project, o.BigtableInstance, days, runAt); err != nil {
		return nil, err
	}
	published, err := Publish(ctx, out, staging, days)
	if err != nil {
		return nil, err
	}
	months, err := RollUpMonths(ctx, out, staging, Months(days))
	if err != nil {
		return nil, err
	}
	published = append(published, months...)
	for _, p := range published {
		if o.Loader == nil {
			o.Log.Info("bigquery load skipped (no dataset)", "table", p.Table.Decorator(p.Partition), "files", len(p.Files))
			continue
		}
		if err := o.Loader.LoadPartition(ctx, p.Table, p.Partition, p.Files, runID); err != nil {
			return nil, err
		}
		o.Log.Info("bigquery partition replaced", "table", p.Table.Decorator(p.Partition), "files", len(p.Files))
	}
	var reports []Report
	for _, day := range days {
		r, err := ReadReport(ctx, out, day)
		if err != nil {
			return nil, err
		}
		reports = append(reports, r)
		o.Log.Info("reconciled", "date", r.Date, "archived", r.Archived, "counted", r.Outcomes["counted"], "duplicate", r.Outcomes["duplicate"],
			"expired", r.Outcomes["expired"], "bot", r.Outcomes["bot"], "invalid", r.Outcomes["invalid"], "redelivered", r.Redelivered,
			"speed_total", r.SpeedTotal, "batch_total", r.BatchTotal, "mismatched_cells", r.MismatchedCells, "abs_difference", r.AbsDifference,
			"report", out.URL(ReportName(day)))
	}
	return reports, blob.DeletePrefix(ctx, out, staging)
}

// markReconciled writes each day's reconciled marker, after the pipeline
// wrote every batch cell of it.
func markReconciled(ctx context.Context, project, instance string, days []time.Time, run time.Time) error {
	if instance == "" {
		return nil
	}
	client, err := bigtable.NewClient(ctx, project, instance)
	if err != nil {
		return fmt.Errorf("bigtable client %s/%s: %w", project, instance, err)
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
