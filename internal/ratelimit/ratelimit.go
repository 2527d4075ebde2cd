// Package ratelimit limits requests per client with one token bucket per
// key. Buckets live in shards so concurrent clicks rarely contend, and idle
// buckets are swept so millions of distinct users do not pin memory.
package ratelimit

import (
	"hash/maphash"
	"sync"
	"time"

	"golang.org/x/time/rate"
)

const shards = 64

// Limiter is safe for concurrent use.
type Limiter struct {
	rate   rate.Limit
	burst  int
	idle   time.Duration
	seed   maphash.Seed
	shards [shards]shard
}

type shard struct {
	mu      sync.Mutex
	buckets map[string]*bucket
}

type bucket struct {
	lim  *rate.Limiter
	seen time.Time
}

// New allows each key perSecond requests on average with bursts of burst.
// A bucket unused for idle is forgotten (and starts full if seen again).
func New(perSecond float64, burst int, idle time.Duration) *Limiter {
	l := &Limiter{rate: rate.Limit(perSecond), burst: burst, idle: idle, seed: maphash.MakeSeed()}
	for i := range l.shards {
		l.shards[i].buckets = map[string]*bucket{}
	}
	return l
}

// Allow reports whether key may make a request at now, and if not, how
// long until it may.
func (l *Limiter) Allow(key string, now time.Time) (bool, time.Duration) {
	s := &l.shards[maphash.String(l.seed, key)%shards]
	s.mu.Lock()
	defer s.mu.Unlock()
	b, ok := s.buckets[key]
	if !ok {
		b = &bucket{lim: rate.NewLimiter(l.rate, l.burst)}
		s.buckets[key] = b
	}
	b.seen = now
	r := b.lim.ReserveN(now, 1)
	if !r.OK() {
		return false, time.Second
	}
	if d := r.DelayFrom(now); d > 0 {
		r.CancelAt(now)
		return false, d
	}
	return true, 0
}

// Sweep forgets buckets idle since before now-idle and returns how many
// remain.
func (l *Limiter) Sweep(now time.Time) int {
	n := 0
	for i := range l.shards {
		s := &l.shards[i]
		s.mu.Lock()
		for k, b := range s.buckets {
			if now.Sub(b.seen) > l.idle {
				delete(s.buckets, k)
			}
		}
		n += len(s.buckets)
		s.mu.Unlock()
	}
	return n
}
