package nightly

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"sort"
	"testing"
	"time"

	"github.com/apache/beam/sdks/v2/go/pkg/beam"
	"github.com/apache/beam/sdks/v2/go/pkg/beam/register"
	"github.com/apache/beam/sdks/v2/go/pkg/beam/testing/passert"
	"github.com/apache/beam/sdks/v2/go/pkg/beam/testing/ptest"
	"github.com/apache/beam/sdks/v2/go/pkg/beam/testing/teststream"
	"github.com/apache/beam/sdks/v2/go/pkg/beam/transforms/filter"

	"github.com/adclick/adclick/internal/blob"
	"github.com/adclick/adclick/internal/btschema"
	"github.com/adclick/adclick/internal/clickevent"
	"github.com/adclick/adclick/internal/countable"
	"github.com/adclick/adclick/internal/rawarchive"
	"github.com/adclick/adclick/internal/token"
	"github.com/adclick/adclick/internal/warehouse"
	"github.com/adclick/adclick/pipelines/dataflowpubsub"
	"github.com/adclick/adclick/pipelines/pubsubmsg"
	"github.com/adclick/adclick/pipelines/speed"
)

func init() { register.Function2x0(formatAdPane) }

// formatAdPane formats an ad's (not an advertiser's or a campaign's
// total) minute count.
func formatAdPane(c speed.MinuteCount, emit func(string)) {
	if _, campaign := btschema.CampaignOf(c.Ad); c.Ad != btschema.AllAds && !campaign {
		emit(fmt.Sprintf("%s/%s@%s=%d", c.Advertiser, c.Ad, c.Minute.UTC().Format("15:04"), c.N))
	}
}

// TestOneDedupeSemantics: the click sequences that separate "first click
// of an impression" from "first message" give the nightly's answer in the
// speed layer both as Dataflow delivers them (its Pub/Sub source dedupes
// by the configured id attribute) and as pullsource delivers them (every
// message, redeliveries included).
func TestOneDedupeSemantics(t *testing.T) {
	at := func(h, m, s int) time.Time {
		return day0.Add(time.Duration(h)*time.Hour + time.Duration(m)*time.Minute + time.Duration(s)*time.Second)
	}
	var seq int
	click := func(imp token.ImpressionID, impTime time.Time, ad string, when time.Time, mut ...func(*clickevent.Event)) pubsubmsg.Message {
		seq++
		e := &clickevent.Event{SchemaVersion: 1, ClickID: fmt.Sprintf("%032x", seq), ImpressionID: imp.String(), AdID: ad, AdvertiserID: "adv-semantics",
			CampaignID: "c", ImpressionTime: impTime, ExpiresAt: impTime.Add(time.Hour), ClickTime: when, UserKey: "u", UAClass: clickevent.UABrowser}
		for _, f := range mut {
			f(e)
		}
		data, err := clickevent.Marshal(e)
		if err != nil {
			t.Fatal(err)
		}
		return pubsubmsg.Message{ID: fmt.Sprintf("m%d", seq), Data: data, Attributes: clickevent.Attributes(e)}
	}
	bot := func(e *clickevent.Event) { e.UAClass = clickevent.UABot }
	impA, impB, impC, impD := token.NewImpressionID(), token.NewImpressionID(), token.NewImpressionID(), token.NewImpressionID()
	t0 := at(10, 0, 0)
	redelivered := click(impC, t0, "ad-c", at(10, 2, 15))
	msgs := []pubsubmsg.Message{
		click(impA, t0, "ad-a", at(10, 1, 5), bot), // a link scanner first...
		click(impA, t0, "ad-a", at(10, 1, 20)),     // ...then the person: counts
		click(impB, t0, "ad-b", at(10, 1, 10)),     // a person twice: the first counts
		click(impB, t0, "ad-b", at(10, 1, 40)),
		redelivered,
		redelivered, // Pub/Sub delivers the same message again: counts once
		click(impD, t0, "ad-d", at(10, 3, 0)),
		click(impD, t0, "ad-d", at(13, 30, 0)), // a repeat after the dedupe horizon: expired
	}

	want := nightlyMinutes(t, msgs)
	if len(want) != 4 {
		t.Fatalf("the nightly counted %v, want one minute per impression (4)", want)
	}
	for _, tt := range []struct {
		name string
		msgs []pubsubmsg.Message
	}{
		{"dataflow", dataflowpubsub.DeliverLikeDataflow(msgs, dataflowpubsub.IDAttribute)},
		{"pullsource", msgs},
	} {
		t.Run(tt.name, func(t *testing.T) {
			got := speedPanes(t, tt.msgs, want)
			if got != int64(len(want)) {
				t.Errorf("clicks_counted = %d, want %d", got, len(want))
			}
		})
	}
	// Under the impression id, Dataflow would have dropped the person's
	// click after the scanner's before the pipeline saw it.
	if n := len(dataflowpubsub.DeliverLikeDataflow(msgs, clickevent.AttrImpressionID)); n != 4 {
		t.Errorf("impression-id dedupe delivers %d messages, want 4 (the model is off)", n)
	}
}

