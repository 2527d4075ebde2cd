package e2e

import (
	"context"
	"net/http"
	"os"
	"path/filepath"
	"testing"
	"time"

	"cloud.google.com/go/bigtable"
	"github.com/apache/beam/sdks/v2/go/pkg/beam"
	"github.com/apache/beam/sdks/v2/go/pkg/beam/testing/ptest"

	"github.com/adclick/adclick/internal/btschema"
	"github.com/adclick/adclick/internal/countable"
	"github.com/adclick/adclick/internal/gcpnames"
	"github.com/adclick/adclick/pipelines/deadletter"
	"github.com/adclick/adclick/pipelines/pullsource"
	"github.com/adclick/adclick/pipelines/speed"
)

func TestMain(m *testing.M) { ptest.MainRet(m) }

// runStreaming runs the speed layer on Prism against the stack until the
// returned stop function drains it; stop returns the job's adclick
// counters, summed by name.
func (s *stack) runStreaming(t *testing.T) (stop func() map[string]int64) {
	t.Helper()
	drain := filepath.Join(t.TempDir(), "drain")
	p, sc := beam.NewPipelineWithRoot()
	msgs := pullsource.Read(sc, project, gcpnames.StreamingSubscription, drain)
	counts, dead := speed.Count(sc, msgs, speed.Options{Rules: countable.DefaultRules})
	deadletter.Publish(sc, project, gcpnames.DeadLetterTopic, dead)
	speed.WriteCounts(sc, project, gcpnames.BigtableInstance, "", counts)
	type result struct {
		counters map[string]int64
		err      error
	}
	done := make(chan result, 1)
	go func() {
		res, err := ptest.RunWithMetrics(p)
		r := result{err: err, counters: map[string]int64{}}
		if res != nil {
			for _, c := range res.Metrics().AllMetrics().Counters() {
				if c.Key.Namespace == "adclick" {
					r.counters[c.Key.Name] += c.Result()
				}
			}
		}
		done <- r
	}()
	return func() map[string]int64 {
		if err := os.WriteFile(drain, nil, 0o644); err != nil {
			t.Fatal(err)
		}
		select {
		case r := <-done:
			if r.err != nil {
				t.Errorf("streaming job: %v", r.err)
			}
			return r.counters
		case <-time.After(2 * time.Minute):
			t.Fatal("streaming job did not drain in 2 minutes")
		}
		return nil
	}
}

func (s *stack) speedCount(t *testing.T, advertiser, ad string, minute time.Time) int64 {
	t.Helper()
	c, err := bigtable.NewClient(context.Background(), project, gcpnames.BigtableInstance)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	n, _, err := btschema.ReadCount(context.Background(), c.Open(btschema.Table), btschema.Minute, btschema.FamilySpeed, advertiser, ad, minute)
	if err != nil {
		t.Fatal(err)
	}
	return n
}

// TestClicksReachBigtable clicks through the real click service, with
// duplicates and a hot ad, and checks that the speed layer's minute cells
// equal the countable clicks, first within seconds (an early pane, before
// the minute is over) and finally after a drain, and that the job's
// counters give every click one outcome.
func TestClicksReachBigtable(t *testing.T) {
	s := newStack(t)
	svc := s.startRedirect(t, t.TempDir())
	stop := s.runStreaming(t)

	// Start at the beginning of a minute, so that the early pane, due 2 s
	// after the clicks, has most of the minute to show.
	time.Sleep(time.Until(time.Now().Truncate(time.Minute).Add(time.Minute)))
	minute := time.Now().UTC().Truncate(time.Minute)
	hot, _ := s.mint(t, svc, "acme-trail-1", 40)
	cold, _ := s.mint(t, svc, "globex-tokyo", 5)
	asAPerson()
	want := map[string]int64{"acme-trail-1": 40, "globex-tokyo": 5}
	var clicks int64
	for i, u := range append(hot, cold...) {
		for range 1 + i%3 { // every third impression clicked three times
			if resp := click(t, u); resp.StatusCode != http.StatusFound {
				t.Fatalf("click: %d", resp.StatusCode)
			}
			clicks++
		}
	}
	clicked := time.Now()
	waitFor(t, time.Until(minute.Add(time.Minute)), "an early pane with every hot-ad click, before the minute ends", func() bool {
		return s.speedCount(t, "acme", "acme-trail-1", minute) == want["acme-trail-1"]
	})
	t.Logf("freshness: hot ad complete in Bigtable %v after the last click, before its minute ended", time.Since(clicked).Round(100*time.Millisecond))
	counters := stop()
	for ad, n := range want {
		adv := map[string]string{"acme-trail-1": "acme", "globex-tokyo": "globex"}[ad]
		if got := s.speedCount(t, adv, ad, minute); got != n {
			t.Errorf("%s: speed count %d, want %d", ad, got, n)
		}
	}
	if got := s.speedCount(t, "acme", btschema.AllAds, minute); got != 40 {
		t.Errorf("acme total %d, want 40", got)
	}
	if err := speed.CheckOutcomes(counters); err != nil {
		t.Error(err)
	}
	if counters["clicks_read"] != clicks || counters["clicks_counted"] != 45 || counters["clicks_duplicate"] != clicks-45 {
		t.Errorf("counters %v; want %d read, 45 counted, %d duplicates", counters, clicks, clicks-45)
	}
}
