package clickevent

import (
	"bytes"
	"encoding/json"
	"errors"
	"reflect"
	"strings"
	"testing"
	"time"
)

func sample() *Event {
	t0 := time.Date(2026, 11, 27, 12, 0, 0, 0, time.UTC)
	return &Event{
		SchemaVersion: SchemaVersion, ClickID: "c1", ImpressionID: "i1", AdID: "ad1",
		AdvertiserID: "adv1", CampaignID: "camp1", PlacementID: "p1",
		ImpressionTime: t0, ExpiresAt: t0.Add(time.Hour), ClickTime: t0.Add(1500 * time.Millisecond),
		UserKey: "u1", UAClass: UABrowser,
	}
}

func TestRoundTrip(t *testing.T) {
	e := sample()
	data, err := Marshal(e)
	if err != nil {
		t.Fatal(err)
	}
	got, err := Unmarshal(data)
	if err != nil {
		t.Fatal(err)
	}
	if got != *e {
		t.Errorf("round trip = %+v, want %+v", got, *e)
	}
	attrs := Attributes(e)
	if attrs[AttrClickTime] != "2026-11-27T12:00:01.500Z" || attrs[AttrImpressionID] != "i1" || attrs[AttrClickID] != "c1" {
		t.Errorf("attributes = %v", attrs)
	}
}

func TestUnmarshalRejects(t *testing.T) {
	good, _ := Marshal(sample())
	tests := []struct {
		name string
		data []byte
		want error
	}{
		{"not json", []byte("{"), ErrMalformed},
		{"wrong type", []byte(`{"v":"1"}`), ErrMalformed},
		{"future version", bytes.Replace(good, []byte(`"v":1`), []byte(`"v":2`), 1), ErrVersion},
		{"no version", bytes.Replace(good, []byte(`"v":1,`), nil, 1), ErrVersion},
		{"no ad", bytes.Replace(good, []byte(`"ad_id":"ad1"`), []byte(`"ad_id":""`), 1), ErrMissing},
		{"no click time", bytes.Replace(good, []byte(`"click_time":"2026-11-27T12:00:01.5Z"`), []byte(`"click_time":"0001-01-01T00:00:00Z"`), 1), ErrMissing},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if _, err := Unmarshal(tt.data); !errors.Is(err, tt.want) {
				t.Errorf("Unmarshal(%s) error = %v, want %v", tt.data, err, tt.want)
			}
		})
	}
}

func TestClassifyUserAgent(t *testing.T) {
	tests := []struct{ ua, want string }{
		{"Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 Chrome/120.0 Safari/537.36", UABrowser},
		{"Mozilla/5.0 (iPhone; CPU iPhone OS 17_0 like Mac OS X) Mobile/15E148", UAMobile},
		{"Mozilla/5.0 (Linux; Android 14) Chrome/120.0 Mobile Safari/537.36", UAMobile},
		{"Googlebot/2.1 (+http://www.google.com/bot.html)", UABot},
		{"Mozilla/5.0 (X11; Linux x86_64) HeadlessChrome/120.0", UABot},
		{"curl/8.5.0", UABot},
		{"", UABot},
		{"SomeTV/1.0", UAOther},
	}
	for _, tt := range tests {
		if got := ClassifyUserAgent(tt.ua); got != tt.want {
			t.Errorf("ClassifyUserAgent(%q) = %q, want %q", tt.ua, got, tt.want)
		}
	}
}

func TestUserKey(t *testing.T) {
	if _, err := NewUserKeyer([]byte("short")); err == nil {
		t.Error("accepted a short pepper")
	}
	k1, _ := NewUserKeyer(bytes.Repeat([]byte{1}, 32))
	k2, _ := NewUserKeyer(bytes.Repeat([]byte{2}, 32))
	a := k1.FromClient("203.0.113.7", "ua")
	if a != k1.FromClient("203.0.113.7", "ua") {
		t.Error("user key is not stable")
	}
	if a == k2.FromClient("203.0.113.7", "ua") || a == k1.FromClient("203.0.113.8", "ua") || a == k1.FromCookie("203.0.113.7") {
		t.Error("user key collides across pepper, address or kind")
	}
	if strings.Contains(a, "203") || len(a) != 32 {
		t.Errorf("user key %q leaks input or has wrong length", a)
	}
}

func TestAppendJSONMatchesEncodingJSON(t *testing.T) {
	odd := sample()
	odd.PlacementID = ""
	odd.CampaignID = "a\"b\\c\n\t<script>&\u2028\x01é\xff"
	odd.ClickTime = time.Date(2026, 3, 29, 1, 59, 59, 123456789, time.FixedZone("X", 3600))
	for _, e := range []*Event{sample(), odd, {}} {
		want, err := json.Marshal(e)
		if err != nil {
			t.Fatal(err)
		}
		if got := AppendJSON(nil, e); !bytes.Equal(got, want) {
			t.Errorf("AppendJSON =\n%s\nencoding/json =\n%s", got, want)
		}
	}
}

func BenchmarkMarshal(b *testing.B) {
	e := sample()
	b.ReportAllocs()
	for b.Loop() {
		Marshal(e)
	}
}

// FuzzDecode: whatever the scan of AppendJSON's shape accepts decodes as
// encoding/json decodes it, and Unmarshal agrees with encoding/json on
// every input (the same event, or both refuse).
func FuzzDecode(f *testing.F) {
	odd := sample()
	odd.CampaignID = "é\u2028x"
	odd.Datacenter = true
	for _, e := range []*Event{sample(), odd, {}} {
		f.Add(AppendJSON(nil, e))
	}
	f.Add([]byte(`{"v":1,"click_id":"a\"b","impression_id":"x"}`))
	f.Add([]byte(`{"v":01}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		var want Event
		wantErr := json.Unmarshal(data, &want)
		var fast Event
		if decodeFast(data, &fast) {
			if wantErr != nil || !reflect.DeepEqual(fast, want) {
				t.Fatalf("the scan accepted %q as %+v; encoding/json: %+v, %v", data, fast, want, wantErr)
			}
		}
		var got Event
		if err := decode(data, &got); (err == nil) != (wantErr == nil) || err == nil && !reflect.DeepEqual(got, want) {
			t.Fatalf("decode(%q) = %+v, %v; encoding/json: %+v, %v", data, got, err, want, wantErr)
		}
	})
}

// TestDecodeTakesTheFastPath: the click service's own events never need
// encoding/json.
func TestDecodeTakesTheFastPath(t *testing.T) {
	noPlacement := sample()
	noPlacement.PlacementID = ""
	dc := sample()
	dc.Datacenter = true
	for _, e := range []*Event{sample(), noPlacement, dc} {
		var got Event
		if !decodeFast(AppendJSON(nil, e), &got) || !reflect.DeepEqual(&got, e) {
			t.Errorf("decodeFast(AppendJSON(%+v)) = %+v", e, got)
		}
	}
}

func BenchmarkUnmarshal(b *testing.B) {
	data := AppendJSON(nil, sample())
	b.ReportAllocs()
	for b.Loop() {
		if _, err := Unmarshal(data); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkUnmarshalEncodingJSON(b *testing.B) {
	data := AppendJSON(nil, sample())
	b.ReportAllocs()
	for b.Loop() {
		var e Event
		if err := json.Unmarshal(data, &e); err != nil {
			b.Fatal(err)
		}
	}
}
