package server

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/adclick/adclick/internal/catalog"
	"github.com/adclick/adclick/internal/clickevent"
	"github.com/adclick/adclick/internal/obs"
	"github.com/adclick/adclick/internal/ratelimit"
	"github.com/adclick/adclick/internal/token"
	"github.com/adclick/adclick/redirect/netranges"
	"github.com/adclick/adclick/redirect/publish"
)

var now = time.Date(2026, 11, 27, 12, 0, 0, 0, time.UTC)

// recorder is the Publisher seam: these tests are about HTTP semantics;
// publishing against the real Pub/Sub fake is covered in publish and e2e.
type recorder struct {
	mu      sync.Mutex
	msgs    []publish.Message
	err     error
	discard bool // keep nothing (benchmarks)
}

func (r *recorder) Publish(_ context.Context, m publish.Message) (publish.Route, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.err != nil {
		return "", r.err
	}
	if !r.discard {
		r.msgs = append(r.msgs, m)
	}
	return publish.RoutePubSub, nil
}

type fixture struct {
	srv  *Server
	keys *token.Keyring
	pub  *recorder
}

// datacenters are the fixture's data-centre ranges.
var datacenters, _ = netranges.Parse(strings.NewReader("192.0.2.0/24\n2001:db8:dc::/48\n"))

func newFixture(t testing.TB, limiter *ratelimit.Limiter) *fixture {
	t.Helper()
	keys, err := token.NewKeyring("k1", map[string][]byte{"k1": bytes.Repeat([]byte{7}, 32)})
	if err != nil {
		t.Fatal(err)
	}
	data, err := os.ReadFile("../../config/catalog.json")
	if err != nil {
		t.Fatal(err)
	}
	cat, err := catalog.Parse(data)
	if err != nil {
		t.Fatal(err)
	}
	uk, _ := clickevent.NewUserKeyer(bytes.Repeat([]byte{9}, 32))
	reg := obs.NewRegistry()
	pub := &recorder{}
	srv, err := New(Config{
		Keys: keys, Catalog: func() *catalog.Catalog { return cat }, Publisher: pub, UserKeys: uk, Limiter: limiter,
		Log: slog.New(slog.NewTextHandler(io.Discard, nil)), Registry: reg, Metrics: NewMetrics(reg, noSpool{}),
		Health: obs.NewHealth(), Now: func() time.Time { return now }, PublicBase: "https://click.example",
		AdServerSecrets: []string{"ad-server-secret-1234"}, DefaultTTL: time.Hour, MaxTTL: 2 * time.Hour,
		Datacenters: datacenters,
	})
	if err != nil {
		t.Fatal(err)
	}
	return &fixture{srv: srv, keys: keys, pub: pub}
}

func (f *fixture) token(t testing.TB, ad string, issued time.Time) string {
	t.Helper()
	tok, err := f.keys.Sign(token.Claims{ImpressionID: token.NewImpressionID(), AdID: ad, PlacementID: "p1", IssuedAt: issued, ExpiresAt: issued.Add(time.Hour)})
	if err != nil {
		t.Fatal(err)
	}
	return tok
}

func (f *fixture) do(req *http.Request) *httptest.ResponseRecorder {
	w := httptest.NewRecorder()
	f.srv.Handler().ServeHTTP(w, req)
	return w
}

