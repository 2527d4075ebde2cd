package e2e

import (
	"context"
	"encoding/json"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/cdp"
	cdplog "github.com/chromedp/cdproto/log"

	"github.com/chromedp/chromedp"

	"github.com/adclick/adclick/internal/apikey"
	"github.com/adclick/adclick/reports/app"
)

// chromium finds Debian's Chromium (.ci/run installs the package).
func chromium(t *testing.T) string {
	t.Helper()
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	t.Fatal("no Chromium found: the dashboard test drives a real browser; install Debian's chromium package (apt-get install chromium), as .ci/run does")
	return ""
}

// startReports runs the reports service in-process with a catalog in which
// acme's API key is key.
func (s *stack) startReports(t *testing.T, key string) string {
	t.Helper()
	dir := t.TempDir()
	pepper := filepath.Join(dir, "pepper")
	os.WriteFile(pepper, []byte("e2e-pepper-of-at-least-32-bytes-long"), 0o600)
	src, err := os.ReadFile("../config/catalog.json")
	if err != nil {
		t.Fatal(err)
	}
	var doc map[string]any
	json.Unmarshal(src, &doc)
	for _, a := range doc["advertisers"].([]any) {
		adv := a.(map[string]any)
		if adv["id"] == "acme" {
			adv["api_key_hashes"] = []string{apikey.Hash([]byte("e2e-pepper-of-at-least-32-bytes-long"), key)}
		}
	}
	data, _ := json.Marshal(doc)
	cat := filepath.Join(dir, "catalog.json")
	os.WriteFile(cat, data, 0o600)

	ctx, cancel := context.WithCancel(context.Background())
	addrc := make(chan string, 1)
	errc := make(chan error, 1)
	logs := &syncBuffer{}
	go func() {
		errc <- app.Run(ctx, []string{"-listen=127.0.0.1:0", "-admin-listen=127.0.0.1:0", "-project=" + project, "-catalog=" + cat, "-api-key-pepper-file=" + pepper,
			"-rate-limit=0"}, // the test polls the API far faster than a person
			func(string) (string, bool) { return "", false }, logs, func(a string) { addrc <- a })
	}()
	t.Cleanup(func() { cancel(); <-errc })
	select {
	case a := <-addrc:
		return "http://" + a
	case err := <-errc:
		t.Fatalf("reports service did not start: %v\n%s", err, logs)
	case <-time.After(30 * time.Second):
		t.Fatal("reports service did not start in 30s")
	}
	return ""
}

// apiTotal is acme's total over the dashboard's live view, from the API.
func apiTotal(t *testing.T, base, key string) int64 {
	t.Helper()
	req, _ := http.NewRequest(http.MethodGet, base+"/v1/advertiser/clicks?granularity=minute&from="+time.Now().Add(-time.Hour).UTC().Format(time.RFC3339)+"&to="+time.Now().Add(time.Minute).UTC().Format(time.RFC3339), nil)
	req.Header.Set("Authorization", "Bearer "+key)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var r struct{ Points []struct{ Clicks int64 } }
	if err := json.NewDecoder(resp.Body).Decode(&r); err != nil || resp.StatusCode != 200 {
		t.Fatalf("API series: %d %v", resp.StatusCode, err)
	}
	var n int64
	for _, p := range r.Points {
		n += p.Clicks
	}
	return n
}

