package clickevent

import (
	"strconv"
	"time"
	"unicode/utf8"
)

// AppendJSON appends e's JSON encoding to dst. It writes exactly what
// encoding/json would for Event (a test holds it to that), without
// reflection: this runs once per click on the hot path.
func AppendJSON(dst []byte, e *Event) []byte {
	dst = append(dst, `{"v":`...)
	dst = strconv.AppendInt(dst, int64(e.SchemaVersion), 10)
	dst = appendField(dst, "click_id", e.ClickID)
	dst = appendField(dst, "impression_id", e.ImpressionID)
	dst = appendField(dst, "ad_id", e.AdID)
	dst = appendField(dst, "advertiser_id", e.AdvertiserID)
	dst = appendField(dst, "campaign_id", e.CampaignID)
	if e.PlacementID != "" {
		dst = appendField(dst, "placement_id", e.PlacementID)
	}
	dst = appendTime(dst, "impression_time", e.ImpressionTime)
	dst = appendTime(dst, "expires_at", e.ExpiresAt)
	dst = appendTime(dst, "click_time", e.ClickTime)
	dst = appendField(dst, "user_key", e.UserKey)
	dst = appendField(dst, "ua_class", e.UAClass)
	if e.Datacenter {
		dst = append(dst, `,"datacenter":true`...)
	}
	return append(dst, '}')
}

func appendField(dst []byte, name, v string) []byte {
	dst = append(dst, `,"`...)
	dst = append(dst, name...)
	dst = append(dst, `":`...)
	return appendString(dst, v)
}

func appendTime(dst []byte, name string, t time.Time) []byte {
	dst = append(dst, `,"`...)
	dst = append(dst, name...)
	dst = append(dst, `":"`...)
	dst = t.AppendFormat(dst, time.RFC3339Nano)
	return append(dst, '"')
}

const hexDigits = "0123456789abcdef"

// appendString quotes s as encoding/json does by default: HTML-sensitive
// characters and U+2028/U+2029 escaped, invalid UTF-8 replaced.
func appendString(dst []byte, s string) []byte {
	dst = append(dst, '"')
	for i := 0; i < len(s); {
		b := s[i]
		if b < utf8.RuneSelf {
			switch {
			case b == '"' || b == '\\':
				dst = append(dst, '\\', b)
			case b == '\n':
				dst = append(dst, '\\', 'n')
			case b == '\r':
				dst = append(dst, '\\', 'r')
			case b == '\t':
				dst = append(dst, '\\', 't')
			case b < 0x20 || b == '<' || b == '>' || b == '&':
				dst = append(dst, '\\', 'u', '0', '0', hexDigits[b>>4], hexDigits[b&0xF])
			default:
				dst = append(dst, b)
			}
			i++
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		switch {
		case r == utf8.RuneError && size == 1:
			dst = append(dst, `\ufffd`...)
		case r == '\u2028' || r == '\u2029':
			dst = append(dst, '\\', 'u', '2', '0', '2', hexDigits[r&0xF])
		default:
			dst = append(dst, s[i:i+size]...)
		}
		i += size
	}
	return append(dst, '"')
}
