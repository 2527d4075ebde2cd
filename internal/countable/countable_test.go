package countable

import (
	"errors"
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
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := Classify(tt.e); got != tt.want {
				t.Errorf("Classify = %s, want %s", got, tt.want)
			}
		})
	}
}

func TestFirst(t *testing.T) {
	early := ev(func(e *clickevent.Event) { e.ClickID = "z" })
	late := ev(func(e *clickevent.Event) { e.ClickID = "a"; e.ClickTime = e.ClickTime.Add(time.Second) })
	tie := ev(func(e *clickevent.Event) { e.ClickID = "b" })
	if !First(early, late) || First(late, early) {
		t.Error("earlier click time must win")
	}
	if !First(tie, early) || First(early, tie) {
		t.Error("ties must go to the smaller click id")
	}
	if First(early, early) {
		t.Error("First must be a strict order")
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
