package pullsource

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	"cloud.google.com/go/pubsub/v2"
	"cloud.google.com/go/pubsub/v2/apiv1/pubsubpb"
	"github.com/apache/beam/sdks/v2/go/pkg/beam"
	"github.com/apache/beam/sdks/v2/go/pkg/beam/testing/ptest"

	"github.com/adclick/adclick/internal/gcpnames"
	"github.com/adclick/adclick/internal/localstack"
	"github.com/adclick/adclick/internal/localstack/lstest"
	"github.com/adclick/adclick/pipelines/pubsubmsg"
)

func TestMain(m *testing.M) { ptest.MainRet(m) }

func init() {
	beam.RegisterFunction(countMessage)
}

var received = beam.NewCounter("test", "received")

func countMessage(ctx context.Context, m pubsubmsg.Message) { received.Inc(ctx, 1) }

// TestReadsEverythingAndAcks publishes messages before and while the job
// runs, drains it, and checks that every message was read and acked.
func TestReadsEverythingAndAcks(t *testing.T) {
	st := lstest.Start(t)
	ctx := context.Background()
	const project = gcpnames.LocalProject
	c, err := pubsub.NewClient(ctx, project)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	pub := c.Publisher(gcpnames.ClicksTopic)
	publish := func(from, n int) (ids []string) {
		var rs []*pubsub.PublishResult
		for i := from; i < from+n; i++ {
			rs = append(rs, pub.Publish(ctx, &pubsub.Message{Data: fmt.Appendf(nil, "m%d", i),
				Attributes: map[string]string{"click_time": time.Now().UTC().Format(time.RFC3339Nano)}}))
		}
		for _, r := range rs {
			id, err := r.Get(ctx)
			if err != nil {
				t.Error(err)
				return nil
			}
			ids = append(ids, id)
		}
		return ids
	}
	// pulled waits until the job has pulled every message of ids.
	pulled := func(ids []string) bool {
		for deadline := time.Now().Add(time.Minute); time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
			n := 0
			for _, id := range ids {
				if m := st.PubSub.Message(id); m != nil && m.Deliveries > 0 {
					n++
				}
			}
			if n == len(ids) {
				return true
			}
		}
		t.Errorf("the job did not pull %d messages within a minute", len(ids))
		return false
	}
	const before, during = 2500, 1500
	first := publish(0, before)

	// Publish more once the job has pulled the first messages, and drain
	// it once it has pulled those too.
	drain := filepath.Join(t.TempDir(), "drain")
	go func() {
		defer os.WriteFile(drain, nil, 0o644)
		if pulled(first) {
			pulled(publish(before, during))
		}
	}()
	p, s := beam.NewPipelineWithRoot()
	beam.ParDo0(s, countMessage, Read(s, project, gcpnames.StreamingSubscription, drain))
	res, err := ptest.RunWithMetrics(p)
	if err != nil {
		t.Fatal(err)
	}
	got := counter(res, "received")
	if got < before+during {
		t.Errorf("read %d messages, want at least %d", got, before+during)
	}
	t.Logf("read %d, acked %d of %d", got, counter(res, "acked"), before+during)
	// The backlog published before the start came in bundles larger than
	// Pub/Sub's own Pulls (~1,000): the fake gives what is asked.
	if most := largest(res, "pulled_per_bundle"); most <= 1000 {
		t.Errorf("largest bundle pulled %d messages with a backlog of %d: want more than 1,000", most, before)
	}
	// Whatever was acked is gone from the subscription; the rest would be
	// redelivered to the next run.
	resp, err := c.SubscriptionAdminClient.Pull(ctx, &pubsubpb.PullRequest{
		Subscription: localstack.SubscriptionName(project, gcpnames.StreamingSubscription), MaxMessages: 1000})
	if err != nil {
		t.Fatal(err)
	}
	if left := len(resp.ReceivedMessages); int64(left)+counter(res, "acked") < before+during {
		t.Errorf("%d left unacked + %d acked < %d published: messages vanished", left, counter(res, "acked"), before+during)
	}
}

func counter(res beam.PipelineResult, name string) int64 {
	var n int64
	for _, c := range res.Metrics().AllMetrics().Counters() {
		if c.Key.Name == name {
			n += c.Result()
		}
	}
	return n
}

func largest(res beam.PipelineResult, name string) int64 {
	var most int64
	for _, d := range res.Metrics().AllMetrics().Distributions() {
		if d.Key.Name == name {
			most = max(most, d.Result().Max)
		}
	}
	return most
}
