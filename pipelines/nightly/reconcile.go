package nightly

import (
	"context"
	"fmt"
	"regexp"
	"strings"
	"time"

	"cloud.google.com/go/bigtable"
	"github.com/apache/beam/sdks/v2/go/pkg/beam/register"

	"github.com/adclick/adclick/internal/btschema"
)

func init() {
	register.DoFn3x1[context.Context, []byte, func(int, ClickBatch), error](&speedAdvertisersFn{})
}

// speedAdvertisersFn finds the advertisers with speed cells in the run's
// days and sends each to its shard, so that minutes the speed layer
// counted get the batch's exact value (0 if need be) even for an
// advertiser the archive holds no countable click of.
type speedAdvertisersFn struct {
	Project, Instance string
	FromMs, ToMs      int64
	Shards            int
}

func (fn *speedAdvertisersFn) ProcessElement(ctx context.Context, _ []byte, emit func(int, ClickBatch)) error {
	if fn.Instance == "" {
		return nil
	}
	client, err := bigtable.NewClient(ctx, fn.Project, fn.Instance)
	if err != nil {
		return fmt.Errorf("bigtable client %s/%s: %w", fn.Project, fn.Instance, err)
	}
	defer client.Close()
	found := map[string]bool{}
	err = scanSpeed(ctx, client.Open(btschema.Table), "m#", fn.FromMs, fn.ToMs, func(advertiser, _ string, _ time.Time, _ int64) {
		found[advertiser] = true
	})
	if err != nil {
		return fmt.Errorf("list advertisers with speed cells: %w", err)
	}
	byShard := map[int][]string{}
	for a := range found {
		shard := Shard(a, fn.Shards)
		byShard[shard] = append(byShard[shard], a)
	}
	for shard, advertisers := range byShard {
		emit(shard, ClickBatch{Advertisers: advertisers})
	}
	return nil
}

// scanSpeed calls fn for every speed minute cell under prefix (of m# rows)
// in the days [fromMs, toMs).
func scanSpeed(ctx context.Context, tbl *bigtable.Table, prefix string, fromMs, toMs int64, fn func(advertiser, ad string, minute time.Time, n int64)) error {
	// Minute rows end in their hour, yyyymmddhh.
	filter := bigtable.ChainFilters(
		bigtable.RowKeyFilter(`^m#[^#]+#[^#]+#`+btschema.DayPattern(Days(time.UnixMilli(fromMs), time.UnixMilli(toMs)))+`\d\d$`),
		bigtable.FamilyFilter("^"+regexp.QuoteMeta(btschema.FamilySpeed)+"$"),
		bigtable.LatestNFilter(1),
	)
	var bad error
	err := tbl.ReadRows(ctx, bigtable.PrefixRange(prefix), func(r bigtable.Row) bool {
		parts := strings.Split(r.Key(), "#")
		start, err := btschema.ParseRowStart(btschema.Minute, r.Key())
		if err != nil {
			bad = err
			return false
		}
		for _, cell := range r[btschema.FamilySpeed] {
			minute, err := btschema.BucketTime(btschema.Minute, start, strings.TrimPrefix(cell.Column, btschema.FamilySpeed+":"))
			if err != nil {
				bad = fmt.Errorf("speed row %s: %w", r.Key(), err)
				return false
			}
			n, err := btschema.DecodeCount(cell.Value)
			if err != nil {
				bad = fmt.Errorf("speed cell %s %s: %w", r.Key(), cell.Column, err)
				return false
			}
			fn(parts[1], parts[2], minute, n)
		}
		return true
	}, bigtable.RowFilter(filter))
	if err != nil {
		return err
	}
	return bad
}
