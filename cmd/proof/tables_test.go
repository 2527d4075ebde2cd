package main

import (
	"strings"
	"testing"

	"github.com/adclick/adclick/internal/countable"
)

func TestCompareCampaigns(t *testing.T) {
	a, b := campaignKey{"acme", "spring"}, campaignKey{"globex", "spring"}
	for _, tt := range []struct {
		name                 string
		want, cells, parquet map[campaignKey]int64
		bad                  int
	}{
		{"exact", map[campaignKey]int64{a: 5, b: 7}, map[campaignKey]int64{a: 5, b: 7}, map[campaignKey]int64{a: 5, b: 7}, 0},
		{"one advertiser's campaign counted under another's", map[campaignKey]int64{a: 5, b: 7}, map[campaignKey]int64{a: 12}, map[campaignKey]int64{a: 5, b: 7}, 2},
		{"a campaign only the tables have", map[campaignKey]int64{a: 5}, map[campaignKey]int64{a: 5, b: 1}, map[campaignKey]int64{a: 5}, 1},
		{"Parquet short", map[campaignKey]int64{a: 5}, map[campaignKey]int64{a: 5}, map[campaignKey]int64{a: 4}, 1},
	} {
		lines, bad, err := compareCampaigns(tt.want, tt.cells, tt.parquet)
		if err != nil || bad != tt.bad || strings.Count(strings.Join(lines, "\n"), "MISMATCH") != tt.bad {
			t.Errorf("%s: %d mismatches (%v), want %d:\n%s", tt.name, bad, err, tt.bad, strings.Join(lines, "\n"))
		}
	}
}

func TestCheckInvalidTraffic(t *testing.T) {
	made := map[countable.Outcome]int{countable.InvalidTooFast: 3, countable.InvalidBurst: 2}
	ok := map[string]int64{"counted": 10, "invalid_too_fast": 3, "invalid_burst": 2}
	if bad := checkInvalidTraffic(ok, made); len(bad) != 0 {
		t.Errorf("exact outcomes refused: %v", bad)
	}
	if bad := checkInvalidTraffic(map[string]int64{"invalid_too_fast": 2, "invalid_burst": 2, "invalid_datacenter": 1}, made); len(bad) != 2 {
		t.Errorf("a missed too-fast click and a stray data-centre one: %v, want 2 complaints", bad)
	}
}
