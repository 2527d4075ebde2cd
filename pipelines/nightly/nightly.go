// Package nightly is the batch layer: from the raw click archive to the
// exact counts of whole UTC days, with the same "countable click" rules
// as the streaming job (package countable), written as Parquet
// partitions, Bigtable batch cells and a reconciliation report.
//
//	archive files ─read─▶ KV<ad shard, clickbatch.Batch> ─GroupByKey─▶ settle, per ad: dedupe, bursts,
//	    outcomes and placements ─▶ Count ─▶ Parquet, Bigtable
//	    minutes ─▶ KV<advertiser shard, AdMinutes> ─GroupByKey─▶ reconcile, per advertiser:
//	        ad, campaign and advertiser minutes, hours, days; compare with its speed cells ─▶ Count
//	                                                                    └─▶ report parts ─▶ report
//	speed cells' advertisers ─▶ (into the advertiser shards, so phantom counts get their zeros)
//
// The clicks cross one shuffle, as one batch per file per shard, so what
// crosses it grows with files and shards, not with clicks. A shard holds
// whole ads: an impression belongs to one ad, and the burst rule looks at
// one user's clicks on one ad, so every rule is applied where the clicks
// are. Hot ads, each more than a shard's share of the day, are settled
// split instead, by impression and then by user (split.go), so that a
// worker holds a shard's share of the day whatever the largest ad. An
// advertiser's own series (all its ads, its campaigns) and its
// reconciliation need a second, small shuffle of per-minute counts, so
// that a worker never holds a whole advertiser's clicks.
package nightly

import (
	"strings"
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
	// Shards of each shuffle: a shard holds about 1/Shards of the run's
	// clicks, whole ads but the hot ones (split.go).
	Shards int
	// HotAdShare is the share of the clicks above which an ad is hot
	// and settled split (0: a shard's share, 1/Shards).
	HotAdShare float64
	// Rules are the invalid-traffic thresholds.
	Rules countable.Rules
	// Output is where the Parquet tables and reports are published; the
	// run writes into StagingDir(RunID) under it first.
	Output string
	// RunID names the run's staging folder and BigQuery jobs; Run is the
	// run's start, the version of every batch cell it writes.
	RunID string
	Run   time.Time
	// Project and BigtableInstance locate the clicks table (an empty
	// instance skips Bigtable), read and written through
	// BigtableAppProfile.
	Project, BigtableInstance, BigtableAppProfile string
	// BigtableTimeout bounds each Bigtable call (0: DefaultBigtableTimeout).
	BigtableTimeout time.Duration
	BigQuery        BigQuery
}

// StagingDir is the run's folder under the output location.
func StagingDir(runID string) string { return "_staging/" + runID + "/" }

// Build adds the batch layer to the pipeline: count, write into staging,
// then publish and mark reconciled (finish.go).
func Build(s beam.Scope, cfg Config) {
	s = s.Scope("nightly")
	staging := strings.TrimRight(cfg.Output, "/") + "/" + StagingDir(cfg.RunID)
	files := beam.Reshuffle(s, beam.CreateList(s, cfg.Files))
	batches, split, unreadable := beam.ParDo3(s, &readFn{Archive: cfg.Archive, Shards: cfg.Shards, Rules: cfg.Rules}, files, beam.SideInput{Input: hotAds(s, cfg)})
	adCounts, adOutcomes, adParts, adMinutes := beam.ParDo4(s, &settleAdsFn{FromMs: cfg.From.UnixMilli(), ToMs: cfg.To.UnixMilli(), Rules: cfg.Rules, Shards: cfg.Shards},
		beam.GroupByKey(s, batches))
	splitCounts, splitOutcomes, splitParts, splitMinutes := settleSplit(s, cfg, split)
	phantoms := beam.ParDo(s, &speedAdvertisersFn{Project: cfg.Project, Instance: cfg.BigtableInstance, AppProfile: cfg.BigtableAppProfile, TimeoutMs: cfg.BigtableTimeout.Milliseconds(), FromMs: cfg.From.UnixMilli(), ToMs: cfg.To.UnixMilli(), Shards: cfg.Shards}, beam.Impulse(s))
	minuteCounts, reconcileParts := beam.ParDo2(s, &reconcileFn{Project: cfg.Project, Instance: cfg.BigtableInstance, AppProfile: cfg.BigtableAppProfile, TimeoutMs: cfg.BigtableTimeout.Milliseconds(), FromMs: cfg.From.UnixMilli(), ToMs: cfg.To.UnixMilli()},
		beam.GroupByKey(s, beam.Flatten(s, adMinutes, splitMinutes, phantoms)))
	counts := beam.Flatten(s, adCounts, splitCounts, minuteCounts)
	outcomes := beam.Flatten(s, adOutcomes, splitOutcomes)
	parts := beam.Flatten(s, adParts, splitParts, reconcileParts)

	countFiles := beam.ParDo(s, &writeParquetFn{Staging: staging}, counts)
	outcomeFiles := beam.ParDo(s, &writeParquetOutcomesFn{Staging: staging}, outcomes)
	reports := beam.ParDo(s, &writeReportFn{Staging: staging, FromMs: cfg.From.UnixMilli(), ToMs: cfg.To.UnixMilli()}, beam.GroupByKey(s, beam.Flatten(s, parts, unreadable)))
	cells := beam.ParDo(s, &writeBigtableFn{Project: cfg.Project, Instance: cfg.BigtableInstance, AppProfile: cfg.BigtableAppProfile, TimeoutMs: cfg.BigtableTimeout.Milliseconds(), RunMs: cfg.Run.UnixMilli()}, counts)

	staged := beam.Flatten(s, countFiles, outcomeFiles, reports)
	published := beam.ParDo(s.Scope("publish"), &publishFn{Output: cfg.Output, Staging: StagingDir(cfg.RunID), RunID: cfg.RunID,
		FromMs: cfg.From.UnixMilli(), ToMs: cfg.To.UnixMilli(), BigQuery: cfg.BigQuery}, beam.Impulse(s), beam.SideInput{Input: staged})
	beam.ParDo0(s.Scope("mark"), &markFn{Output: cfg.Output, Staging: StagingDir(cfg.RunID), Project: cfg.Project, Instance: cfg.BigtableInstance, AppProfile: cfg.BigtableAppProfile, TimeoutMs: cfg.BigtableTimeout.Milliseconds(), RunMs: cfg.Run.UnixMilli()},
		beam.Impulse(s), beam.SideInput{Input: published}, beam.SideInput{Input: cells})
}
