package catalog

import (
	"context"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestParseSampleCatalog(t *testing.T) {
	data, err := os.ReadFile("../../config/catalog.json")
	if err != nil {
		t.Fatal(err)
	}
	c, err := Parse(data)
	if err != nil {
		t.Fatal(err)
	}
	ad, ok := c.Ad("acme-trail-1")
	if !ok || ad.AdvertiserID != "acme" || ad.Status != StatusActive || !strings.HasPrefix(ad.LandingURL, "http://localhost:8090/") {
		t.Errorf("acme-trail-1 = %+v, %v", ad, ok)
	}
	if _, ok := c.Ad("nope"); ok {
		t.Error("found an unknown ad")
	}
}

const keyHash = `"abababababababababababababababababababababababababababababababab"`

func TestParseRejects(t *testing.T) {
	ad := func(id, url, status string) string {
		return `{"advertisers":[{"id":"a","name":"A","ads":[{"id":"` + id + `","landing_url":"` + url + `","status":"` + status + `"}]}]}`
	}
	tests := []struct{ name, doc string }{
		{"not json", "{"},
		{"javascript url", ad("x", "javascript:alert(1)", "active")},
		{"relative url", ad("x", "/local", "active")},
		{"protocol-relative url", ad("x", "//evil.example/", "active")},
		{"credentials in url", ad("x", "https://user:pw@evil.example/", "active")},
		{"unknown status", ad("x", "https://a.example/", "live")},
		{"bad ad id", ad("x/../y", "https://a.example/", "active")},
		{"duplicate ad", `{"advertisers":[{"id":"a","ads":[{"id":"x","landing_url":"https://a.example/","status":"active"}]},{"id":"b","ads":[{"id":"x","landing_url":"https://b.example/","status":"active"}]}]}`},
		{"duplicate advertiser", `{"advertisers":[{"id":"a","ads":[]},{"id":"a","ads":[]}]}`},
		{"one key hash under two advertisers", `{"advertisers":[{"id":"a","api_key_hashes":[` + keyHash + `],"ads":[]},{"id":"b","api_key_hashes":[` + keyHash + `],"ads":[]}]}`},
		{"key hash not hex", `{"advertisers":[{"id":"a","api_key_hashes":["` + strings.Repeat("zz", 32) + `"],"ads":[]}]}`},
		{"key hash too short", `{"advertisers":[{"id":"a","api_key_hashes":["abcd"],"ads":[]}]}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if _, err := Parse([]byte(tt.doc)); err == nil {
				t.Error("Parse accepted an invalid catalog")
			}
		})
	}
}

// TestParseKeyHashes: a well-formed hash is accepted, and the refusals
// above are for the rules, not the JSON.
func TestParseKeyHashes(t *testing.T) {
	for doc, want := range map[string]string{
		`{"advertisers":[{"id":"a","api_key_hashes":[` + keyHash + `],"ads":[]}]}`:                                                        "",
		`{"advertisers":[{"id":"a","api_key_hashes":[` + keyHash + `],"ads":[]},{"id":"b","api_key_hashes":[` + keyHash + `],"ads":[]}]}`: "listed under",
		`{"advertisers":[{"id":"a","api_key_hashes":["abcd"],"ads":[]}]}`:                                                                 "not 64 hex digits",
	} {
		_, err := Parse([]byte(doc))
		if (err == nil) != (want == "") || err != nil && !strings.Contains(err.Error(), want) {
			t.Errorf("Parse(%s) = %v, want %q", doc, err, want)
		}
	}
}

func TestWatcherReloadsOnChange(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "catalog.json")
	write := func(url string, mtime time.Time) {
		doc := `{"advertisers":[{"id":"a","ads":[{"id":"ad1","landing_url":"` + url + `","status":"active"}]}]}`
		if err := os.WriteFile(path, []byte(doc), 0o644); err != nil {
			t.Fatal(err)
		}
		// Distinct mtimes: some filesystems have coarse timestamps.
		if err := os.Chtimes(path, mtime, mtime); err != nil {
			t.Fatal(err)
		}
	}
	t0 := time.Now().Add(-time.Hour)
	write("https://one.example/", t0)
	ctx := context.Background()
	src, err := NewSource(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	reloads := 0
	w, err := NewWatcher(ctx, src, slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		t.Fatal(err)
	}
	w.OnReload = func(ok bool) {
		if ok {
			reloads++
		}
	}
	landing := func() string { ad, _ := w.Current().Ad("ad1"); return ad.LandingURL }

	write("https://two.example/", t0.Add(time.Second))
	if err := w.Poll(ctx); err != nil {
		t.Fatal(err)
	}
	if got := landing(); got != "https://two.example/" || reloads != 1 {
		t.Fatalf("after change landing = %q reloads = %d", got, reloads)
	}

	// A broken document keeps the last good catalog.
	if err := os.WriteFile(path, []byte("{broken"), 0o644); err != nil {
		t.Fatal(err)
	}
	os.Chtimes(path, t0.Add(2*time.Second), t0.Add(2*time.Second))
	if err := w.Poll(ctx); err == nil {
		t.Error("Poll accepted a broken catalog")
	}
	if got := landing(); got != "https://two.example/" {
		t.Errorf("after broken write landing = %q, want the last good one", got)
	}

	// Run picks up changes on its own.
	runCtx, cancel := context.WithCancel(ctx)
	defer cancel()
	go w.Run(runCtx, 10*time.Millisecond)
	write("https://three.example/", t0.Add(3*time.Second))
	deadline := time.Now().Add(5 * time.Second)
	for landing() != "https://three.example/" {
		if time.Now().After(deadline) {
			t.Fatalf("Run did not reload; landing = %q", landing())
		}
		time.Sleep(5 * time.Millisecond)
	}
}
