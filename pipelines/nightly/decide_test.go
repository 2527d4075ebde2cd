package nightly

import (
	"maps"
	"testing"
	"time"

	"github.com/adclick/adclick/internal/btschema"
	"github.com/adclick/adclick/internal/countable"
	"github.com/adclick/adclick/pipelines/clickbatch"
)

// TestSettleAdMovedBetweenAdvertisers: an ad the catalog moved to another
// advertiser during the day is deduplicated over all its clicks (an
// impression clicked before and after the move counts once), and each
// click counts under the advertiser recorded with it.
func TestSettleAdMovedBetweenAdvertisers(t *testing.T) {
	day := time.Date(2026, 11, 26, 0, 0, 0, 0, time.UTC)
	click := func(imp, id string, at time.Duration, advertiser string) *clickbatch.Click {
		return &clickbatch.Click{Impression: countable.ParseID(imp), Rank: countable.Rank{ClickTimeMs: day.Add(at).UnixMilli(), ClickID: countable.ParseID(id)},
			AdID: "ad-1", AdvertiserID: advertiser, CampaignID: "c", UserKey: countable.ParseID("u-" + id)}
	}
	clicks := []*clickbatch.Click{
		click("imp-y", "c3", 14*time.Hour, "adv-new"),
		click("imp-x", "c2", 13*time.Hour, "adv-new"), // the same impression after the move: a duplicate
		click("imp-x", "c1", 9*time.Hour, "adv-old"),
	}
	fn := &settleAdsFn{FromMs: day.UnixMilli(), ToMs: day.AddDate(0, 0, 1).UnixMilli(), Rules: countable.DefaultRules, Shards: 4}
	outcomes := map[string]int64{}
	var emitted []Count
	minutes := fn.settle("ad-1", clicks, func(c Count) { emitted = append(emitted, c) },
		func(k string, n int64) { outcomes[k] += n }, map[string]*reportPart{})

	wantOutcomes := map[string]int64{
		"2026-11-26|adv-old|ad-1|counted":   1,
		"2026-11-26|adv-new|ad-1|duplicate": 1,
		"2026-11-26|adv-new|ad-1|counted":   1,
	}
	if !maps.Equal(outcomes, wantOutcomes) {
		t.Errorf("outcomes %v, want %v", outcomes, wantOutcomes)
	}
	counted := map[string]int64{} // advertiser → countable clicks in its minutes
	for _, m := range minutes {
		if m.Ad != "ad-1" {
			t.Errorf("minutes of ad %q", m.Ad)
		}
		for _, n := range m.Counts {
			counted[m.Advertiser] += n
		}
	}
	if want := map[string]int64{"adv-old": 1, "adv-new": 1}; !maps.Equal(counted, want) {
		t.Errorf("countable clicks per advertiser %v, want %v", counted, want)
	}
	placements := map[string]int64{}
	for _, c := range emitted {
		if c.Kind == btschema.Placement {
			placements[c.Advertiser] += c.N
		}
	}
	if want := map[string]int64{"adv-old": 1, "adv-new": 1}; !maps.Equal(placements, want) {
		t.Errorf("placement clicks per advertiser %v, want %v", placements, want)
	}
}
