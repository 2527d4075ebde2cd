// Package clickevent defines the click event: the one record every
// component of adclick exchanges, from the redirect service through Pub/Sub
// and the raw archive to both pipelines.
//
// Events are JSON objects (one per Pub/Sub message). The schema is
// versioned by the "v" field; readers reject versions they do not know
// rather than guess, and the pipelines send such events to the dead letter.
package clickevent

import (
	"errors"
	"fmt"
	"strconv"
	"time"
)

// SchemaVersion is the version this package writes and the only one it reads.
const SchemaVersion = 1

// Pub/Sub attribute names. Dataflow's Pub/Sub source reads AttrClickID as
// its id attribute and AttrClickTime as its timestamp attribute (the
// element's event time). The id attribute must be the click's, never the
// impression's: Dataflow drops every message whose id it saw in the last
// ten minutes before the pipeline sees it, which is right for a
// redelivered copy of one click and wrong for a second click of one
// impression (a bot's, then a person's): that one the pipeline decides.
const (
	AttrImpressionID  = "impression_id"
	AttrClickTime     = "click_time"
	AttrClickID       = "click_id"
	AttrSchemaVersion = "schema_version"
)

// TimeLayout is how times are written in events and attributes: RFC 3339
// in UTC with millisecond precision, which Dataflow's timestamp attribute,
// BigQuery and people all read.
const TimeLayout = "2006-01-02T15:04:05.000Z07:00"

// Event is one click, as recorded by the redirect service.
type Event struct {
	// SchemaVersion of this record; always SchemaVersion when written here.
	SchemaVersion int `json:"v"`
	// ClickID is unique per click (128 random bits, hex). Two clicks on the
	// same impression have different ClickIDs; one click re-sent after a
	// Pub/Sub outage keeps its ClickID.
	ClickID string `json:"click_id"`
	// ImpressionID is the signed impression this click came from (128 bits,
	// hex). Only the first click of an impression is countable.
	ImpressionID string `json:"impression_id"`
	// AdID, AdvertiserID and CampaignID name the ad as the catalog knew it
	// when the click was served. AdID is signed into the token; the other
	// two come from the catalog, never from the request.
	AdID         string `json:"ad_id"`
	AdvertiserID string `json:"advertiser_id"`
	CampaignID   string `json:"campaign_id"`
	// PlacementID is where the ad was shown (site slot), signed into the token.
	PlacementID string `json:"placement_id,omitempty"`
	// ImpressionTime is when the ad server minted the token (second precision).
	ImpressionTime time.Time `json:"impression_time"`
	// ExpiresAt is the end of the token's validity (second precision). A
	// click at or after it is recorded and redirected but never counted.
	ExpiresAt time.Time `json:"expires_at"`
	// ClickTime is when our server received the click: stamped by the
	// redirect service, never taken from the client. It is the event time
	// for every window and bucket.
	ClickTime time.Time `json:"click_time"`
	// UserKey is a keyed hash (HMAC-SHA256 with a secret pepper, 128 bits,
	// hex) of our first-party cookie, or of the client address and user
	// agent when there is no cookie. It lets analysts count distinct users
	// without ever storing an IP address or a cookie value.
	UserKey string `json:"user_key"`
	// UAClass is the coarse user-agent class: see the UA* constants.
	UAClass string `json:"ua_class"`
	// Datacenter is set when the click came from an address in the click
	// service's list of data-centre ranges (-datacenter-cidrs). The
	// address itself is never recorded.
	Datacenter bool `json:"datacenter,omitempty"`
}

// User-agent classes.
const (
	UABrowser = "browser"
	UAMobile  = "mobile"
	UABot     = "bot"
	UAOther   = "other"
)

// Marshal encodes e as JSON, the Pub/Sub message body.
func Marshal(e *Event) ([]byte, error) {
	return AppendJSON(make([]byte, 0, 512), e), nil
}

// Attributes returns the Pub/Sub attributes that travel with e.
func Attributes(e *Event) map[string]string {
	return map[string]string{
		AttrImpressionID:  e.ImpressionID,
		AttrClickTime:     e.ClickTime.UTC().Format(TimeLayout),
		AttrClickID:       e.ClickID,
		AttrSchemaVersion: strconv.Itoa(e.SchemaVersion),
	}
}

// Errors from Unmarshal.
var (
	ErrMalformed = errors.New("click event: malformed")
	ErrVersion   = errors.New("click event: unknown schema version")
	ErrMissing   = errors.New("click event: missing field")
)

// Unmarshal decodes and validates one event. Its errors wrap ErrMalformed,
// ErrVersion or ErrMissing so a dead-letter reason can be derived from them.
func Unmarshal(data []byte) (Event, error) {
	var e Event
	if err := decode(data, &e); err != nil {
		return Event{}, fmt.Errorf("%w: %v", ErrMalformed, err)
	}
	if e.SchemaVersion != SchemaVersion {
		return Event{}, fmt.Errorf("%w: %d", ErrVersion, e.SchemaVersion)
	}
	for _, f := range []struct{ name, v string }{
		{"click_id", e.ClickID}, {"impression_id", e.ImpressionID}, {"ad_id", e.AdID},
		{"advertiser_id", e.AdvertiserID}, {"user_key", e.UserKey}, {"ua_class", e.UAClass},
	} {
		if f.v == "" {
			return Event{}, fmt.Errorf("%w: %s", ErrMissing, f.name)
		}
	}
	for _, f := range []struct {
		name string
		t    time.Time
	}{{"impression_time", e.ImpressionTime}, {"expires_at", e.ExpiresAt}, {"click_time", e.ClickTime}} {
		if f.t.IsZero() {
			return Event{}, fmt.Errorf("%w: %s", ErrMissing, f.name)
		}
	}
	return e, nil
}
