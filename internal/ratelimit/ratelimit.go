// Package ratelimit limits requests per client with one token bucket per
// key. Buckets live in shards so concurrent clicks rarely contend.
//
// The state is built for millions of distinct clients and a garbage
// collector that must not notice them: a bucket is two numbers stored by
// value under a 64-bit hash of its key, so the maps hold no pointers and
// are never scanned, and a bucket is forgotten once it has refilled, when
// it is indistinguishable from a new one. (Keys by string and a
// *rate.Limiter each were half of the click service's live heap, and
// their marking its latency tail.) Two clients whose keys share a 64-bit
// hash share a bucket; with a per-process random seed that is a 2^-64
// chance per pair.
package ratelimit

import (
	"context"
	"hash/maphash"
	"math"
	"net/netip"
	"sync"
	"time"
)

const shards = 64

// Limiter is safe for concurrent use.
type Limiter struct {
	perNano float64 // tokens added per nanosecond
	burst   float64
	refill  time.Duration // from empty to full
	seed    maphash.Seed
	shards  [shards]shard
}

type shard struct {
	mu      sync.Mutex
	buckets map[uint64]bucket
	_       [48]byte // a shard per cache line: neighbours do not contend
}

// bucket holds tokens as of last (Unix nanoseconds).
type bucket struct {
	tokens float64
	last   int64
}

// New allows each key perSecond requests on average with bursts of burst.
func New(perSecond float64, burst int) *Limiter {
	l := &Limiter{perNano: perSecond / 1e9, burst: float64(burst), seed: maphash.MakeSeed()}
	l.refill = time.Duration(math.Ceil(l.burst / l.perNano))
	for i := range l.shards {
		l.shards[i].buckets = map[uint64]bucket{}
	}
	return l
}

// Refill is how long an unused bucket takes to fill up: how often Sweep
// is worth calling.
func (l *Limiter) Refill() time.Duration { return l.refill }

// Allow reports whether key may make a request at now, and if not, how
// long until it may.
func (l *Limiter) Allow(key string, now time.Time) (bool, time.Duration) {
	h := maphash.String(l.seed, key)
	s := &l.shards[h%shards]
	t := now.UnixNano()
	s.mu.Lock()
	defer s.mu.Unlock()
	b, ok := s.buckets[h]
	if !ok {
		b = bucket{tokens: l.burst, last: t}
	}
	if elapsed := t - b.last; elapsed > 0 {
		b.tokens = min(l.burst, b.tokens+float64(elapsed)*l.perNano)
		b.last = t
	}
	if b.tokens < 1 {
		s.buckets[h] = b
		return false, time.Duration(math.Ceil((1 - b.tokens) / l.perNano))
	}
	b.tokens--
	s.buckets[h] = b
	return true, 0
}

// Sweep forgets buckets that are full again at now and returns how many
// remain.
func (l *Limiter) Sweep(now time.Time) int {
	t := now.UnixNano()
	n := 0
	for i := range l.shards {
		s := &l.shards[i]
		s.mu.Lock()
		for k, b := range s.buckets {
			if b.tokens+float64(t-b.last)*l.perNano >= l.burst {
				delete(s.buckets, k)
			}
		}
		n += len(s.buckets)
		s.mu.Unlock()
	}
	return n
}

// ClientKey is the rate-limit key of a client address: the address itself
// for IPv4, its /64 for IPv6, since one subscriber gets a whole /64 and
// can use any address in it. Anything that is not an address is its own
// key.
func ClientKey(addr string) string {
	ip, err := netip.ParseAddr(addr)
	if err != nil || !ip.Is6() || ip.Is4In6() {
		if err == nil && ip.Is4In6() {
			return ip.Unmap().String()
		}
		return addr
	}
	p, _ := ip.Prefix(64)
	return p.String()
}

// Run sweeps the limiter until ctx ends. A bucket is forgotten once it
// has refilled; sweeping that often keeps the limiter to the clients of
// the last few seconds.
func (l *Limiter) Run(ctx context.Context) {
	t := time.NewTicker(max(l.Refill(), time.Second))
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case now := <-t.C:
			l.Sweep(now)
		}
	}
}