func TestClick(t *testing.T) {
	f := newFixture(t, nil)
	good := f.token(t, "acme-trail-1", now.Add(-time.Minute))
	tests := []struct {
		name      string
		path      string
		ua        string
		code      int
		location  string
		published bool
	}{
		{"valid click redirects to the catalog URL", "/c/" + good, "Mozilla/5.0", 302, "http://localhost:8090/acme/trail?utm_source=adclick", true},
		{"duplicate click still redirects", "/c/" + good, "Mozilla/5.0", 302, "http://localhost:8090/acme/trail?utm_source=adclick", true},
		{"expired link redirects, recorded as expired", "/c/" + f.token(t, "acme-road-1", now.Add(-2*time.Hour)), "Mozilla/5.0", 302, "http://localhost:8090/acme/road", true},
		{"tampered token", "/c/" + good[:len(good)-2] + "AA", "", 400, "", false},
		{"truncated token", "/c/" + good[:20], "", 400, "", false},
		{"oversized token", "/c/" + strings.Repeat("A", 300), "", 400, "", false},
		{"paused ad", "/c/" + f.token(t, "acme-winter-0", now), "", 410, "", false},
		{"archived ad", "/c/" + f.token(t, "globex-retired", now), "", 410, "", false},
		{"unknown ad", "/c/" + f.token(t, "no-such-ad", now), "", 404, "", false},
		{"redirect target in the query is ignored", "/c/" + good + "?url=https://evil.example/", "Mozilla/5.0", 302, "http://localhost:8090/acme/trail?utm_source=adclick", true},
		{"path traversal", "/c/../../etc/passwd", "", 404, "", false},
		{"no token", "/c/", "", 404, "", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			before := len(f.pub.msgs)
			req := httptest.NewRequest(http.MethodGet, tt.path, nil)
			req.Header.Set("User-Agent", tt.ua)
			w := f.do(req)
			if w.Code != tt.code {
				t.Fatalf("status %d, want %d (body %q)", w.Code, tt.code, w.Body.String())
			}
			if got := w.Header().Get("Location"); got != tt.location {
				t.Errorf("Location %q, want %q", got, tt.location)
			}
			if tt.code == http.StatusFound {
				h := w.Header()
				if h.Get("Cache-Control") != "no-store" || h.Get("Content-Length") != "0" || w.Body.Len() != 0 {
					t.Errorf("302 with Cache-Control %q, Content-Length %q and %d body bytes; want no-store, 0 and none",
						h.Get("Cache-Control"), h.Get("Content-Length"), w.Body.Len())
				}
			}
			if published := len(f.pub.msgs) > before; published != tt.published {
				t.Errorf("published = %v, want %v", published, tt.published)
			}
		})
	}
}

func TestClickEventContents(t *testing.T) {
	f := newFixture(t, nil)
	issued := now.Add(-time.Minute)
	tok := f.token(t, "globex-lisbon", issued)
	claims, _ := f.keys.Verify(tok, now)
	req := httptest.NewRequest(http.MethodGet, "/c/"+tok, nil)
	req.Header.Set("User-Agent", "Mozilla/5.0 (iPhone; CPU iPhone OS 17_0) Mobile")
	req.Header.Set("X-Forwarded-For", "198.51.100.9") // untrusted: ignored
	req.RemoteAddr = "203.0.113.5:4444"
	w := f.do(req)
	if w.Code != 302 || len(f.pub.msgs) != 1 {
		t.Fatalf("status %d, %d messages", w.Code, len(f.pub.msgs))
	}
	m := f.pub.msgs[0]
	ev, err := clickevent.Unmarshal(m.Data)
	if err != nil {
		t.Fatal(err)
	}
	if ev.ImpressionID != claims.ImpressionID.String() || ev.AdID != "globex-lisbon" || ev.AdvertiserID != "globex" ||
		ev.CampaignID != "city-breaks" || ev.PlacementID != "p1" || !ev.ClickTime.Equal(now) ||
		!ev.ImpressionTime.Equal(issued) || ev.UAClass != clickevent.UAMobile || len(ev.UserKey) != 32 {
		t.Errorf("event = %+v", ev)
	}
	if strings.Contains(string(m.Data), "203.0.113.5") || strings.Contains(string(m.Data), "198.51.100.9") {
		t.Error("event carries a raw IP address")
	}
	if m.Attributes[clickevent.AttrImpressionID] != ev.ImpressionID || m.Attributes[clickevent.AttrClickTime] != "2026-11-27T12:00:00.000Z" || m.Attributes[clickevent.AttrClickID] != ev.ClickID {
		t.Errorf("attributes = %v", m.Attributes)
	}
	var cookie *http.Cookie
	for _, c := range w.Result().Cookies() {
		if c.Name == CookieName {
			cookie = c
		}
	}
	if cookie == nil || !cookie.HttpOnly || !cookie.Secure || cookie.Path != "/c/" || cookie.MaxAge != 365*24*3600 ||
		cookie.SameSite != http.SameSiteLaxMode || len(cookie.Value) != 32 {
		t.Fatalf("user cookie = %+v", cookie)
	}
	// The same browser keeps its user key on the next click.
	req2 := httptest.NewRequest(http.MethodGet, "/c/"+f.token(t, "globex-lisbon", now), nil)
	req2.AddCookie(cookie)
	req2.Header.Set("User-Agent", "Mozilla/5.0")
	f.do(req2)
	ev2, _ := clickevent.Unmarshal(f.pub.msgs[1].Data)
	if ev2.UserKey != ev.UserKey || ev2.ClickID == ev.ClickID {
		t.Errorf("second click user key %s click id %s; first %s %s", ev2.UserKey, ev2.ClickID, ev.UserKey, ev.ClickID)
	}
}

