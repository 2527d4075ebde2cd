package countable

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/adclick/adclick/internal/clickevent"
)

var t0 = time.Date(2026, 11, 27, 12, 0, 0, 0, time.UTC)

func ev(mut func(*clickevent.Event)) *clickevent.Event {
	e := &clickevent.Event{
		SchemaVersion: 1, ClickID: "c1", ImpressionID: "i1", AdID: "ad", AdvertiserID: "adv",
		ImpressionTime: t0, ExpiresAt: t0.Add(time.Hour), ClickTime: t0.Add(time.Minute),
		UserKey: "u", UAClass: clickevent.UABrowser,
	}
	if mut != nil {
		mut(e)
	}
	return e
}

func TestClassify(t *testing.T) {
	tests := []struct {
		name string
		e    *clickevent.Event
		want Outcome
	}{
		{"ordinary click", ev(nil), Counted},
		{"mobile", ev(func(e *clickevent.Event) { e.UAClass = clickevent.UAMobile }), Counted},
		{"just before expiry", ev(func(e *clickevent.Event) { e.ClickTime = e.ExpiresAt.Add(-time.Millisecond) }), Counted},
		{"at expiry", ev(func(e *clickevent.Event) { e.ClickTime = e.ExpiresAt }), Expired},
		{"after expiry", ev(func(e *clickevent.Event) { e.ClickTime = e.ExpiresAt.Add(time.Hour) }), Expired},
		{"bot", ev(func(e *clickevent.Event) { e.UAClass = clickevent.UABot }), Bot},
		{"expired bot is expired", ev(func(e *clickevent.Event) { e.UAClass = clickevent.UABot; e.ClickTime = e.ExpiresAt }), Expired},
		{"within clock skew before impression", ev(func(e *clickevent.Event) { e.ClickTime = t0.Add(-time.Minute) }), Counted},
		{"long before the impression", ev(func(e *clickevent.Event) { e.ClickTime = t0.Add(-time.Hour) }), Invalid},
		{"expiry not after impression", ev(func(e *clickevent.Event) { e.ExpiresAt = t0 }), Invalid},
		{"lifetime over the maximum", ev(func(e *clickevent.Event) { e.ExpiresAt = t0.Add(MaxTokenLifetime + time.Second) }), Invalid},
		{"lifetime at the maximum", ev(func(e *clickevent.Event) { e.ExpiresAt = t0.Add(MaxTokenLifetime); e.ClickTime = t0.Add(time.Hour) }), Counted},
		{"from a data centre", ev(func(e *clickevent.Event) { e.Datacenter = true }), InvalidDatacenter},
		{"a bot from a data centre is a bot", ev(func(e *clickevent.Event) { e.Datacenter = true; e.UAClass = clickevent.UABot }), Bot},
		{"clicked as the impression was minted", ev(func(e *clickevent.Event) { e.ClickTime = t0 }), InvalidTooFast},
		{"just under the human delay", ev(func(e *clickevent.Event) { e.ClickTime = t0.Add(DefaultRules.MinClickDelay - time.Millisecond) }), InvalidTooFast},
		{"at the human delay", ev(func(e *clickevent.Event) { e.ClickTime = t0.Add(DefaultRules.MinClickDelay) }), Counted},
		{"before the impression is skew, not speed", ev(func(e *clickevent.Event) { e.ClickTime = t0.Add(-time.Millisecond) }), Counted},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := Classify(tt.e); got != tt.want {
				t.Errorf("Classify = %s, want %s", got, tt.want)
			}
		})
	}
}

