// Command batch is the nightly reconciliation: it recomputes whole UTC
// days exactly from the raw click archive (see package nightly), then
// publishes the day partitions, rolls up the months, loads BigQuery and
// logs each day's reconciliation report.
//
//	batch --date=2026-11-26                  # one day (default: yesterday, UTC)
//	batch --from=2026-11-01 --to=2026-11-03  # a backfill, both days included
//
// Locally (`make batch`) it runs on Prism over .run/archive into
// .run/warehouse and the Bigtable emulator; with --bigquery_dataset empty
// the loads are skipped and listed. On Dataflow (the Flex Template) the
// same binary submits the job and returns at once: publishing, the
// BigQuery loads and the reconciled markers are the job's last stages
// (package nightly, finish.go), so nothing is left for the launcher.
package main

import (
	"context"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"strings"
	"time"

	"github.com/apache/beam/sdks/v2/go/pkg/beam"
	"github.com/apache/beam/sdks/v2/go/pkg/beam/options/gcpopts"
	"github.com/apache/beam/sdks/v2/go/pkg/beam/options/jobopts"
	"github.com/apache/beam/sdks/v2/go/pkg/beam/runners"
	_ "github.com/apache/beam/sdks/v2/go/pkg/beam/runners/dataflow"
	_ "github.com/apache/beam/sdks/v2/go/pkg/beam/runners/prism"
	"github.com/apache/beam/sdks/v2/go/pkg/beam/x/beamx"

	"github.com/adclick/adclick/internal/countable"
	"github.com/adclick/adclick/internal/envflag"
	"github.com/adclick/adclick/internal/gcpnames"
	"github.com/adclick/adclick/internal/obs"
	"github.com/adclick/adclick/pipelines/nightly"
)

var (
	// --project is Beam's own flag (gcpopts.Project).
	project          = gcpopts.Project
	date             = flag.String("date", "", "UTC day to reconcile, YYYY-MM-DD (default: yesterday)")
	from             = flag.String("from", "", "first UTC day of a backfill, YYYY-MM-DD (with --to)")
	to               = flag.String("to", "", "last UTC day of a backfill, YYYY-MM-DD, included")
	archive          = flag.String("archive", ".run/archive", "raw click archive: gs://bucket[/prefix] or a folder")
	output           = flag.String("output", ".run/warehouse", "Parquet tables and reports: gs://bucket[/prefix] or a folder")
	lateMargin       = flag.Duration("late_margin", nightly.DefaultLateMargin, "read archive files started up to this long after a day ends (clicks published late)")
	shards           = flag.Int("shards", nightly.DefaultShards, "shards of the clicks' shuffle (a shard holds whole ads) and of the advertisers' minutes")
	bigtableInstance = flag.String("bigtable_instance", gcpnames.BigtableInstance, "Bigtable instance of the clicks table; empty skips Bigtable")
	bigtableProfile  = flag.String("bigtable_app_profile", "", "Bigtable app profile of the nightly's reads and writes (empty: the instance's default)")
	bigtableTimeout  = flag.Duration("bigtable_timeout", nightly.DefaultBigtableTimeout, "longest one Bigtable call may take, retries included; past it the run fails and the day stays provisional")
	bigqueryProject  = flag.String("bigquery_project", "", "project of the BigQuery dataset (default: --project)")
	bigqueryDataset  = flag.String("bigquery_dataset", "", "BigQuery dataset to load; empty skips the loads (local runs)")
	loadTimeout      = flag.Duration("bigquery_load_timeout", nightly.DefaultLoadTimeout, "longest one BigQuery partition load may take, retries included")
	cpuProfile       = flag.String("cpuprofile", "", "local runners: write a CPU profile of the whole process (runner and workers) to this file")
)

// rules are the invalid-traffic thresholds, the same flags in both jobs.
var rules = countable.DefaultRules

func init() { rules.RegisterFlags(flag.CommandLine) }

func main() {
	flag.Parse()
	if err := envflag.Parse(flag.CommandLine, "ADCLICK", nil, os.LookupEnv); err != nil {
		fmt.Fprintln(os.Stderr, "batch:", err)
		os.Exit(2)
	}
	if err := rules.Check(); err != nil {
		fmt.Fprintln(os.Stderr, "batch:", err)
		os.Exit(2)
	}
	if *project == "" {
		p := gcpnames.LocalProject
		project = &p
	}
	log, err := obs.NewLogger(os.Stderr, "info", "batch")
	if err != nil {
		fmt.Fprintln(os.Stderr, "batch:", err)
		os.Exit(2)
	}
	beam.Init()
	if *cpuProfile != "" {
		stop, err := obs.ProfileCPU(*cpuProfile)
		if err != nil {
			log.Error("batch failed", "err", err)
			os.Exit(2)
		}
		defer stop()
	}
	if err := run(context.Background(), log); err != nil {
		log.Error("batch failed", "err", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, log *slog.Logger) error {
	first, last, err := dayRange(*date, *from, *to, time.Now())
	if err != nil {
		return err
	}
	bq := nightly.BigQuery{Project: *bigqueryProject, Dataset: *bigqueryDataset, LoadTimeout: *loadTimeout}
	if bq.Project == "" {
		bq.Project = *project
	}
	_, err = nightly.RunDays(ctx, nightly.RunOptions{
		Archive: *archive, Output: *output, From: first, To: last, LateMargin: *lateMargin, Shards: *shards, Rules: rules,
		Project: *project, BigtableInstance: *bigtableInstance, BigtableAppProfile: *bigtableProfile, BigtableTimeout: *bigtableTimeout, BigQuery: bq, Log: log,
		Detached: detach(),
		Run: func(ctx context.Context, p *beam.Pipeline) (beam.PipelineResult, error) {
			return beamx.RunWithMetrics(ctx, p)
		},
	})
	return err
}

// detach makes a Dataflow launch return once the job is submitted: a
// Flex Template launcher is there to submit, not to wait for a batch.
// It reports whether the runner returns before the job is done (that,
// or a dry run, which submits nothing).
func detach() bool {
	if r := strings.ToLower(*runners.Runner); r != "dataflow" && r != "dataflowrunner" {
		return false
	}
	*jobopts.Async = true
	return true
}

// dayRange turns the flags into [first, last) in whole UTC days.
func dayRange(date, from, to string, now time.Time) (time.Time, time.Time, error) {
	parse := func(name, v string) (time.Time, error) {
		t, err := time.Parse(time.DateOnly, v)
		if err != nil {
			return t, fmt.Errorf("--%s=%q: want YYYY-MM-DD", name, v)
		}
		return t, nil
	}
	switch {
	case date != "" && (from != "" || to != ""):
		return time.Time{}, time.Time{}, fmt.Errorf("--date and --from/--to: give one or the other")
	case (from == "") != (to == ""):
		return time.Time{}, time.Time{}, fmt.Errorf("--from and --to go together")
	case from != "":
		f, err := parse("from", from)
		if err != nil {
			return f, f, err
		}
		t, err := parse("to", to)
		if err != nil {
			return f, t, err
		}
		if t.Before(f) {
			return f, t, fmt.Errorf("--to=%s is before --from=%s", to, from)
		}
		return f, t.AddDate(0, 0, 1), nil
	case date != "":
		d, err := parse("date", date)
		return d, d.AddDate(0, 0, 1), err
	}
	today := now.UTC().Truncate(24 * time.Hour)
	return today.AddDate(0, 0, -1), today, nil
}
