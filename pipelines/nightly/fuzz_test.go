package nightly

import (
	"context"
	"encoding/json"
	"fmt"
	"reflect"
	"testing"
	"time"

	"github.com/adclick/adclick/internal/blob"
	"github.com/adclick/adclick/internal/btschema"
	"github.com/adclick/adclick/internal/clickevent"
	"github.com/adclick/adclick/internal/ids"
	"github.com/adclick/adclick/internal/rawarchive"
	"github.com/adclick/adclick/internal/token"
	"github.com/adclick/adclick/pipelines/clickbatch"
)

// FuzzReadArchive feeds the nightly's archive reader a file holding one
// message with an arbitrary body and attribute. It never fails the file
// (that would fail the run every night): the message is a click whose
// keys all build, or an unreadable message counted in the report by
// reason. The batch coder returns what it was given.
func FuzzReadArchive(f *testing.F) {
	ev := &clickevent.Event{SchemaVersion: 1, ClickID: token.NewImpressionID().String(), ImpressionID: token.NewImpressionID().String(),
		AdID: "aa-1", AdvertiserID: "adv-aa", CampaignID: "c", ImpressionTime: day0, ExpiresAt: day0.Add(time.Hour),
		ClickTime: day0.Add(time.Minute), UserKey: "u", UAClass: clickevent.UABrowser}
	good, _ := clickevent.Marshal(ev)
	f.Add(good, clickevent.AttrClickID, ev.ClickID)
	ev.AdvertiserID = "adv#aa"
	bad, _ := clickevent.Marshal(ev)
	f.Add(bad, "", "")
	f.Add([]byte(`{"v":1,"click_time":"9999-12-31T23:59:59Z"}`), "click_time", "\xff")
	f.Add([]byte{0, 1, 2}, "", "")
	dir := f.TempDir()
	store, err := blob.Open(context.Background(), dir)
	if err != nil {
		f.Fatal(err)
	}
	var n int
	f.Fuzz(func(t *testing.T, body []byte, attrKey, attrValue string) {
		ctx := context.Background()
		n++
		name := rawarchive.ObjectName(day0, fmt.Sprintf("00000000-0000-0000-0000-%012d", n))
		out, err := store.Create(ctx, name)
		if err != nil {
			t.Fatal(err)
		}
		w, err := rawarchive.NewWriter(out)
		if err != nil {
			t.Fatal(err)
		}
		rec := rawarchive.Record{Subscription: "projects/p/subscriptions/s", MessageID: "m", PublishTime: day0, Attributes: map[string]string{attrKey: attrValue}, Data: body}
		if err := w.Append([]rawarchive.Record{rec}); err != nil {
			t.Skip("not an archive record:", err) // the archive itself cannot hold it
		}
		if err := out.Close(); err != nil {
			t.Fatal(err)
		}
		defer store.Delete(ctx, name)

		fn := &readFn{Archive: dir, Shards: 4}
		if err := fn.Setup(ctx); err != nil {
			t.Fatal(err)
		}
		defer fn.Teardown()
		var batches []clickbatch.Batch
		var parts []reportPart
		noHotAds := func(*string) bool { return false }
		emit := func(_ int, b clickbatch.Batch) { batches = append(batches, b) }
		err = fn.ProcessElement(ctx, name, noHotAds, emit, emit, func(_ string, raw []byte) {
			var p reportPart
			if err := json.Unmarshal(raw, &p); err != nil {
				t.Fatalf("report part %s: %v", raw, err)
			}
			parts = append(parts, p)
		})
		if err != nil {
			t.Fatalf("reading a one-message file failed the file: %v", err)
		}
		if len(batches)+len(parts) != 1 {
			t.Fatalf("one message gave %d batches and %d report parts", len(batches), len(parts))
		}
		for _, b := range batches {
			back, err := clickbatch.Decode(clickbatch.Encode(b))
			if err != nil || !reflect.DeepEqual(back.Clicks, b.Clicks) {
				t.Fatalf("batch coder: %v\n got %+v\nwant %+v", err, back.Clicks, b.Clicks)
			}
			for _, c := range b.Clicks {
				if ids.CheckName("ad", c.AdID) != nil || ids.CheckName("advertiser", c.AdvertiserID) != nil {
					t.Fatalf("click with ids %q/%q was read", c.AdvertiserID, c.AdID)
				}
				if _, err := btschema.ParseRowStart(btschema.Minute, btschema.RowKey(btschema.Minute, c.AdvertiserID, c.AdID, time.UnixMilli(c.ClickTimeMs))); err != nil {
					t.Fatalf("row key: %v", err)
				}
			}
		}
	})
}
