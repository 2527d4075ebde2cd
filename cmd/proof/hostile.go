package main

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"net/url"
	"strings"
	"time"
)

// hostileCase is one attack and the answers it may get.
type hostileCase struct {
	name  string
	req   func() *http.Request
	allow []int
	// location, if set, must hold for any redirect's Location.
	location func(string) bool
}

// hostileResult counts how a case went.
type hostileResult struct {
	name       string
	sent       int
	unexpected map[int]int
}

// hostile runs every attack against the click service and the reports
// API. None may crash a process, redirect off the catalog, or create a
// countable click; each gets its documented status.
func hostile(ctx context.Context, s *stack, validURL string, offCatalog func(status int)) []hostileResult {
	catalogHosts := func(loc string) bool {
		u, err := url.Parse(loc)
		return err == nil && u.Host == "localhost:8090"
	}
	get := func(base, path string, hdr ...string) func() *http.Request {
		return func() *http.Request {
			req, _ := http.NewRequestWithContext(ctx, http.MethodGet, base+path, nil)
			for i := 0; i+1 < len(hdr); i += 2 {
				req.Header.Set(hdr[i], hdr[i+1])
			}
			return req
		}
	}
	fuzz := func() *http.Request {
		b := make([]byte, 8+rand.IntN(200))
		for i := range b {
			b[i] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"[rand.IntN(64)]
		}
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, s.clickBase+"/c/"+string(b), nil)
		return req
	}
	mint := func(body string, size int) func() *http.Request {
		return func() *http.Request {
			if size > 0 {
				body = `{"ad_id":"acme-trail-1","placement_id":"` + strings.Repeat("x", size) + `"}`
			}
			req, _ := http.NewRequestWithContext(ctx, http.MethodPost, s.clickBase+"/v1/impressions", bytes.NewReader([]byte(body)))
			req.Header.Set("Authorization", "Bearer "+s.secrets.AdServerSecret)
			req.Header.Set("Content-Type", "application/json")
			return req
		}
	}
	validPath := validURL[strings.Index(validURL, "/c/"):]
	acme, globex := s.apiKeys["acme"], s.apiKeys["globex"]
	cases := []hostileCase{
		{"fuzzed tokens", fuzz, []int{400}, nil},
		{"oversized token", get(s.clickBase, "/c/"+strings.Repeat("A", 8000)), []int{400, 414, 431}, nil},
		{"path traversal on the click URL", get(s.clickBase, "/c/..%2f..%2fetc%2fpasswd"), []int{400, 404}, nil},
		{"NUL in the token", get(s.clickBase, "/c/AAAA%00BBBB"), []int{400}, nil},
		{"off-catalog redirect via query", get(s.clickBase, validPath+"?url=https://evil.example/&redirect=//evil.example"), []int{302}, catalogHosts},
		{"scheme-relative path", get(s.clickBase, "//evil.example/c/x"), []int{400, 404, 301, 307}, func(loc string) bool { return !strings.Contains(loc, "evil.example") }},
		{"malformed mint body", mint(`{"ad_id":`, 0), []int{400}, nil},
		{"oversized mint body", mint("", 20000), []int{413}, nil},
		{"mint without the bearer", func() *http.Request {
			r := mint(`{"ad_id":"acme-trail-1"}`, 0)()
			r.Header.Del("Authorization")
			return r
		}, []int{401}, nil},
		{"reports without a key", get(s.reportURL, "/v1/ads"), []int{401}, nil},
		{"reports with a guessed key", get(s.reportURL, "/v1/ads", "Authorization", "Bearer guess"), []int{401}, nil},
		{"another advertiser's ad", get(s.reportURL, "/v1/ads/globex-lisbon/clicks", "Authorization", "Bearer "+acme), []int{404}, nil},
		{"path tricks on the reports API", get(s.reportURL, "/v1/ads/..%2f..%2fadvertiser/clicks", "Authorization", "Bearer "+globex), []int{404}, nil},
		{"bad parameters", get(s.reportURL, "/v1/advertiser/clicks?granularity=fortnight&tz=Nowhere/Land", "Authorization", "Bearer "+globex), []int{400}, nil},
	}
	client := &http.Client{Timeout: 10 * time.Second, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	var results []hostileResult
	for _, c := range cases {
		n := 1
		if c.name == "fuzzed tokens" {
			n = 300
		}
		r := hostileResult{name: c.name, unexpected: map[int]int{}}
		for range n {
			req := c.req()
			// Each attack from its own address; the flood below is the
			// one that comes from a single client.
			req.Header.Set("X-Forwarded-For", fmt.Sprintf("10.240.%d.%d", rand.IntN(250), 1+rand.IntN(250)))
			// Attacks wear a browser's user agent: the off-catalog attempt
			// then is a countable click, as the truth records it.
			req.Header.Set("User-Agent", browserUA)
			resp, err := client.Do(req)
			r.sent++
			if err != nil {
				r.unexpected[0]++
				continue
			}
			io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			if c.name == "off-catalog redirect via query" {
				offCatalog(resp.StatusCode)
			}
			ok := false
			for _, a := range c.allow {
				ok = ok || resp.StatusCode == a
			}
			if loc := resp.Header.Get("Location"); c.location != nil && loc != "" && !c.location(loc) {
				ok = false
			}
			if !ok {
				r.unexpected[resp.StatusCode]++
			}
		}
		results = append(results, r)
	}
	results = append(results, flood(ctx, s, client))
	return results
}

// flood sends 600 requests as fast as it can from one client address:
// the rate limit must answer 429 to the excess, and nothing else may fail.
func flood(ctx context.Context, s *stack, client *http.Client) hostileResult {
	r := hostileResult{name: "flood from one client", unexpected: map[int]int{}}
	limited := 0
	for range 600 {
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, s.clickBase+"/c/flood", nil)
		req.Header.Set("X-Forwarded-For", "10.250.250.250")
		resp, err := client.Do(req)
		r.sent++
		if err != nil {
			r.unexpected[0]++
			continue
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		switch resp.StatusCode {
		case http.StatusTooManyRequests:
			limited++
		case http.StatusBadRequest:
		default:
			r.unexpected[resp.StatusCode]++
		}
	}
	if limited == 0 {
		r.unexpected[-429] = 1 // no request was limited
	}
	return r
}

func (r hostileResult) String() string {
	if len(r.unexpected) == 0 {
		return fmt.Sprintf("%-34s %4d sent, all answered as documented", r.name, r.sent)
	}
	return fmt.Sprintf("%-34s %4d sent, UNEXPECTED answers %v", r.name, r.sent, r.unexpected)
}
