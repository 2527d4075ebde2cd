// Command clickbench load-tests the click service over loopback and, in the
// same run and on the same machine, a bare Gin handler that only redirects,
// which is the ceiling any click service on Gin can reach here.
//
// The click service runs as its own process (bin/redirect) against the
// Pub/Sub fake, which runs in this process next to the load generator.
// Every request is a distinct, validly signed impression; one ad in five
// clicks is the same hot ad; client addresses vary through X-Forwarded-For
// from a trusted loopback proxy, so the per-client rate limiter works as in
// production.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"math/rand/v2"
	"net/http"
	_ "net/http/pprof"
	"os"
	"path/filepath"
	"runtime"
	"runtime/debug"
	"slices"
	"strconv"
	"strings"
	"time"

	"cloud.google.com/go/pubsub/v2/pstest"
	"github.com/gin-gonic/gin"

	"github.com/adclick/adclick/internal/catalog"
	"github.com/adclick/adclick/internal/gcpnames"
	"github.com/adclick/adclick/internal/loadgen"
	"github.com/adclick/adclick/internal/localstack"
	"github.com/adclick/adclick/internal/proc"
	"github.com/adclick/adclick/internal/token"
)

type config struct {
	rates      string
	step       time.Duration
	conns      int
	maxP99     time.Duration
	binDir     string
	catalog    string
	bareOnly   string
	pprof      bool
	svcArgs    string
	svcEnv     string
	self       string
	rounds     int
	maxConns   int
	pubsubOnly string
	fakePprof  string
}

func main() {
	var c config
	flag.StringVar(&c.rates, "rates", "2000,5000,10000,15000,20000", "fixed rates to measure, clicks/s")
	flag.DurationVar(&c.step, "step", 8*time.Second, "duration of each measurement")
	flag.IntVar(&c.rounds, "rounds", 3, "interleaved rounds; figures are medians over them")
	flag.IntVar(&c.conns, "conns", 128, "connections of the fixed-rate runs (as from a load balancer in front of the service)")
	flag.IntVar(&c.maxConns, "max-conns", 512, "concurrent requests of the top-rate run: enough that it is bound by CPU, not by latency")
	flag.DurationVar(&c.maxP99, "max-p99", 10*time.Millisecond, "p99 a rate must stay under to count as sustained")
	flag.StringVar(&c.binDir, "bin-dir", "", "folder of bin/redirect (default: this binary's folder)")
	flag.StringVar(&c.catalog, "catalog", "config/catalog.json", "catalog the click service serves")
	flag.BoolVar(&c.pprof, "pprof", false, "pass -pprof to the click service: pprof on its admin listener (its address is printed)")
	flag.StringVar(&c.svcArgs, "service-args", "", "extra space-separated flags for the click service, to compare settings")
	flag.StringVar(&c.svcEnv, "service-env", "", "extra space-separated NAME=value environment for the click service (GOGC=800, say)")
	flag.StringVar(&c.self, "self-pprof-addr", "", "serve net/http/pprof of the load generator and Pub/Sub fake on this address")
	flag.StringVar(&c.fakePprof, "fake-pprof-addr", "", "serve net/http/pprof of the Pub/Sub fake's process on this address")
	flag.StringVar(&c.pubsubOnly, "serve-pubsub", "", "internal: serve the Pub/Sub fake on this address")
	flag.StringVar(&c.bareOnly, "serve-bare", "", "internal: serve the bare Gin redirect on this address")
	flag.Parse()
	// This process hosts the load generator and the Pub/Sub fake; its GC
	// pauses would show up as the service's latency. Same setting as the
	// service's own default.
	if os.Getenv("GOGC") == "" {
		debug.SetGCPercent(400)
	}
	if c.bareOnly != "" {
		serveBare(c.bareOnly)
		return
	}
	if c.pubsubOnly != "" {
		if c.fakePprof != "" {
			go http.ListenAndServe(c.fakePprof, nil)
		}
		servePubSub(c.pubsubOnly)
		return
	}
	if c.self != "" {
		go http.ListenAndServe(c.self, nil) // net/http/pprof registers on the default mux
	}
	if err := run(c); err != nil {
		fmt.Fprintln(os.Stderr, "clickbench:", err)
		os.Exit(1)
	}
}

