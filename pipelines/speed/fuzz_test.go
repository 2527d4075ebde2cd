package speed

import (
	"context"
	"testing"
	"time"

	"github.com/apache/beam/sdks/v2/go/pkg/beam"

	"github.com/adclick/adclick/internal/btschema"
	"github.com/adclick/adclick/internal/clickevent"
	"github.com/adclick/adclick/internal/ids"
	"github.com/adclick/adclick/pipelines/clickbatch"
	"github.com/adclick/adclick/pipelines/pubsubmsg"
)

// FuzzParse feeds the streaming parse arbitrary bodies and attributes. A
// message is a dead letter with a reason, a click that never counts, or a
// click whose keys (dedupe key, count key, Bigtable row key) all build
// and parse back: no input can make a later stage fail, so none can make
// the job retry forever.
func FuzzParse(f *testing.F) {
	m := msg("i1", "c1", "adA", m0.Add(5*time.Second))
	f.Add(m.Data, clickevent.AttrClickTime, m.Attributes[clickevent.AttrClickTime])
	f.Add([]byte(`{"v":1,"click_id":"00112233445566778899aabbccddeeff","impression_id":"00112233445566778899aabbccddeeff","ad_id":"a#b","advertiser_id":"x/y","user_key":"u","ua_class":"browser","impression_time":"2026-11-27T12:00:00Z","expires_at":"2026-11-27T13:00:00Z","click_time":"2026-11-27T12:00:01Z"}`), "", "")
	f.Add([]byte(`{"v":1,"ad_id":7}`), "click_id", "\x00")
	f.Add([]byte("not json"), "", "")
	f.Fuzz(func(t *testing.T, body []byte, attrKey, attrValue string) {
		fn := &parseFn{Shards: 4}
		var clicks []clickbatch.Batch
		var dead []pubsubmsg.DeadLetter
		emit := func(_ beam.EventTime, key string, b clickbatch.Batch) {
			if _, err := dedupeKeyEpoch(key); err != nil {
				t.Fatalf("dedupe key %q does not parse: %v", key, err)
			}
			clicks = append(clicks, b)
		}
		fn.StartBundle(context.Background(), emit, func(d pubsubmsg.DeadLetter) { dead = append(dead, d) })
		fn.ProcessElement(context.Background(), pubsubmsg.Message{ID: "m", Data: body, Attributes: map[string]string{attrKey: attrValue}}, emit, func(d pubsubmsg.DeadLetter) { dead = append(dead, d) })
		fn.FinishBundle(context.Background(), emit, func(d pubsubmsg.DeadLetter) { dead = append(dead, d) })
		if len(dead)+len(clicks) > 1 {
			t.Fatalf("one message gave %d dead letters and %d batches", len(dead), len(clicks))
		}
		for _, d := range dead {
			if d.Reason == "" || string(d.Message.Data) != string(body) {
				t.Fatalf("dead letter %+v lacks its reason or its original body", d)
			}
		}
		for _, b := range clicks {
			back, err := clickbatch.Decode(clickbatch.Encode(b))
			if err != nil || len(back.Clicks) != len(b.Clicks) {
				t.Fatalf("batch coder: %v (%d clicks back of %d)", err, len(back.Clicks), len(b.Clicks))
			}
			for _, c := range b.Clicks {
				checkKeys(t, c)
			}
		}
	})
}

func checkKeys(t *testing.T, c clickbatch.Click) {
	t.Helper()
	if ids.CheckName("ad_id", c.AdID) != nil || ids.CheckName("advertiser_id", c.AdvertiserID) != nil {
		t.Fatalf("click with ids %q/%q passed the parse", c.AdvertiserID, c.AdID)
	}
	if adv, ad := SplitCountKey(CountKey(c.AdvertiserID, c.AdID)); adv != c.AdvertiserID || ad != c.AdID {
		t.Fatalf("count key of %q/%q splits into %q/%q", c.AdvertiserID, c.AdID, adv, ad)
	}
	minute := time.UnixMilli(c.ClickTimeMs).Truncate(time.Minute)
	if _, err := btschema.ParseRowStart(btschema.Minute, btschema.RowKey(btschema.Minute, c.AdvertiserID, c.AdID, minute)); err != nil {
		t.Fatalf("row key of %q/%q at %v: %v", c.AdvertiserID, c.AdID, minute, err)
	}
}
