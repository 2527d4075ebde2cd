package speed

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"flag"
	"fmt"
	"os"
	"testing"
	"time"

	"cloud.google.com/go/bigtable"
	"github.com/apache/beam/sdks/v2/go/pkg/beam"
	"github.com/apache/beam/sdks/v2/go/pkg/beam/register"
	"github.com/apache/beam/sdks/v2/go/pkg/beam/testing/passert"
	"github.com/apache/beam/sdks/v2/go/pkg/beam/testing/ptest"
	"github.com/apache/beam/sdks/v2/go/pkg/beam/testing/teststream"
	"github.com/apache/beam/sdks/v2/go/pkg/beam/transforms/filter"

	"github.com/adclick/adclick/internal/btschema"
	"github.com/adclick/adclick/internal/clickevent"
	"github.com/adclick/adclick/internal/countable"
	"github.com/adclick/adclick/internal/localstack"
	"github.com/adclick/adclick/internal/localstack/lstest"
	"github.com/adclick/adclick/pipelines/prismopts"
	"github.com/adclick/adclick/pipelines/pubsubmsg"
)

const project, instance = "p", "i"

var emulator *localstack.Stack

func TestMain(m *testing.M) {
	st, err := localstack.Start("127.0.0.1:0", "127.0.0.1:0")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	emulator = st
	os.Setenv("BIGTABLE_EMULATOR_HOST", st.BigtableAddr)
	// As the streaming job runs on Prism (prismopts.Experiments).
	if err := flag.Set("experiments", prismopts.Experiments); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	ptest.MainRet(m)
	st.Close()
}

var m0 = time.Date(2026, 11, 27, 12, 0, 0, 0, time.UTC)

// msg builds a click message on impression imp for ad at clickTime. The
// short names become ids as the click service mints them (32 hex digits).
func msg(imp, click, ad string, at time.Time, mut ...func(*clickevent.Event)) pubsubmsg.Message {
	e := &clickevent.Event{
		SchemaVersion: 1, ClickID: mintedID(click), ImpressionID: mintedID(imp), AdID: ad, AdvertiserID: "acme", CampaignID: "c",
		ImpressionTime: m0.Add(-10 * time.Minute), ExpiresAt: m0.Add(time.Hour), ClickTime: at,
		UserKey: "u", UAClass: clickevent.UABrowser,
	}
	for _, f := range mut {
		f(e)
	}
	data, _ := clickevent.Marshal(e)
	return pubsubmsg.Message{ID: click, Data: data, Attributes: clickevent.Attributes(e)}
}

func ms(t time.Time) int64 { return t.UnixMilli() }

func mintedID(name string) string {
	sum := sha256.Sum256([]byte(name))
	return hex.EncodeToString(sum[:16])
}

func formatPane(c MinuteCount) string {
	return fmt.Sprintf("%s@%s=%d", CountKey(c.Advertiser, c.Ad), c.Minute.Format("15:04"), c.N)
}

func init() { register.Function1x1(formatPane) }

// readSpeed returns the speed cell of (ad, minute).
func readSpeed(t *testing.T, tbl *bigtable.Table, ad string, minute time.Time) int64 {
	t.Helper()
	n, _, err := btschema.ReadCount(context.Background(), tbl, btschema.Minute, btschema.FamilySpeed, "acme", ad, minute)
	if err != nil {
		t.Fatal(err)
	}
	return n
}

