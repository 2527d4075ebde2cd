package nightly

import (
	"context"
	"fmt"
	"log/slog"
	"time"

	"github.com/apache/beam/sdks/v2/go/pkg/beam"

	"github.com/adclick/adclick/internal/blob"
	"github.com/adclick/adclick/internal/countable"
	"github.com/adclick/adclick/internal/rawarchive"
)

// RunOptions is one reconciliation of days [From, To).
type RunOptions struct {
	Archive, Output string
	From, To        time.Time
	LateMargin      time.Duration
	Shards          int
	// HotAdShare: Config.HotAdShare.
	HotAdShare float64
	// Rules are the invalid-traffic thresholds (countable.DefaultRules if
	// zero).
	Rules                     countable.Rules
	Project, BigtableInstance string
	BigtableAppProfile        string
	BigtableTimeout           time.Duration
	BigQuery                  BigQuery
	// Run runs the pipeline (beamx.RunWithMetrics, or ptest's in tests).
	Run func(context.Context, *beam.Pipeline) (beam.PipelineResult, error)
	// Detached is true where Run returns once the job is submitted (a
	// Dataflow launch) or translated (a dry run): there is nothing to
	// read back then.
	Detached bool
	Log      *slog.Logger
}

// RunDays reconciles the days. Every effect happens inside the pipeline
// (see Build); the launcher only lists the archive files to read and
// runs the pipeline. Where the runner waits for the job (Prism), it then
// reads back and returns each day's published report.
func RunDays(ctx context.Context, o RunOptions) ([]Report, error) {
	if o.Shards <= 0 {
		o.Shards = DefaultShards
	}
	if o.Rules == (countable.Rules{}) {
		o.Rules = countable.DefaultRules
	}
	if o.BigQuery.LoadTimeout <= 0 {
		o.BigQuery.LoadTimeout = DefaultLoadTimeout
	}
	days := Days(o.From, o.To)
	runAt := time.Now().UTC()
	runID := RunID(runAt)

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

	p, s := beam.NewPipelineWithRoot()
	Build(s, Config{
		Archive: o.Archive, Files: files, From: o.From, To: o.To, Shards: o.Shards, HotAdShare: o.HotAdShare, Rules: o.Rules, Output: o.Output,
		RunID: runID, Run: runAt, Project: o.Project, BigtableInstance: o.BigtableInstance, BigtableAppProfile: o.BigtableAppProfile, BigtableTimeout: o.BigtableTimeout, BigQuery: o.BigQuery,
	})
	res, err := o.Run(ctx, p)
	if err != nil {
		return nil, fmt.Errorf("run batch pipeline %s: %w", runID, err)
	}
	if o.Detached {
		o.Log.Info("batch job handed to the runner; it publishes, loads and marks the days itself", "run", runID)
		return nil, nil
	}
	if res != nil {
		metrics := res.Metrics().AllMetrics()
		for _, c := range metrics.Counters() {
			o.Log.Info("counter", "name", c.Key.Name, "step", c.Key.Step, "value", c.Result())
		}
		for _, d := range metrics.Distributions() {
			v := d.Result()
			o.Log.Info("distribution", "name", d.Key.Name, "step", d.Key.Step, "count", v.Count, "min", v.Min, "max", v.Max, "sum", v.Sum)
		}
	}
	out, err := blob.Open(ctx, o.Output)
	if err != nil {
		return nil, err
	}
	defer out.Close()
	var reports []Report
	for _, day := range days {
		r, err := ReadReport(ctx, out, day)
		if err != nil {
			return nil, err
		}
		reports = append(reports, r)
		attrs := []any{"date", r.Date, "archived", r.Archived}
		for _, outcome := range countable.Outcomes {
			attrs = append(attrs, string(outcome), r.Outcomes[outcome])
		}
		o.Log.Info("reconciled", append(attrs, "redelivered", r.Redelivered,
			"speed_total", r.SpeedTotal, "batch_total", r.BatchTotal, "mismatched_cells", r.MismatchedCells, "abs_difference", r.AbsDifference,
			"report", out.URL(ReportName(day)))...)
	}
	return reports, nil
}

// DefaultLoadTimeout bounds one BigQuery partition load.
const DefaultLoadTimeout = 30 * time.Minute

// RunID names a run by its start: its staging folder and BigQuery jobs.
func RunID(at time.Time) string {
	return at.UTC().Format("20060102t150405z") + fmt.Sprintf("%03d", at.Nanosecond()/1e6)
}