// TestDatacenterClicksAreFlagged: a click from a listed range is
// redirected and recorded with the flag, and neither carries the address.
func TestDatacenterClicksAreFlagged(t *testing.T) {
	f := newFixture(t, nil)
	for i, tt := range []struct {
		remote string
		want   bool
	}{
		{"192.0.2.77:1000", true},
		{"[2001:db8:dc::5]:1000", true},
		{"203.0.113.5:1000", false},
	} {
		req := httptest.NewRequest(http.MethodGet, "/c/"+f.token(t, "globex-lisbon", now.Add(-time.Minute)), nil)
		req.RemoteAddr = tt.remote
		if w := f.do(req); w.Code != http.StatusFound {
			t.Fatalf("%s: status %d", tt.remote, w.Code)
		}
		ev, err := clickevent.Unmarshal(f.pub.msgs[i].Data)
		if err != nil {
			t.Fatal(err)
		}
		if ev.Datacenter != tt.want {
			t.Errorf("click from %s: datacenter %v, want %v", tt.remote, ev.Datacenter, tt.want)
		}
		if strings.Contains(string(f.pub.msgs[i].Data), "192.0.2") || strings.Contains(string(f.pub.msgs[i].Data), "2001:db8") {
			t.Errorf("event from %s carries the address: %s", tt.remote, f.pub.msgs[i].Data)
		}
	}
}

func TestClickNotRecordedIsNotRedirected(t *testing.T) {
	f := newFixture(t, nil)
	f.pub.err = errors.New("disk full")
	w := f.do(httptest.NewRequest(http.MethodGet, "/c/"+f.token(t, "acme-trail-1", now), nil))
	if w.Code != http.StatusServiceUnavailable || w.Header().Get("Location") != "" {
		t.Errorf("status %d location %q, want 503 and no redirect", w.Code, w.Header().Get("Location"))
	}
}

func TestRateLimit(t *testing.T) {
	f := newFixture(t, ratelimit.New(1, 3))
	tok := f.token(t, "acme-trail-1", now)
	codes := map[int]int{}
	for range 5 {
		req := httptest.NewRequest(http.MethodGet, "/c/"+tok, nil)
		req.RemoteAddr = "192.0.2.1:1000"
		w := f.do(req)
		codes[w.Code]++
		if w.Code == 429 && w.Header().Get("Retry-After") == "" {
			t.Error("429 without Retry-After")
		}
	}
	if codes[302] != 3 || codes[429] != 2 {
		t.Errorf("codes = %v, want 3x302 and 2x429", codes)
	}
	req := httptest.NewRequest(http.MethodGet, "/c/"+tok, nil)
	req.RemoteAddr = "192.0.2.2:1000"
	if w := f.do(req); w.Code != 302 {
		t.Errorf("another client got %d", w.Code)
	}
}

