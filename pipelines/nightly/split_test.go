package nightly

import (
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"math/rand/v2"
	"slices"
	"testing"
	"time"

	"github.com/adclick/adclick/internal/btschema"
	"github.com/adclick/adclick/internal/countable"
	"github.com/adclick/adclick/pipelines/clickbatch"
)

// settled is everything a settle emits, summed: what the rest of the job
// sees of it.
type settled struct {
	counts      map[Count]int // each Count emitted (N included), how many times
	outcomes    map[string]int64
	minutes     map[string]int64 // "advertiser/ad/campaign/minute"
	redelivered int64
	reported    map[string]int64 // report outcomes
	splitAds    []string
}

func newSettled() *settled {
	return &settled{counts: map[Count]int{}, outcomes: map[string]int64{}, minutes: map[string]int64{}, reported: map[string]int64{}}
}

func (s *settled) countBatch(b CountBatch) {
	for _, c := range b.Counts {
		s.counts[c]++
	}
}

func (s *settled) outcome(k string, n int64) { s.outcomes[k] += n }

func (s *settled) part(t *testing.T) func(string, []byte) {
	return func(_ string, raw []byte) {
		var p reportPart
		if err := json.Unmarshal(raw, &p); err != nil {
			t.Fatal(err)
		}
		s.redelivered += p.Redelivered
		for o, n := range p.Outcomes {
			s.reported[o] += n
		}
		s.splitAds = append(s.splitAds, p.SplitAds...)
	}
}

func (s *settled) minute(_ int, m AdMinutes) {
	for i, n := range m.Counts {
		s.minutes[fmt.Sprintf("%s/%s/%s/%d", m.Advertiser, m.Ad, m.Campaigns[m.Campaign[i]], m.StartMs[i])] += n
	}
}

func iterate[T any](elems []T) func(*T) bool {
	return func(p *T) bool {
		if len(elems) == 0 {
			return false
		}
		*p, elems = elems[0], elems[1:]
		return true
	}
}

// splitDay is clicks of three ads with every case the rules tell apart:
// re-deliveries in other batches, an impression clicked again by the
// same user and by other users (a cookie-less browser), scripts past the
// burst limit, the look-back before the day, every class, an ad moved
// between advertisers at noon, and more placements than the day's cap.
func splitDay(day time.Time) [][]clickbatch.Click {
	rng := rand.New(rand.NewPCG(3, 4))
	var clicks []clickbatch.Click
	seq := 0
	click := func(ad string, imp countable.ID, user string, at time.Time, class clickbatch.Class) clickbatch.Click {
		seq++
		advertiser := "adv-" + ad[:1]
		if ad == "a-moved" && at.Hour() >= 12 {
			advertiser = "adv-new"
		}
		return clickbatch.Click{Impression: imp, Rank: countable.Rank{ClickTimeMs: at.UnixMilli(), ClickID: countable.ParseID(fmt.Sprint("click-", seq))},
			AdID: ad, AdvertiserID: advertiser, CampaignID: fmt.Sprint("camp-", seq%3), PlacementID: fmt.Sprint("site-", rng.IntN(150)),
			UserKey: countable.ParseID(user), Class: class}
	}
	for i := range 3000 {
		ad := []string{"a-hot", "a-moved", "b-1"}[i%3]
		at := day.Add(-time.Hour + time.Duration(rng.Int64N(int64(25*time.Hour)))) // the look-back hour too
		imp := countable.ParseID(fmt.Sprint("imp-", i))
		user := fmt.Sprint("user-", rng.IntN(200))
		first := click(ad, imp, user, at, clickbatch.Class(rng.IntN(10)%6*(i%2))) // half counted-class, the rest any class
		clicks = append(clicks, first)
		switch i % 7 {
		case 1: // clicked again by the same user
			clicks = append(clicks, click(ad, imp, user, at.Add(time.Minute), clickbatch.ClassCounted))
		case 2: // clicked again from browsers without our cookie
			clicks = append(clicks, click(ad, imp, fmt.Sprint("nocookie-", i), at.Add(-time.Second), clickbatch.ClassCounted),
				click(ad, imp, fmt.Sprint("nocookie2-", i), at.Add(time.Second), clickbatch.ClassCounted))
		case 3: // delivered twice
			clicks = append(clicks, first)
		case 4: // a script: fresh impressions, one user, seconds apart
			for k := range countable.DefaultRules.BurstClicks + 3 {
				clicks = append(clicks, click(ad, countable.ParseID(fmt.Sprint("script-", i, "-", k)), fmt.Sprint("script-", i%5), at.Add(time.Duration(k)*5*time.Second), clickbatch.ClassCounted))
			}
		}
	}
	rng.Shuffle(len(clicks), func(i, j int) { clicks[i], clicks[j] = clicks[j], clicks[i] })
	var batches [][]clickbatch.Click
	for len(clicks) > 0 {
		n := min(len(clicks), 500)
		batches = append(batches, clicks[:n])
		clicks = clicks[n:]
	}
	return batches
}

