package publish

import (
	"context"
	"errors"
	"sync"
	"time"

	"cloud.google.com/go/pubsub/v2/apiv1/pubsubpb"
	"github.com/googleapis/gax-go/v2"
	"google.golang.org/grpc/codes"
)

// Sender is the Pub/Sub Publish RPC, as *pubsub.Client.TopicAdminClient
// (cloud.google.com/go/pubsub/v2/apiv1) offers it.
type Sender interface {
	Publish(ctx context.Context, req *pubsubpb.PublishRequest, opts ...gax.CallOption) (*pubsubpb.PublishResponse, error)
}

// Pub/Sub's limits on one Publish request are 1,000 messages and 10 MB.
const (
	maxBatchMessages = 1000
	maxBatchBytes    = 4 << 20
)

// errClosed fails clicks handed over after Close; they go to the spool.
var errClosed = errors.New("publisher closed")

// batcher gathers clicks into Publish requests adaptively: a batch is sent
// once it has lingered for a moment and one of a few request slots is
// free. While every slot is busy, the waiting batch keeps growing, so at
// low rates a click waits little more than one round trip, and under load
// batches grow until the requests keep up, which is what makes a click
// cheap for both this process and Pub/Sub. (The high-level
// pubsub.Publisher batches on a fixed delay and spends more per message than
// the rest of the click handler: OpenCensus tag contexts, two size passes,
// flow control and a scheduler.)
type batcher struct {
	send   Sender
	topic  string // projects/p/topics/t
	linger time.Duration
	wait   time.Duration // a batch's deadline, from its first click
	slots  int
	retry  func() gax.Retryer
	codec  gax.CallOption

	mu       sync.Mutex
	cur      *batch   // gathering clicks; nil if none
	full     []*batch // full batches waiting for a slot
	inflight int
	closed   bool
	wg       sync.WaitGroup
}

// batch is one Publish request and the outcome every click in it waits on.
type batch struct {
	msgs     []*pubsubpb.PubsubMessage
	bytes    int
	deadline time.Time
	lingered bool // ready to go as soon as a slot is free
	timer    *time.Timer
	done     chan struct{} // closed once err is set
	err      error
}

func newBatcher(send Sender, topic string, linger, wait time.Duration, slots int) *batcher {
	return &batcher{
		send: send, topic: topic, linger: linger, wait: wait, slots: max(slots, 1), codec: withPublishCodec(),
		// Retry transient failures quickly: a click waits at most wait
		// before it is spooled, so a slow backoff would only spool it.
		retry: func() gax.Retryer {
			return gax.OnCodes([]codes.Code{codes.Unavailable, codes.Internal, codes.Aborted, codes.ResourceExhausted, codes.Unknown},
				gax.Backoff{Initial: 10 * time.Millisecond, Max: 100 * time.Millisecond, Multiplier: 2})
		},
	}
}

// add queues msg and returns the batch whose outcome decides the click.
// The batch fails by its deadline, wait after its first click, at the latest.
func (b *batcher) add(msg *pubsubpb.PubsubMessage, now time.Time) *batch {
	size := messageSize(msg)
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.closed {
		c := &batch{done: make(chan struct{}), err: errClosed}
		close(c.done)
		return c
	}
	if b.cur != nil && b.cur.bytes+size > maxBatchBytes {
		b.sealLocked()
	}
	if b.cur == nil {
		c := &batch{deadline: now.Add(b.wait), done: make(chan struct{})}
		c.timer = time.AfterFunc(b.linger, func() { b.lingered(c) })
		b.cur = c
	}
	c := b.cur
	c.msgs = append(c.msgs, msg)
	c.bytes += size
	if len(c.msgs) >= maxBatchMessages {
		b.sealLocked()
	}
	b.dispatchLocked()
	return c
}

// messageSize bounds the encoded size of msg closely enough for the
// request limit, without a pass over the protobuf.
func messageSize(m *pubsubpb.PubsubMessage) int {
	n := len(m.Data) + 8
	for k, v := range m.Attributes {
		n += len(k) + len(v) + 8
	}
	return n
}

func (b *batcher) lingered(c *batch) {
	b.mu.Lock()
	defer b.mu.Unlock()
	c.lingered = true
	b.dispatchLocked()
}

// sealLocked moves the gathering batch to the full ones.
func (b *batcher) sealLocked() {
	b.cur.timer.Stop()
	b.full = append(b.full, b.cur)
	b.cur = nil
}

// dispatchLocked fills free slots: full batches first, then the gathering
// batch once it has lingered.
func (b *batcher) dispatchLocked() {
	for b.inflight < b.slots {
		var c *batch
		switch {
		case len(b.full) > 0:
			c = b.full[0]
			b.full[0] = nil
			b.full = b.full[1:]
		case b.cur != nil && b.cur.lingered:
			c = b.cur
			b.cur = nil
		default:
			return
		}
		b.inflight++
		b.wg.Add(1)
		go b.publish(c)
	}
}

func (b *batcher) publish(c *batch) {
	defer b.wg.Done()
	ctx, cancel := context.WithDeadline(context.Background(), c.deadline)
	_, c.err = b.send.Publish(ctx, &pubsubpb.PublishRequest{Topic: b.topic, Messages: c.msgs}, gax.WithRetry(b.retry), b.codec)
	cancel()
	close(c.done)
	b.mu.Lock()
	b.inflight--
	b.dispatchLocked()
	b.mu.Unlock()
}

// close sends what is gathered, refuses new clicks, and waits up to flush
// for the requests under way.
func (b *batcher) close(flush time.Duration) bool {
	b.mu.Lock()
	b.closed = true
	if b.cur != nil {
		b.cur.lingered = true
	}
	b.dispatchLocked()
	b.mu.Unlock()
	done := make(chan struct{})
	go func() { b.wg.Wait(); close(done) }()
	select {
	case <-done:
		return true
	case <-time.After(flush):
		return false
	}
}
