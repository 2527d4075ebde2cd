package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"cloud.google.com/go/bigtable"
	"cloud.google.com/go/pubsub/v2"

	"github.com/adclick/adclick/internal/blob"
	"github.com/adclick/adclick/internal/btschema"
	"github.com/adclick/adclick/internal/clickevent"
	"github.com/adclick/adclick/internal/countable"
	"github.com/adclick/adclick/internal/gcpnames"
	"github.com/adclick/adclick/internal/localstack"
	"github.com/adclick/adclick/internal/obs"
	"github.com/adclick/adclick/internal/rawarchive"
)

// spoolDepth reads the click service's spool depth from its metrics, on
// its admin listener.
func spoolDepth(base string) (float64, error) {
	return obs.ScrapeGauge(base+"/metrics", "adclick_redirect_spool_depth")
}

// waitArchived waits until every message published on clicks has been
// acknowledged by both the streaming job and the archiver.
func waitArchived(ctx context.Context, s *stack, within time.Duration) (int, error) {
	deadline := time.Now().Add(within)
	for {
		published, pending := 0, 0
		for _, m := range s.emu.PubSub.Messages() {
			if !strings.HasSuffix(m.Topic, "/"+gcpnames.ClicksTopic) {
				continue
			}
			published++
			if m.Acks < 2 {
				pending++
			}
		}
		if pending == 0 {
			return published, nil
		}
		if time.Now().After(deadline) {
			return published, fmt.Errorf("%d of %d messages not yet acknowledged by both subscriptions after %v", pending, published, within)
		}
		select {
		case <-ctx.Done():
			return published, ctx.Err()
		case <-time.After(time.Second):
		}
	}
}

// archived reads the raw archive: click events by click id, and how many
// records (copies) each message has.
type archiveContents struct {
	events   map[string]clickevent.Event // click id → event
	byImp    map[string]int              // impression → distinct clicks
	copies   map[string]int              // message id → records
	messages int
}

func readArchive(ctx context.Context, dir string) (archiveContents, error) {
	a := archiveContents{events: map[string]clickevent.Event{}, byImp: map[string]int{}, copies: map[string]int{}}
	store, err := blob.Open(ctx, dir)
	if err != nil {
		return a, err
	}
	files, err := rawarchive.List(ctx, store, time.Now().Add(-72*time.Hour), time.Now().Add(time.Hour))
	if err != nil {
		return a, err
	}
	for _, f := range files {
		r, err := store.Open(ctx, f)
		if err != nil {
			return a, err
		}
		err = rawarchive.Read(r, func(rec *rawarchive.Record) error {
			a.copies[rec.MessageID]++
			a.messages++
			ev, err := countable.Parse(rec.Data)
			if err != nil {
				return fmt.Errorf("archived message %s is not a click: %w", rec.MessageID, err)
			}
			if _, seen := a.events[ev.ClickID]; !seen {
				a.events[ev.ClickID] = ev
				a.byImp[ev.ImpressionID]++
			}
			return nil
		})
		r.Close()
		if err != nil {
			return a, err
		}
	}
	return a, nil
}

// cells sums the family's day cells (batch) or minute cells (speed) per ad
// over days.
func cells(ctx context.Context, tbl *bigtable.Table, family string, days []time.Time) (map[string]int64, error) {
	out := map[string]int64{}
	for _, ad := range ads {
		for _, day := range days {
			if family == btschema.FamilyBatch {
				n, _, err := btschema.ReadCount(ctx, tbl, btschema.Day, family, ad.advertiser, ad.id, day)
				if err != nil {
					return nil, err
				}
				out[ad.id] += n
				continue
			}
			err := btschema.ReadCells(ctx, tbl, btschema.SeriesRows(btschema.Minute, ad.advertiser, ad.id, day, day.AddDate(0, 0, 1)), family,
				func(c btschema.Cell) { out[ad.id] += c.N })
			if err != nil {
				return nil, err
			}
		}
	}
	return out, nil
}

// leftovers counts what is left in the spool folder and the dead-letter
// hold subscription.
func leftovers(ctx context.Context, s *stack) (spooled int, dead int, err error) {
	entries, _ := os.ReadDir(filepath.Join(s.dir, "spool"))
	for _, e := range entries {
		if info, err := e.Info(); err == nil && info.Size() > 0 && strings.HasPrefix(e.Name(), "seg-") {
			spooled++
		}
	}
	if d, err := spoolDepth(s.clickAdmin); err == nil && d > 0 {
		spooled += int(d)
	}
	ps, err := pubsub.NewClient(ctx, gcpnames.LocalProject, localstack.EmulatorOptions(s.emu.PubSubAddr)...)
	if err != nil {
		return spooled, 0, err
	}
	defer ps.Close()
	msgs, err := localstack.Pull(ctx, ps, gcpnames.LocalProject, gcpnames.DeadLetterSubscription, 1000)
	return spooled, len(msgs), err
}

// minuteCells reads one ad's minute cells of a family for a day.
func minuteCells(ctx context.Context, tbl *bigtable.Table, advertiser, ad string, day time.Time, family string) (map[time.Time]int64, error) {
	out := map[time.Time]int64{}
	err := btschema.ReadCells(ctx, tbl, btschema.SeriesRows(btschema.Minute, advertiser, ad, day, day.AddDate(0, 0, 1)), family,
		func(c btschema.Cell) { out[c.Bucket] = c.N })
	return out, err
}
