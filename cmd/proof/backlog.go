package main

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/adclick/adclick/internal/gcpnames"
)

// backlog samples, while the load runs, how many clicks messages wait
// unacknowledged in the Pub/Sub fake: its cost grows with them (it
// rescans every unacked message of every subscription each 10 ms under
// one lock), and the faults (an outage's replay, a stalled or restarted
// job) are what make them pile up.
type backlog struct {
	mu      sync.Mutex
	worst   int // unacked by a subscription, summed over the two
	worstAt time.Duration
	samples []string
}

func (b *backlog) run(ctx context.Context, s *stack, start time.Time, every time.Duration) {
	tick := time.NewTicker(every)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
		waiting, again := 0, 0
		for _, m := range s.emu.PubSub.Messages() {
			if strings.HasSuffix(m.Topic, "/"+gcpnames.ClicksTopic) {
				waiting += max(0, 2-m.Acks)     // the streaming and archive subscriptions each ack once
				again += max(0, m.Deliveries-2) // deliveries past one a subscription
			}
		}
		at := time.Since(start).Round(time.Second)
		b.mu.Lock()
		b.samples = append(b.samples, fmt.Sprintf("%v:%d(+%d)", at, waiting, again))
		if waiting > b.worst {
			b.worst, b.worstAt = waiting, at
		}
		b.mu.Unlock()
	}
}

func (b *backlog) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return fmt.Sprintf("most unacked in the Pub/Sub fake %d (at %v); samples at:unacked(+redelivered) %s", b.worst, b.worstAt, strings.Join(b.samples, " "))
}
