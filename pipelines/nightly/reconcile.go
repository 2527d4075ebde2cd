package nightly

import (
	"context"
	"fmt"
	"time"

	"github.com/apache/beam/sdks/v2/go/pkg/beam/register"

	"github.com/adclick/adclick/internal/btschema"
	"github.com/adclick/adclick/pipelines/clickbatch"
)

func init() {
	register.DoFn3x1[context.Context, []byte, func(int, clickbatch.Batch), error](&speedAdvertisersFn{})
}

// speedAdvertisersFn finds the advertisers with speed cells in the run's
// days (the speed layer's day index: a read of the days, not of the
// table's history) and sends each to its shard, so that minutes the speed layer
// counted get the batch's exact value (0 if need be) even for an
// advertiser the archive holds no countable click of.
type speedAdvertisersFn struct {
	Project, Instance, AppProfile string
	FromMs, ToMs                  int64
	Shards                        int
	TimeoutMs                     int64
}

func (fn *speedAdvertisersFn) ProcessElement(ctx context.Context, _ []byte, emit func(int, clickbatch.Batch)) error {
	if fn.Instance == "" {
		return nil
	}
	client, err := btschema.Dial(ctx, fn.Project, fn.Instance, fn.AppProfile)
	if err != nil {
		return err
	}
	defer client.Close()
	tctx, cancel := bigtableCall(ctx, fn.TimeoutMs)
	defer cancel()
	active, err := btschema.ReadActive(tctx, client.Open(btschema.Table), Days(time.UnixMilli(fn.FromMs), time.UnixMilli(fn.ToMs)))
	if err != nil {
		return fmt.Errorf("list advertisers with speed cells: %w", err)
	}
	byShard := map[int][]string{}
	for a := range active {
		shard := Shard(a, fn.Shards)
		byShard[shard] = append(byShard[shard], a)
	}
	for shard, advertisers := range byShard {
		emit(shard, clickbatch.Batch{Advertisers: advertisers})
	}
	return nil
}

// DefaultBigtableTimeout bounds each Bigtable call of the nightly: an
// unreachable Bigtable fails the run (the day stays provisional; rerun
// it) instead of holding workers for ever.
const DefaultBigtableTimeout = 2 * time.Minute

func bigtableCall(ctx context.Context, timeoutMs int64) (context.Context, context.CancelFunc) {
	d := time.Duration(timeoutMs) * time.Millisecond
	if d <= 0 {
		d = DefaultBigtableTimeout
	}
	return context.WithTimeout(ctx, d)
}
