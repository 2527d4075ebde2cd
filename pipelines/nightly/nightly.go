// Package nightly is the batch layer: from the raw click archive to the
// exact counts of whole UTC days, with the same "countable click" rules
// as the streaming job (package countable), written as Parquet
// partitions, Bigtable batch cells and a reconciliation report.
//
//	archive files ─read─▶ KV<advertiser shard, ClickBatch> ─GroupByKey─▶ settle, per advertiser:
//	    dedupe, minute/hour/day counts, compare with its speed cells ─▶ Count ─▶ Parquet, Bigtable
//	                                                                   └─▶ report parts ─▶ report
//	speed cells' advertisers ─▶ (into the same shards, so phantom counts get their zeros)
//
// One shuffle carries the clicks, as one batch per file per shard, so what
// crosses it grows with files and shards, not with clicks. A shard holds
// whole advertisers (an impression belongs to one ad, an ad to one
// advertiser), so every count is complete where it is computed and needs
// no further shuffle.
package nightly

import (
	"time"

	"github.com/apache/beam/sdks/v2/go/pkg/beam"

	"github.com/adclick/adclick/internal/countable"
)

// Reading margins. A file started at S holds messages received within
// rawarchive.MaxDuration after S, and a click is published after it is
// clicked, so a day's clicks are in files started from the day's start
// minus MaxFileDuration. LookBack more is read so that the first click of
// an impression made before midnight is known (every countable click of an
// impression falls within countable.MaxTokenLifetime plus ClockSkew).
// Clicks published late, from a click service's spool after an outage,
// are read until LateMargin after the day's end by default.
const (
	MaxFileDuration   = 10 * time.Minute
	LookBack          = countable.MaxTokenLifetime + countable.ClockSkew
	DefaultLateMargin = 6 * time.Hour
	DefaultShards     = 64
)

// ReadWindow is the span of file start times to read for days [from, to).
func ReadWindow(from, to time.Time, lateMargin time.Duration) (start, end time.Time) {
	return from.Add(-LookBack - MaxFileDuration), to.Add(lateMargin)
}

// Config is one run.
type Config struct {
	// Archive is the raw archive's location; Files the archive files to
	// read (rawarchive.List over ReadWindow).
	Archive string
	Files   []string
	// From and To are the UTC days counted, [From, To).
	From, To time.Time
	// Shards of advertisers.
	Shards int
	// Staging is where this run writes its outputs (Parquet partitions
	// and reports) before the launcher swaps them into place.
	Staging string
	// Project and BigtableInstance locate the clicks table; Run is the
	// run's start, the version of every batch cell it writes.
	Project, BigtableInstance string
	Run                       time.Time
}

// Build adds the batch layer to the pipeline.
func Build(s beam.Scope, cfg Config) {
	s = s.Scope("nightly")
	files := beam.Reshuffle(s, beam.CreateList(s, cfg.Files))
	batches, unreadable := beam.ParDo2(s, &readFn{Archive: cfg.Archive, Shards: cfg.Shards}, files)
	phantoms := beam.ParDo(s, &speedAdvertisersFn{Project: cfg.Project, Instance: cfg.BigtableInstance, FromMs: cfg.From.UnixMilli(), ToMs: cfg.To.UnixMilli(), Shards: cfg.Shards}, beam.Impulse(s))
	grouped := beam.GroupByKey(s, beam.Flatten(s, batches, phantoms))
	counts, outcomes, parts := beam.ParDo3(s, &settleFn{Project: cfg.Project, Instance: cfg.BigtableInstance, FromMs: cfg.From.UnixMilli(), ToMs: cfg.To.UnixMilli()}, grouped)

	beam.ParDo0(s, &writeParquetFn{Staging: cfg.Staging}, counts)
	beam.ParDo0(s, &writeParquetOutcomesFn{Staging: cfg.Staging}, outcomes)
	beam.ParDo0(s, &writeBigtableFn{Project: cfg.Project, Instance: cfg.BigtableInstance, RunMs: cfg.Run.UnixMilli()}, counts)
	beam.ParDo0(s, &writeReportFn{Staging: cfg.Staging, FromMs: cfg.From.UnixMilli(), ToMs: cfg.To.UnixMilli()}, beam.GroupByKey(s, beam.Flatten(s, parts, unreadable)))
}
