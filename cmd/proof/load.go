package main

import (
	"bytes"
	"context"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/adclick/adclick/internal/countable"
	"github.com/adclick/adclick/internal/token"
)

// ads of the sample catalog the load clicks, with their advertisers; the
// first is the hot ad.
var ads = []struct{ id, advertiser string }{
	{"acme-trail-1", "acme"}, {"acme-road-1", "acme"}, {"globex-lisbon", "globex"},
	{"globex-tokyo", "globex"}, {"initech-tps", "initech"},
}

// kinds of clicks, and their share of the load.
const (
	kindHuman    = "human"    // a browser, first click of its impression: counts
	kindRepeat   = "repeat"   // a second click on an impression: redirected, never counted
	kindBot      = "bot"      // a crawler: redirected, never counted
	kindExpired  = "expired"  // a token past its expiry: redirected, never counted
	kindTampered = "tampered" // a token with a changed byte: 400, nothing recorded
	kindUnknown  = "unknown"  // an authentic token for an ad not in the catalog: 404
	kindTooFast  = "too-fast" // clicked the moment it was minted: redirected, never counted (invalid_too_fast)
	kindDC       = "dc"       // from a data-centre address: redirected, never counted (invalid_datacenter)
	kindBurst    = "burst"    // a script's fresh impression past the burst limit: redirected, never counted (invalid_burst)
)

const browserUA = "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0 Safari/537.36"

// truth is what the load generator knows it did.
type truth struct {
	mu sync.Mutex
	// statuses by kind: how each click was answered.
	statuses map[string]map[int]int
	// redirected: 302s per impression (every one must be archived once).
	redirected map[string]int
	// counted: impressions whose first click counts, by ad.
	counted map[string]map[string]bool
	// failed: requests that got no answer (a killed service). The service
	// may still have recorded such a click; uncertain holds the ads of
	// impressions whose only countable clicks went unanswered, settled
	// against the archive at the end.
	failed    int
	uncertain map[string]string
	// uncertainKind holds the kinds of unanswered clicks of the other
	// kinds by impression (each is its impression's only click of that
	// kind), settled against the archive the same way.
	uncertainKind map[string]string
	// tooFastLate holds the ads of too-fast clicks answered past the
	// rule's threshold, by impression: the service may have stamped them
	// in time or not; the rule settles them on the archived event.
	tooFastLate map[string]string
	latencies   []latency
}

type latency struct {
	at   time.Time
	d    time.Duration
	kind string
}

func newTruth() *truth {
	return &truth{statuses: map[string]map[int]int{}, redirected: map[string]int{}, counted: map[string]map[string]bool{}, uncertain: map[string]string{}, uncertainKind: map[string]string{}, tooFastLate: map[string]string{}}
}

func (t *truth) judgeByArchive(imp, ad string) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.tooFastLate[imp] = ad
}

func (t *truth) record(kind string, status int, imp, ad string, at time.Time, d time.Duration) {
	t.mu.Lock()
	defer t.mu.Unlock()
	countable := kind == kindHuman || kind == kindRepeat
	if status == 0 {
		t.failed++
		if countable && t.redirected[imp] == 0 {
			t.uncertain[imp] = ad
		}
		if !countable && imp != "" {
			t.uncertainKind[imp] = kind
		}
		return
	}
	if t.statuses[kind] == nil {
		t.statuses[kind] = map[int]int{}
	}
	t.statuses[kind][status]++
	t.latencies = append(t.latencies, latency{at, d, kind})
	if status != http.StatusFound {
		return
	}
	t.redirected[imp]++
	if countable && t.redirected[imp] == 1 {
		if t.counted[ad] == nil {
			t.counted[ad] = map[string]bool{}
		}
		t.counted[ad][imp] = true
		delete(t.uncertain, imp)
	}
}

// status is how many answers had that status so far, all kinds.
func (t *truth) status(code int) int {
	t.mu.Lock()
	defer t.mu.Unlock()
	n := 0
	for _, byStatus := range t.statuses {
		n += byStatus[code]
	}
	return n
}

// load clicks at rate per second until ctx ends.
type load struct {
	base     string
	secret   string
	keys     *token.Keyring
	truth    *truth
	client   *http.Client
	rng      *rand.Rand
	pending  chan minted // impressions to click again later (repeats, expired)
	rngMu    sync.Mutex
	inflight sync.WaitGroup
}

type minted struct {
	url, imp, ad, kind string
	due                time.Time
}

func newLoad(base, secret string, keys *token.Keyring, t *truth) *load {
	return &load{
		base: base, secret: secret, keys: keys, truth: t,
		client:  &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{MaxIdleConnsPerHost: 64}, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }},
		rng:     rand.New(rand.NewPCG(uint64(time.Now().UnixNano()), 1)),
		pending: make(chan minted, 100000),
	}
}

