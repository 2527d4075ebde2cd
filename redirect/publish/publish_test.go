package publish

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"testing"
	"time"

	"cloud.google.com/go/pubsub/v2"
	"google.golang.org/api/option"
	"google.golang.org/grpc"
	"google.golang.org/grpc/backoff"

	"github.com/adclick/adclick/internal/faultproxy"
	"github.com/adclick/adclick/internal/gcpnames"
	"github.com/adclick/adclick/internal/localstack"
	"github.com/adclick/adclick/redirect/spool"
)

const project = gcpnames.LocalProject

type env struct {
	stack  *localstack.Stack
	proxy  *faultproxy.Proxy
	client *pubsub.Client
}

func setup(t *testing.T) *env {
	t.Helper()
	st, err := localstack.Start("127.0.0.1:0", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(st.Close)
	ctx := context.Background()
	if err := localstack.EnsurePubSub(ctx, st.PubSubAddr, project); err != nil {
		t.Fatal(err)
	}
	px, err := faultproxy.Start("127.0.0.1:0", st.PubSubAddr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { px.Close() })
	opts := append(localstack.EmulatorOptions(px.Addr()), option.WithGRPCDialOption(grpc.WithConnectParams(grpc.ConnectParams{
		Backoff: backoff.Config{BaseDelay: 50 * time.Millisecond, Multiplier: 1.6, MaxDelay: 200 * time.Millisecond},
	})))
	c, err := pubsub.NewClient(ctx, project, opts...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return &env{stack: st, proxy: px, client: c}
}

func (e *env) publisher(t *testing.T, dir string) (*Publisher, *spool.Spool) {
	t.Helper()
	sp, err := spool.Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	cfg := Config{Topic: localstack.TopicName(project, gcpnames.ClicksTopic), Wait: 200 * time.Millisecond, ReplayEvery: 50 * time.Millisecond, ReplayTimeout: 5 * time.Second}
	return New(e.client.TopicAdminClient, sp, cfg, log, Observer{}), sp
}

func msg(i int) Message {
	return Message{Data: fmt.Appendf(nil, `{"n":%d}`, i), Attributes: map[string]string{"click_id": fmt.Sprint("c", i)}}
}

// collect pulls from the tail subscription until want distinct click ids
// arrived or the deadline passes, and returns how often each arrived.
func (e *env) collect(t *testing.T, want int, within time.Duration) map[string]int {
	t.Helper()
	ctx := context.Background()
	seen := map[string]int{}
	deadline := time.Now().Add(within)
	for len(seen) < want && time.Now().Before(deadline) {
		msgs, err := localstack.Pull(ctx, e.client, project, gcpnames.TailSubscription, 1000)
		if err != nil {
			e.proxy.SetDown(false)
			t.Fatal(err)
		}
		for _, m := range msgs {
			seen[m.Attributes["click_id"]]++
		}
		if len(msgs) == 0 {
			time.Sleep(20 * time.Millisecond)
		}
	}
	return seen
}

func TestOutageSpoolsAndReplaysEverything(t *testing.T) {
	e := setup(t)
	p, sp := e.publisher(t, t.TempDir())
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go p.Run(ctx)

	const n = 300
	routes := map[Route]int{}
	for i := range n {
		switch i {
		case 100:
			e.proxy.SetDown(true) // Pub/Sub goes away mid-stream
		case 200:
			e.proxy.SetDown(false)
		}
		r, err := p.Publish(ctx, msg(i))
		if err != nil {
			t.Fatalf("click %d not recorded: %v", i, err)
		}
		routes[r]++
	}
	if routes[RouteSpool] == 0 {
		t.Fatalf("no click was spooled during the outage: %v", routes)
	}
	seen := e.collect(t, n, 20*time.Second)
	for i := range n {
		if seen[fmt.Sprint("c", i)] == 0 {
			t.Errorf("click c%d lost", i)
		}
	}
	deadline := time.Now().Add(5 * time.Second)
	for sp.Depth() != 0 && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	if sp.Depth() != 0 {
		t.Errorf("spool depth %d after recovery, want 0", sp.Depth())
	}
	t.Logf("routes %v, %d distinct of %d published", routes, len(seen), n)
	cancel()
	p.Close(2 * time.Second)
}

func TestRestartReplaysSpool(t *testing.T) {
	e := setup(t)
	dir := t.TempDir()
	p, sp := e.publisher(t, dir)
	e.proxy.SetDown(true)
	ctx := context.Background()
	for i := range 20 {
		if r, err := p.Publish(ctx, msg(i)); err != nil || r != RouteSpool {
			t.Fatalf("click %d: route %q err %v, want spooled", i, r, err)
		}
	}
	if sp.Depth() != 20 {
		t.Fatalf("spool depth %d, want 20", sp.Depth())
	}
	// Stop without Pub/Sub: the spool keeps everything on disk.
	spDone := make(chan struct{})
	go func() { p.Close(2 * time.Second); close(spDone) }()
	select {
	case <-spDone:
	case <-time.After(10 * time.Second):
		t.Fatal("Close hung while Pub/Sub was down")
	}

	e.proxy.SetDown(false)
	p2, sp2 := e.publisher(t, dir)
	if sp2.Depth() != 20 {
		t.Fatalf("reopened spool depth %d, want 20", sp2.Depth())
	}
	runCtx, cancel := context.WithCancel(ctx)
	defer cancel()
	go p2.Run(runCtx)
	seen := e.collect(t, 20, 20*time.Second)
	if len(seen) != 20 {
		t.Errorf("replayed %d distinct clicks after restart, want 20", len(seen))
	}
	cancel()
	p2.Close(2 * time.Second)
}
