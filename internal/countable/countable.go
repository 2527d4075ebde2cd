// Package countable is the one definition of a countable click, shared by
// the streaming pipeline and the nightly batch so that the speed layer and
// the reconciled numbers can only differ by timing, never by rules.
//
// A raw Pub/Sub message becomes either a dead letter (it is not a click
// event we can read) or a click with an outcome:
//
//	counted             the first click of its impression, authentic, in time, human
//	duplicate           a later click of an impression already counted
//	expired             clicked at or after the token's expiry
//	bot                 the user agent is a crawler, preview fetcher or HTTP library
//	invalid             readable, but inconsistent (clicked before the impression existed)
//	invalid_datacenter  from a data-centre address (the click service's flag)
//	invalid_too_fast    sooner after the impression than a person can click
//	invalid_burst       a first click past Rules.BurstClicks of one user on one ad
//	                    within Rules.BurstWindow
//
// The invalid_* outcomes are invalid traffic: clicks a person or script
// made to be paid for, which advertisers see as "invalid clicks (not
// billed)". Dedupe and the burst rule need history, so Rules.Classify
// decides everything else; the pipelines count the first by Rank among
// the clicks of an impression that Classify accepts, then apply
// Rules.Bursts to each user's first clicks on each ad.
package countable

import (
	"bytes"
	"cmp"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"flag"
	"fmt"
	"time"

	"github.com/adclick/adclick/internal/clickevent"
	"github.com/adclick/adclick/internal/ids"
)

// Outcome of a click.
type Outcome string

const (
	Counted           Outcome = "counted"
	Duplicate         Outcome = "duplicate"
	Expired           Outcome = "expired"
	Bot               Outcome = "bot"
	Invalid           Outcome = "invalid"
	InvalidDatacenter Outcome = "invalid_datacenter"
	InvalidTooFast    Outcome = "invalid_too_fast"
	InvalidBurst      Outcome = "invalid_burst"
)

// Outcomes lists every outcome, in report order.
var Outcomes = []Outcome{Counted, Duplicate, Expired, Bot, Invalid, InvalidDatacenter, InvalidTooFast, InvalidBurst}

// InvalidTraffic lists the invalid-traffic outcomes: what advertisers are
// shown as invalid clicks, not billed.
var InvalidTraffic = []Outcome{InvalidDatacenter, InvalidTooFast, InvalidBurst}

// Rules are the invalid-traffic thresholds. Both pipelines take them from
// flags with these defaults; they must be the same in both, or the
// nightly's corrections include the difference.
type Rules struct {
	// MinClickDelay: a click sooner than this after its impression was
	// minted is too fast for a person. Impression times have second
	// precision (rounded down), so a click is flagged only when it came
	// sooner than this after the true mint time too; a click timed before
	// its impression (clock skew between ad server and click service) is
	// not judged.
	MinClickDelay time.Duration
	// BurstClicks and BurstWindow: a user's first clicks on one ad past
	// BurstClicks within BurstWindow are a burst.
	BurstClicks int
	BurstWindow time.Duration
}

// DefaultRules: a second to read an ad before clicking it; more than five
// impressions of one ad clicked by one user in ten minutes is a script.
var DefaultRules = Rules{MinClickDelay: time.Second, BurstClicks: 5, BurstWindow: 10 * time.Minute}

// RegisterFlags adds the rules' flags to fs, defaulting to r's values:
// both pipelines take them the same way, so one deployment sets them once
// for both.
func (r *Rules) RegisterFlags(fs *flag.FlagSet) {
	fs.DurationVar(&r.MinClickDelay, "min_click_delay", r.MinClickDelay, "a click sooner than this after its impression is invalid_too_fast (0 turns the rule off)")
	fs.IntVar(&r.BurstClicks, "burst_clicks", r.BurstClicks, "a user's first clicks on one ad past this many within --burst_window are invalid_burst (nightly)")
	fs.DurationVar(&r.BurstWindow, "burst_window", r.BurstWindow, "the window of the burst rule")
}

