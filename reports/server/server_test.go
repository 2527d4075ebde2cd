package server

import (
	"context"
	"encoding/csv"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"regexp"
	"sort"
	"strings"
	"testing"
	"time"

	"cloud.google.com/go/bigtable"
	"github.com/gin-gonic/gin"

	"github.com/adclick/adclick/internal/apikey"
	"github.com/adclick/adclick/internal/btschema"
	"github.com/adclick/adclick/internal/catalog"
	"github.com/adclick/adclick/internal/gcpnames"
	"github.com/adclick/adclick/internal/localstack/lstest"
	"github.com/adclick/adclick/internal/ratelimit"
	"github.com/adclick/adclick/reports/query"
)

var (
	pepper = []byte("test-pepper-of-at-least-32-bytes-long")
	now    = time.Date(2026, 11, 27, 12, 30, 0, 0, time.UTC)
)

const catalogJSON = `{"advertisers": [
 {"id": "acme", "name": "Acme", "api_key_hashes": ["%ACME%", "%ACME2%"], "ads": [
   {"id": "acme-1", "campaign_id": "c", "landing_url": "https://acme.example/1", "status": "active"},
   {"id": "acme-2", "campaign_id": "c", "landing_url": "https://acme.example/2", "status": "paused"}]},
 {"id": "globex", "name": "Globex", "api_key_hashes": ["%GLOBEX%"], "ads": [
   {"id": "globex-1", "campaign_id": "c", "landing_url": "https://globex.example/1", "status": "active"}]}
]}`

func newTestServer(t *testing.T) *httptest.Server {
	t.Helper()
	return newTestServerWith(t, func(*Config) {})
}

// newTestServerWith lets a test change the configuration.
func newTestServerWith(t *testing.T, change func(*Config)) *httptest.Server {
	t.Helper()
	lstest.Start(t)
	lstest.KeepSpeedCells(t, gcpnames.LocalProject) // the fixture is dated
	doc := strings.NewReplacer("%ACME%", apikey.Hash(pepper, "acme-key"), "%ACME2%", apikey.Hash(pepper, "acme-key-rotated"),
		"%GLOBEX%", apikey.Hash(pepper, "globex-key")).Replace(catalogJSON)
	cat, err := catalog.Parse([]byte(doc))
	if err != nil {
		t.Fatal(err)
	}
	bt, err := bigtable.NewClient(context.Background(), gcpnames.LocalProject, gcpnames.BigtableInstance)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { bt.Close() })
	tbl := bt.Open(btschema.Table)
	// acme-1 got 3 clicks at 12:05 and 2 at 12:10; globex-1 7 at 12:05.
	for _, c := range []struct {
		adv, ad string
		at      time.Time
		n       int64
	}{
		{"acme", "acme-1", now.Add(-25 * time.Minute), 3}, {"acme", btschema.AllAds, now.Add(-25 * time.Minute), 3},
		{"acme", "acme-1", now.Add(-20 * time.Minute), 2}, {"acme", btschema.AllAds, now.Add(-20 * time.Minute), 2},
		{"globex", "globex-1", now.Add(-25 * time.Minute), 7},
		// Campaign c's series: each advertiser's own ("c" is an id both use).
		{"acme", btschema.CampaignSeries("c"), now.Add(-25 * time.Minute), 3}, {"acme", btschema.CampaignSeries("c"), now.Add(-20 * time.Minute), 2},
		{"globex", btschema.CampaignSeries("c"), now.Add(-25 * time.Minute), 7},
	} {
		m := bigtable.NewMutation()
		m.Set(btschema.FamilySpeed, btschema.Qualifier(btschema.Minute, c.at), btschema.SpeedTimestamp(c.at, c.n), btschema.EncodeCount(c.n))
		if err := tbl.Apply(context.Background(), btschema.RowKey(btschema.Minute, c.adv, c.ad, c.at), m); err != nil {
			t.Fatal(err)
		}
		if c.ad != btschema.AllAds {
			m := bigtable.NewMutation()
			m.Set(btschema.FamilySpeed, c.ad, btschema.SpeedTimestamp(c.at, c.n), btschema.EncodeCount(c.n))
			if err := tbl.Apply(context.Background(), btschema.TopRowKey(c.adv, c.at), m); err != nil {
				t.Fatal(err)
			}
		}
	}
	// 26 November is reconciled; acme-1's placements that day.
	day := time.Date(2026, 11, 26, 0, 0, 0, 0, time.UTC)
	run := btschema.BatchTimestamp(day.AddDate(0, 0, 1))
	pm := bigtable.NewMutation()
	pm.Set(btschema.FamilyBatch, "news-site/top", run, btschema.EncodeCount(4))
	pm.Set(btschema.FamilyBatch, btschema.OtherPlacements, run, btschema.EncodeCount(1))
	om := bigtable.NewMutation()
	om.Set(btschema.FamilyBatch, "invalid_too_fast", run, btschema.EncodeCount(2))
	om.Set(btschema.FamilyBatch, "counted", run, btschema.EncodeCount(5))
	mm := bigtable.NewMutation()
	mm.Set(btschema.FamilyBatch, btschema.ReconciledColumn, run, []byte("run"))
	for key, m := range map[string]*bigtable.Mutation{btschema.RowKey(btschema.Placement, "acme", "acme-1", day): pm,
		btschema.RowKey(btschema.Outcomes, "acme", "acme-1", day): om, btschema.ReconciledRowKey(day): mm} {
		if err := tbl.Apply(context.Background(), key, m); err != nil {
			t.Fatal(err)
		}
	}
	gin.SetMode(gin.TestMode)
	r := gin.New()
	cfg := Config{Catalog: func() *catalog.Catalog { return cat }, Pepper: pepper, Reader: query.NewReader(tbl, nil),
		Log: slog.New(slog.NewTextHandler(io.Discard, nil)), Now: func() time.Time { return now }}
	change(&cfg)
	New(cfg).Routes(r)
	srv := httptest.NewServer(r)
	t.Cleanup(srv.Close)
	return srv
}

