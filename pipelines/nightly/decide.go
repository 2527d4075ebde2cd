package nightly

import (
	"context"
	"fmt"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/apache/beam/sdks/v2/go/pkg/beam"
	"github.com/apache/beam/sdks/v2/go/pkg/beam/register"

	"github.com/adclick/adclick/internal/blob"
	"github.com/adclick/adclick/internal/btschema"
	"github.com/adclick/adclick/internal/countable"
	"github.com/adclick/adclick/internal/rawarchive"
	"github.com/adclick/adclick/pipelines/speed"
)

func init() {
	register.DoFn4x1[context.Context, string, func(int, ClickBatch), func(string, int64), error](&readFn{})
	register.Emitter2[int, ClickBatch]()
	register.Emitter2[string, int64]()
	register.DoFn5x0[context.Context, int, func(*ClickBatch) bool, func(string, int64), func(string, int64)](&decideFn{})
	register.Iter1[ClickBatch]()
	register.Function2x1(sum)
}

// readFn reads one archive file and emits its clicks as one batch per
// impression shard; messages that are not click events are counted by
// publish day and reason (the streaming job dead-lettered them already).
type readFn struct {
	Archive string
	Shards  int

	store blob.Store
}

func (fn *readFn) Setup(ctx context.Context) error {
	s, err := blob.Open(ctx, fn.Archive)
	fn.store = s
	return err
}

func (fn *readFn) Teardown() error {
	if fn.store != nil {
		return fn.store.Close()
	}
	return nil
}

func (fn *readFn) ProcessElement(ctx context.Context, file string, emit func(int, ClickBatch), unreadable func(string, int64)) error {
	r, err := fn.store.Open(ctx, file)
	if err != nil {
		return err
	}
	defer r.Close()
	shards := make([][]Click, fn.Shards)
	bad := map[string]int64{}
	err = rawarchive.Read(r, func(rec *rawarchive.Record) error {
		ev, err := countable.Parse(rec.Data)
		if err != nil {
			bad[rec.PublishTime.UTC().Format(time.DateOnly)+"|"+countable.DeadLetterReason(err)]++
			return nil
		}
		imp := speed.ParseImpression(ev.ImpressionID)
		shard := int(imp[15]) % fn.Shards
		shards[shard] = append(shards[shard], Click{
			Impression: imp, ClickID: ev.ClickID, AdID: ev.AdID, AdvertiserID: ev.AdvertiserID,
			ClickTimeMs: ev.ClickTime.UnixMilli(), Class: classOf(countable.Classify(&ev)),
		})
		return nil
	})
	if err != nil {
		return fmt.Errorf("read archive file %s: %w", file, err)
	}
	for shard, clicks := range shards {
		if len(clicks) > 0 {
			emit(shard, ClickBatch{Clicks: clicks})
		}
	}
	for k, n := range bad {
		unreadable(k, n)
	}
	filesRead.Inc(ctx, 1)
	return nil
}

var (
	filesRead  = beam.NewCounter("adclick", "archive_files_read")
	clicksRead = beam.NewCounter("adclick", "archive_clicks_read")
)

// decideFn settles every click of one shard: re-deliveries of one click
// (same click id) collapse into one; of an impression's clicks that
// countable accepts, the first by countable.First counts and the rest are
// duplicates, whichever file or day they came in. Only clicks in
// [FromMs, ToMs) are counted and reported; earlier ones were read so their
// impressions' first clicks are known.
//
// Outputs: per-minute counts keyed "advertiser/ad/minute-ms" (ad and
// advertiser total), and outcome counts keyed "day|advertiser|ad|outcome".
type decideFn struct {
	FromMs, ToMs int64
}

func (fn *decideFn) ProcessElement(ctx context.Context, shard int, batches func(*ClickBatch) bool, minutes, outcomes func(string, int64)) {
	byClick := map[string]*Click{}
	var all []*Click
	var redelivered int64
	var b ClickBatch
	for batches(&b) {
		for i := range b.Clicks {
			c := &b.Clicks[i]
			if _, dup := byClick[c.ClickID]; dup {
				redelivered++
				continue
			}
			byClick[c.ClickID] = c
			all = append(all, c)
		}
		b = ClickBatch{} // the iterator decodes into b: keep the clicks already taken
	}
	clicksRead.Inc(ctx, int64(len(all)))
	sort.Slice(all, func(i, j int) bool { return first(all[i], all[j]) })

	counted := map[speed.Impression]bool{}
	minuteCounts := map[string]int64{}
	outcomeCounts := map[string]int64{}
	for _, c := range all {
		o := c.Class.Outcome()
		if c.Class == ClassCounted {
			if counted[c.Impression] {
				o = countable.Duplicate
			}
			counted[c.Impression] = true
		}
		if c.ClickTimeMs < fn.FromMs || c.ClickTimeMs >= fn.ToMs {
			continue
		}
		at := time.UnixMilli(c.ClickTimeMs).UTC()
		outcomeCounts[at.Format(time.DateOnly)+"|"+c.AdvertiserID+"|"+c.AdID+"|"+string(o)]++
		if o == countable.Counted {
			minute := strconv.FormatInt(at.Truncate(time.Minute).UnixMilli(), 10)
			minuteCounts[c.AdvertiserID+"/"+c.AdID+"/"+minute]++
			minuteCounts[c.AdvertiserID+"/"+btschema.AllAds+"/"+minute]++
		}
	}
	for k, n := range minuteCounts {
		minutes(k, n)
	}
	for k, n := range outcomeCounts {
		outcomes(k, n)
	}
	if redelivered > 0 {
		outcomes(redeliveredKey(fn.FromMs), redelivered)
	}
}

// first orders clicks as countable.First does: earliest click time, ties
// to the smaller click id.
func first(a, b *Click) bool {
	if a.ClickTimeMs != b.ClickTimeMs {
		return a.ClickTimeMs < b.ClickTimeMs
	}
	return a.ClickID < b.ClickID
}

// Re-deliveries are reported on the run's first day: a re-delivered copy
// says nothing about any one day.
func redeliveredKey(fromMs int64) string {
	return time.UnixMilli(fromMs).UTC().Format(time.DateOnly) + "|||redelivered"
}

// minuteKey parts: advertiser, ad, minute.
func splitMinuteKey(k string) (advertiser, ad string, minute time.Time, err error) {
	parts := strings.Split(k, "/")
	if len(parts) != 3 {
		return "", "", time.Time{}, fmt.Errorf("minute key %q: want advertiser/ad/minute", k)
	}
	ms, err := strconv.ParseInt(parts[2], 10, 64)
	if err != nil {
		return "", "", time.Time{}, fmt.Errorf("minute key %q: %w", k, err)
	}
	return parts[0], parts[1], time.UnixMilli(ms).UTC(), nil
}

func minuteKey(advertiser, ad string, minute time.Time) string {
	return advertiser + "/" + ad + "/" + strconv.FormatInt(minute.UnixMilli(), 10)
}
