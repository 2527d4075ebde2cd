package obs

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gin-gonic/gin"
)

// TestHealth: the public /readyz says only whether the service is ready,
// from the last check (never one per request); the admin one names each
// check's result.
func TestHealth(t *testing.T) {
	gin.SetMode(gin.ReleaseMode)
	var topicErr error
	calls := 0
	h := NewHealth()
	h.Add("catalog", func(context.Context) error { return nil })
	h.Add("topic", func(context.Context) error { calls++; return topicErr })
	public, admin := gin.New(), gin.New()
	h.Register(public)
	h.RegisterDetail(admin)
	get := func(e *gin.Engine, path string) (int, string) {
		w := httptest.NewRecorder()
		e.ServeHTTP(w, httptest.NewRequest(http.MethodGet, path, nil))
		return w.Code, w.Body.String()
	}
	recheck := func() { h.last.Store(h.check(context.Background())) }
	tests := []struct {
		name     string
		setup    func()
		e        *gin.Engine
		path     string
		code     int
		contains string
	}{
		{"alive", func() {}, public, "/healthz", 200, "ok"},
		{"not checked yet", func() {}, public, "/readyz", 503, "starting"},
		{"ready", recheck, public, "/readyz", 200, `{"status":"ready"}`},
		{"a check fails, not yet rechecked", func() { topicErr = errors.New("unreachable") }, public, "/readyz", 200, "ready"},
		{"a check fails", recheck, public, "/readyz", 503, `{"status":"not ready"}`},
		{"the admin side names it", func() {}, admin, "/readyz", 503, `"topic":"unreachable"`},
		{"still alive", func() {}, public, "/healthz", 200, "ok"},
		{"draining", func() { topicErr = nil; recheck(); h.Drain() }, public, "/readyz", 503, "shutting down"},
	}
	for _, tt := range tests {
		tt.setup()
		code, body := get(tt.e, tt.path)
		if code != tt.code || !strings.Contains(body, tt.contains) {
			t.Errorf("%s: %s = %d %s, want %d containing %q", tt.name, tt.path, code, body, tt.code, tt.contains)
		}
		if tt.e == public && strings.Contains(body, "unreachable") {
			t.Errorf("%s: the public /readyz tells a check's error: %s", tt.name, body)
		}
	}
	before := calls
	for range 10 {
		get(public, "/readyz")
	}
	if calls != before {
		t.Errorf("10 public /readyz requests ran the checks %d times; want none", calls-before)
	}
}

// TestServeAdmin: metrics and the detailed readiness on their own
// listener, pprof only when asked.
func TestServeAdmin(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	reg := NewRegistry()
	h := NewHealth()
	h.Add("store", func(context.Context) error { return nil })
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	for _, withPprof := range []bool{false, true} {
		addr, err := ServeAdmin(ctx, "127.0.0.1:0", reg, h, withPprof, log)
		if err != nil {
			t.Fatal(err)
		}
		for path, want := range map[string]int{"/metrics": 200, "/readyz": 200, "/debug/pprof/": map[bool]int{false: 404, true: 200}[withPprof]} {
			resp, err := http.Get("http://" + addr + path)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if resp.StatusCode != want {
				t.Errorf("pprof %v: %s = %d, want %d", withPprof, path, resp.StatusCode, want)
			}
		}
	}
}

// TestServeDrainsInFlight stops the server while a request is running: the
// request completes, readiness turned to draining first, Serve returns nil.
func TestServeDrainsInFlight(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	started := make(chan struct{})
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		close(started)
		time.Sleep(300 * time.Millisecond)
		io.WriteString(w, "done")
	})}
	h := NewHealth()
	ctx, cancel := context.WithCancel(context.Background())
	served := make(chan error, 1)
	go func() {
		served <- Serve(ctx, srv, ln, 5*time.Second, h, slog.New(slog.NewTextHandler(io.Discard, nil)))
	}()
	got := make(chan string, 1)
	go func() {
		resp, err := http.Get("http://" + ln.Addr().String())
		if err != nil {
			got <- err.Error()
			return
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		got <- string(b)
	}()
	<-started
	cancel()
	if body := <-got; body != "done" {
		t.Errorf("in-flight request got %q, want it completed", body)
	}
	if err := <-served; err != nil {
		t.Errorf("Serve = %v", err)
	}
	if !h.draining.Load() {
		t.Error("readiness was not switched to draining")
	}
}

// TestReadinessLogs: a readiness probe's 503 is an answer, logged at debug
// level, while any other 503 is an error; a change of readiness is logged
// once, with what failed.
func TestReadinessLogs(t *testing.T) {
	gin.SetMode(gin.ReleaseMode)
	var logs strings.Builder
	log := slog.New(slog.NewJSONHandler(&logs, &slog.HandlerOptions{Level: slog.LevelInfo}))
	h := NewHealth()
	var failing atomic.Bool
	checked := make(chan struct{}, 100)
	h.Add("topic", func(context.Context) error {
		defer func() {
			select {
			case checked <- struct{}{}:
			default: // the test has what it waits for
			}
		}()
		if failing.Load() {
			return errors.New("unreachable")
		}
		return nil
	})
	e := gin.New()
	e.Use(RequestLog(log))
	h.Register(e)
	e.GET("/down", func(c *gin.Context) { c.Status(http.StatusServiceUnavailable) })
	for _, path := range []string{"/readyz", "/down"} {
		w := httptest.NewRecorder()
		e.ServeHTTP(w, httptest.NewRequest(http.MethodGet, path, nil))
		if w.Code != http.StatusServiceUnavailable {
			t.Fatalf("%s = %d, want 503", path, w.Code)
		}
	}
	if strings.Contains(logs.String(), `"route":"/readyz"`) {
		t.Errorf("a readiness probe's 503 logged above debug: %s", logs.String())
	}
	if !strings.Contains(logs.String(), `"level":"ERROR","msg":"request","method":"GET","route":"/down"`) {
		t.Errorf("another 503 not logged as an error: %s", logs.String())
	}

	logs.Reset()
	failing.Store(true)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); h.Run(ctx, time.Millisecond, log) }()
	// At least three checks failing, then at least three passing.
	for range 3 {
		<-checked
	}
	failing.Store(false)
	for range 3 {
		<-checked
	}
	cancel()
	<-done
	got := logs.String()
	if n := strings.Count(got, `"msg":"not ready"`); n != 1 || !strings.Contains(got, `"topic":"unreachable"`) {
		t.Errorf("not ready logged %d times (want once, naming the check): %s", n, got)
	}
	if n := strings.Count(got, `"msg":"ready"`); n != 1 {
		t.Errorf("ready logged %d times, want once: %s", n, got)
	}
}
