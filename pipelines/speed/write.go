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

// writeCountsFn writes each pane's absolute count into the speed family:
// the ad's minute cell and, for real ads, its cell in the advertiser's
// top row; and, the first time this worker writes an ad on a day, the
// ad's cell in the day's index (btschema.ActiveRowKey), which the nightly
// reads instead of scanning history. Mutations are gathered per bundle
// and sent with ApplyBulk. The Bigtable client honours
// BIGTABLE_EMULATOR_HOST.
type writeCountsFn struct {
	Project    string
	Instance   string
	AppProfile string

	client *bigtable.Client
	table  *bigtable.Table
	batch  btschema.Batch
	// indexed remembers the index cells this worker wrote, so each is
	// written about once per worker and day, not once per pane; pending
	// joins it when the bundle's writes succeed. Forgetting it costs a
	// rewrite of an idempotent cell, so it is simply cleared when full.
	indexed, pending map[activeAd]bool
}

type activeAd struct {
	day            int64
	advertiser, ad string
}

// maxIndexed bounds the memory of writeCountsFn.indexed (about 100 bytes
// an entry).
const maxIndexed = 100_000

// WriteCounts writes counts (PCollection<MinuteCount>) to the clicks table.
func WriteCounts(s beam.Scope, project, instance, appProfile string, counts beam.PCollection) {
	s = s.Scope("speed.WriteCounts")
	beam.ParDo0(s, &writeCountsFn{Project: project, Instance: instance, AppProfile: appProfile}, counts)
}

func (fn *writeCountsFn) Setup(ctx context.Context) error {
	c, err := btschema.Dial(ctx, fn.Project, fn.Instance, fn.AppProfile)
	if err != nil {
		return err
	}
	fn.client, fn.table = c, c.Open(btschema.Table)
	return nil
}

func (fn *writeCountsFn) ProcessElement(ctx context.Context, c MinuteCount) {
	day := c.Minute.UTC().Truncate(24 * time.Hour)
	if k := (activeAd{day.Unix(), c.Advertiser, c.Ad}); !fn.indexed[k] && !fn.pending[k] {
		if fn.pending == nil {
			fn.pending = map[activeAd]bool{}
		}
		fn.pending[k] = true
		btschema.SetActive(&fn.batch, c.Advertiser, c.Ad, day)
	}
	btschema.SetSpeedMinute(&fn.batch, c.Advertiser, c.Ad, c.Minute, c.N)
}

// FinishBundle sends the bundle's mutations; an error fails the bundle, and
// the runner retries it, which rewrites the same absolute counts.
func (fn *writeCountsFn) FinishBundle(ctx context.Context) error {
	if err := fn.batch.Apply(ctx, fn.table); err != nil {
		fn.pending = nil
		return fmt.Errorf("write counts: %w", err)
	}
	if len(fn.indexed)+len(fn.pending) > maxIndexed {
		fn.indexed = nil
	}
	if fn.indexed == nil {
		fn.indexed = map[activeAd]bool{}
	}
	for k := range fn.pending {
		fn.indexed[k] = true
	}
	fn.pending = nil
	return nil
}

func (fn *writeCountsFn) Teardown() error {
	if fn.client != nil {
		return fn.client.Close()
	}
	return nil
}