// TestDashboardInBrowser signs in to the dashboard in headless Chromium,
// checks that the chart's numbers are the API's, then clicks an ad through
// the click service and watches the click appear on the live chart.
func TestDashboardInBrowser(t *testing.T) {
	browser := chromium(t)
	s := newStack(t)
	svc := s.startRedirect(t, t.TempDir())
	stop := s.runStreaming(t)
	defer stop()
	const key = "e2e-acme-key"
	base := s.startReports(t, key)

	urls, _ := s.mint(t, svc, "acme-trail-1", 4)
	asAPerson()
	for _, u := range urls[:3] {
		click(t, u)
	}
	waitFor(t, 40*time.Second, "first clicks in the speed layer", func() bool { return apiTotal(t, base, key) == 3 })

	opts := append(chromedp.DefaultExecAllocatorOptions[:], chromedp.ExecPath(browser), chromedp.NoSandbox, chromedp.Flag("headless", true))
	actx, cancelA := chromedp.NewExecAllocator(context.Background(), opts...)
	defer cancelA()
	// The browser's own log: a Content-Security-Policy violation (an
	// inline script or style the policy refuses) is reported there.
	var logMu sync.Mutex
	var browserLog []string
	ctx, cancel := chromedp.NewContext(actx, chromedp.WithListener(func(ev any) {
		if e, ok := ev.(*cdplog.EventEntryAdded); ok {
			logMu.Lock()
			browserLog = append(browserLog, e.Entry.Source.String()+": "+e.Entry.Text)
			logMu.Unlock()
		}
	}))
	defer cancel()
	// The first action starts the browser: no timeout on its context.
	if err := chromedp.Do(ctx, chromedp.Navigate(base+"/")); err != nil {
		t.Fatalf("open the dashboard: %v", err)
	}
	step, cancelT := context.WithTimeout(ctx, 2*time.Minute)
	defer cancelT()
	err := chromedp.Do(step,
		chromedp.WaitVisible("#key"),
		chromedp.SendKeys("#key", "not-a-key"),
		chromedp.Click("#signin-form button"),
		chromedp.Poll[chromedp.Void](`document.getElementById("error").textContent.includes("not valid")`),
		chromedp.SetValue("#key", key),
		chromedp.Click("#signin-form button"),
		chromedp.WaitVisible("#dash"),
		chromedp.Poll[chromedp.Void](`document.getElementById("total").dataset.total === "3"`, chromedp.WithPollingTimeout(30*time.Second)),
	)
	if err != nil {
		t.Fatalf("dashboard sign-in and first view: %v", err)
	}
	total, err := chromedp.Run(step, chromedp.Evaluate[string](`document.getElementById("total").dataset.total`))
	if err != nil {
		t.Fatal(err)
	}
	rows, err := chromedp.Run(step, chromedp.Evaluate[string](`[...document.querySelectorAll("#points tbody tr")].filter(r => r.dataset.clicks !== "0").map(r => r.dataset.clicks).join(",")`))
	if err != nil {
		t.Fatal(err)
	}
	if want := strconv.FormatInt(apiTotal(t, base, key), 10); total != want || rows != "3" {
		t.Errorf("dashboard shows total %s and non-zero points %q; the API says %s", total, rows, want)
	}
	if chart, err := chromedp.Run(step, chromedp.Evaluate[int](`document.querySelectorAll("#chart canvas").length`)); err != nil || chart == 0 {
		t.Errorf("no chart drawn (%d canvases, %v)", chart, err)
	}
	// The page works under its policy: enabling the log domain replays
	// every entry so far; none may be a refusal by the policy.
	if _, err := chromedp.Call(step, cdplog.Enable, cdp.Empty{}); err != nil {
		t.Fatal(err)
	}
	logMu.Lock()
	for _, line := range browserLog {
		if strings.Contains(line, "Content Security Policy") || strings.Contains(line, "Content-Security-Policy") {
			t.Errorf("the browser refused something under the page's policy: %s", line)
		}
	}
	logMu.Unlock()
	checkSecurityHeaders(t, base)

	// A new click through the click service appears on the live view.
	click(t, urls[3])
	err = chromedp.Do(step, chromedp.Poll[chromedp.Void](`document.getElementById("total").dataset.total === "4"`, chromedp.WithPollingTimeout(60*time.Second)))
	if err != nil {
		t.Fatalf("the new click did not appear on the dashboard within 60 s (API total %d): %v", apiTotal(t, base, key), err)
	}

	// The minute in progress is a number beside the chart, not a point
	// of its line, and the only row marked in progress is the newest.
	open, err := chromedp.Run(step, chromedp.Evaluate[string](`(() => {
		const rows = [...document.querySelectorAll("#points tbody tr")];
		const marked = rows.filter(r => r.textContent.includes("in progress"));
		const cur = document.getElementById("current");
		const last = state.chart.data[0].length - 1;
		return [marked.length, rows.indexOf(marked[0]), cur.hidden, cur.dataset.clicks === (marked[0] || {dataset: {}}).dataset.clicks,
			state.chart.data[1][last] === null && state.chart.data[2][last] === null].join(",");
	})()`))
	if err != nil || open != "1,0,false,true,true" {
		t.Errorf("the open minute (rows marked, its row's index, #current hidden, same count, left out of the line) = %q, %v; want 1,0,false,true,true", open, err)
	}

	// Campaigns: the top table and the picker, by the campaign recorded
	// with the clicks (acme-trail-1 is in spring-trail).
	err = chromedp.Do(step,
		chromedp.Poll[chromedp.Void](`(() => {
			const r = document.querySelector('#top-campaigns tbody tr[data-id="spring-trail"]');
			return r !== null && r.dataset.clicks === "4";
		})()`, chromedp.WithPollingTimeout(30*time.Second)),
		chromedp.SetValue("#ad", "campaign:spring-trail"),
		chromedp.Evaluate[chromedp.Void](`document.getElementById("ad").dispatchEvent(new Event("change"))`),
		chromedp.Poll[chromedp.Void](`document.getElementById("total").dataset.total === "4"`, chromedp.WithPollingTimeout(30*time.Second)),
		chromedp.SetValue("#ad", "campaign:spring-road"),
		chromedp.Evaluate[chromedp.Void](`document.getElementById("ad").dispatchEvent(new Event("change"))`),
		chromedp.Poll[chromedp.Void](`document.getElementById("total").dataset.total === "0"`, chromedp.WithPollingTimeout(30*time.Second)),
		// An ad picked: its placements card (no day reconciled here yet),
		// in the days of the zone picked (the API echoes the zone asked).
		chromedp.SetValue("#tz", "Asia/Kathmandu"),
		chromedp.SetValue("#ad", "ad:acme-trail-1"),
		chromedp.Evaluate[chromedp.Void](`document.getElementById("ad").dispatchEvent(new Event("change"))`),
		chromedp.Poll[chromedp.Void](`!document.getElementById("placements-card").hidden && document.getElementById("placements-days").textContent.includes("No reconciled day (Asia/Kathmandu)")`, chromedp.WithPollingTimeout(30*time.Second)),
		chromedp.Poll[chromedp.Void](`!document.getElementById("invalid-card").hidden && document.getElementById("invalid-days").textContent.includes("No reconciled day (Asia/Kathmandu)")`, chromedp.WithPollingTimeout(30*time.Second)),
		chromedp.SetValue("#tz", "UTC"),
		chromedp.SetValue("#ad", ""),
		chromedp.Evaluate[chromedp.Void](`document.getElementById("ad").dispatchEvent(new Event("change"))`),
		chromedp.Poll[chromedp.Void](`document.getElementById("placements-card").hidden`, chromedp.WithPollingTimeout(30*time.Second)),
	)
	if err != nil {
		t.Errorf("campaigns and placements on the dashboard (top table spring-trail = 4, its series total 4, spring-road 0): %v", err)
	}

	// Years: one point a year, the open one marked, the same total.
	err = chromedp.Do(step,
		chromedp.SetValue("#view", "years"),
		chromedp.Evaluate[chromedp.Void](`document.getElementById("view").dispatchEvent(new Event("change"))`),
		chromedp.Poll[chromedp.Void](`(() => {
			const rows = [...document.querySelectorAll("#points tbody tr")];
			return rows.length === 5 && rows[0].textContent.includes("in progress") && document.getElementById("total").dataset.total === "4";
		})()`, chromedp.WithPollingTimeout(30*time.Second)),
	)
	if err != nil {
		t.Errorf("the years view did not show 5 yearly points with this year in progress and the total 4: %v", err)
	}
}

// checkSecurityHeaders: the dashboard and the API answer with the policy
// and the headers that keep them from being framed, sniffed or leaked.
func checkSecurityHeaders(t *testing.T, base string) {
	t.Helper()
	for _, path := range []string{"/", "/static/app.js", "/v1/ads"} {
		resp, err := http.Get(base + path)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		csp := resp.Header.Get("Content-Security-Policy")
		for _, want := range []string{"default-src 'self'", "frame-ancestors 'none'", "script-src 'self'"} {
			if !strings.Contains(csp, want) {
				t.Errorf("%s: Content-Security-Policy %q lacks %s", path, csp, want)
			}
		}
		if strings.Contains(csp, "unsafe-inline") {
			t.Errorf("%s: the policy allows inline code: %q", path, csp)
		}
		if resp.Header.Get("X-Content-Type-Options") != "nosniff" || resp.Header.Get("Referrer-Policy") == "" {
			t.Errorf("%s: nosniff %q, Referrer-Policy %q", path, resp.Header.Get("X-Content-Type-Options"), resp.Header.Get("Referrer-Policy"))
		}
	}
}
