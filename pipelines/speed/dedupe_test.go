package speed

import (
	"strings"
	"testing"
	"time"

	"github.com/adclick/adclick/internal/countable"
)

func TestDedupeKey(t *testing.T) {
	imp := countable.ParseID("05112233445566778899aabbccddeeff")
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
	a, b := countable.ParseID("a"), countable.ParseID("b")
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
