package nightly

import (
	"reflect"
	"testing"

	"github.com/adclick/adclick/pipelines/speed"
)

func TestClickBatchCoder(t *testing.T) {
	for _, b := range []ClickBatch{
		{Clicks: []Click{}},
		{Advertisers: []string{"adv-a", "adv-b"}, Clicks: []Click{}},
		{Clicks: []Click{
			{Impression: speed.ParseImpression("i1"), ClickID: speed.ParseImpression("00112233445566778899aabbccddeeff"), AdID: "ad1", AdvertiserID: "adv", ClickTimeMs: 1764115200123, Class: ClassCounted},
			{Impression: speed.ParseImpression("i2"), ClickID: speed.ParseImpression("c2"), AdID: "ad2", AdvertiserID: "adv", ClickTimeMs: 1764115100000, Class: ClassBot},
			{Impression: speed.ParseImpression("i1"), ClickID: speed.ParseImpression("c3"), AdID: "ad1", AdvertiserID: "other", ClickTimeMs: 1764115300000, Class: ClassInvalid},
		}},
	} {
		got, err := decodeBatch(encodeBatch(b))
		if err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(got, b) {
			t.Errorf("round trip = %+v, want %+v", got, b)
		}
	}
	enc := encodeBatch(ClickBatch{Advertisers: []string{"a"}, Clicks: []Click{{AdID: "ad", AdvertiserID: "adv", ClickTimeMs: 5}}})
	for n := range len(enc) {
		if _, err := decodeBatch(enc[:n]); err == nil {
			t.Errorf("decode of %d of %d bytes: no error", n, len(enc))
		}
	}
}