func (l *load) intn(n int) int {
	l.rngMu.Lock()
	defer l.rngMu.Unlock()
	return l.rng.IntN(n)
}

// run mints in batches of 20 and clicks them, rate clicks a second.
func (l *load) run(ctx context.Context, rate int) {
	tick := time.NewTicker(time.Second / 10)
	defer tick.Stop()
	var carry float64
	for {
		select {
		case <-ctx.Done():
			l.inflight.Wait()
			return
		case <-tick.C:
		}
		carry += float64(rate) / 10
		n := int(carry)
		carry -= float64(n)
		for n > 0 {
			batch := min(n, 20)
			n -= batch
			l.inflight.Add(1)
			go func() { defer l.inflight.Done(); l.burst(ctx, batch) }()
		}
		if l.intn(20) == 0 { // a script every two seconds or so
			l.inflight.Add(1)
			go func() { defer l.inflight.Done(); l.script(ctx) }()
		}
		l.due(ctx)
	}
}

// due clicks the pending impressions whose time has come.
func (l *load) due(ctx context.Context) {
	for {
		select {
		case m := <-l.pending:
			if time.Now().Before(m.due) {
				l.pending <- m
				return
			}
			l.inflight.Add(1)
			go func() { defer l.inflight.Done(); l.click(ctx, m.url, m.imp, m.ad, m.kind, browserUA) }()
		default:
			return
		}
	}
}

func (l *load) burst(ctx context.Context, n int) {
	ad := ads[0]
	if l.intn(10) >= 3 { // 30 % of the traffic on the hot ad
		ad = ads[1+l.intn(len(ads)-1)]
	}
	ttl := 0
	expiring := l.intn(50) == 0
	if expiring {
		ttl = 1
	}
	urls, imps, err := l.mint(ctx, ad.id, n, ttl)
	if err != nil {
		return // the click service is down: an ad server would retry later
	}
	for i, u := range urls {
		kind, ua := kindHuman, browserUA
		switch r := l.intn(100); {
		case expiring:
			l.pending <- minted{u, imps[i], ad.id, kindExpired, time.Now().Add(2 * time.Second)}
			continue
		case r < 3:
			kind, ua = kindBot, "Googlebot/2.1 (+http://www.google.com/bot.html)"
		case r < 5:
			l.click(ctx, tamper(u), "", ad.id, kindTampered, browserUA)
			continue
		case r < 7 && l.stillTooFast(u):
			l.clickTooFast(ctx, u, imps[i], ad.id)
			continue
		case r < 9:
			kind = kindDC
		case r < 19:
			l.pending <- minted{u, imps[i], ad.id, kindRepeat, time.Now().Add(time.Duration(1+l.intn(20)) * time.Second)}
		}
		// A person sees the ad before clicking it: at least the too-fast
		// rule's delay, and up to 1.5 s more.
		l.inflight.Add(1)
		imp := imps[i]
		time.AfterFunc(l.thinkTime(), func() { defer l.inflight.Done(); l.click(ctx, u, imp, ad.id, kind, ua) })
	}
	if l.intn(100) == 0 {
		l.click(ctx, l.unknownAd(), "", "no-such-ad", kindUnknown, browserUA)
	}
}

// tooFastMargin keeps a too-fast click clear of the rule's threshold: the
// service stamps the click a few milliseconds after the load sends it.
const tooFastMargin = 300 * time.Millisecond

// stillTooFast reports whether a click on u sent now is judged too fast:
// the rule measures from the token's issue time, which has second
// precision (rounded down), so a token minted late in its second leaves
// less than the rule's delay. Past that, the load clicks it as a person.
func (l *load) stillTooFast(u string) bool {
	issued, ok := l.issuedAt(u)
	return ok && time.Now().Before(issued.Add(countable.DefaultRules.MinClickDelay-tooFastMargin))
}

// clickTooFast clicks u the moment it was minted. The rule judges the
// time the service stamped on the click, before it answered: an answer
// that came back past the rule's threshold (a saturated machine queues
// requests for hundreds of milliseconds) leaves the judgement open, and
// verify settles such a click by the rule itself, on its archived event.
func (l *load) clickTooFast(ctx context.Context, u, imp, ad string) {
	issued, ok := l.issuedAt(u)
	status := l.clickAs(ctx, u, imp, ad, kindTooFast, browserUA, "")
	if status == http.StatusFound && (!ok || !time.Now().Before(issued.Add(countable.DefaultRules.MinClickDelay))) {
		l.truth.judgeByArchive(imp, ad)
	}
}