func get(t *testing.T, srv *httptest.Server, path, key string, hdr ...string) (int, http.Header, string) {
	t.Helper()
	req, _ := http.NewRequest(http.MethodGet, srv.URL+path, nil)
	if key != "" {
		req.Header.Set("Authorization", "Bearer "+key)
	}
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, resp.Header, string(body)
}

func TestAPI(t *testing.T) {
	srv := newTestServer(t)
	hour := "from=2026-11-27T12:00:00Z&to=2026-11-27T12:30:00Z"
	tests := []struct {
		name, path, key string
		want            int
		contains        string
	}{
		{"no key", "/v1/ads", "", 401, "API key"},
		{"wrong key", "/v1/ads", "guess", 401, "API key"},
		{"own ads", "/v1/ads", "acme-key", 200, `"acme-2"`},
		{"rotated key works too", "/v1/ads", "acme-key-rotated", 200, `"advertiser_id":"acme"`},
		{"own ad's minutes", "/v1/ads/acme-1/clicks?" + hour, "acme-key", 200, `{"start":"2026-11-27T12:05:00Z","clicks":3,"final":false}`},
		{"another advertiser's ad is not found", "/v1/ads/globex-1/clicks?" + hour, "acme-key", 404, `no ad \"globex-1\"`},
		{"a missing ad is not found the same way", "/v1/ads/nope/clicks?" + hour, "acme-key", 404, `no ad \"nope\"`},
		{"advertiser total", "/v1/advertiser/clicks?granularity=hour&" + hour, "acme-key", 200, `"clicks":5`},
		{"top ads", "/v1/advertiser/top?minutes=60&n=5", "globex-key", 200, `{"ad_id":"globex-1","clicks":7,"final":false}`},
		{"unknown granularity", "/v1/advertiser/clicks?granularity=week", "acme-key", 400, `"param":"granularity"`},
		{"reversed range", "/v1/advertiser/clicks?from=2026-11-27T13:00:00Z&to=2026-11-27T12:00:00Z", "acme-key", 400, `"param":"from"`},
		{"bad zone", "/v1/advertiser/clicks?tz=Mars/Olympus", "acme-key", 400, `"param":"tz"`},
		{"range too long for minutes", "/v1/advertiser/clicks?from=2026-11-20&to=2026-11-27", "acme-key", 400, "range too long"},
		{"bad time", "/v1/advertiser/clicks?to=yesterday", "acme-key", 400, `"param":"to"`},
		{"top n too large", "/v1/advertiser/top?n=1000", "acme-key", 400, `"param":"n"`},
		{"top range too long", "/v1/advertiser/top?minutes=5000", "acme-key", 400, `"param":"minutes"`},
		{"days in a zone", "/v1/ads/acme-1/clicks?granularity=day&tz=Asia/Tokyo&from=2026-11-27&to=2026-11-28", "acme-key", 200, `"start":"2026-11-27T00:00:00+09:00","clicks":5`},
		{"campaigns of today's catalog", "/v1/campaigns", "acme-key", 200, `{"campaign_id":"c","ad_ids":["acme-1","acme-2"]}`},
		{"a campaign's series", "/v1/campaigns/c/clicks?granularity=hour&" + hour, "acme-key", 200, `"campaign_id":"c","from"`},
		{"a campaign's clicks are the caller's own", "/v1/campaigns/c/clicks?granularity=hour&" + hour, "acme-key", 200, `"clicks":5`},
		{"the same campaign id for another advertiser", "/v1/campaigns/c/clicks?granularity=hour&" + hour, "globex-key", 200, `"clicks":7`},
		{"a campaign no ad is in answers zeros", "/v1/campaigns/gone/clicks?granularity=hour&" + hour, "acme-key", 200, `"clicks":0`},
		{"a malformed campaign id", "/v1/campaigns/a%23b/clicks", "acme-key", 400, `"param":"campaign_id"`},
		{"top campaigns", "/v1/advertiser/top-campaigns?minutes=60&n=5", "acme-key", 200, `"campaigns":[{"campaign_id":"c","clicks":5,"final":false}]`},
		{"top ads leave campaigns out", "/v1/advertiser/top?minutes=60&n=5", "acme-key", 200, `"ads":[{"ad_id":"acme-1","clicks":5,"final":false}]`},
		{"an ad's placements", "/v1/ads/acme-1/placements?from=2026-11-20&to=2026-11-28", "acme-key", 200, `"placements":[{"placement_id":"news-site/top","clicks":4},{"placement_id":"(other)","clicks":1}]`},
		{"placements say which reconciled days they cover", "/v1/ads/acme-1/placements?from=2026-11-20&to=2026-11-28", "acme-key", 200, `"days_reconciled":["2026-11-26"]`},
		{"an ad's invalid clicks per reconciled day", "/v1/ads/acme-1/invalid?from=2026-11-20&to=2026-11-28", "acme-key", 200, `"days":[{"date":"2026-11-26","reasons":{"invalid_burst":0,"invalid_datacenter":0,"invalid_too_fast":2},"total":2}]`},
		{"another advertiser's ad's invalid clicks", "/v1/ads/acme-1/invalid", "globex-key", 404, `no ad \"acme-1\"`},
		{"invalid clicks as CSV", "/v1/ads/acme-1/invalid?from=2026-11-20&to=2026-11-28&format=csv", "acme-key", 200, "date,invalid_datacenter,invalid_too_fast,invalid_burst,total\n2026-11-26,0,2,0,2\n"},
		{"placements per day", "/v1/ads/acme-1/placements?from=2026-11-20&to=2026-11-28", "acme-key", 200, `"by_day":[{"date":"2026-11-26","placements":[{"placement_id":"news-site/top","clicks":4},{"placement_id":"(other)","clicks":1}]}]`},
		{"placements per day as CSV", "/v1/ads/acme-1/placements?from=2026-11-20&to=2026-11-28&format=csv", "acme-key", 200, "date,placement_id,clicks\n2026-11-26,news-site/top,4\n2026-11-26,(other),1\n"},
		{"another advertiser's ad's placements", "/v1/ads/acme-1/placements", "globex-key", 404, `no ad \"acme-1\"`},
		{"placements in a zone whose days are UTC days", "/v1/ads/acme-1/placements?from=2026-11-20&to=2026-11-28&tz=Europe/London", "acme-key", 200, `"days_reconciled":["2026-11-26"]`},
		{"placements in a zone: a day is final when every UTC day it overlaps is", "/v1/ads/acme-1/placements?from=2026-11-20&to=2026-11-28&tz=Asia/Tokyo", "acme-key", 200, `"days_reconciled":[],"from":"2026-11-19T15:00:00Z","placements":[],"to":"2026-11-27T15:00:00Z","tz":"Asia/Tokyo"`},
		{"invalid clicks in a zone", "/v1/ads/acme-1/invalid?from=2026-11-20&to=2026-11-28&tz=Asia/Kolkata", "acme-key", 200, `"days":[],"from":"2026-11-19T18:30:00Z"`},
		{"per-day views refuse an unknown zone", "/v1/ads/acme-1/invalid?tz=Mars/Olympus", "acme-key", 400, `"param":"tz"`},
		{"per-day views refuse days that do not start on a quarter hour", "/v1/ads/acme-1/placements?from=1899-03-01&to=1899-03-05&tz=Asia/Kolkata", "acme-key", 400, `not on a quarter hour`},
		{"placements over too long a range", "/v1/ads/acme-1/placements?from=2026-01-01&to=2026-11-28", "acme-key", 400, `"param":"from"`},
		{"a year in a zone whose year starts the UTC day before", "/v1/ads/acme-1/clicks?granularity=year&tz=Asia/Tokyo&from=2026-01-01&to=2027-01-01", "acme-key", 200, `[{"start":"2026-01-01T00:00:00+09:00","clicks":5,"final":false,"open":true}]`},
		{"the granularity error lists year", "/v1/advertiser/clicks?granularity=week", "acme-key", 400, "minute, hour, day, month, year"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, _, body := get(t, srv, tt.path, tt.key)
			if code != tt.want || !strings.Contains(body, tt.contains) {
				t.Errorf("GET %s = %d %s; want %d containing %s", tt.path, code, body, tt.want, tt.contains)
			}
		})
	}
}

