package deadletter

import (
	"context"
	"testing"

	"cloud.google.com/go/pubsub/v2"
	"github.com/apache/beam/sdks/v2/go/pkg/beam"
	"github.com/apache/beam/sdks/v2/go/pkg/beam/testing/ptest"

	"github.com/adclick/adclick/internal/gcpnames"
	"github.com/adclick/adclick/internal/localstack"
	"github.com/adclick/adclick/internal/localstack/lstest"
	"github.com/adclick/adclick/pipelines/pubsubmsg"
)

func TestMain(m *testing.M) { ptest.MainRet(m) }

// TestPublishKeepsMessageAndReason runs Publish on Prism against the
// Pub/Sub fake and reads the dead letters back from their subscription:
// body and attributes unchanged, reason attached, so they can be replayed.
func TestPublishKeepsMessageAndReason(t *testing.T) {
	lstest.Start(t)
	ctx := context.Background()
	const project = gcpnames.LocalProject

	p, s := beam.NewPipelineWithRoot()
	dead := beam.Create(s,
		pubsubmsg.DeadLetter{Message: pubsubmsg.Message{ID: "m1", Data: []byte("not json"), Attributes: map[string]string{"click_id": "c1"}}, Reason: "malformed", Detail: "invalid character"},
		pubsubmsg.DeadLetter{Message: pubsubmsg.Message{ID: "m2", Data: []byte(`{"v":9}`)}, Reason: "unknown_version", Detail: "9"},
	)
	Publish(s, project, gcpnames.DeadLetterTopic, dead)
	ptest.RunAndValidate(t, p)

	c, err := pubsub.NewClient(ctx, project)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	msgs, err := localstack.Pull(ctx, c, project, gcpnames.DeadLetterSubscription, 10)
	if err != nil {
		t.Fatal(err)
	}
	if len(msgs) != 2 {
		t.Fatalf("%d dead letters on %s, want 2", len(msgs), gcpnames.DeadLetterSubscription)
	}
	byOrig := map[string]map[string]string{}
	bodies := map[string]string{}
	for _, m := range msgs {
		byOrig[m.Attributes[AttrOriginalMessage]] = m.Attributes
		bodies[m.Attributes[AttrOriginalMessage]] = string(m.Data)
	}
	if a := byOrig["m1"]; a[AttrReason] != "malformed" || a[AttrDetail] != "invalid character" || a["click_id"] != "c1" || bodies["m1"] != "not json" {
		t.Errorf("dead letter m1: attrs %v body %q", a, bodies["m1"])
	}
	if a := byOrig["m2"]; a[AttrReason] != "unknown_version" || bodies["m2"] != `{"v":9}` {
		t.Errorf("dead letter m2: attrs %v body %q", a, bodies["m2"])
	}
}