// TestCountOnPrism drives the speed layer with a TestStream: on-time
// clicks, a duplicate, never-countable clicks, a malformed message, a late
// click inside the allowed lateness, a late duplicate, and a click too late
// for the speed layer.
func TestCountOnPrism(t *testing.T) {
	ctx := context.Background()
	if err := localstack.EnsureBigtable(ctx, emulator.BigtableAddr, project); err != nil {
		t.Fatal(err)
	}
	lstest.KeepSpeedCells(t, project) // the clicks are dated
	// EnsureBigtable uses gcpnames.BigtableInstance; write to the same one.
	const inst = "adclick"

	cfg := teststream.NewConfig()
	cfg.AdvanceWatermark(ms(m0))
	at := func(d time.Duration) time.Time { return m0.Add(d) }
	add := func(ms ...pubsubmsg.Message) {
		for _, m := range ms {
			ts := at(0)
			if ev, err := clickevent.Unmarshal(m.Data); err == nil {
				ts = ev.ClickTime
			}
			if err := cfg.AddElements(ts.UnixMilli(), m); err != nil {
				t.Fatal(err)
			}
		}
	}
	add(
		msg("i1", "c1", "adA", at(5*time.Second)),
		msg("i2", "c2", "adA", at(10*time.Second)),
		msg("i1", "c4", "adA", at(30*time.Second)), // duplicate of i1
		msg("i5", "c6", "adB", at(75*time.Second), func(e *clickevent.Event) { e.UAClass = clickevent.UABot }),
		msg("i6", "c7", "adB", at(80*time.Second), func(e *clickevent.Event) { e.ExpiresAt = at(79 * time.Second) }),
		pubsubmsg.Message{ID: "junk", Data: []byte("not json")},
	)
	add(msg("i3", "c3", "adA", at(20*time.Second)), msg("i4", "c5", "adB", at(70*time.Second)))
	cfg.AdvanceWatermark(ms(at(3 * time.Minute)))                          // on-time panes: minute 0 = 3, minute 1 = 1
	add(msg("i7", "c8", "adA", at(40*time.Second)))                        // late, within lateness: 4
	add(msg("i2", "c9", "adA", at(50*time.Second)))                        // late duplicate: no change
	cfg.AdvanceWatermark(ms(at(Window + AllowedLateness + 2*time.Minute))) // minute 0 is closed
	add(msg("i8", "c10", "adA", at(45*time.Second)))                       // too late for the speed layer
	cfg.AdvanceWatermarkToInfinity()

	p, s := beam.NewPipelineWithRoot()
	msgs := teststream.Create(s, cfg)
	counts, dead := Count(s, msgs, Options{Shards: 4, Rules: countable.DefaultRules})
	WriteCounts(s, project, inst, "", counts)
	passert.Count(s, dead, "dead letters", 1)
	// The distinct absolute values the panes carried. For minute 0 each
	// value can only come from one kind of pane: 3 from the on-time firing,
	// 4 from the late one; the too-late click makes no pane. Early panes
	// fire on processing time; in our trials a TestStream's
	// AdvanceProcessingTime produced no early pane on Prism v2.77.0, so
	// they are asserted where real seconds pass
	// (e2e/TestClicksReachBigtable).
	// Prism may repeat a pane with an unchanged value, hence Distinct.
	panes := filter.Distinct(s, beam.ParDo(s, formatPane, counts))
	passert.Equals(s, panes,
		"acme/adA@12:00=3", "acme/adA@12:00=4",
		"acme/*@12:00=3", "acme/*@12:00=4",
		"acme/adB@12:01=1", "acme/*@12:01=1",
		"acme/@c@12:00=3", "acme/@c@12:00=4", "acme/@c@12:01=1", // campaign c, which every click carries
	)
	res, err := ptest.RunWithMetrics(p)
	if err != nil {
		t.Fatalf("pipeline: %v", err)
	}
	got := map[string]int64{}
	for _, c := range res.Metrics().AllMetrics().Counters() {
		got[c.Key.Name] += c.Result()
	}
	// Counted: i1-i4 and the late i7 (what Bigtable holds). First: those
	// and the too-late i8, which dedupe passes before the window drops it.
	// Duplicates: c4 and the late c9.
	for name, want := range map[string]int64{"clicks_read": 11, "clicks_first": 6, "clicks_counted": 5, "clicks_duplicate": 2, "clicks_bot": 1, "clicks_expired": 1, "clicks_invalid": 0, "dead_letters": 1} {
		if got[name] != want {
			t.Errorf("counter %s = %d, want %d", name, got[name], want)
		}
	}
	if err := CheckOutcomes(got); err != nil {
		t.Error(err)
	}
	// Every dedupe key written is forgotten once, when the watermark
	// passes its horizon (here: at infinity), though most took writes in
	// several bundles and only the first sets the timer.
	keys := map[string]bool{}
	for _, imp := range []string{"i1", "i2", "i3", "i4", "i7", "i8"} {
		keys[DedupeKey(countable.ParseID(mintedID(imp)), m0.Add(-10*time.Minute), 4)] = true
	}
	if n := got["dedupe_keys_forgotten"]; n != int64(len(keys)) {
		t.Errorf("dedupe keys forgotten = %d, want %d (every key written: %v)", n, len(keys), keys)
	}
	// And every minute total once: adA, the advertiser's and campaign c's
	// at 12:00 and adB, the advertiser's and c's at 12:01.
	if n := got["totals_forgotten"]; n != 6 {
		t.Errorf("minute totals forgotten = %d, want 6", n)
	}

	client, err := bigtable.NewClient(ctx, project, inst)
	if err != nil {
		t.Fatal(err)
	}
	defer client.Close()
	tbl := client.Open(btschema.Table)
	for _, tt := range []struct {
		ad     string
		minute time.Time
		want   int64
	}{
		{"adA", m0, 4},              // i1, i2, i3 and the late i7; not the duplicates, not the too-late i8
		{"adB", at(time.Minute), 1}, // i4; the bot and the expired click never count
		{AllAds, m0, 4},
		{AllAds, at(time.Minute), 1},
		{btschema.CampaignSeries("c"), m0, 4},
	} {
		if got := readSpeed(t, tbl, tt.ad, tt.minute); got != tt.want {
			t.Errorf("speed count %s at %s = %d, want %d", tt.ad, tt.minute.Format("15:04"), got, tt.want)
		}
	}
	// The day index lists every ad written, so the nightly finds them all.
	ads, err := btschema.ReadActiveAds(ctx, tbl, "acme", []time.Time{m0.Truncate(24 * time.Hour)})
	if err != nil || fmt.Sprint(ads) != "[* @c adA adB]" {
		t.Errorf("speed index of the day: %v, %v; want [* @c adA adB]", ads, err)
	}
}
