// Command streaming is the speed layer: it reads clicks from Pub/Sub,
// dedupes them, counts them per ad and advertiser in one-minute event-time
// windows and writes the counts to Bigtable.
//
// On Dataflow (--runner=dataflow) it reads with Beam's Pub/Sub connector;
// on any other runner (Prism locally, the default) with pullsource, a
// synchronous-Pull reader. Everything after the source is the same code.
// The Pub/Sub and Bigtable clients honour PUBSUB_EMULATOR_HOST and
// BIGTABLE_EMULATOR_HOST.
package main

import (
	"context"
	"flag"
	"fmt"
	"net/http"
	_ "net/http/pprof"
	"os"
	"os/signal"
	"strings"
	"syscall"

	"github.com/apache/beam/sdks/v2/go/pkg/beam"
	"github.com/apache/beam/sdks/v2/go/pkg/beam/options/gcpopts"
	"github.com/apache/beam/sdks/v2/go/pkg/beam/runners"
	_ "github.com/apache/beam/sdks/v2/go/pkg/beam/runners/dataflow"
	_ "github.com/apache/beam/sdks/v2/go/pkg/beam/runners/prism"
	"github.com/apache/beam/sdks/v2/go/pkg/beam/x/beamx"

	"github.com/adclick/adclick/internal/countable"
	"github.com/adclick/adclick/internal/envflag"
	"github.com/adclick/adclick/internal/gcpnames"
	"github.com/adclick/adclick/pipelines/dataflowpubsub"
	"github.com/adclick/adclick/pipelines/deadletter"
	"github.com/adclick/adclick/pipelines/pullsource"
	"github.com/adclick/adclick/pipelines/speed"
)

var (
	// --project is Beam's own flag (gcpopts.Project): the job's project,
	// which also holds the subscription, topics and Bigtable instance.
	project          = gcpopts.Project
	subscription     = flag.String("subscription", gcpnames.StreamingSubscription, "Pub/Sub subscription to read clicks from")
	deadLetterTopic  = flag.String("dead_letter_topic", gcpnames.DeadLetterTopic, "Pub/Sub topic for messages that are not click events")
	bigtableInstance = flag.String("bigtable_instance", gcpnames.BigtableInstance, "Bigtable instance of the clicks table")
	bigtableProfile  = flag.String("bigtable_app_profile", "", "Bigtable app profile of the speed layer's writes (empty: the instance's default)")
	dedupeShards     = flag.Int("dedupe_shards", speed.DefaultShards, "shards of impression ids per 10-minute epoch of dedupe state; each is processed serially, so raise it with the number of workers")
	earlyFiring      = flag.Duration("early_firing", speed.DefaultEarlyFiring, "how often a minute still filling is written to Bigtable: freshness waits up to this, writes grow with its inverse")
	pprofAddr        = flag.String("pprof_addr", "", "local runners: serve net/http/pprof for the whole process (runner and workers) on this address; off when empty")
	drainFile        = flag.String("drain_file", "", "local runners: when this file exists the source stops and the job drains")
)

// rules are the invalid-traffic thresholds, the same flags in both jobs.
var rules = countable.DefaultRules

func init() { rules.RegisterFlags(flag.CommandLine) }

func main() {
	flag.Parse()
	if err := envflag.Parse(flag.CommandLine, "ADCLICK", nil, os.LookupEnv); err != nil {
		fmt.Fprintln(os.Stderr, "streaming:", err)
		os.Exit(2)
	}
	if err := rules.Check(); err != nil {
		fmt.Fprintln(os.Stderr, "streaming:", err)
		os.Exit(2)
	}
	if *project == "" {
		// Our default only; Beam's own --project flag stays as given.
		p := gcpnames.LocalProject
		project = &p
	}
	beam.Init()
	if *pprofAddr != "" {
		go func() { fmt.Fprintln(os.Stderr, "streaming: pprof:", http.ListenAndServe(*pprofAddr, nil)) }()
	}
	if *drainFile != "" {
		// Without a drain file, SIGTERM keeps its default: the process ends.
		ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
		defer stop()
		os.Remove(*drainFile)
		go func() {
			// Cancelling beam.Run's context crashes Prism; drain instead:
			// the source sees the file, stops, and windows and timers flush.
			<-ctx.Done()
			if err := os.WriteFile(*drainFile, nil, 0o644); err != nil {
				// Without the file the job would never drain: stop now,
				// and Pub/Sub redelivers what was pulled but not acked.
				fmt.Fprintf(os.Stderr, "streaming: SIGTERM, but cannot create the drain file %s, stopping without a drain: %v\n", *drainFile, err)
				os.Exit(1)
			}
		}()
	}
	res, err := beamx.RunWithMetrics(context.Background(), pipeline())
	if err != nil {
		fmt.Fprintln(os.Stderr, "streaming:", err)
		os.Exit(1)
	}
	// A drained local job reports what it did.
	if res != nil {
		byName := map[string]int64{}
		for _, c := range res.Metrics().AllMetrics().Counters() {
			fmt.Fprintln(os.Stderr, speed.CounterLine(c.Key.Namespace, c.Key.Name, c.Key.Step, c.Result()))
			if c.Key.Namespace == "adclick" {
				byName[c.Key.Name] += c.Result()
			}
		}
		if err := speed.CheckOutcomes(byName); err != nil {
			fmt.Fprintln(os.Stderr, "streaming:", err)
		}
	}
}

// pipeline is the job, from the flags.
func pipeline() *beam.Pipeline {
	p, s := beam.NewPipelineWithRoot()
	msgs := read(s)
	counts, dead := speed.Count(s, msgs, speed.Options{Shards: *dedupeShards, Rules: rules, EarlyFiring: *earlyFiring})
	speed.WriteCounts(s, *project, *bigtableInstance, *bigtableProfile, counts)
	deadletter.Publish(s, *project, *deadLetterTopic, dead)
	return p
}

func read(s beam.Scope) beam.PCollection {
	// Dataflow's launchers name the runner "dataflow" or "DataflowRunner".
	if strings.Contains(strings.ToLower(*runners.Runner), "dataflow") {
		return dataflowpubsub.Read(s, *project, *subscription, dataflowpubsub.IDAttribute, dataflowpubsub.TimestampAttribute)
	}
	return pullsource.Read(s, *project, *subscription, *drainFile)
}
