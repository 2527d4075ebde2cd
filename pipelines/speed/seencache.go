package speed

// Runner seam: dedupe's state, read once per key and process instead of
// once per bundle.
//
// dedupeFn's state (a bag of 16-byte impression ids per key) is the
// truth; reading the whole bag for every bundle costs the whole set each
// time. Beam Go has no cross-bundle cache of user state, and Prism serves
// every state read over its data channel (state.Map costs one request per
// key and two per Put there; a bag appended once per bundle is far
// cheaper). So the decoded set is kept in this process across bundles, in
// one cache per transform shared by its DoFn instances (the runner may
// hand a key to any of them), and used only while it matches the
// fingerprint in state: after a failed bundle, or a key that moved to
// another worker and back, the fingerprint differs and the set is rebuilt
// from the bag (adclick/dedupe_rebuilds counts that). Needed by Prism and
// by Dataflow alike: Streaming Engine serves state remotely, and the
// per-bundle reread is what the local job's profile showed before the
// cache (docs/streaming.md, "Runner seams").

import (
	"encoding/binary"
	"fmt"
	"sync"
	"time"
)

// fingerprint identifies a set of impressions: its size and the sum of
// its members' keys (impKey, an id's first 8 bytes). Impression ids are
// random, so two different sets of equal size share a sum with
// probability 2^-64.
type fingerprint struct {
	n   uint64
	sum uint64
}

func (f fingerprint) bytes() []byte {
	return binary.BigEndian.AppendUint64(binary.BigEndian.AppendUint64(make([]byte, 0, 16), f.n), f.sum)
}

func parseFingerprint(b []byte) (fingerprint, error) {
	switch len(b) {
	case 0:
		return fingerprint{}, nil
	case 16:
		return fingerprint{n: binary.BigEndian.Uint64(b), sum: binary.BigEndian.Uint64(b[8:])}, nil
	}
	return fingerprint{}, fmt.Errorf("fingerprint of %d bytes, want 16", len(b))
}

// seenSet is one key's seen impressions, as cached in memory.
type seenSet struct {
	mu    sync.Mutex
	epoch time.Time
	fp    fingerprint
	ids   *idSet
}

func (s *seenSet) reset() {
	s.fp = fingerprint{}
	if s.ids == nil {
		s.ids = newIDSet()
	}
	s.ids.Clear()
}

// add records an impression's key and reports whether it was new.
func (s *seenSet) add(k uint64) bool {
	if !s.ids.Add(k) {
		return false
	}
	s.fp.n++
	s.fp.sum += k
	return true
}

// seenCache holds one dedupe transform's sets in this process. It is
// shared by the transform's DoFn instances because the runner may hand a
// key to any of them from bundle to bundle.
type seenCache struct {
	mu     sync.Mutex
	sets   map[string]*seenSet
	newest time.Time
}

var caches sync.Map // CacheID → *seenCache

func cacheFor(id string) *seenCache {
	c, _ := caches.LoadOrStore(id, &seenCache{sets: map[string]*seenSet{}})
	return c.(*seenCache)
}

// get returns key's set, creating an empty one (whose zero fingerprint
// matches empty state). Sets of epochs long past Horizon, whose timers
// fired on another worker, are dropped on the way.
func (c *seenCache) get(key string, epoch time.Time) *seenSet {
	c.mu.Lock()
	defer c.mu.Unlock()
	if epoch.After(c.newest) {
		c.newest = epoch
		for k, s := range c.sets {
			if s.epoch.Add(Epoch + Horizon + Epoch).Before(c.newest) {
				delete(c.sets, k)
			}
		}
	}
	s, ok := c.sets[key]
	if !ok {
		s = &seenSet{epoch: epoch, ids: newIDSet()}
		c.sets[key] = s
	}
	return s
}

func (c *seenCache) drop(key string) {
	c.mu.Lock()
	delete(c.sets, key)
	c.mu.Unlock()
}