func TestRank(t *testing.T) {
	id := func(last byte) string { return fmt.Sprintf("%030x%02x", 0, last) }
	early := ev(func(e *clickevent.Event) { e.ClickID = id(0xff) })
	late := ev(func(e *clickevent.Event) { e.ClickID = id(0x01); e.ClickTime = e.ClickTime.Add(time.Millisecond) })
	tie := ev(func(e *clickevent.Event) { e.ClickID = id(0x02) })
	sameMs := ev(func(e *clickevent.Event) { e.ClickID = id(0x00); e.ClickTime = e.ClickTime.Add(999 * time.Microsecond) })
	for _, tt := range []struct {
		name string
		a, b *clickevent.Event
	}{
		{"earlier click time wins", early, late},
		{"a tie goes to the smaller click id", tie, early},
		{"time counts in milliseconds, as the pipelines carry it", sameMs, tie},
	} {
		a, b := RankOf(tt.a), RankOf(tt.b)
		if !a.Before(b) || b.Before(a) || a.Compare(b) != -1 || b.Compare(a) != 1 {
			t.Errorf("%s: %s@%s vs %s@%s", tt.name, tt.a.ClickID, tt.a.ClickTime.Format(time.StampNano), tt.b.ClickID, tt.b.ClickTime.Format(time.StampNano))
		}
	}
	if RankOf(early).Before(RankOf(early)) || RankOf(early).Compare(RankOf(early)) != 0 {
		t.Error("Before must be a strict order, and a click compare equal to itself")
	}
}

func TestParseID(t *testing.T) {
	hexID := "00112233445566778899aabbccddeeff"
	if got := ParseID(hexID); got[0] != 0x00 || got[15] != 0xff || got.String() != hexID {
		t.Errorf("ParseID(%s) = %x", hexID, got)
	}
	if ParseID("i1") == ParseID("i2") {
		t.Error("distinct non-hex ids share an id")
	}
	if ParseID("i1") != ParseID("i1") {
		t.Error("ParseID is not stable")
	}
}

func TestDeadLetterReason(t *testing.T) {
	for _, tt := range []struct {
		data string
		want string
	}{
		{"{", ReasonMalformed},
		{`{"v":9}`, ReasonVersion},
		{`{"v":1,"click_id":"c"}`, ReasonMissing},
	} {
		_, err := Parse([]byte(tt.data))
		if err == nil {
			t.Fatalf("Parse(%s) accepted", tt.data)
		}
		if got := DeadLetterReason(err); got != tt.want {
			t.Errorf("DeadLetterReason(%v) = %s, want %s", err, got, tt.want)
		}
	}
	if DeadLetterReason(errors.New("other")) != ReasonMalformed {
		t.Error("unknown errors are malformed")
	}
}

// TestParseRejectsIDsThatBreakKeys: a readable event whose ids could break
// a shuffle key, a row key or a file name is a dead letter with its own
// reason, never a click.
func TestParseRejectsIDsThatBreakKeys(t *testing.T) {
	valid := func(e *clickevent.Event) {
		e.ClickID, e.ImpressionID, e.SchemaVersion = "00112233445566778899aabbccddeeff", "ffeeddccbbaa99887766554433221100", 1
	}
	tests := []struct {
		name string
		mut  func(*clickevent.Event)
		want string
	}{
		{"valid", func(*clickevent.Event) {}, ""},
		{"hash in the advertiser", func(e *clickevent.Event) { e.AdvertiserID = "adv#x" }, ReasonInvalidID},
		{"slash in the ad", func(e *clickevent.Event) { e.AdID = "ad/../x" }, ReasonInvalidID},
		{"at in the campaign", func(e *clickevent.Event) { e.CampaignID = "c@1" }, ReasonInvalidID},
		{"control byte", func(e *clickevent.Event) { e.AdID = "ad\x00" }, ReasonInvalidID},
		{"over-long ad", func(e *clickevent.Event) { e.AdID = string(make([]byte, 65)) }, ReasonInvalidID},
		{"non-hex click id", func(e *clickevent.Event) { e.ClickID = "click-1" }, ReasonInvalidID},
		{"upper-case impression id", func(e *clickevent.Event) { e.ImpressionID = "FFEEDDCCBBAA99887766554433221100" }, ReasonInvalidID},
		{"missing ad", func(e *clickevent.Event) { e.AdID = "" }, ReasonMissing},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := ev(valid)
			tt.mut(e)
			data, err := clickevent.Marshal(e)
			if err != nil {
				t.Fatal(err)
			}
			_, err = Parse(data)
			got := ""
			if err != nil {
				got = DeadLetterReason(err)
			}
			if got != tt.want {
				t.Errorf("Parse: reason %q (%v), want %q", got, err, tt.want)
			}
		})
	}
}

