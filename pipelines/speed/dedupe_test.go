package speed

import (
	"encoding/binary"
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
	a, b := impKey(countable.ParseID("a")), impKey(countable.ParseID("b"))
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

// TestEachSeen: a rebuild reads the bag's tagged chunks of keys and the
// whole-id chunks a job wrote before keys were 8 bytes, to the same set
// and the same fingerprint the old form's writer recorded (n, and the sum
// of the ids' first 8 bytes), so state survives a job update; a chunk of
// neither form is an error.
func TestEachSeen(t *testing.T) {
	ids := []countable.ID{countable.ParseID("a"), countable.ParseID("b"), countable.ParseID("c")}
	var old []byte // the earlier form: whole ids
	var oldFP fingerprint
	for _, id := range ids[:2] {
		old = append(old, id[:]...)
		oldFP.n++
		oldFP.sum += binary.BigEndian.Uint64(id[:8])
	}
	tagged := binary.BigEndian.AppendUint64([]byte{seenTag}, impKey(ids[2]))

	var set seenSet
	set.reset()
	for _, chunk := range [][]byte{old, tagged} {
		if err := eachSeen(chunk, set.add); err != nil {
			t.Fatal(err)
		}
	}
	want := oldFP
	want.n++
	want.sum += impKey(ids[2])
	if set.fp != want {
		t.Errorf("fingerprint after a mixed bag = %+v, want %+v", set.fp, want)
	}
	for _, id := range ids {
		if set.add(impKey(id)) {
			t.Errorf("impression %x not in the rebuilt set", id)
		}
	}
	for _, bad := range [][]byte{{seenTag, 1, 2}, make([]byte, 20), append([]byte{0x09}, make([]byte, 8)...)} {
		if err := eachSeen(bad, set.add); err == nil {
			t.Errorf("eachSeen accepted a chunk of %d bytes starting %#x", len(bad), bad[0])
		}
	}
}
