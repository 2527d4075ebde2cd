// Package obs is the observability kit every adclick service shares:
// structured JSON logs, a Prometheus registry, request metrics for Gin,
// health and readiness endpoints, and an HTTP server that shuts down
// gracefully.
package obs

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/pprof"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// NewLogger returns a JSON slog logger at level ("debug", "info", "warn", "error").
func NewLogger(w io.Writer, level, service string) (*slog.Logger, error) {
	var l slog.Level
	if err := l.UnmarshalText([]byte(level)); err != nil {
		return nil, fmt.Errorf("log level %q: %w", level, err)
	}
	h := slog.NewJSONHandler(w, &slog.HandlerOptions{Level: l})
	return slog.New(h).With("service", service), nil
}

// NewRegistry returns a registry with the Go runtime and process collectors.
func NewRegistry() *prometheus.Registry {
	r := prometheus.NewRegistry()
	r.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return r
}

// MetricsHandler serves reg in the Prometheus text format.
func MetricsHandler(reg *prometheus.Registry) http.Handler {
	return promhttp.HandlerFor(reg, promhttp.HandlerOpts{Registry: reg})
}

// RequestMetrics counts and times requests by route template and status, so
// label cardinality stays bounded whatever paths clients send.
func RequestMetrics(reg prometheus.Registerer, namespace string) gin.HandlerFunc {
	total := prometheus.NewCounterVec(prometheus.CounterOpts{
		Namespace: namespace, Name: "http_requests_total", Help: "HTTP requests by route and status code.",
	}, []string{"route", "code"})
	dur := prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Namespace: namespace, Name: "http_request_duration_seconds", Help: "HTTP request latency by route.",
		Buckets: []float64{.0005, .001, .002, .003, .005, .0075, .01, .025, .05, .1, .25, .5, 1, 2.5},
	}, []string{"route"})
	reg.MustRegister(total, dur)
	return func(c *gin.Context) {
		start := time.Now()
		c.Next()
		route := c.FullPath()
		if route == "" {
			route = "unmatched"
		}
		total.WithLabelValues(route, strconv.Itoa(c.Writer.Status())).Inc()
		dur.WithLabelValues(route).Observe(time.Since(start).Seconds())
	}
}

// RequestLog logs failed requests and, at debug level, every request and
// every answer its handler marked as expected (a readiness probe's 503).
// It logs the route template, never the raw path: click paths carry tokens.
func RequestLog(log *slog.Logger) gin.HandlerFunc {
	return func(c *gin.Context) {
		start := time.Now()
		c.Next()
		status := c.Writer.Status()
		level := slog.LevelDebug
		switch {
		case status >= 500:
			level = slog.LevelError
		case status >= 400 && status != http.StatusTooManyRequests:
			level = slog.LevelInfo
		}
		if _, expected := c.Get(expectedKey); expected {
			level = slog.LevelDebug
		}
		if !log.Enabled(c, level) {
			return
		}
		attrs := []any{"method", c.Request.Method, "route", c.FullPath(), "status", status,
			"duration_ms", float64(time.Since(start).Microseconds()) / 1000, "client", c.ClientIP()}
		if reason, ok := c.Get("reason"); ok {
			attrs = append(attrs, "reason", reason)
		}
		log.Log(c, level, "request", attrs...)
	}
}

// expectedKey marks, in a request's context, an answer that is not a
// failure whatever its status.
const expectedKey = "obs.expected"

// Check is one readiness condition.
type Check func(ctx context.Context) error

// Health serves /healthz (the process is alive) and /readyz (it should get
// traffic: every check passes and it is not draining). The public /readyz
// answers only the status, from the last check Run made: a request never
// costs a backend call, and says nothing about the backends. The admin
// listener's /readyz (RegisterDetail) runs the checks and names each.
type Health struct {
	mu       sync.Mutex
	names    []string
	checks   map[string]Check
	draining atomic.Bool
	last     atomic.Pointer[readiness]
}

type readiness struct {
	ok     bool
	detail gin.H
}

// NewHealth returns a Health with no checks.
func NewHealth() *Health { return &Health{checks: map[string]Check{}} }

// Add registers a readiness check.
func (h *Health) Add(name string, c Check) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.names = append(h.names, name)
	h.checks[name] = c
}

// Drain makes /readyz fail from now on, so load balancers stop sending
// traffic before the server stops.
func (h *Health) Drain() { h.draining.Store(true) }

