package loadgen

import (
	"context"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"
	"time"
)

func TestOpenAndClosed(t *testing.T) {
	var hits atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if hits.Add(1)%10 == 0 {
			w.WriteHeader(http.StatusTeapot) // every tenth answer is "wrong"
			return
		}
		http.Redirect(w, r, "/elsewhere", http.StatusFound)
	}))
	defer srv.Close()
	c := Client(8)
	req := func(int) *http.Request { r, _ := http.NewRequest(http.MethodGet, srv.URL, nil); return r }

	r := Open(context.Background(), c, req, http.StatusFound, 200, 500*time.Millisecond, 8)
	if r.Sent != 100 || r.OK+r.Errors != 100 || r.Errors != 10 {
		t.Errorf("open loop: sent %d ok %d errors %d, want 100 sent with 10 errors", r.Sent, r.OK, r.Errors)
	}
	if r.Elapsed < 450*time.Millisecond || r.P50 <= 0 || r.P50 > r.P99 || r.P99 > r.Max {
		t.Errorf("open loop timing: %+v", r)
	}
	cl := Closed(context.Background(), c, req, http.StatusFound, 4, 200*time.Millisecond)
	if cl.Sent == 0 || cl.OK+cl.Errors != cl.Sent {
		t.Errorf("closed loop: %+v", cl)
	}
}

func TestMedian(t *testing.T) {
	sec := time.Second
	rs := []Result{
		{Target: 10, OK: 10, Elapsed: sec, P99: 3 * time.Millisecond},
		{Target: 10, OK: 30, Elapsed: sec, P99: 1 * time.Millisecond},
		{Target: 10, OK: 20, Elapsed: sec, P99: 9 * time.Millisecond},
	}
	m := Median(rs)
	if m.Rate() != 20 || m.P99 != 3*time.Millisecond || m.Target != 10 {
		t.Errorf("Median = rate %v p99 %v", m.Rate(), m.P99)
	}
}