func TestMint(t *testing.T) {
	f := newFixture(t, nil)
	const auth = "Bearer ad-server-secret-1234"
	tests := []struct {
		name, auth, ctype, body string
		code                    int
		count                   int
	}{
		{"one", auth, "application/json", `{"ad_id":"acme-trail-1","placement_id":"home"}`, 201, 1},
		{"several with ttl", auth, "application/json", `{"ad_id":"acme-trail-1","count":5,"ttl_seconds":600}`, 201, 5},
		{"no auth", "", "application/json", `{"ad_id":"acme-trail-1"}`, 401, 0},
		{"wrong secret", "Bearer nope-nope-nope-nope", "application/json", `{"ad_id":"acme-trail-1"}`, 401, 0},
		{"basic auth", "Basic YTpi", "application/json", `{"ad_id":"acme-trail-1"}`, 401, 0},
		{"unknown ad", auth, "application/json", `{"ad_id":"nope"}`, 404, 0},
		{"paused ad", auth, "application/json", `{"ad_id":"acme-winter-0"}`, 409, 0},
		{"missing ad", auth, "application/json", `{}`, 400, 0},
		{"unknown field", auth, "application/json", `{"ad_id":"acme-trail-1","landing_url":"https://evil.example"}`, 400, 0},
		{"ttl too long", auth, "application/json", `{"ad_id":"acme-trail-1","ttl_seconds":99999}`, 400, 0},
		{"count too big", auth, "application/json", `{"ad_id":"acme-trail-1","count":1000}`, 400, 0},
		{"not json", auth, "application/json", `ad_id=x`, 400, 0},
		{"wrong content type", auth, "text/plain", `{"ad_id":"acme-trail-1"}`, 400, 0},
		{"oversized body", auth, "application/json", `{"ad_id":"acme-trail-1","placement_id":"` + strings.Repeat("x", 9000) + `"}`, 413, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			req := httptest.NewRequest(http.MethodPost, "/v1/impressions", strings.NewReader(tt.body))
			req.Header.Set("Content-Type", tt.ctype)
			if tt.auth != "" {
				req.Header.Set("Authorization", tt.auth)
			}
			w := f.do(req)
			if w.Code != tt.code {
				t.Fatalf("status %d, want %d: %s", w.Code, tt.code, w.Body.String())
			}
			if tt.code != 201 {
				var e map[string]string
				if json.Unmarshal(w.Body.Bytes(), &e) != nil || e["error"] == "" {
					t.Errorf("error body %q has no reason", w.Body.String())
				}
				return
			}
			var resp MintResponse
			if err := json.Unmarshal(w.Body.Bytes(), &resp); err != nil {
				t.Fatal(err)
			}
			if len(resp.Impressions) != tt.count {
				t.Fatalf("%d impressions, want %d", len(resp.Impressions), tt.count)
			}
			for _, imp := range resp.Impressions {
				tok, ok := strings.CutPrefix(imp.ClickURL, "https://click.example/c/")
				if !ok {
					t.Fatalf("click url %q", imp.ClickURL)
				}
				c, err := f.keys.Verify(tok, now)
				if err != nil || c.ImpressionID.String() != imp.ImpressionID || c.AdID != "acme-trail-1" || !c.ExpiresAt.Equal(imp.ExpiresAt) {
					t.Errorf("minted token %+v %v for %+v", c, err, imp)
				}
			}
		})
	}
}

func TestUnknownRoutesAndMethods(t *testing.T) {
	f := newFixture(t, nil)
	for _, tt := range []struct {
		method, path string
		code         int
	}{
		{"GET", "/", 404}, {"POST", "/c/abc", 405}, {"GET", "/v1/impressions", 405}, {"GET", "/healthz", 200}, {"GET", "/metrics", 404},
	} {
		if w := f.do(httptest.NewRequest(tt.method, tt.path, nil)); w.Code != tt.code {
			t.Errorf("%s %s = %d, want %d", tt.method, tt.path, w.Code, tt.code)
		}
	}
}

func TestEscapeNonASCII(t *testing.T) {
	tests := []struct{ in, want string }{
		{"https://example.com/a?b=c", "https://example.com/a?b=c"},
		{"https://example.com/caf\u00e9", "https://example.com/caf%C3%A9"},
		{"https://example.com/\u00e9/x?q=\u00fc", "https://example.com/%C3%A9/x?q=%C3%BC"},
		{"", ""},
	}
	for _, tt := range tests {
		if got := escapeNonASCII(tt.in); got != tt.want {
			t.Errorf("escapeNonASCII(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

// discardWriter is a ResponseWriter that keeps only the status, so the
// benchmark measures the handler, not a recorder.
type discardWriter struct {
	h    http.Header
	code int
}

func (w *discardWriter) Header() http.Header         { return w.h }
func (w *discardWriter) Write(p []byte) (int, error) { return len(p), nil }
func (w *discardWriter) WriteHeader(code int)        { w.code = code }

// BenchmarkClick is the click handler's own cost, in process, with
// publishing stubbed out: token, catalog, rate limit, event, cookie,
// metrics and the 302. cmd/clickbench measures the service over the wire.
func BenchmarkClick(b *testing.B) {
	f := newFixture(b, ratelimit.New(1e9, 1e9))
	f.pub.discard = true
	reqs := make([]*http.Request, 1024)
	for i := range reqs {
		r := httptest.NewRequest(http.MethodGet, "/c/"+f.token(b, "acme-trail-1", now.Add(-time.Minute)), nil)
		r.Header.Set("User-Agent", "Mozilla/5.0 (X11; Linux x86_64) Chrome/120.0")
		reqs[i] = r
	}
	h := f.srv.Handler()
	w := &discardWriter{h: http.Header{}}
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		clear(w.h)
		h.ServeHTTP(w, reqs[i%len(reqs)])
		if w.code != http.StatusFound {
			b.Fatalf("status %d", w.code)
		}
	}
}

type noSpool struct{}

func (noSpool) Depth() int64       { return 0 }
func (noSpool) Quarantined() int64 { return 0 }
