package speed

// Runner seam: what crosses the dedupe shuffle.
//
// parseFn emits one batch per dedupe key per bundle, gathered in memory and
// emitted from FinishBundle, instead of one element per click. Needed by
// Prism, where every element crossing a shuffle costs a per-element
// encode, sort and bundle assignment in a single process: one element per
// click kept the local job below 2.5k clicks/s; batches (with this
// package's totals.go and seencache.go) took it past 10k on two cores
// (docs/streaming.md, "Measured"). Dataflow shuffles elements cheaply,
// and batches there just mean fewer, larger shuffle records; the counting
// is the same either way: dedupe sorts each batch by countable.Rank.

import (
	"context"

	"github.com/apache/beam/sdks/v2/go/pkg/beam"
	"github.com/apache/beam/sdks/v2/go/pkg/beam/core/graph/mtime"
	"github.com/apache/beam/sdks/v2/go/pkg/beam/register"

	"github.com/adclick/adclick/internal/countable"
	"github.com/adclick/adclick/pipelines/clickbatch"
	"github.com/adclick/adclick/pipelines/pubsubmsg"
)

func init() {
	register.DoFn4x0[context.Context, pubsubmsg.Message, func(beam.EventTime, string, clickbatch.Batch), func(pubsubmsg.DeadLetter)](&parseFn{})
	register.Emitter3[beam.EventTime, string, clickbatch.Batch]()
	register.Emitter1[pubsubmsg.DeadLetter]()
}

// parseFn parses each message (parse) and gathers the bundle's countable
// clicks into one batch per dedupe key, emitted when the bundle finishes.
type parseFn struct {
	Shards int
	Rules  countable.Rules

	batches map[string]*pendingBatch
}

type pendingBatch struct {
	batch    clickbatch.Batch
	earliest int64 // ms: the batch's timestamp, so no click in it is earlier
}

func (fn *parseFn) StartBundle(context.Context, func(beam.EventTime, string, clickbatch.Batch), func(pubsubmsg.DeadLetter)) {
	fn.batches = map[string]*pendingBatch{}
}

// ProcessElement takes the bundle's context: metrics incremented with any
// other are dropped.
func (fn *parseFn) ProcessElement(ctx context.Context, m pubsubmsg.Message, _ func(beam.EventTime, string, clickbatch.Batch), dead func(pubsubmsg.DeadLetter)) {
	key, c, ok := parse(ctx, m, fn.Shards, fn.Rules, dead)
	if !ok {
		return
	}
	pb, ok := fn.batches[key]
	if !ok {
		pb = &pendingBatch{earliest: c.ClickTimeMs}
		fn.batches[key] = pb
	}
	pb.batch.Clicks = append(pb.batch.Clicks, c)
	pb.earliest = min(pb.earliest, c.ClickTimeMs)
}

func (fn *parseFn) FinishBundle(_ context.Context, emit func(beam.EventTime, string, clickbatch.Batch), _ func(pubsubmsg.DeadLetter)) {
	for key, pb := range fn.batches {
		emit(mtime.Time(pb.earliest), key, pb.batch)
	}
	fn.batches = nil
}