// issuedAt is the issue time in u's token.
func (l *load) issuedAt(u string) (time.Time, bool) {
	claims, err := l.keys.Verify(u[strings.LastIndex(u, "/")+1:], time.Now())
	return claims.IssuedAt, err == nil
}

// thinkTime is how long after seeing an ad a person clicks it.
func (l *load) thinkTime() time.Duration {
	return countable.DefaultRules.MinClickDelay + 200*time.Millisecond + time.Duration(l.intn(1500))*time.Millisecond
}

// tamper changes one character of the token.
func tamper(u string) string {
	i := strings.LastIndex(u, "/") + 10
	b := []byte(u)
	if b[i] == 'A' {
		b[i] = 'B'
	} else {
		b[i] = 'A'
	}
	return string(b)
}

func (l *load) unknownAd() string {
	tok, err := l.keys.Sign(token.Claims{ImpressionID: token.NewImpressionID(), AdID: "no-such-ad", IssuedAt: time.Now(), ExpiresAt: time.Now().Add(time.Hour)})
	if err != nil {
		panic(err)
	}
	return l.base + "/c/" + tok
}

func (l *load) mint(ctx context.Context, ad string, n, ttl int) ([]string, []string, error) {
	body, _ := json.Marshal(map[string]any{"ad_id": ad, "count": n, "ttl_seconds": ttl, "placement_id": proofPlacement})
	req, _ := http.NewRequestWithContext(ctx, http.MethodPost, l.base+"/v1/impressions", bytes.NewReader(body))
	req.Header.Set("Authorization", "Bearer "+l.secret)
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("X-Forwarded-For", fmt.Sprintf("10.200.%d.%d", l.intn(250), 1+l.intn(250))) // one of many ad servers
	resp, err := l.client.Do(req)
	if err != nil {
		return nil, nil, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusCreated {
		io.Copy(io.Discard, resp.Body)
		return nil, nil, fmt.Errorf("mint: %d", resp.StatusCode)
	}
	var r struct {
		Impressions []struct {
			ClickURL     string `json:"click_url"`
			ImpressionID string `json:"impression_id"`
		} `json:"impressions"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&r); err != nil {
		return nil, nil, err
	}
	var urls, imps []string
	for _, i := range r.Impressions {
		urls, imps = append(urls, i.ClickURL), append(imps, i.ImpressionID)
	}
	return urls, imps, nil
}

// datacenterRange is the proof's data-centre range: no other load
// address falls in it (they use 10.0-249.x.x).
const datacenterRange = "10.250.0.0/16"

func (l *load) click(ctx context.Context, url, imp, ad, kind, ua string) {
	l.clickAs(ctx, url, imp, ad, kind, ua, "")
}

// clickAs clicks with a user cookie (empty: a new visitor), and returns
// the answer's status (0: no answer).
func (l *load) clickAs(ctx context.Context, url, imp, ad, kind, ua, cookie string) int {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return 0
	}
	req.Header.Set("User-Agent", ua)
	// Each click from its own address, as from many browsers; the
	// data-centre ones from the listed range.
	if kind == kindDC {
		req.Header.Set("X-Forwarded-For", fmt.Sprintf("10.250.%d.%d", l.intn(250), 1+l.intn(250)))
	} else {
		req.Header.Set("X-Forwarded-For", fmt.Sprintf("10.%d.%d.%d", l.intn(250), l.intn(250), 1+l.intn(250)))
	}
	if cookie != "" {
		req.AddCookie(&http.Cookie{Name: "adclick_uid", Value: cookie})
	}
	start := time.Now()
	resp, err := l.client.Do(req)
	status := 0
	if err == nil {
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		status = resp.StatusCode
	}
	l.truth.record(kind, status, imp, ad, start, time.Since(start))
	return status
}

// script is a person or program that mints fresh impressions of one ad
// and clicks each once, one after the other, as one user (one cookie):
// past countable's burst limit its clicks are invalid_burst. It stops at
// the first click not redirected, so the truth knows which clicks the
// nightly saw first.
func (l *load) script(ctx context.Context) {
	ad := ads[l.intn(len(ads))]
	n := countable.DefaultRules.BurstClicks + 2
	urls, imps, err := l.mint(ctx, ad.id, n, 0)
	if err != nil {
		return
	}
	var id [16]byte
	for i := range id {
		id[i] = byte(l.intn(256))
	}
	cookie := hex.EncodeToString(id[:])
	time.Sleep(l.thinkTime())
	for i, u := range urls {
		kind := kindHuman
		if i >= countable.DefaultRules.BurstClicks {
			kind = kindBurst
		}
		if l.clickAs(ctx, u, imps[i], ad.id, kind, browserUA, cookie) != http.StatusFound {
			return
		}
	}
}
