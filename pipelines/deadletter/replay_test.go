package deadletter

import (
	"bytes"
	"context"
	"strings"
	"testing"

	"cloud.google.com/go/pubsub/v2"
	"cloud.google.com/go/pubsub/v2/apiv1/pubsubpb"

	"github.com/adclick/adclick/internal/gcpnames"
	"github.com/adclick/adclick/internal/localstack"
	"github.com/adclick/adclick/internal/localstack/lstest"
)

// TestInspectThenReplay: inspecting keeps the dead letters; replaying puts
// each back on the clicks topic as first published, and empties the hold.
func TestInspectThenReplay(t *testing.T) {
	lstest.Start(t)
	ctx := context.Background()
	const project = gcpnames.LocalProject
	c, err := pubsub.NewClient(ctx, project)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	_, err = c.TopicAdminClient.Publish(ctx, &pubsubpb.PublishRequest{
		Topic: localstack.TopicName(project, gcpnames.DeadLetterTopic),
		Messages: []*pubsubpb.PubsubMessage{
			{Data: []byte("not json"), Attributes: map[string]string{"click_id": "c1", AttrReason: "malformed", AttrDetail: "bad", AttrOriginalMessage: "m1"}},
			{Data: []byte(`{"v":9}`), Attributes: map[string]string{AttrReason: "unknown_version", AttrOriginalMessage: "m2"}},
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	hold := localstack.SubscriptionName(project, gcpnames.DeadLetterSubscription)
	var out bytes.Buffer
	if n, err := Inspect(ctx, c, hold, 10, &out); err != nil || n != 2 {
		t.Fatalf("Inspect = %d, %v; want 2", n, err)
	}
	if !strings.Contains(out.String(), "reason=malformed") || !strings.Contains(out.String(), `body="not json"`) {
		t.Errorf("Inspect printed:\n%s", out.String())
	}
	moved, err := Replay(ctx, c, hold, localstack.TopicName(project, gcpnames.ClicksTopic))
	if err != nil || moved != 2 {
		t.Fatalf("Replay = %d, %v; want 2 (inspect must not consume)", moved, err)
	}
	got, err := localstack.Pull(ctx, c, project, gcpnames.StreamingSubscription, 10)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 2 {
		t.Fatalf("%d replayed messages on the clicks topic, want 2", len(got))
	}
	for _, m := range got {
		if _, ok := m.Attributes[AttrReason]; ok {
			t.Errorf("replayed message keeps dead-letter attributes: %v", m.Attributes)
		}
		if string(m.Data) == "not json" && m.Attributes["click_id"] != "c1" {
			t.Errorf("replayed message lost its attributes: %v", m.Attributes)
		}
	}
	if left, _ := localstack.Pull(ctx, c, project, gcpnames.DeadLetterSubscription, 10); len(left) != 0 {
		t.Errorf("%d dead letters still held after replay", len(left))
	}
}
