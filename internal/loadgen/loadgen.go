// Package loadgen drives an HTTP endpoint at a fixed rate (open loop) or as
// fast as it answers (closed loop) and reports throughput and latency
// percentiles. Open-loop latency is measured from each request's scheduled
// start, so a server that falls behind shows it in the tail instead of
// silently slowing the generator (no coordinated omission).
package loadgen

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"slices"
	"sync"
	"sync/atomic"
	"time"
)

// Result summarises one run.
type Result struct {
	Target   float64 // requests/s asked for; 0 for closed loop
	Sent     int
	OK       int // responses with the expected status
	Errors   int
	Elapsed  time.Duration
	P50, P99 time.Duration
	P999     time.Duration
	Max      time.Duration
}

// Rate is the achieved rate of expected responses.
func (r Result) Rate() float64 { return float64(r.OK) / r.Elapsed.Seconds() }

func (r Result) String() string {
	target := "max"
	if r.Target > 0 {
		target = fmt.Sprintf("%.0f", r.Target)
	}
	return fmt.Sprintf("%8s %10.0f %9s %9s %9s %9s %7d", target, r.Rate(), ms(r.P50), ms(r.P99), ms(r.P999), ms(r.Max), r.Errors)
}

// Header is the column header matching Result.String.
const Header = "target/s achieved/s       p50       p99     p99.9       max  errors"

func ms(d time.Duration) string { return fmt.Sprintf("%.2fms", float64(d.Microseconds())/1000) }

// Request builds the i-th request.
type Request func(i int) *http.Request

// Client returns an HTTP client for load: keep-alive, many idle
// connections, redirects not followed.
func Client(conns int) *http.Client {
	return &http.Client{
		Timeout: 10 * time.Second,
		Transport: &http.Transport{
			MaxIdleConns: conns, MaxIdleConnsPerHost: conns, MaxConnsPerHost: conns, IdleConnTimeout: time.Minute,
		},
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
}

// Open sends rate requests per second for d, with at most workers in
// flight, and counts responses with status want as OK.
func Open(ctx context.Context, c *http.Client, req Request, want int, rate float64, d time.Duration, workers int) Result {
	n := int(rate * d.Seconds())
	start := time.Now()
	type job struct {
		i     int
		sched time.Time
	}
	jobs := make(chan job, n)
	lat := make([]time.Duration, n)
	var ok, errs atomic.Int64
	var wg sync.WaitGroup
	for range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for j := range jobs {
				if wait := time.Until(j.sched); wait > 0 {
					time.Sleep(wait)
				}
				if do(c, req(j.i), want) {
					ok.Add(1)
				} else {
					errs.Add(1)
				}
				lat[j.i] = time.Since(j.sched)
			}
		}()
	}
	interval := time.Duration(float64(time.Second) / rate)
	sent := 0
	for i := range n {
		if ctx.Err() != nil {
			break
		}
		jobs <- job{i: i, sched: start.Add(time.Duration(i) * interval)}
		sent++
	}
	close(jobs)
	wg.Wait()
	return summarise(Result{Target: rate, Sent: sent, OK: int(ok.Load()), Errors: int(errs.Load()), Elapsed: time.Since(start)}, lat[:sent])
}

// Closed keeps conns requests in flight for d and reports what got through.
func Closed(ctx context.Context, c *http.Client, req Request, want int, conns int, d time.Duration) Result {
	start := time.Now()
	deadline := start.Add(d)
	var next, ok, errs atomic.Int64
	lats := make([][]time.Duration, conns)
	var wg sync.WaitGroup
	for w := range conns {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for time.Now().Before(deadline) && ctx.Err() == nil {
				i := int(next.Add(1) - 1)
				t0 := time.Now()
				if do(c, req(i), want) {
					ok.Add(1)
				} else {
					errs.Add(1)
				}
				lats[w] = append(lats[w], time.Since(t0))
			}
		}()
	}
	wg.Wait()
	return summarise(Result{Sent: int(next.Load()), OK: int(ok.Load()), Errors: int(errs.Load()), Elapsed: time.Since(start)}, slices.Concat(lats...))
}

func do(c *http.Client, r *http.Request, want int) bool {
	resp, err := c.Do(r)
	if err != nil {
		return false
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	return resp.StatusCode == want
}

func summarise(r Result, lat []time.Duration) Result {
	if len(lat) == 0 {
		return r
	}
	slices.Sort(lat)
	q := func(p float64) time.Duration { return lat[min(len(lat)-1, int(p*float64(len(lat))))] }
	r.P50, r.P99, r.P999, r.Max = q(0.50), q(0.99), q(0.999), lat[len(lat)-1]
	return r
}

// Median returns, field by field, the median of rs (which share a target).
func Median(rs []Result) Result {
	if len(rs) == 0 {
		return Result{}
	}
	med := func(f func(Result) float64) float64 {
		v := make([]float64, len(rs))
		for i, r := range rs {
			v[i] = f(r)
		}
		slices.Sort(v)
		return v[len(v)/2]
	}
	dur := func(f func(Result) time.Duration) time.Duration {
		return time.Duration(med(func(r Result) float64 { return float64(f(r)) }))
	}
	// Rate is OK/Elapsed: keep Elapsed fixed and take the median OK count.
	out := Result{Target: rs[0].Target, Elapsed: rs[0].Elapsed}
	out.OK = int(med(func(r Result) float64 { return r.Rate() }) * out.Elapsed.Seconds())
	out.Sent = int(med(func(r Result) float64 { return float64(r.Sent) }))
	out.Errors = int(med(func(r Result) float64 { return float64(r.Errors) }))
	out.P50 = dur(func(r Result) time.Duration { return r.P50 })
	out.P99 = dur(func(r Result) time.Duration { return r.P99 })
	out.P999 = dur(func(r Result) time.Duration { return r.P999 })
	out.Max = dur(func(r Result) time.Duration { return r.Max })
	return out
}
