// Package countable is the one definition of a countable click, shared by
// the streaming pipeline and the nightly batch so that the speed layer and
// the reconciled numbers can only differ by timing, never by rules.
//
// A raw Pub/Sub message becomes either a dead letter (it is not a click
// event we can read) or a click with an outcome:
//
//	counted    the first click of its impression, authentic, in time, human
//	duplicate  a later click of an impression already counted
//	expired    clicked at or after the token's expiry
//	bot        the user agent is a crawler, preview fetcher or HTTP library
//	invalid    readable, but inconsistent (clicked before the impression existed)
//
// Dedupe needs history, so Classify decides everything but "duplicate";
// the pipelines count the first by Rank among the clicks of an impression
// that Classify accepts.
package countable

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"time"

	"github.com/adclick/adclick/internal/clickevent"
	"github.com/adclick/adclick/internal/ids"
)

// Outcome of a click.
type Outcome string

const (
	Counted   Outcome = "counted"
	Duplicate Outcome = "duplicate"
	Expired   Outcome = "expired"
	Bot       Outcome = "bot"
	Invalid   Outcome = "invalid"
)

// Outcomes lists every outcome, in report order.
var Outcomes = []Outcome{Counted, Duplicate, Expired, Bot, Invalid}

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

// Classify returns Counted for a click that counts unless it is a
// duplicate, and otherwise why it never counts.
func Classify(e *clickevent.Event) Outcome {
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
	}
	return Counted
}

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
func (r Rank) Before(o Rank) bool {
	if r.ClickTimeMs != o.ClickTimeMs {
		return r.ClickTimeMs < o.ClickTimeMs
	}
	return bytes.Compare(r.ClickID[:], o.ClickID[:]) < 0
}
