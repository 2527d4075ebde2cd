package speed

import (
	"strings"
	"testing"
)

func TestCheckOutcomes(t *testing.T) {
	ok := map[string]int64{"clicks_read": 10, "dead_letters": 1, "clicks_bot": 1, "clicks_expired": 1, "clicks_invalid": 1, "clicks_duplicate": 2, "clicks_first": 4, "clicks_counted": 3}
	with := func(name string, n int64) map[string]int64 {
		m := map[string]int64{}
		for k, v := range ok {
			m[k] = v
		}
		m[name] = n
		return m
	}
	for _, tt := range []struct {
		name     string
		counters map[string]int64
		wantErr  string
	}{
		{"every message has one outcome", ok, ""},
		{"a message without an outcome", with("clicks_read", 11), "11 messages read but 10 have an outcome"},
		{"a message with two", with("clicks_duplicate", 3), "10 messages read but 11 have an outcome"},
		{"more counted than dedupe passed", with("clicks_counted", 5), "5 clicks counted but dedupe passed only 4"},
	} {
		err := CheckOutcomes(tt.counters)
		if tt.wantErr == "" && err != nil || tt.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tt.wantErr)) {
			t.Errorf("%s: CheckOutcomes = %v, want %q", tt.name, err, tt.wantErr)
		}
	}
}

func TestParseCounterLog(t *testing.T) {
	log := strings.Join([]string{
		"some other line",
		CounterLine("adclick", "clicks_read", "s1", 7),
		CounterLine("adclick", "clicks_read", "s2", 3),
		CounterLine("beam", "elements", "s3", 99),
		CounterLine("adclick", "clicks_counted", "speed.Count/accumulateFn", 4),
	}, "\n")
	got, err := ParseCounterLog(log)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 2 || got["clicks_read"] != 10 || got["clicks_counted"] != 4 {
		t.Errorf("ParseCounterLog = %v, want clicks_read 10 and clicks_counted 4", got)
	}
	if _, err := ParseCounterLog("no counters here"); err == nil {
		t.Error("a log without counters parsed")
	}
}
