package main

import (
	"testing"
	"time"
)

func TestCrashTime(t *testing.T) {
	m := time.Date(2026, 11, 30, 14, 0, 0, 0, time.UTC)
	for _, tt := range []struct {
		name       string
		start, end time.Time
		want       time.Time
	}{
		{"the last minute is the smaller part", m.Add(4 * time.Second), m.Add(2*time.Minute + 16*time.Second), m.Add(2*time.Minute + crashReach + time.Second)},
		{"the first minute is the smaller part", m.Add(40 * time.Second), m.Add(2*time.Minute + 58*time.Second), m.Add(time.Minute - time.Second)},
		{"a short first minute still holds it", m.Add(50 * time.Second), m.Add(2*time.Minute + 58*time.Second), m.Add(time.Minute - time.Second)},
		{"a first minute of a second does not", m.Add(59*time.Second + 500*time.Millisecond), m.Add(2*time.Minute + 20*time.Second), m.Add(2*time.Minute + crashReach + time.Second)},
		{"neither edge: a minute mid-load", m.Add(59*time.Second + 500*time.Millisecond), m.Add(3*time.Minute + 3*time.Second), m.Add(2*time.Minute + crashReach + time.Second)},
	} {
		got := crashTime(tt.start, tt.end)
		if !got.Equal(tt.want) {
			t.Errorf("%s: crash at %s, want %s", tt.name, got.Format("15:04:05"), tt.want.Format("15:04:05"))
		}
		if got.Before(tt.start) || !got.Before(tt.end) {
			t.Errorf("%s: crash at %s outside the load", tt.name, got.Format("15:04:05"))
		}
		if len(crashMinutes(got)) != 1 {
			t.Errorf("%s: a crash at %s excludes %d minutes, want 1", tt.name, got.Format("15:04:05"), len(crashMinutes(got)))
		}
	}
}

func TestCrashMinutes(t *testing.T) {
	m := time.Date(2026, 11, 30, 14, 0, 0, 0, time.UTC)
	for _, tt := range []struct {
		kill time.Time
		want []time.Time
	}{
		{m.Add(30 * time.Second), []time.Time{m}},
		{m.Add(crashReach - time.Second), []time.Time{m.Add(-time.Minute), m}}, // the lost early pane may be the previous minute's
		{m.Add(crashReach), []time.Time{m}},
	} {
		got := crashMinutes(tt.kill)
		if len(got) != len(tt.want) {
			t.Errorf("kill at %s: %v, want %v", tt.kill.Format("15:04:05"), got, tt.want)
		}
		for _, w := range tt.want {
			if !got[w] {
				t.Errorf("kill at %s: minute %s not excluded", tt.kill.Format("15:04:05"), w.Format("15:04"))
			}
		}
	}
}
