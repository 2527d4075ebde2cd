package speed

import (
	"context"
	"fmt"
	"time"

	"cloud.google.com/go/bigtable"
	"github.com/apache/beam/sdks/v2/go/pkg/beam"
	"github.com/apache/beam/sdks/v2/go/pkg/beam/register"

	"github.com/adclick/adclick/internal/btschema"
)

func init() {
	register.DoFn2x0[context.Context, MinuteCount](&writeCountsFn{})
}

// maxRowsPerBulk keeps each MutateRows request well under gRPC's message
// limit (the emulator's in particular).
const maxRowsPerBulk = 1000

// writeCountsFn writes each pane's absolute count into the speed family:
// the ad's minute cell and, for real ads, its cell in the advertiser's
// top row. Mutations are gathered per bundle and sent with ApplyBulk.
// The Bigtable client honours BIGTABLE_EMULATOR_HOST.
type writeCountsFn struct {
	Project  string
	Instance string

	client *bigtable.Client
	table  *bigtable.Table
	rows   map[string]*bigtable.Mutation
}

// WriteCounts writes counts (PCollection<MinuteCount>) to the clicks table.
func WriteCounts(s beam.Scope, project, instance string, counts beam.PCollection) {
	s = s.Scope("speed.WriteCounts")
	beam.ParDo0(s, &writeCountsFn{Project: project, Instance: instance}, counts)
}

func (fn *writeCountsFn) Setup(ctx context.Context) error {
	c, err := bigtable.NewClient(ctx, fn.Project, fn.Instance)
	if err != nil {
		return fmt.Errorf("bigtable client %s/%s: %w", fn.Project, fn.Instance, err)
	}
	fn.client, fn.table = c, c.Open(btschema.Table)
	return nil
}

func (fn *writeCountsFn) StartBundle() {
	fn.rows = map[string]*bigtable.Mutation{}
}

func (fn *writeCountsFn) ProcessElement(ctx context.Context, c MinuteCount) {
	ts, val := btschema.SpeedTimestamp(c.Minute, c.N), btschema.EncodeCount(c.N)
	fn.mutation(btschema.RowKey(btschema.Minute, c.Advertiser, c.Ad, c.Minute)).Set(btschema.FamilySpeed, btschema.Qualifier(btschema.Minute, c.Minute), ts, val)
	if c.Ad != AllAds {
		fn.mutation(btschema.TopRowKey(c.Advertiser, c.Minute)).Set(btschema.FamilySpeed, c.Ad, ts, val)
	}
}

func (fn *writeCountsFn) mutation(row string) *bigtable.Mutation {
	m, ok := fn.rows[row]
	if !ok {
		m = bigtable.NewMutation()
		fn.rows[row] = m
	}
	return m
}

// FinishBundle sends the bundle's mutations; an error fails the bundle, and
// the runner retries it, which rewrites the same absolute counts.
func (fn *writeCountsFn) FinishBundle(ctx context.Context) error {
	keys := make([]string, 0, len(fn.rows))
	muts := make([]*bigtable.Mutation, 0, len(fn.rows))
	for k, m := range fn.rows {
		keys, muts = append(keys, k), append(muts, m)
	}
	for start := 0; start < len(keys); start += maxRowsPerBulk {
		end := min(start+maxRowsPerBulk, len(keys))
		ctx, cancel := context.WithTimeout(ctx, time.Minute)
		errs, err := fn.table.ApplyBulk(ctx, keys[start:end], muts[start:end])
		cancel()
		if err != nil {
			return fmt.Errorf("write %d count rows: %w", end-start, err)
		}
		for i, e := range errs {
			if e != nil {
				return fmt.Errorf("write count row %s: %w", keys[start+i], e)
			}
		}
	}
	fn.rows = nil
	return nil
}

func (fn *writeCountsFn) Teardown() error {
	if fn.client != nil {
		return fn.client.Close()
	}
	return nil
}