func TestCSV(t *testing.T) {
	srv := newTestServer(t)
	path := "/v1/ads/acme-1/clicks?from=2026-11-27T12:04:00Z&to=2026-11-27T12:06:00Z"
	for _, how := range [][]string{{"?format=csv"}, {"", "Accept", "text/csv"}} {
		p := path
		if how[0] != "" {
			p += "&format=csv"
		}
		code, hdr, body := get(t, srv, p, "acme-key", how[1:]...)
		rows, err := csv.NewReader(strings.NewReader(body)).ReadAll()
		if code != 200 || !strings.HasPrefix(hdr.Get("Content-Type"), "text/csv") || err != nil {
			t.Fatalf("CSV: %d %s %v", code, hdr.Get("Content-Type"), err)
		}
		want := [][]string{{"start", "clicks", "final", "open"}, {"2026-11-27T12:04:00Z", "0", "false", "false"}, {"2026-11-27T12:05:00Z", "3", "false", "false"}}
		if len(rows) != len(want) || rows[2][1] != "3" || rows[1][1] != "0" {
			t.Errorf("CSV rows %v, want %v", rows, want)
		}
	}
}

// TestOpenAPIMatchesServer: every route the server answers is documented
// with its parameters, and every documented path and parameter exists.
func TestOpenAPIMatchesServer(t *testing.T) {
	srv := newTestServer(t)
	code, _, body := get(t, srv, "/openapi.json", "")
	if code != 200 {
		t.Fatalf("/openapi.json: %d", code)
	}
	var doc struct {
		Paths      map[string]map[string]struct{ Parameters []map[string]any } `json:"paths"`
		Components struct {
			Parameters map[string]struct{ Name string } `json:"parameters"`
		} `json:"components"`
	}
	if err := json.Unmarshal([]byte(body), &doc); err != nil {
		t.Fatal(err)
	}
	gin.SetMode(gin.TestMode)
	r := gin.New()
	New(Config{Catalog: func() *catalog.Catalog { return nil }, Log: slog.Default()}).Routes(r)
	served := map[string]bool{}
	for _, rt := range r.Routes() {
		if !strings.HasPrefix(rt.Path, "/v1/") {
			continue
		}
		p := regexp.MustCompile(`:(\w+)`).ReplaceAllString(rt.Path, "{$1}")
		served[p] = true
		if _, ok := doc.Paths[p][strings.ToLower(rt.Method)]; !ok {
			t.Errorf("%s %s is served but not documented", rt.Method, p)
		}
	}
	var paths []string
	for p := range doc.Paths {
		paths = append(paths, p)
		if !served[p] {
			t.Errorf("%s is documented but not served", p)
		}
	}
	sort.Strings(paths)
	// The query parameters each handler reads, as the source spells them.
	reads := map[string][]string{
		"/v1/ads":                            {},
		"/v1/ads/{ad_id}/clicks":             {"ad_id", "from", "to", "granularity", "tz", "format"},
		"/v1/advertiser/clicks":              {"from", "to", "granularity", "tz", "format"},
		"/v1/advertiser/top":                 {"minutes", "from", "to", "n", "format"},
		"/v1/advertiser/top-campaigns":       {"minutes", "from", "to", "n", "format"},
		"/v1/campaigns":                      {},
		"/v1/ads/{ad_id}/placements":         {"ad_id", "from", "to", "tz", "n", "format"},
		"/v1/ads/{ad_id}/invalid":            {"ad_id", "from", "to", "tz", "format"},
		"/v1/campaigns/{campaign_id}/clicks": {"campaign_id", "from", "to", "granularity", "tz", "format"},
	}
	for _, p := range paths {
		var names []string
		for _, prm := range doc.Paths[p]["get"].Parameters {
			if ref, ok := prm["$ref"].(string); ok {
				names = append(names, doc.Components.Parameters[ref[strings.LastIndex(ref, "/")+1:]].Name)
			} else {
				names = append(names, prm["name"].(string))
			}
		}
		sort.Strings(names)
		want := append([]string(nil), reads[p]...)
		sort.Strings(want)
		if strings.Join(names, ",") != strings.Join(want, ",") {
			t.Errorf("%s documents parameters %v, the handler reads %v", p, names, want)
		}
	}
}

