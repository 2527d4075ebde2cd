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
	"testing"
	"time"

	"github.com/gin-gonic/gin"
)

func TestHealth(t *testing.T) {
	gin.SetMode(gin.ReleaseMode)
	var topicErr error
	h := NewHealth()
	h.Add("catalog", func(context.Context) error { return nil })
	h.Add("topic", func(context.Context) error { return topicErr })
	e := gin.New()
	h.Register(e)
	get := func(path string) (int, string) {
		w := httptest.NewRecorder()
		e.ServeHTTP(w, httptest.NewRequest(http.MethodGet, path, nil))
		return w.Code, w.Body.String()
	}
	tests := []struct {
		name     string
		setup    func()
		path     string
		code     int
		contains string
	}{
		{"alive", func() {}, "/healthz", 200, "ok"},
		{"ready", func() {}, "/readyz", 200, `"topic":"ok"`},
		{"a check fails", func() { topicErr = errors.New("unreachable") }, "/readyz", 503, `"topic":"unreachable"`},
		{"still alive", func() {}, "/healthz", 200, "ok"},
		{"draining", func() { topicErr = nil; h.Drain() }, "/readyz", 503, "shutting down"},
	}
	for _, tt := range tests {
		tt.setup()
		code, body := get(tt.path)
		if code != tt.code || !strings.Contains(body, tt.contains) {
			t.Errorf("%s: %s = %d %s, want %d containing %q", tt.name, tt.path, code, body, tt.code, tt.contains)
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