// TestSplitSettlesAsWhole: the hot ads' three steps (by impression, by
// user, by ad) emit exactly what settleAdsFn emits for the same clicks
// held whole.
func TestSplitSettlesAsWhole(t *testing.T) {
	ctx := context.Background()
	day := time.Date(2026, 11, 26, 0, 0, 0, 0, time.UTC)
	from, to := day.UnixMilli(), day.AddDate(0, 0, 1).UnixMilli()
	const shards = 4
	batches := splitDay(day)

	whole := newSettled()
	var wholeBatches []clickbatch.Batch
	for _, b := range batches {
		wholeBatches = append(wholeBatches, clickbatch.Batch{Clicks: slices.Clone(b)})
	}
	if err := (&settleAdsFn{FromMs: from, ToMs: to, Rules: countable.DefaultRules, Shards: shards}).ProcessElement(ctx, 0,
		iterate(wholeBatches), whole.countBatch, whole.outcome, whole.part(t), whole.minute); err != nil {
		t.Fatal(err)
	}

	split := newSettled()
	// As readFn sends them: each input batch cut by impression shard.
	byImpression := map[int][]clickbatch.Batch{}
	for _, b := range batches {
		cut := make([][]clickbatch.Click, shards)
		for _, c := range b {
			s := impressionShard(c.Impression, shards)
			cut[s] = append(cut[s], c)
		}
		emitShards(cut, func(s int, b clickbatch.Batch) { byImpression[s] = append(byImpression[s], b) })
	}
	firsts := map[int][]clickbatch.Batch{}
	tallies := map[string][]AdTally{}
	emitTally := func(ad string, t AdTally) { tallies[ad] = append(tallies[ad], t) }
	for s, bs := range byImpression {
		err := (&settleImpressionsFn{FromMs: from, ToMs: to, Shards: shards}).ProcessElement(ctx, s, iterate(bs),
			func(s int, b clickbatch.Batch) { firsts[s] = append(firsts[s], b) }, emitTally, split.part(t))
		if err != nil {
			t.Fatal(err)
		}
	}
	if len(byImpression) < 2 || len(firsts) < 2 {
		t.Fatalf("the clicks went to %d impression shards and %d user shards: nothing was split", len(byImpression), len(firsts))
	}
	for s, bs := range firsts {
		if err := (&settleUsersFn{FromMs: from, ToMs: to, Rules: countable.DefaultRules, Shards: shards}).ProcessElement(ctx, s, iterate(bs), emitTally, split.minute); err != nil {
			t.Fatal(err)
		}
	}
	for ad, ts := range tallies {
		if err := (&mergeTalliesFn{FromMs: from, ToMs: to}).ProcessElement(ctx, ad, iterate(ts), split.countBatch, split.outcome, split.part(t)); err != nil {
			t.Fatal(err)
		}
	}

	// The day exercises every rule (else the comparison proves little).
	for _, k := range []string{"2026-11-26|adv-a|a-hot|duplicate", "2026-11-26|adv-a|a-hot|invalid_burst", "2026-11-26|adv-a|a-moved|counted",
		"2026-11-26|adv-new|a-moved|duplicate", "2026-11-26|adv-b|b-1|bot", "2026-11-26|adv-b|b-1|counted"} {
		if whole.outcomes[k] == 0 {
			t.Errorf("the day has no %s", k)
		}
	}
	other := false
	for c := range whole.counts {
		other = other || c.Kind == btschema.Placement && c.Column == btschema.OtherPlacements
	}
	if whole.redelivered == 0 || !other || len(whole.minutes) < 100 {
		t.Errorf("the day has %d re-deliveries, placements past the cap %v, %d campaign minutes", whole.redelivered, other, len(whole.minutes))
	}

	if !maps.Equal(split.counts, whole.counts) {
		t.Errorf("split emitted %d counts, whole %d", len(split.counts), len(whole.counts))
		for c, n := range whole.counts {
			if split.counts[c] != n {
				t.Errorf("  %+v: split %d times, whole %d", c, split.counts[c], n)
			}
		}
		for c, n := range split.counts {
			if whole.counts[c] == 0 {
				t.Errorf("  %+v: split %d times, whole never", c, n)
			}
		}
	}
	if !maps.Equal(split.outcomes, whole.outcomes) {
		t.Errorf("split outcomes %v\nwhole %v", split.outcomes, whole.outcomes)
	}
	if !maps.Equal(split.minutes, whole.minutes) {
		t.Errorf("split minutes differ from whole: %d vs %d", len(split.minutes), len(whole.minutes))
	}
	if split.redelivered != whole.redelivered || !maps.Equal(split.reported, whole.reported) {
		t.Errorf("split report: %d re-delivered, outcomes %v; whole %d, %v", split.redelivered, split.reported, whole.redelivered, whole.reported)
	}
	slices.Sort(split.splitAds)
	if want := []string{"a-hot", "a-moved", "b-1"}; !slices.Equal(split.splitAds, want) {
		t.Errorf("split ads reported %v, want %v", split.splitAds, want)
	}
}