func TestDashboardIsServed(t *testing.T) {
	srv := newTestServer(t)
	for path, want := range map[string]string{
		"/":                                      "<title>adclick reports</title>",
		"/static/app.js":                         "function signIn",
		"/static/vendor/uplot/uPlot.iife.min.js": "uPlot",
		"/static/vendor/uplot/LICENSE":           "MIT",
	} {
		code, _, body := get(t, srv, path, "")
		if code != 200 || !strings.Contains(body, want) {
			t.Errorf("GET %s = %d, want 200 containing %q", path, code, want)
		}
	}
}

// TestRateLimitPerKey: each API key has its own bucket; past it, 429 with
// Retry-After, and another key (another advertiser) is not affected.
func TestRateLimitPerKey(t *testing.T) {
	srv := newTestServerWith(t, func(c *Config) { c.Limiter = ratelimit.New(0.5, 3) })
	path := "/v1/ads/acme-1/clicks?granularity=minute&from=2026-11-27T12:00:00Z&to=2026-11-27T12:30:00Z"
	for i := range 3 {
		if code, _, body := get(t, srv, path, "acme-key"); code != http.StatusOK {
			t.Fatalf("request %d: %d %s", i+1, code, body)
		}
	}
	code, hdr, _ := get(t, srv, path, "acme-key")
	if code != http.StatusTooManyRequests || hdr.Get("Retry-After") != "2" {
		t.Errorf("4th request: %d, Retry-After %q; want 429 and 2", code, hdr.Get("Retry-After"))
	}
	if code, _, _ := get(t, srv, "/v1/ads/globex-1/clicks?granularity=minute&from=2026-11-27T12:00:00Z&to=2026-11-27T12:30:00Z", "globex-key"); code != http.StatusOK {
		t.Errorf("another advertiser's key got %d after acme's burst", code)
	}
}

