package proc

import (
	"bytes"
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"
)

type syncBuf struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuf) Write(p []byte) (int, error) { s.mu.Lock(); defer s.mu.Unlock(); return s.b.Write(p) }
func (s *syncBuf) String() string              { s.mu.Lock(); defer s.mu.Unlock(); return s.b.String() }

func TestStopKillRestart(t *testing.T) {
	out := &syncBuf{}
	// A shell that says hello, then waits; on SIGTERM it says bye and ends.
	p := &Proc{Name: "sh", Path: "/bin/sh", Args: []string{"-c", `trap 'echo bye; exit 0' TERM; echo hello; while :; do sleep 0.1; done`}, Out: out}
	if err := p.Start(); err != nil {
		t.Fatal(err)
	}
	// "hello" comes after the trap is set: a SIGTERM before it would
	// find no handler.
	waitOutput(t, out, "hello", 1)
	if !p.Alive() {
		t.Fatal("not alive after start")
	}
	p.Stop(5 * time.Second)
	if p.Alive() {
		t.Fatal("alive after Stop")
	}
	if got := out.String(); !strings.Contains(got, "sh       | hello") || !strings.Contains(got, "sh       | bye") {
		t.Errorf("output %q: want prefixed hello and the graceful bye", got)
	}
	if err := p.Start(); err != nil {
		t.Fatal(err)
	}
	waitOutput(t, out, "hello", 2)
	p.Kill()
	select {
	case <-p.Exited():
	default:
		t.Fatal("Exited not closed after Kill")
	}
	if strings.Count(out.String(), "bye") != 1 {
		t.Errorf("a killed process ran its graceful exit: %q", out.String())
	}
}

// waitOutput waits until out holds n copies of s.
func waitOutput(t *testing.T, out *syncBuf, s string, n int) {
	t.Helper()
	for deadline := time.Now().Add(10 * time.Second); strings.Count(out.String(), s) < n; time.Sleep(10 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("no %d× %q in the output after 10 s: %q", n, s, out.String())
		}
	}
}

func TestWaitHelpers(t *testing.T) {
	ctx := context.Background()
	addr, err := FreeAddr()
	if err != nil {
		t.Fatal(err)
	}
	if err := WaitListening(ctx, addr, 100*time.Millisecond); err == nil {
		t.Error("WaitListening succeeded with nothing listening")
	}
	exited := make(chan struct{})
	close(exited)
	if err := WaitReady(ctx, "http://"+addr+"/readyz", 5*time.Second, exited); err == nil || !strings.Contains(err.Error(), "exited") {
		t.Errorf("WaitReady for an exited child: %v, want an exit error", err)
	}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {}))
	defer srv.Close()
	if err := WaitReady(ctx, srv.URL, 5*time.Second, nil); err != nil {
		t.Errorf("WaitReady on a 200 server: %v", err)
	}
	if err := WaitListening(ctx, srv.Listener.Addr().String(), 5*time.Second); err != nil {
		t.Errorf("WaitListening on a live server: %v", err)
	}
}

// TestCPU: a busy process's CPU time grows while it runs, and what it
// used stays counted after it is killed and across a restart.
func TestCPU(t *testing.T) {
	p := &Proc{Name: "busy", Path: "/bin/sh", Args: []string{"-c", "while :; do :; done"}, Out: &syncBuf{}}
	if p.CPU() != 0 {
		t.Fatalf("CPU before any run: %v", p.CPU())
	}
	if err := p.Start(); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(30 * time.Second)
	for p.CPU() < 200*time.Millisecond {
		if time.Now().After(deadline) {
			t.Fatalf("a busy loop used %v of CPU in 30 s", p.CPU())
		}
		time.Sleep(10 * time.Millisecond)
	}
	live := p.CPU()
	p.Kill()
	ended := p.CPU()
	if ended < live {
		t.Fatalf("CPU after the kill %v, less than while running %v", ended, live)
	}
	if err := p.Start(); err != nil {
		t.Fatal(err)
	}
	defer p.Kill()
	if again := p.CPU(); again < ended {
		t.Errorf("CPU after a restart %v, less than the ended run's %v", again, ended)
	}
}
