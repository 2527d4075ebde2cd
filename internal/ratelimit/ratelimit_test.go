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
