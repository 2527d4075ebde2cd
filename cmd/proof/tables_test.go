package main

import (
	"strings"
	"testing"
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
	ok := map[string]int64{"counted": 10, "invalid_too_fast": 3}
	if bad := checkInvalidTraffic(ok, 3); len(bad) != 0 {
		t.Errorf("exact outcomes refused: %v", bad)
	}
	if bad := checkInvalidTraffic(map[string]int64{"invalid_too_fast": 2, "invalid_burst": 1}, 3); len(bad) != 2 {
		t.Errorf("a missed too-fast click and a burst: %v, want 2 complaints", bad)
	}
}
