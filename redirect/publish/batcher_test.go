package publish

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"cloud.google.com/go/pubsub/v2/apiv1/pubsubpb"
	"github.com/googleapis/gax-go/v2"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// gateSender records requests and holds each until released, so a test
// decides when a request slot frees up. The batching logic is what is
// under test here; publish_test.go runs the whole path against the Pub/Sub
// fake.
type gateSender struct {
	mu      sync.Mutex
	sizes   []int // messages per request, in arrival order
	started chan struct{}
	release chan error // one value per request: its outcome
}

func newGateSender() *gateSender {
	return &gateSender{started: make(chan struct{}, 100), release: make(chan error, 100)}
}

func (g *gateSender) Publish(ctx context.Context, req *pubsubpb.PublishRequest, _ ...gax.CallOption) (*pubsubpb.PublishResponse, error) {
	g.mu.Lock()
	g.sizes = append(g.sizes, len(req.Messages))
	g.mu.Unlock()
	g.started <- struct{}{}
	select {
	case err := <-g.release:
		return &pubsubpb.PublishResponse{}, err
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

func (g *gateSender) requests() []int {
	g.mu.Lock()
	defer g.mu.Unlock()
	return append([]int(nil), g.sizes...)
}

func testMsg(i int) *pubsubpb.PubsubMessage {
	return &pubsubpb.PubsubMessage{Data: fmt.Appendf(nil, "%d", i), Attributes: map[string]string{"click_id": fmt.Sprint(i)}}
}

func waitDone(t *testing.T, b *batch) error {
	t.Helper()
	select {
	case <-b.done:
		return b.err
	case <-time.After(5 * time.Second):
		t.Fatal("batch not done after 5s")
		return nil
	}
}

func TestBatcherLingersThenSends(t *testing.T) {
	g := newGateSender()
	// A long linger, so a descheduled test cannot see it pass between adds.
	bt := newBatcher(g, "projects/p/topics/t", 200*time.Millisecond, 5*time.Second, 2)
	start := time.Now()
	b1, b2 := bt.add(testMsg(1), start), bt.add(testMsg(2), start)
	if b1 != b2 {
		t.Fatal("two clicks within the linger went to different batches")
	}
	<-g.started
	if waited := time.Since(start); waited < 200*time.Millisecond {
		t.Errorf("sent after %v, before the 200ms linger", waited)
	}
	g.release <- nil
	if err := waitDone(t, b1); err != nil {
		t.Fatal(err)
	}
	if got := g.requests(); len(got) != 1 || got[0] != 2 {
		t.Errorf("requests %v, want one of 2 messages", got)
	}
}

func TestBatcherGrowsWhileSlotsAreBusy(t *testing.T) {
	g := newGateSender()
	bt := newBatcher(g, "projects/p/topics/t", time.Millisecond, 5*time.Second, 1)
	first := bt.add(testMsg(0), time.Now())
	<-g.started // the only slot is now busy
	var later *batch
	for i := 1; i <= 50; i++ {
		b := bt.add(testMsg(i), time.Now())
		if later != nil && b != later {
			t.Fatalf("click %d started another batch while the slot was busy", i)
		}
		later = b
		time.Sleep(100 * time.Microsecond) // many lingers pass
	}
	g.release <- nil
	waitDone(t, first)
	<-g.started
	g.release <- nil
	if err := waitDone(t, later); err != nil {
		t.Fatal(err)
	}
	if got := g.requests(); len(got) != 2 || got[0] != 1 || got[1] != 50 {
		t.Errorf("requests %v, want [1 50]", got)
	}
}

func TestBatcherSplitsAtTheRequestLimit(t *testing.T) {
	g := newGateSender()
	bt := newBatcher(g, "projects/p/topics/t", time.Hour, 5*time.Second, 4)
	var last *batch
	for i := range maxBatchMessages + 1 {
		last = bt.add(testMsg(i), time.Now())
	}
	<-g.started // the full batch goes at once, without lingering
	g.release <- nil
	if got := g.requests(); len(got) != 1 || got[0] != maxBatchMessages {
		t.Errorf("requests %v, want one of %d", got, maxBatchMessages)
	}
	select {
	case <-last.done:
		t.Error("the click beyond the limit was sent before its linger")
	default:
	}
}

func TestBatcherFailures(t *testing.T) {
	tests := []struct {
		name    string
		outcome error         // what Pub/Sub answers; nil: never answers
		wait    time.Duration // the batch's deadline
		want    codes.Code
	}{
		{"refused", status.Error(codes.PermissionDenied, "no"), 5 * time.Second, codes.PermissionDenied},
		{"no answer by the deadline", nil, 50 * time.Millisecond, codes.DeadlineExceeded},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			g := newGateSender()
			bt := newBatcher(g, "projects/p/topics/t", time.Millisecond, tt.wait, 1)
			start := time.Now()
			b := bt.add(testMsg(1), start)
			<-g.started
			if tt.outcome != nil {
				g.release <- tt.outcome
			}
			err := waitDone(t, b)
			if status.Code(err) != tt.want && !(tt.want == codes.DeadlineExceeded && errors.Is(err, context.DeadlineExceeded)) {
				t.Fatalf("err %v, want %v", err, tt.want)
			}
			if took := time.Since(start); took > tt.wait+time.Second {
				t.Errorf("failed after %v, past its %v deadline", took, tt.wait)
			}
		})
	}
}

func TestBatcherClose(t *testing.T) {
	g := newGateSender()
	bt := newBatcher(g, "projects/p/topics/t", time.Hour, 5*time.Second, 1)
	b := bt.add(testMsg(1), time.Now())
	go func() { <-g.started; g.release <- nil }()
	if !bt.close(5 * time.Second) {
		t.Fatal("close did not flush the gathered batch")
	}
	if err := waitDone(t, b); err != nil {
		t.Fatalf("gathered click: %v", err)
	}
	if err := waitDone(t, bt.add(testMsg(2), time.Now())); !errors.Is(err, errClosed) {
		t.Errorf("click after close: %v, want errClosed", err)
	}
}
