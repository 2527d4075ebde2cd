package e2e

import (
	"net/http"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"cloud.google.com/go/pubsub/v2/apiv1/pubsubpb"

	"github.com/adclick/adclick/internal/clickevent"
)

func distinctImpressions(msgs []*pubsubpb.PubsubMessage) map[string]int {
	seen := map[string]int{}
	for _, m := range msgs {
		seen[m.Attributes[clickevent.AttrImpressionID]]++
	}
	return seen
}

func TestClickPublishesExactlyOneMessage(t *testing.T) {
	s := newStack(t)
	svc := s.startRedirect(t, t.TempDir())
	urls, imps := s.mint(t, svc, "globex-lisbon", 1)
	before := time.Now().UTC()
	resp := click(t, urls[0])
	if resp.StatusCode != http.StatusFound || resp.Header.Get("Location") != "http://localhost:8090/globex/deals/lisbon" {
		t.Fatalf("click: %d to %q", resp.StatusCode, resp.Header.Get("Location"))
	}
	msgs := s.drainTail(t, 10*time.Second, func(m []*pubsubpb.PubsubMessage) bool { return len(m) >= 1 })
	// Give a stray duplicate the chance to show up before asserting "exactly one".
	msgs = append(msgs, s.drainTail(t, time.Second, func([]*pubsubpb.PubsubMessage) bool { return false })...)
	if len(msgs) != 1 {
		t.Fatalf("got %d messages, want exactly 1", len(msgs))
	}
	m := msgs[0]
	ev, err := clickevent.Unmarshal(m.Data)
	if err != nil {
		t.Fatal(err)
	}
	if ev.ImpressionID != imps[0] || ev.AdID != "globex-lisbon" || ev.AdvertiserID != "globex" || ev.UAClass != clickevent.UABrowser {
		t.Errorf("event = %+v", ev)
	}
	if ev.ClickTime.Before(before.Add(-time.Second)) || ev.ClickTime.After(time.Now().Add(time.Second)) {
		t.Errorf("click time %v not stamped by the server around %v", ev.ClickTime, before)
	}
	want := map[string]string{
		clickevent.AttrImpressionID: imps[0], clickevent.AttrClickID: ev.ClickID,
		clickevent.AttrClickTime: ev.ClickTime.Format(clickevent.TimeLayout), clickevent.AttrSchemaVersion: "1",
	}
	for k, v := range want {
		if m.Attributes[k] != v {
			t.Errorf("attribute %s = %q, want %q", k, m.Attributes[k], v)
		}
	}
	// A refused click publishes nothing.
	if resp := click(t, svc.base+"/c/"+strings.Repeat("A", 40)); resp.StatusCode != http.StatusBadRequest {
		t.Errorf("bad token: %d", resp.StatusCode)
	}
	if extra := s.drainTail(t, time.Second, func([]*pubsubpb.PubsubMessage) bool { return false }); len(extra) != 0 {
		t.Errorf("refused click published %d messages", len(extra))
	}
}

// TestPubSubOutageLosesNoClick cuts Pub/Sub in the middle of a stream of
// clicks: every click is still redirected, and every one reaches Pub/Sub
// once it is back, through the spool.
func TestPubSubOutageLosesNoClick(t *testing.T) {
	s := newStack(t)
	svc := s.startRedirect(t, t.TempDir())
	const n = 300
	urls, imps := s.mint(t, svc, "acme-trail-1", 100)
	for range 2 {
		u, i := s.mint(t, svc, "acme-road-1", 100)
		urls, imps = append(urls, u...), append(imps, i...)
	}
	for i, u := range urls {
		switch i {
		case 100:
			s.psProxy.SetDown(true)
		case 200:
			s.psProxy.SetDown(false)
		}
		if resp := click(t, u); resp.StatusCode != http.StatusFound {
			t.Fatalf("click %d: status %d", i, resp.StatusCode)
		}
	}
	msgs := s.drainTail(t, 30*time.Second, func(m []*pubsubpb.PubsubMessage) bool { return len(distinctImpressions(m)) >= n })
	seen := distinctImpressions(msgs)
	for _, id := range imps {
		if seen[id] == 0 {
			t.Errorf("impression %s was redirected but never reached Pub/Sub", id)
		}
	}
	if sp := metric(t, svc.admin, "adclick_redirect_spooled_total"); sp == "" || sp == "0" {
		t.Errorf("spooled_total = %q; the outage should have spooled clicks", sp)
	}
	waitFor(t, 10*time.Second, "spool to drain", func() bool { return metric(t, svc.admin, "adclick_redirect_spool_depth") == "0" })
	t.Logf("%d clicks, %d messages (%d duplicates from timed-out publishes), spooled %s",
		n, len(msgs), len(msgs)-len(seen), metric(t, svc.admin, "adclick_redirect_spooled_total"))
}

// TestRestartReplaysSpool stops the service while its spool holds clicks
// Pub/Sub never got; the next start sends them.
func TestRestartReplaysSpool(t *testing.T) {
	s := newStack(t)
	spoolDir := filepath.Join(t.TempDir(), "spool")
	svc := s.startRedirect(t, spoolDir)
	urls, imps := s.mint(t, svc, "initech-tps", 50)
	s.psProxy.SetDown(true)
	for i, u := range urls {
		if resp := click(t, u); resp.StatusCode != http.StatusFound {
			t.Fatalf("click %d: status %d", i, resp.StatusCode)
		}
	}
	if d := metric(t, svc.admin, "adclick_redirect_spool_depth"); d != "50" {
		t.Fatalf("spool depth %q before restart, want 50", d)
	}
	if err := svc.stop(); err != nil {
		t.Fatalf("graceful stop: %v", err)
	}
	s.psProxy.SetDown(false)
	svc2 := s.startRedirect(t, spoolDir)
	msgs := s.drainTail(t, 30*time.Second, func(m []*pubsubpb.PubsubMessage) bool { return len(distinctImpressions(m)) >= len(imps) })
	seen := distinctImpressions(msgs)
	for _, id := range imps {
		if seen[id] == 0 {
			t.Errorf("spooled impression %s not replayed after restart", id)
		}
	}
	waitFor(t, 10*time.Second, "spool to drain", func() bool { return metric(t, svc2.admin, "adclick_redirect_spool_depth") == "0" })
}