// Check refuses thresholds that would flag everything or nothing by
// mistake.
func (r Rules) Check() error {
	switch {
	case r.MinClickDelay < 0 || r.MinClickDelay > time.Minute:
		return fmt.Errorf("min click delay %v: want 0 to 1m", r.MinClickDelay)
	case r.BurstClicks < 1:
		return fmt.Errorf("burst clicks %d: want at least 1", r.BurstClicks)
	case r.BurstWindow <= 0 || r.BurstWindow > MaxTokenLifetime:
		return fmt.Errorf("burst window %v: want more than 0 and at most %v", r.BurstWindow, MaxTokenLifetime)
	}
	return nil
}

// ClockSkew is how far a click may precede its impression's issue time and
// still be believed: the ad server's and the click service's clocks differ.
const ClockSkew = 5 * time.Minute

// MaxTokenLifetime is the longest impression lifetime the click service
// mints (its -token-max-ttl). Every countable click of an impression falls
// within this long after the impression.
const MaxTokenLifetime = 2 * time.Hour

// Dead-letter reasons, attached to a dead letter as its "reason" attribute.
const (
	ReasonMalformed = "malformed"
	ReasonVersion   = "unknown_version"
	ReasonMissing   = "missing_field"
	ReasonInvalidID = "invalid_id"
)

// Parse decodes a message body and checks every id against the one rule
// for ids (package ids), so no message can put a key separator, a control
// byte or an unbounded string into a shuffle key, a row key or a file
// name downstream. Its error, if any, names a dead-letter reason through
// DeadLetterReason.
func Parse(data []byte) (clickevent.Event, error) {
	e, err := clickevent.Unmarshal(data)
	if err != nil {
		return e, err
	}
	for _, f := range []struct {
		name, v string
		check   func(string, string) error
	}{
		{"click_id", e.ClickID, ids.CheckMinted}, {"impression_id", e.ImpressionID, ids.CheckMinted},
		{"advertiser_id", e.AdvertiserID, ids.CheckName}, {"ad_id", e.AdID, ids.CheckName},
	} {
		if err := f.check(f.name, f.v); err != nil {
			return clickevent.Event{}, err
		}
	}
	if e.CampaignID != "" {
		if err := ids.CheckName("campaign_id", e.CampaignID); err != nil {
			return clickevent.Event{}, err
		}
	}
	return e, nil
}

// DeadLetterReason maps a Parse error to the reason a dead letter carries.
func DeadLetterReason(err error) string {
	switch {
	case errors.Is(err, clickevent.ErrVersion):
		return ReasonVersion
	case errors.Is(err, clickevent.ErrMissing):
		return ReasonMissing
	case errors.Is(err, ids.ErrInvalid):
		return ReasonInvalidID
	default:
		return ReasonMalformed
	}
}

// Classify is DefaultRules.Classify.
func Classify(e *clickevent.Event) Outcome { return DefaultRules.Classify(e) }

// Classify returns Counted for a click that counts unless it is a
// duplicate or part of a burst, and otherwise why it never counts.
func (r Rules) Classify(e *clickevent.Event) Outcome {
	switch {
	case e.ClickTime.Before(e.ImpressionTime.Add(-ClockSkew)):
		return Invalid
	case !e.ExpiresAt.After(e.ImpressionTime):
		return Invalid
	case e.ExpiresAt.After(e.ImpressionTime.Add(MaxTokenLifetime)):
		// The click service never mints such a token; dedupe relies on
		// every countable click falling within MaxTokenLifetime.
		return Invalid
	case !e.ClickTime.Before(e.ExpiresAt):
		return Expired
	case e.UAClass == clickevent.UABot:
		return Bot
	case e.Datacenter:
		return InvalidDatacenter
	case tooFast(e.ClickTime.Sub(e.ImpressionTime), r.MinClickDelay):
		return InvalidTooFast
	}
	return Counted
}

// tooFast: a click sooner than min after its impression. A click timed
// before its impression is the two clocks' skew (ClockSkew), not speed:
// its true delay is unknown, and it is not judged.
func tooFast(delay, min time.Duration) bool {
	return delay >= 0 && delay < min
}