func TestBursts(t *testing.T) {
	r := Rules{MinClickDelay: time.Second, BurstClicks: 2, BurstWindow: 10 * time.Minute}
	min := int64(time.Minute / time.Millisecond)
	for _, tt := range []struct {
		name  string
		times []int64
		want  string
	}{
		{"two in the window are fine", []int64{0, min}, ".."},
		{"the third within 10 minutes is a burst", []int64{0, min, 2 * min}, "..B"},
		{"bursts count towards the window: a script stays out", []int64{0, min, 2 * min, 3 * min, 11 * min}, "..BBB"},
		{"a pause longer than the window lets clicks count again", []int64{0, min, 2 * min, 13 * min, 14 * min}, "..B.."},
		{"the window is half-open: exactly 10 minutes later is outside", []int64{0, 0, 10 * min}, "..."},
		{"none", nil, ""},
	} {
		got := ""
		for _, b := range r.Bursts(tt.times) {
			if b {
				got += "B"
			} else {
				got += "."
			}
		}
		if got != tt.want {
			t.Errorf("%s: %s, want %s", tt.name, got, tt.want)
		}
	}
}

// TestBurstTrackerForgets: over hours of clicks the tracker holds only
// the users of the last two windows, and answers as one that forgets
// nothing.
func TestBurstTrackerForgets(t *testing.T) {
	r := DefaultRules
	window := r.BurstWindow.Milliseconds()
	rng := rand.New(rand.NewPCG(3, 4))
	tracker := r.NewBurstTracker()
	all := map[[2]string][]int64{} // every click, never forgotten
	var at int64
	var bursts int
	for i := range 40_000 {
		at += rng.Int64N(800) // about 3 hours in all
		ad, user := fmt.Sprint("ad", rng.IntN(3)), fmt.Sprint("u", rng.IntN(400))
		if i%1000 < 20 {
			user = "script" // a burst now and then
		}
		k := [2]string{ad, user}
		before := 0
		for _, ms := range all[k] {
			if ms > at-window {
				before++
			}
		}
		all[k] = append(all[k], at)
		want := before >= r.BurstClicks
		if got := tracker.Burst(ad, ParseID(user), at); got != want {
			t.Fatalf("click %d (%s, %s at %d): burst %v, want %v", i, ad, user, at, got, want)
		}
		if want {
			bursts++
		}
		recent := 0
		for _, times := range all {
			if times[len(times)-1] > at-2*window {
				recent++
			}
		}
		if i%997 == 0 && tracker.Tracked() > recent {
			t.Fatalf("after %d clicks the tracker holds %d users, more than the %d of the last two windows", i, tracker.Tracked(), recent)
		}
	}
	if bursts == 0 || len(all) < 1000 {
		t.Errorf("%d bursts over %d users and ads: the test exercises nothing", bursts, len(all))
	}
}

func TestRulesCheck(t *testing.T) {
	if err := DefaultRules.Check(); err != nil {
		t.Errorf("the default rules: %v", err)
	}
	for _, bad := range []Rules{
		{MinClickDelay: -time.Second, BurstClicks: 5, BurstWindow: time.Minute},
		{MinClickDelay: time.Second, BurstClicks: 0, BurstWindow: time.Minute},
		{MinClickDelay: time.Second, BurstClicks: 5, BurstWindow: 0},
		{MinClickDelay: time.Second, BurstClicks: 5, BurstWindow: 3 * time.Hour},
	} {
		if bad.Check() == nil {
			t.Errorf("%+v accepted", bad)
		}
	}
}