// Run checks readiness now and then every interval until ctx ends; the
// public /readyz answers from the last result. Each change of readiness
// is logged once, with what failed: the probes' 503s are answers, not
// errors, and are logged at debug level.
func (h *Health) Run(ctx context.Context, every time.Duration, log *slog.Logger) {
	t := time.NewTicker(every)
	defer t.Stop()
	var was *readiness
	for {
		now := h.check(ctx)
		h.last.Store(now)
		switch {
		case now.ok && (was == nil || !was.ok):
			log.Info("ready", "checks", now.detail)
		case !now.ok && (was == nil || was.ok):
			log.Warn("not ready", "checks", now.detail)
		}
		was = now
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

func (h *Health) check(ctx context.Context) *readiness {
	ctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	h.mu.Lock()
	names := append([]string(nil), h.names...)
	h.mu.Unlock()
	r := &readiness{ok: true, detail: gin.H{}}
	for _, n := range names {
		if err := h.checks[n](ctx); err != nil {
			r.ok = false
			r.detail[n] = err.Error()
		} else {
			r.detail[n] = "ok"
		}
	}
	return r
}

// Register mounts the public endpoints on r.
func (h *Health) Register(r gin.IRoutes) {
	r.GET("/healthz", func(c *gin.Context) { c.JSON(http.StatusOK, gin.H{"status": "ok"}) })
	r.GET("/readyz", func(c *gin.Context) {
		c.Set(expectedKey, true)
		switch last := h.last.Load(); {
		case h.draining.Load():
			c.JSON(http.StatusServiceUnavailable, gin.H{"status": "shutting down"})
		case last == nil:
			c.JSON(http.StatusServiceUnavailable, gin.H{"status": "starting"})
		case !last.ok:
			c.JSON(http.StatusServiceUnavailable, gin.H{"status": "not ready"})
		default:
			c.JSON(http.StatusOK, gin.H{"status": "ready"})
		}
	})
}

// RegisterDetail mounts /readyz with every check's result, for the admin
// listener: it runs the checks on each request.
func (h *Health) RegisterDetail(r gin.IRoutes) {
	r.GET("/readyz", func(c *gin.Context) {
		res := h.check(c)
		code := http.StatusOK
		if !res.ok || h.draining.Load() {
			code = http.StatusServiceUnavailable
		}
		if h.draining.Load() {
			res.detail["draining"] = "shutting down"
		}
		c.JSON(code, res.detail)
	})
}

// ServeAdmin serves the operators' endpoints on addr until ctx ends:
// /metrics, the detailed /readyz and, with pprof, /debug/pprof/. Keep addr
// private (the default is localhost): on Cloud Run only the service's port
// is reachable from outside, and a sidecar in the instance can scrape
// this one. It returns the address it listens on.
func ServeAdmin(ctx context.Context, addr string, reg *prometheus.Registry, h *Health, withPprof bool, log *slog.Logger) (string, error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return "", fmt.Errorf("admin listener %s: %w", addr, err)
	}
	r := gin.New()
	r.Use(gin.Recovery())
	r.GET("/metrics", gin.WrapH(MetricsHandler(reg)))
	h.RegisterDetail(r)
	if withPprof {
		r.Any("/debug/pprof/*name", gin.WrapF(func(w http.ResponseWriter, req *http.Request) {
			switch strings.TrimPrefix(req.URL.Path, "/debug/pprof/") {
			case "profile":
				pprof.Profile(w, req)
			case "symbol":
				pprof.Symbol(w, req)
			case "trace":
				pprof.Trace(w, req)
			default:
				pprof.Index(w, req)
			}
		}))
	}
	srv := &http.Server{Handler: r, ReadHeaderTimeout: 5 * time.Second}
	go func() {
		<-ctx.Done()
		srv.Close()
	}()
	go func() {
		if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			log.Error("admin listener", "addr", ln.Addr().String(), "err", err)
		}
	}()
	log.Info("admin listener", "addr", ln.Addr().String(), "pprof", withPprof)
	return ln.Addr().String(), nil
}

// Serve runs srv on ln until ctx is done, then stops accepting, waits up
// to drain for in-flight requests, and returns. health, if not nil, is
// switched to draining first.
func Serve(ctx context.Context, srv *http.Server, ln net.Listener, drain time.Duration, health *Health, log *slog.Logger) error {
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	select {
	case err := <-errc:
		return fmt.Errorf("serve %s: %w", ln.Addr(), err)
	case <-ctx.Done():
	}
	if health != nil {
		health.Drain()
	}
	log.Info("shutting down: draining requests", "addr", ln.Addr().String(), "timeout", drain.String())
	sctx, cancel := context.WithTimeout(context.Background(), drain)
	defer cancel()
	if err := srv.Shutdown(sctx); err != nil {
		return fmt.Errorf("drain %s: %w", ln.Addr(), err)
	}
	if err := <-errc; err != nil && !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}

// ScrapeGauge reads one unlabelled sample from a Prometheus text endpoint.
func ScrapeGauge(url, name string) (float64, error) {
	resp, err := http.Get(url)
	if err != nil {
		return 0, fmt.Errorf("scrape %s: %w", url, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		return 0, fmt.Errorf("scrape %s: %w", url, err)
	}
	for _, line := range strings.Split(string(body), "\n") {
		if v, ok := strings.CutPrefix(line, name+" "); ok {
			return strconv.ParseFloat(strings.TrimSpace(v), 64)
		}
	}
	return 0, fmt.Errorf("scrape %s: no %s", url, name)
}
