package speed

import (
	"context"
	"fmt"

	"cloud.google.com/go/bigtable"
	"github.com/apache/beam/sdks/v2/go/pkg/beam"
	"github.com/apache/beam/sdks/v2/go/pkg/beam/register"

	"github.com/adclick/adclick/internal/btschema"
)

func init() {
	register.DoFn2x0[context.Context, MinuteCount](&writeCountsFn{})
}

// writeCountsFn writes each pane's absolute count into the speed family:
// the ad's minute cell and, for real ads, its cell in the advertiser's
// top row. Mutations are gathered per bundle and sent with ApplyBulk.
// The Bigtable client honours BIGTABLE_EMULATOR_HOST.
type writeCountsFn struct {
	Project  string
	Instance string

	client *bigtable.Client
	table  *bigtable.Table
	batch  btschema.Batch
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

func (fn *writeCountsFn) ProcessElement(ctx context.Context, c MinuteCount) {
	ts, val := btschema.SpeedTimestamp(c.Minute, c.N), btschema.EncodeCount(c.N)
	fn.batch.Set(btschema.RowKey(btschema.Minute, c.Advertiser, c.Ad, c.Minute), btschema.FamilySpeed, btschema.Qualifier(btschema.Minute, c.Minute), ts, val)
	if c.Ad != AllAds {
		fn.batch.Set(btschema.TopRowKey(c.Advertiser, c.Minute), btschema.FamilySpeed, c.Ad, ts, val)
	}
}

// FinishBundle sends the bundle's mutations; an error fails the bundle, and
// the runner retries it, which rewrites the same absolute counts.
func (fn *writeCountsFn) FinishBundle(ctx context.Context) error {
	if err := fn.batch.Apply(ctx, fn.table); err != nil {
		return fmt.Errorf("write counts: %w", err)
	}
	return nil
}

func (fn *writeCountsFn) Teardown() error {
	if fn.client != nil {
		return fn.client.Close()
	}
	return nil
}