// nightlyMinutes archives msgs, reconciles their day and returns the ad
// minute table as formatAdPane strings.
func nightlyMinutes(t *testing.T, msgs []pubsubmsg.Message) []string {
	t.Helper()
	ctx := context.Background()
	archive, output := t.TempDir(), t.TempDir()
	store, err := blob.Open(ctx, archive)
	if err != nil {
		t.Fatal(err)
	}
	start := day0.Add(9 * time.Hour)
	out, err := store.Create(ctx, rawarchive.ObjectName(start, "00000000-0000-0000-0000-000000000001"))
	if err != nil {
		t.Fatal(err)
	}
	aw, err := rawarchive.NewWriter(out)
	if err != nil {
		t.Fatal(err)
	}
	var recs []rawarchive.Record
	for _, m := range msgs {
		recs = append(recs, rawarchive.Record{Subscription: "projects/p/subscriptions/clicks-archive", MessageID: m.ID, PublishTime: start, Attributes: m.Attributes, Data: m.Data})
	}
	if err := aw.Append(recs); err != nil {
		t.Fatal(err)
	}
	if err := out.Close(); err != nil {
		t.Fatal(err)
	}
	_, err = RunDays(ctx, RunOptions{Archive: archive, Output: output, From: day0, To: day0.AddDate(0, 0, 1), LateMargin: DefaultLateMargin, Shards: 2,
		Log: slog.New(slog.NewTextHandler(io.Discard, nil)),
		Run: func(ctx context.Context, p *beam.Pipeline) (beam.PipelineResult, error) {
			return ptest.RunWithMetrics(p)
		}})
	if err != nil {
		t.Fatal(err)
	}
	outStore, err := blob.Open(ctx, output)
	if err != nil {
		t.Fatal(err)
	}
	tbl, _ := warehouse.Lookup("ad_clicks_minute")
	var got []string
	err = ReadRows(ctx, outStore, tbl, day0, func(row any) {
		r := row.(warehouse.AdRow)
		got = append(got, fmt.Sprintf("%s/%s@%s=%d", r.AdvertiserID, r.AdID, time.UnixMilli(r.BucketStart).UTC().Format("15:04"), r.Clicks))
	})
	if err != nil {
		t.Fatal(err)
	}
	sort.Strings(got)
	return got
}

// speedPanes runs the speed layer over msgs in order, with the watermark
// at the end only (on-time panes, which carry the final counts), asserts
// the ad panes equal want, and returns the clicks_counted metric.
func speedPanes(t *testing.T, msgs []pubsubmsg.Message, want []string) int64 {
	t.Helper()
	cfg := teststream.NewConfig()
	cfg.AdvanceWatermark(day0.UnixMilli())
	for _, m := range msgs {
		ts, err := time.Parse(clickevent.TimeLayout, m.Attributes[clickevent.AttrClickTime])
		if err != nil {
			t.Fatal(err)
		}
		if err := cfg.AddElements(ts.UnixMilli(), m); err != nil {
			t.Fatal(err)
		}
	}
	cfg.AdvanceWatermarkToInfinity()
	p, s := beam.NewPipelineWithRoot()
	counts, _ := speed.Count(s, teststream.Create(s, cfg), speed.Options{Shards: 2, Rules: countable.DefaultRules})
	var wantAny []any
	for _, w := range want {
		wantAny = append(wantAny, w)
	}
	passert.Equals(s, filter.Distinct(s, beam.ParDo(s, formatAdPane, counts)), wantAny...)
	res, err := ptest.RunWithMetrics(p)
	if err != nil {
		t.Fatalf("speed layer: %v", err)
	}
	var counted int64
	for _, c := range res.Metrics().AllMetrics().Counters() {
		if c.Key.Name == "clicks_counted" {
			counted += c.Result()
		}
	}
	return counted
}