// TestReadDeadline: a request's reads end at its deadline with a 503
// rather than running on.
func TestReadDeadline(t *testing.T) {
	srv := newTestServerWith(t, func(c *Config) { c.ReadTimeout = time.Nanosecond })
	code, _, body := get(t, srv, "/v1/ads/acme-1/clicks?granularity=minute&from=2026-11-27T12:00:00Z&to=2026-11-27T12:30:00Z", "acme-key")
	if code != http.StatusServiceUnavailable {
		t.Errorf("a read past its deadline answered %d %s, want 503", code, body)
	}
}

// TestHugeRangesAreRefusedOrCheap: the span caps answer 400 naming the
// parameter; allowed ranges far in the past or future read no rows and
// leave the marker cache bounded (before: 79 requests over years
// 0001-9999 took 7.7 s each and grew the heap by 294 MiB).
func TestHugeRangesAreRefusedOrCheap(t *testing.T) {
	var reader *query.Reader
	srv := newTestServerWith(t, func(c *Config) { reader = c.Reader })
	code, _, body := get(t, srv, "/v1/ads/acme-1/clicks?granularity=month&from=1901-12-01&to=2026-11-01", "acme-key")
	if code != http.StatusBadRequest || !strings.Contains(body, `"param":"from"`) {
		t.Errorf("125 years of months: %d %s, want 400 naming from", code, body)
	}
	for year := 1; year <= 9999; year += 125 { // 80 requests, as the review's
		path := fmt.Sprintf("/v1/ads/acme-1/clicks?granularity=month&from=%04d-01-01&to=%04d-12-01", year, min(year+24, 9999))
		if code, _, body := get(t, srv, path, "acme-key"); code != http.StatusOK {
			t.Fatalf("%s: %d %s", path, code, body)
		}
	}
	if n := reader.CachedDays(); n > 200 {
		t.Errorf("the marker cache holds %d days after requests over years 1-9999; want only days that can hold counts", n)
	}
}
