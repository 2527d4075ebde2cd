package main

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"slices"
	"sync"
	"time"

	"github.com/adclick/adclick/internal/obs"
)

// abuseResult is what the reports service did while attacked.
type abuseResult struct {
	legit                 int // the dashboard's requests
	legitFailed           int
	legitStatus           map[int]int // the dashboard's failed answers (0: no answer)
	p50, p99              time.Duration
	attacks               int
	byStatus              map[int]int // the attackers' answers
	heapBefore, heapAfter float64     // bytes in use, from the admin listener
	heapLimit, p99Target  float64
	refusedRange, limited int
}

// reportsAbuse attacks the reports API for d while one tenant uses it as
// its dashboard does (a minute view and the top ads, every half second):
// huge ranges (refused, or clamped to what can hold counts), every
// tenant's heaviest allowed queries, and a burst from one key (429 past
// its bucket). The dashboard's latency and the service's heap are measured.
func reportsAbuse(ctx context.Context, s *stack, d time.Duration) (abuseResult, error) {
	r := abuseResult{byStatus: map[int]int{}, legitStatus: map[int]int{}, heapLimit: 256 << 20, p99Target: float64(50 * time.Millisecond)}
	var err error
	if r.heapBefore, err = obs.ScrapeGauge(s.reportsAdmin+"/metrics", "go_memstats_heap_inuse_bytes"); err != nil {
		return r, err
	}
	client := &http.Client{Timeout: 10 * time.Second}
	get := func(key, path string) (int, time.Duration) {
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, s.reportURL+path, nil)
		req.Header.Set("Authorization", "Bearer "+key)
		start := time.Now()
		resp, err := client.Do(req)
		if err != nil {
			return 0, time.Since(start)
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		return resp.StatusCode, time.Since(start)
	}
	ctx, cancel := context.WithTimeout(ctx, d)
	defer cancel()
	var mu sync.Mutex
	var lat []time.Duration
	var wg sync.WaitGroup
	// The legitimate tenant's dashboard.
	wg.Add(1)
	go func() {
		defer wg.Done()
		t := time.NewTicker(500 * time.Millisecond)
		defer t.Stop()
		for ctx.Err() == nil {
			for _, p := range []string{"/v1/ads/acme-trail-1/clicks?granularity=minute", "/v1/advertiser/top?n=10"} {
				code, took := get(s.apiKeys["acme"], p)
				if ctx.Err() != nil {
					break // the phase ended under this request: not the service's doing
				}
				mu.Lock()
				r.legit++
				if code != http.StatusOK {
					r.legitFailed++
					r.legitStatus[code]++
				} else {
					lat = append(lat, took)
				}
				mu.Unlock()
			}
			select {
			case <-ctx.Done():
			case <-t.C:
			}
		}
	}()
	// Each attacker sends about 300 requests a second, one at a time: a
	// burst far past any key's bucket, not a CPU flood from one address
	// (that is the edge's job: Cloud Armor or a load balancer's limits).
	attack := func(key string, paths []string) {
		defer wg.Done()
		pace := time.NewTicker(3 * time.Millisecond)
		defer pace.Stop()
		for i := 0; ctx.Err() == nil; i++ {
			<-pace.C
			code, _ := get(key, paths[i%len(paths)])
			if ctx.Err() != nil {
				return
			}
			mu.Lock()
			r.attacks++
			r.byStatus[code]++
			mu.Unlock()
		}
	}
	huge := []string{
		"/v1/ads/globex-lisbon/clicks?granularity=month&from=1901-12-01&to=2026-11-01",
		"/v1/ads/globex-lisbon/clicks?granularity=month&from=0001-01-01&to=0025-12-01",
		"/v1/ads/globex-lisbon/clicks?granularity=month&from=9975-01-01&to=9999-12-01",
		"/v1/advertiser/clicks?granularity=day&from=2024-01-01&to=2026-11-01&tz=Asia/Kathmandu",
		"/v1/advertiser/clicks?granularity=minute&from=2026-11-28&to=2026-11-30",
	}
	for adv, key := range s.apiKeys {
		if adv == "acme" {
			continue
		}
		wg.Add(1)
		go attack(key, huge)
	}
	// One key bursting: the same heavy-but-allowed query as fast as it can.
	wg.Add(1)
	go attack(s.apiKeys["globex"], []string{"/v1/advertiser/clicks?granularity=hour&from=2026-09-01&to=2026-11-30"})
	wg.Wait()
	if r.heapAfter, err = obs.ScrapeGauge(s.reportsAdmin+"/metrics", "go_memstats_heap_inuse_bytes"); err != nil {
		return r, err
	}
	slices.Sort(lat)
	if len(lat) > 0 {
		r.p50, r.p99 = lat[len(lat)/2], lat[min(len(lat)-1, len(lat)*99/100)]
	}
	r.refusedRange, r.limited = r.byStatus[http.StatusBadRequest], r.byStatus[http.StatusTooManyRequests]
	return r, nil
}

func (r abuseResult) String() string {
	return fmt.Sprintf("dashboard: %d requests, %d failed, p50 %v, p99 %v (target %v); attackers: %d requests %v (400 for ranges past the caps: %d, 429 past a key's bucket: %d); heap in use %.0f -> %.0f MiB (bound %.0f MiB)",
		r.legit, r.legitFailed, r.p50.Round(100*time.Microsecond), r.p99.Round(100*time.Microsecond), time.Duration(r.p99Target),
		r.attacks, r.byStatus, r.refusedRange, r.limited, r.heapBefore/(1<<20), r.heapAfter/(1<<20), r.heapLimit/(1<<20))
}

// failures are the promises the attack broke.
func (r abuseResult) failures(strict bool) []string {
	var out []string
	if r.legit == 0 || r.legitFailed > 0 {
		out = append(out, fmt.Sprintf("the dashboard's requests failed under attack: %d of %d (by status, 0 for no answer: %v)", r.legitFailed, r.legit, r.legitStatus))
	}
	if r.heapAfter > r.heapLimit {
		out = append(out, fmt.Sprintf("the reports' heap grew to %.0f MiB under attack", r.heapAfter/(1<<20)))
	}
	if r.refusedRange == 0 || r.limited == 0 {
		out = append(out, "the attack met neither the range caps nor the per-key limit: it did not reach the service")
	}
	if strict && float64(r.p99) > r.p99Target {
		out = append(out, fmt.Sprintf("the dashboard's p99 %v is over %v under attack", r.p99, time.Duration(r.p99Target)))
	}
	return out
}
