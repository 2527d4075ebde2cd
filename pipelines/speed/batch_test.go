package speed

import (
	"reflect"
	"strings"
	"testing"
	"time"
)

func TestClickBatchCoder(t *testing.T) {
	for _, b := range []ClickBatch{
		{Clicks: []Click{}},
		{Clicks: []Click{{Impression: ParseImpression("00112233445566778899aabbccddeeff"), ClickID: "c1", AdID: "ad", AdvertiserID: "acme", ClickTimeMs: 1764244800123}}},
		{Clicks: []Click{{ClickTimeMs: -5}, {Impression: ParseImpression("x"), ClickID: strings.Repeat("z", 300), AdID: "", AdvertiserID: "ü"}}},
	} {
		got, err := decodeClickBatch(encodeClickBatch(b))
		if err != nil {
			t.Fatalf("decode %+v: %v", b, err)
		}
		if !reflect.DeepEqual(got, b) {
			t.Errorf("round trip = %+v, want %+v", got, b)
		}
	}
	enc := encodeClickBatch(ClickBatch{Clicks: []Click{{ClickID: "c1", AdID: "ad", AdvertiserID: "acme"}}})
	for n := range len(enc) {
		if _, err := decodeClickBatch(enc[:n]); err == nil {
			t.Errorf("decode of %d of %d bytes: no error", n, len(enc))
		}
	}
}

func TestParseImpression(t *testing.T) {
	hexID := "00112233445566778899aabbccddeeff"
	if got := ParseImpression(hexID); got[0] != 0x00 || got[15] != 0xff {
		t.Errorf("ParseImpression(%s) = %x", hexID, got)
	}
	if ParseImpression("i1") == ParseImpression("i2") {
		t.Error("distinct non-hex ids share an impression")
	}
	if ParseImpression("i1") != ParseImpression("i1") {
		t.Error("ParseImpression is not stable")
	}
}

func TestDedupeKey(t *testing.T) {
	imp := ParseImpression("05112233445566778899aabbccddeeff")
	at := time.Date(2026, 11, 27, 12, 34, 56, 0, time.UTC)
	tests := []struct {
		shards    int
		wantShard string
	}{{16, "5/"}, {4, "1/"}, {1, "0/"}, {0, "0/"}}
	for _, tt := range tests {
		key := DedupeKey(imp, at, tt.shards)
		if !strings.HasPrefix(key, tt.wantShard) {
			t.Errorf("DedupeKey with %d shards = %s, want shard %s", tt.shards, key, tt.wantShard)
		}
		epoch, err := dedupeKeyEpoch(key)
		if err != nil {
			t.Fatal(err)
		}
		if want := time.Date(2026, 11, 27, 12, 30, 0, 0, time.UTC); !epoch.Equal(want) {
			t.Errorf("epoch of %s = %s, want %s", key, epoch.UTC(), want)
		}
	}
	if _, err := dedupeKeyEpoch("nonsense"); err == nil {
		t.Error("dedupeKeyEpoch accepted a key without an epoch")
	}
}

func TestSeenSetFingerprint(t *testing.T) {
	a, b := ParseImpression("a"), ParseImpression("b")
	var s1, s2 seenSet
	s1.reset()
	s2.reset()
	if !s1.add(a) || !s1.add(b) || s1.add(a) {
		t.Fatal("add does not report new impressions correctly")
	}
	s2.add(b)
	s2.add(a)
	if s1.fp != s2.fp {
		t.Errorf("same set, different fingerprints: %+v %+v", s1.fp, s2.fp)
	}
	got, err := parseFingerprint(s1.fp.bytes())
	if err != nil || got != s1.fp {
		t.Errorf("fingerprint round trip = %+v, %v", got, err)
	}
	s2.reset()
	s2.add(a)
	if s1.fp == s2.fp {
		t.Error("different sets share a fingerprint")
	}
	if _, err := parseFingerprint([]byte{1, 2, 3}); err == nil {
		t.Error("parseFingerprint accepted 3 bytes")
	}
}