// serveBare is the ceiling: Gin, one route, a 302 and nothing else.
func serveBare(addr string) {
	gin.SetMode(gin.ReleaseMode)
	e := gin.New()
	e.GET("/c/:token", func(c *gin.Context) { c.Redirect(http.StatusFound, "http://localhost:8090/landing") })
	http.ListenAndServe(addr, e)
}

// servePubSub runs the Pub/Sub fake until killed. The fake keeps every
// message ever published; the topic has no subscription to deliver to, so
// dropping them costs nothing and keeps its heap, and its GC, flat.
func servePubSub(addr string) {
	srv := pstest.NewServerWithAddress(addr)
	defer srv.Close()
	for range time.Tick(500 * time.Millisecond) {
		srv.ClearMessages()
	}
}

func run(c config) error {
	if c.binDir == "" {
		exe, _ := os.Executable()
		c.binDir = filepath.Dir(exe)
	}
	ctx := context.Background()
	// The Pub/Sub fake runs in a process of its own, as Pub/Sub would: its
	// pauses then are not the load generator's and vice versa.
	exe, _ := os.Executable()
	addrs := make([]string, 4)
	for i := range addrs {
		var err error
		if addrs[i], err = proc.FreeAddr(); err != nil {
			return err
		}
	}
	psAddr, svcAddr, bareAddr, adminAddr := addrs[0], addrs[1], addrs[2], addrs[3]
	if c.pprof {
		fmt.Printf("click service pprof: http://%s/debug/pprof/\n", adminAddr)
	}
	fake := &proc.Proc{Name: "pubsub", Path: exe, Out: os.Stderr, Args: []string{"-serve-pubsub=" + psAddr, "-fake-pprof-addr=" + c.fakePprof}}
	if err := fake.Start(); err != nil {
		return err
	}
	defer fake.Stop(15 * time.Second)
	if err := proc.WaitListening(ctx, psAddr, 10*time.Second); err != nil {
		return err
	}
	if err := localstack.EnsureTopics(ctx, psAddr, gcpnames.LocalProject); err != nil {
		return err
	}
	state, err := os.MkdirTemp("", "clickbench-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(state)
	sec, err := localstack.EnsureSecrets(state)
	if err != nil {
		return err
	}
	keys, err := token.LoadKeyring(sec.TokenKeys)
	if err != nil {
		return err
	}
	ads, hot, err := activeAds(c.catalog)
	if err != nil {
		return err
	}

	svc := &proc.Proc{Name: "redirect", Path: filepath.Join(c.binDir, "redirect"), Out: os.Stderr,
		Env: append([]string{"PUBSUB_EMULATOR_HOST=" + psAddr}, strings.Fields(c.svcEnv)...),
		Args: append([]string{"-listen=" + svcAddr, "-catalog=" + c.catalog, "-token-keys-file=" + sec.TokenKeys,
			"-user-key-pepper-file=" + sec.Pepper, "-spool-dir=" + filepath.Join(state, "spool"),
			"-trusted-proxies=127.0.0.1/32", "-log-level=warn", "-admin-listen=" + adminAddr, fmt.Sprintf("-pprof=%v", c.pprof)}, strings.Fields(c.svcArgs)...)}
	bare := &proc.Proc{Name: "bare", Path: exe, Out: os.Stderr, Args: []string{"-serve-bare=" + bareAddr}}
	for _, p := range []*proc.Proc{svc, bare} {
		if err := p.Start(); err != nil {
			return err
		}
		defer p.Stop(15 * time.Second)
	}
	if err := proc.WaitReady(ctx, "http://"+svcAddr+"/readyz", 30*time.Second, svc.Exited()); err != nil {
		return err
	}
	if err := proc.WaitListening(ctx, bareAddr, 30*time.Second); err != nil {
		return err
	}

	// Mint enough distinct impressions for the whole run up front.
	rates, err := parseRates(c.rates)
	if err != nil {
		return err
	}
	now := time.Now().Truncate(time.Second)
	tokens := make([]string, 1<<16)
	for i := range tokens {
		ad := hot
		if i%5 != 0 {
			ad = ads[rand.IntN(len(ads))]
		}
		tokens[i], err = keys.Sign(token.Claims{ImpressionID: token.NewImpressionID(), AdID: ad, PlacementID: "bench", IssuedAt: now, ExpiresAt: now.Add(time.Hour)})
		if err != nil {
			return err
		}
	}
	client, maxClient := loadgen.Client(c.conns), loadgen.Client(c.maxConns)
	reqFor := func(base string) loadgen.Request {
		return func(i int) *http.Request {
			r, _ := http.NewRequest(http.MethodGet, base+"/c/"+tokens[i%len(tokens)], nil)
			r.Header.Set("User-Agent", "Mozilla/5.0 (X11; Linux x86_64) Chrome/120.0")
			r.Header.Set("X-Forwarded-For", "10."+strconv.Itoa(i%250)+"."+strconv.Itoa((i/250)%250)+".7")
			return r
		}
	}

	fmt.Printf("clickbench: %d cores, %d interleaved rounds of %v per step; fixed rates over %d connections, top rate with %d in flight\n",
		runtime.NumCPU(), c.rounds, c.step, c.conns, c.maxConns)
	fmt.Printf("each figure is the median over the rounds; sustained = achieved >= 99%% of target, no errors, p99 < %v\n", c.maxP99)
	fmt.Println("the Pub/Sub fake holds the clicks topic without subscriptions (see localstack.EnsureTopics)")
	targets := []target{
		{name: "click service (verify token, catalog, publish to the Pub/Sub fake, 302)", base: "http://" + svcAddr, pid: svc.Pid(), metrics: "http://" + adminAddr + "/metrics"},
		{name: "bare Gin handler (302 only): the ceiling", base: "http://" + bareAddr, pid: bare.Pid()},
	}
	procs := processes{fake: fake.Pid(), gen: os.Getpid()}
	// results[target][step][round]; the last step is the closed loop.
	results := make([][][]step, len(targets))
	for k := range targets {
		results[k] = make([][]step, len(rates)+1)
		loadgen.Closed(ctx, client, reqFor(targets[k].base), http.StatusFound, c.conns, 2*time.Second) // warm-up
	}
	// Interleave targets and rounds so drift in a shared, noisy machine
	// hits both alike.
	for round := range c.rounds {
		for k, tg := range targets {
			req := reqFor(tg.base)
			for i, rate := range rates {
				results[k][i] = append(results[k][i], measure(tg, procs, func() loadgen.Result {
					return loadgen.Open(ctx, client, req, http.StatusFound, rate, c.step, c.conns*4)
				}))
			}
			results[k][len(rates)] = append(results[k][len(rates)], measure(tg, procs, func() loadgen.Result {
				return loadgen.Closed(ctx, maxClient, req, http.StatusFound, c.maxConns, c.step)
			}))
		}
		fmt.Fprintf(os.Stderr, "round %d of %d done\n", round+1, c.rounds)
	}
	fmt.Println("CPU columns: CPU time per answered click of the target, the Pub/Sub fake and the load generator (each process's user+system time)")
	fmt.Println("publish and handler columns: the click service's own histograms (publish: from handing a click to Pub/Sub to its ack; handler: the whole request in Gin)")
	var tops [2]float64
	for k, tg := range targets {
		fmt.Printf("\n%s\n%s%s\n", tg.name, loadgen.Header, stepHeader)
		best := 0.0
		for i, rate := range rates {
			m := medianStep(results[k][i])
			fmt.Println(m)
			if sustained(m.Result, c.maxP99) {
				best = rate
			}
		}
		m := medianStep(results[k][len(rates)])
		fmt.Println(m)
		tops[k] = m.Rate()
		fmt.Printf("highest listed rate sustained: %.0f/s; top rate (closed loop): %.0f/s\n", best, tops[k])
	}
	fmt.Printf("\nclick service top rate = %.0f%% of the bare Gin handler's\n", 100*tops[0]/tops[1])
	return nil
}

// target is one server under test.
type target struct {
	name, base string
	pid        int
	metrics    string // its /metrics, if it publishes
}

// processes are the other two processes whose CPU each step costs.
type processes struct{ fake, gen int }

// step is one measurement: the load generator's figures plus what they
// cost in CPU and, for the click service, how long clicks waited for
// Pub/Sub.
type step struct {
	loadgen.Result
	cpuTarget, cpuFake, cpuGen time.Duration // per answered click
	publishP50, publishP99     time.Duration
	serverP99                  time.Duration // in the handler, as the service measures it
}

const stepHeader = "  cpu/click  fake/click   gen/click  publish p50    p99  handler p99"

func (s step) String() string {
	pub := fmt.Sprintf("%12s %6s %12s", "-", "-", "-")
	if s.publishP50 > 0 {
		pub = fmt.Sprintf("%12s %6s %12s", ms(s.publishP50), ms(s.publishP99), ms(s.serverP99))
	}
	return fmt.Sprintf("%s %10s %11s %11s %s", s.Result, us(s.cpuTarget), us(s.cpuFake), us(s.cpuGen), pub)
}

func us(d time.Duration) string { return fmt.Sprintf("%.1fµs", float64(d.Nanoseconds())/1000) }
func ms(d time.Duration) string { return fmt.Sprintf("%.1fms", float64(d.Microseconds())/1000) }

// measure runs one load step and reads the processes' CPU and the click
// service's publish histogram around it.
func measure(tg target, p processes, run func() loadgen.Result) step {
	const histName, label = "adclick_redirect_publish_latency_seconds", "result"
	const reqName, route = "adclick_redirect_http_request_duration_seconds", "/c/:token"
	pids := []int{tg.pid, p.fake, p.gen}
	before := make([]time.Duration, len(pids))
	for i, pid := range pids {
		before[i], _ = cpuTime(pid)
	}
	var histBefore, reqBefore histogram
	if tg.metrics != "" {
		histBefore, _ = scrapeHistogram(tg.metrics, histName, label, "ok")
		reqBefore, _ = scrapeHistogram(tg.metrics, reqName, "route", route)
	}
	r := run()
	s := step{Result: r}
	per := make([]time.Duration, len(pids))
	for i, pid := range pids {
		after, err := cpuTime(pid)
		if err == nil && r.OK > 0 {
			per[i] = (after - before[i]) / time.Duration(r.OK)
		}
	}
	s.cpuTarget, s.cpuFake, s.cpuGen = per[0], per[1], per[2]
	if tg.metrics != "" {
		if h, err := scrapeHistogram(tg.metrics, histName, label, "ok"); err == nil {
			s.publishP50, s.publishP99 = h.quantile(histBefore, 0.5), h.quantile(histBefore, 0.99)
		}
		if h, err := scrapeHistogram(tg.metrics, reqName, "route", route); err == nil {
			s.serverP99 = h.quantile(reqBefore, 0.99)
		}
	}
	return s
}

// medianStep is the field-by-field median over rounds.
func medianStep(ss []step) step {
	rs := make([]loadgen.Result, len(ss))
	for i, s := range ss {
		rs[i] = s.Result
	}
	med := func(f func(step) time.Duration) time.Duration {
		v := make([]time.Duration, len(ss))
		for i, s := range ss {
			v[i] = f(s)
		}
		slices.Sort(v)
		return v[len(v)/2]
	}
	return step{
		Result:     loadgen.Median(rs),
		cpuTarget:  med(func(s step) time.Duration { return s.cpuTarget }),
		cpuFake:    med(func(s step) time.Duration { return s.cpuFake }),
		cpuGen:     med(func(s step) time.Duration { return s.cpuGen }),
		publishP50: med(func(s step) time.Duration { return s.publishP50 }),
		publishP99: med(func(s step) time.Duration { return s.publishP99 }),
		serverP99:  med(func(s step) time.Duration { return s.serverP99 }),
	}
}

func sustained(r loadgen.Result, maxP99 time.Duration) bool {
	return r.Errors == 0 && r.Rate() >= 0.99*r.Target && r.P99 < maxP99
}

func activeAds(path string) (ads []string, hot string, err error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, "", err
	}
	cat, err := catalog.Parse(data)
	if err != nil {
		return nil, "", err
	}
	for _, adv := range cat.Advertisers() {
		a, _ := cat.Advertiser(adv)
		for _, ad := range a.Ads {
			if ad.Status == catalog.StatusActive {
				ads = append(ads, ad.ID)
			}
		}
	}
	if len(ads) == 0 {
		return nil, "", errors.New("catalog has no active ads")
	}
	return ads, ads[0], nil
}

func parseRates(s string) ([]float64, error) {
	var out []float64
	for _, f := range strings.Split(s, ",") {
		v, err := strconv.ParseFloat(strings.TrimSpace(f), 64)
		if err != nil || v <= 0 {
			return nil, fmt.Errorf("rate %q: want a positive number", f)
		}
		out = append(out, v)
	}
	return out, nil
}