// Bursts applies the burst rule to one user's first clicks on one ad, as
// click times in milliseconds in Rank order (BurstTracker, for one key).
func (r Rules) Bursts(timesMs []int64) []bool {
	t := r.NewBurstTracker()
	out := make([]bool, len(timesMs))
	for i, ms := range timesMs {
		out[i] = t.Burst("", ID{}, ms)
	}
	return out
}

// BurstTracker applies the burst rule click by click: fed every first
// click (Classify accepted it, dedupe kept it) in Rank order, it says
// which are bursts. A click is one when BurstClicks or more of the same
// user's first clicks on the same ad fall within BurstWindow before it,
// bursts included: a script that keeps clicking stays out until it pauses.
type BurstTracker struct {
	rules  Rules
	recent map[burstKey][]int64 // click times within the window, oldest first
	// swept is the click time of the last sweep: every BurstWindow of
	// click time, users whose clicks all fell out of the window are
	// forgotten, so the tracker holds one window of clicks, not a day's.
	swept int64
}

type burstKey struct {
	ad   string
	user ID
}

// NewBurstTracker is an empty tracker.
func (r Rules) NewBurstTracker() *BurstTracker {
	return &BurstTracker{rules: r, recent: map[burstKey][]int64{}}
}

// Burst records a first click of user on ad at timeMs and reports whether
// it is a burst.
func (t *BurstTracker) Burst(ad string, user ID, timeMs int64) bool {
	window := t.rules.BurstWindow.Milliseconds()
	if timeMs-t.swept >= window {
		t.sweep(timeMs - window)
	}
	k := burstKey{ad, user}
	times := t.recent[k]
	cut := 0
	for cut < len(times) && times[cut] <= timeMs-window {
		cut++
	}
	times = append(times[cut:], timeMs)
	t.recent[k] = times
	return len(times)-1 >= t.rules.BurstClicks
}

// sweep forgets the users whose last click is at or before cutoff: no
// later click can see them in its window.
func (t *BurstTracker) sweep(cutoffMs int64) {
	for k, times := range t.recent {
		if times[len(times)-1] <= cutoffMs {
			delete(t.recent, k)
		}
	}
	t.swept = cutoffMs + t.rules.BurstWindow.Milliseconds()
}

// Tracked is how many user and ad pairs the tracker holds.
func (t *BurstTracker) Tracked() int { return len(t.recent) }

// ID is an impression or click id in its 16 raw bytes: the form both
// pipelines keep in memory, in state and on the shuffle. The impression id
// is the key clicks dedupe by; the click id breaks ties (Rank) and
// collapses re-deliveries of one click.
type ID [16]byte

// ParseID turns a minted id (32 hex digits, as the click service writes it
// and Parse checks) into its bytes. Any other spelling is hashed, so a
// caller that skipped Parse still gets a stable, distinct id.
func ParseID(s string) ID {
	var id ID
	if len(s) == 2*len(id) {
		if _, err := hex.Decode(id[:], []byte(s)); err == nil {
			return id
		}
	}
	sum := sha256.Sum256([]byte(s))
	copy(id[:], sum[:])
	return id
}

// String is the id as minted: 32 lower-case hex digits.
func (id ID) String() string { return hex.EncodeToString(id[:]) }

// Rank orders the clicks of one impression: of those Classify accepts,
// the first by Rank counts and the rest are duplicates. The earliest
// click time (in milliseconds, the precision the pipelines carry) wins;
// ties go to the smaller click id, so every runner and every rerun picks
// the same click.
type Rank struct {
	ClickTimeMs int64
	ClickID     ID
}

// RankOf is e's rank.
func RankOf(e *clickevent.Event) Rank {
	return Rank{ClickTimeMs: e.ClickTime.UnixMilli(), ClickID: ParseID(e.ClickID)}
}

// Before reports whether r counts ahead of o.
func (r Rank) Before(o Rank) bool { return r.Compare(o) < 0 }

// Compare is -1 when r counts ahead of o, +1 when after, 0 when they are
// one click: the order for slices.SortFunc.
func (r Rank) Compare(o Rank) int {
	if c := cmp.Compare(r.ClickTimeMs, o.ClickTimeMs); c != 0 {
		return c
	}
	return bytes.Compare(r.ClickID[:], o.ClickID[:])
}
