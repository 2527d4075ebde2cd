package clickevent

import (
	"encoding/json"
	"strconv"
	"time"
	"unicode/utf8"
)

// decode reads data into e: the shape AppendJSON writes (the click
// service's own events: fields in its order, no spaces, no escapes) by
// a scan of the bytes, anything else through encoding/json. The scan
// gives up at the first byte it does not expect, so an event it accepts
// decodes exactly as encoding/json decodes it (FuzzDecode holds it to
// that); encoding/json's reflection and validation pass cost the nightly
// a third of its CPU.
func decode(data []byte, e *Event) error {
	if decodeFast(data, e) {
		return nil
	}
	*e = Event{}
	return json.Unmarshal(data, e)
}

// decodeFast scans the AppendJSON shape, reporting false (e partly
// written) where data departs from it.
func decodeFast(data []byte, e *Event) bool {
	s := scanner{data: data}
	if !s.lit(`{"v":`) {
		return false
	}
	v, ok := s.int()
	if !ok {
		return false
	}
	e.SchemaVersion = v
	ok = s.field("click_id", &e.ClickID) && s.field("impression_id", &e.ImpressionID) && s.field("ad_id", &e.AdID) &&
		s.field("advertiser_id", &e.AdvertiserID) && s.field("campaign_id", &e.CampaignID)
	if !ok {
		return false
	}
	if s.peekLit(`,"placement_id":`) && !s.field("placement_id", &e.PlacementID) {
		return false
	}
	ok = s.timeField("impression_time", &e.ImpressionTime) && s.timeField("expires_at", &e.ExpiresAt) &&
		s.timeField("click_time", &e.ClickTime) && s.field("user_key", &e.UserKey) && s.field("ua_class", &e.UAClass)
	if !ok {
		return false
	}
	switch {
	case s.lit(`,"datacenter":true`):
		e.Datacenter = true
	case s.lit(`,"datacenter":false`):
	}
	return s.lit("}") && s.i == len(s.data)
}

type scanner struct {
	data []byte
	i    int
}

func (s *scanner) peekLit(lit string) bool {
	return len(s.data)-s.i >= len(lit) && string(s.data[s.i:s.i+len(lit)]) == lit
}

func (s *scanner) lit(lit string) bool {
	if !s.peekLit(lit) {
		return false
	}
	s.i += len(lit)
	return true
}

// int reads a small non-negative integer without leading zeros.
func (s *scanner) int() (int, bool) {
	start := s.i
	for s.i < len(s.data) && s.i-start < 9 && '0' <= s.data[s.i] && s.data[s.i] <= '9' {
		s.i++
	}
	if s.i == start || s.data[start] == '0' && s.i-start > 1 {
		return 0, false
	}
	n, err := strconv.Atoi(string(s.data[start:s.i]))
	return n, err == nil
}

// field reads `,"name":"value"` where value has no escapes, no control
// bytes and is valid UTF-8 (what encoding/json would replace or reject
// goes the slow way).
func (s *scanner) field(name string, dst *string) bool {
	if !s.lit(`,"`) || !s.lit(name) || !s.lit(`":"`) {
		return false
	}
	start := s.i
	ascii := true
	for ; s.i < len(s.data); s.i++ {
		b := s.data[s.i]
		switch {
		case b == '"':
			v := s.data[start:s.i]
			if !ascii && !utf8.Valid(v) {
				return false
			}
			*dst = string(v)
			s.i++
			return true
		case b == '\\' || b < 0x20:
			return false
		case b >= utf8.RuneSelf:
			ascii = false
		}
	}
	return false
}

// timeField reads `,"name":"<RFC 3339>"` through time.Time's own
// UnmarshalJSON, as encoding/json does.
func (s *scanner) timeField(name string, t *time.Time) bool {
	if !s.lit(`,"`) || !s.lit(name) || !s.lit(`":`) || !s.peekLit(`"`) {
		return false
	}
	start := s.i
	end := start + 1
	for end < len(s.data) && s.data[end] != '"' {
		if s.data[end] == '\\' {
			return false
		}
		end++
	}
	if end == len(s.data) {
		return false
	}
	s.i = end + 1
	return t.UnmarshalJSON(s.data[start:s.i]) == nil
}
