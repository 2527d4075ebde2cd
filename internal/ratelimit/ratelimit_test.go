package ratelimit

import (
	"fmt"
	"testing"
	"time"
)

func TestAllow(t *testing.T) {
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	tests := []struct {
		name    string
		rate    float64
		burst   int
		at      []time.Duration // request times after t0, all for one key
		allowed int
	}{
		{"burst then refused", 1, 3, []time.Duration{0, 0, 0, 0, 0}, 3},
		{"refills over time", 10, 1, []time.Duration{0, 50 * time.Millisecond, 100 * time.Millisecond, 200 * time.Millisecond}, 3},
		{"steady within rate", 100, 1, []time.Duration{0, 10 * time.Millisecond, 20 * time.Millisecond, 30 * time.Millisecond}, 4},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			l := New(tt.rate, tt.burst)
			n := 0
			for _, d := range tt.at {
				if ok, _ := l.Allow("client", t0.Add(d)); ok {
					n++
				}
			}
			if n != tt.allowed {
				t.Errorf("allowed %d of %d, want %d", n, len(tt.at), tt.allowed)
			}
		})
	}
}

func TestKeysAreIndependentAndSwept(t *testing.T) {
	t0 := time.Now()
	l := New(1, 1)
	if ok, _ := l.Allow("a", t0); !ok {
		t.Fatal("first request refused")
	}
	if ok, wait := l.Allow("a", t0); ok || wait <= 0 {
		t.Errorf("second request for a: ok=%v wait=%v, want refused with a wait", ok, wait)
	}
	if ok, _ := l.Allow("b", t0); !ok {
		t.Error("b was limited by a's bucket")
	}
	if n := l.Sweep(t0.Add(500 * time.Millisecond)); n != 2 {
		t.Errorf("Sweep kept %d half-full buckets, want 2", n)
	}
	if n := l.Sweep(t0.Add(l.Refill())); n != 0 {
		t.Errorf("Sweep kept %d refilled buckets, want 0", n)
	}
	if ok, _ := l.Allow("a", t0.Add(l.Refill())); !ok {
		t.Error("a swept bucket did not start full")
	}
}

func TestWaitUntilNextToken(t *testing.T) {
	t0 := time.Now()
	l := New(10, 1) // a token every 100ms
	l.Allow("a", t0)
	ok, wait := l.Allow("a", t0.Add(30*time.Millisecond))
	if ok || wait < 69*time.Millisecond || wait > 71*time.Millisecond {
		t.Errorf("ok=%v wait=%v, want refused with about 70ms to wait", ok, wait)
	}
	if ok, _ := l.Allow("a", t0.Add(100*time.Millisecond)); !ok {
		t.Error("refused once the next token was due")
	}
}

// BenchmarkAllow is the per-click cost over many distinct clients.
func BenchmarkAllow(b *testing.B) {
	l := New(50, 100)
	keys := make([]string, 1<<16)
	for i := range keys {
		keys[i] = fmt.Sprintf("10.%d.%d.7", i/250%250, i%250)
	}
	now := time.Now()
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		l.Allow(keys[i%len(keys)], now.Add(time.Duration(i)))
	}
}

func TestClientKey(t *testing.T) {
	for _, tt := range []struct{ addr, want string }{
		{"203.0.113.7", "203.0.113.7"},
		{"2001:db8:1:2:3:4:5:6", "2001:db8:1:2::/64"},
		{"2001:db8:1:2:ffff:ffff:ffff:ffff", "2001:db8:1:2::/64"},
		{"2001:db8:1:3::1", "2001:db8:1:3::/64"},
		{"::ffff:203.0.113.7", "203.0.113.7"},
		{"not an address", "not an address"},
	} {
		if got := ClientKey(tt.addr); got != tt.want {
			t.Errorf("ClientKey(%q) = %q, want %q", tt.addr, got, tt.want)
		}
	}
}

// TestIPv6ClientRotatingInsideItsPrefix: a client cycling through the
// addresses of its /64 shares one bucket (before: 10,000 of 10,000 went
// through; one address got 100).
func TestIPv6ClientRotatingInsideItsPrefix(t *testing.T) {
	l := New(1, 100)
	now := time.Unix(1_800_000_000, 0)
	allowed := 0
	for i := range 10_000 {
		addr := fmt.Sprintf("2001:db8:aa:bb:%x:%x::1", i/65536, i%65536)
		if ok, _ := l.Allow(ClientKey(addr), now); ok {
			allowed++
		}
	}
	if allowed != 100 {
		t.Errorf("%d of 10,000 requests from one /64 allowed, want the burst (100)", allowed)
	}
}