func TestHotSample(t *testing.T) {
	files := func(n int) []string {
		var f []string
		for i := range n {
			f = append(f, fmt.Sprint(i))
		}
		return f
	}
	for _, tc := range []struct {
		files       int
		want        int
		first, last string
	}{
		{0, 0, "", ""},
		{1, 1, "0", "0"},
		{20, 1, "0", "0"},
		{288, 18, "0", "272"},
		{5000, maxHotSampleFiles, "0", "4921"},
	} {
		got := hotSample(files(tc.files))
		if len(got) != tc.want || len(got) > 0 && (got[0] != tc.first || got[len(got)-1] != tc.last) {
			t.Errorf("hotSample of %d files: %d files %v..., want %d from %s to %s", tc.files, len(got), got[:min(len(got), 3)], tc.want, tc.first, tc.last)
		}
	}
}

func TestHotAds(t *testing.T) {
	tallies := map[string]int64{"hot": 30, "warm": 13, "a": 20, "b": 20, "c": 17} // of 100
	for _, tc := range []struct {
		share float64
		want  []string
	}{
		{0.25, []string{"hot"}},
		{0.125, []string{"a", "b", "c", "hot", "warm"}},
		{0.5, nil},
	} {
		keys := slices.Sorted(maps.Keys(tallies))
		var got []string
		(&hotAdsFn{Share: tc.share}).ProcessElement(nil, func(ad *string, n *int64) bool {
			if len(keys) == 0 {
				return false
			}
			*ad, *n, keys = keys[0], tallies[keys[0]], keys[1:]
			return true
		}, func(ad string) { got = append(got, ad) })
		slices.Sort(got)
		if !slices.Equal(got, tc.want) {
			t.Errorf("share %v: hot %v, want %v", tc.share, got, tc.want)
		}
	}
}
