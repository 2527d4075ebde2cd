package main

import (
	"time"

	"github.com/adclick/adclick/pipelines/speed"
)

// The streaming job's crash and what it may do to the speed layer.
//
// A killed job loses the clicks it had acknowledged but not yet written
// (at most one early firing's worth, just before the kill), and its
// restarted successor counts with no state: for a minute both counted, the
// cell holds the larger total, not the sum; and a repeat click whose first
// click the old job counted counts again (repeats come 1-20 s after their
// first click). So the minutes that the kill's last early-firing interval
// overlaps are not compared, and each repeat made within repeatWindow after
// the kill may add one click to its minute.
const (
	crashReach   = speed.DefaultEarlyFiring + time.Second
	repeatWindow = 30 * time.Second
)

// crashMinutes are the minutes not compared around a kill at k.
func crashMinutes(k time.Time) map[time.Time]bool {
	return map[time.Time]bool{
		k.UTC().Add(-crashReach).Truncate(time.Minute): true,
		k.UTC().Truncate(time.Minute):                  true,
	}
}

// crashTime places the short proof's streaming crash in the smaller of the
// load's partial first and last minutes, so that one minute, the smaller
// edge, is excluded and most of the load is compared: near the end of
// the first (its last early-firing interval stays inside it) or
// crashReach into the last (so load follows the crash either way).
func crashTime(loadStart, loadEnd time.Time) time.Time {
	firstEnd := loadStart.Truncate(time.Minute).Add(time.Minute)
	lastStart := loadEnd.Truncate(time.Minute)
	first, last := firstEnd.Sub(loadStart), loadEnd.Sub(lastStart)
	const slack = time.Second
	lastFits := last > crashReach+2*slack
	if first > 2*slack && (first <= last || !lastFits) {
		return firstEnd.Add(-slack)
	}
	if lastFits {
		return lastStart.Add(crashReach + slack)
	}
	// Neither edge holds a crash: a whole minute mid-load.
	return loadStart.Add(loadEnd.Sub(loadStart) / 2).Truncate(time.Minute).Add(crashReach + slack)
}
