// Package deadletter publishes the messages a pipeline cannot read to the
// dead-letter topic, with the reason in attributes, so they can be
// inspected and, once fixed, replayed to the clicks topic unchanged.
package deadletter

import (
	"context"
	"fmt"
	"time"

	"cloud.google.com/go/pubsub/v2"
	"github.com/apache/beam/sdks/v2/go/pkg/beam"
	"github.com/apache/beam/sdks/v2/go/pkg/beam/register"

	"github.com/adclick/adclick/pipelines/pubsubmsg"
)

// Attribute names added to a dead letter. The original attributes are kept.
const (
	AttrReason          = "dead_letter_reason"
	AttrDetail          = "dead_letter_detail"
	AttrOriginalMessage = "dead_letter_original_message_id"
)

func init() {
	register.DoFn2x1[context.Context, pubsubmsg.DeadLetter, error](&publishFn{})
}

// Publish sends every dead letter to topic in project.
func Publish(s beam.Scope, project, topic string, dead beam.PCollection) {
	s = s.Scope("deadletter.Publish")
	beam.ParDo0(s, &publishFn{Project: project, Topic: topic}, dead)
}

type publishFn struct {
	Project string
	Topic   string

	client  *pubsub.Client
	pub     *pubsub.Publisher
	results []*pubsub.PublishResult
}

func (fn *publishFn) Setup(ctx context.Context) error {
	c, err := pubsub.NewClient(ctx, fn.Project)
	if err != nil {
		return fmt.Errorf("pubsub client for %s: %w", fn.Project, err)
	}
	fn.client, fn.pub = c, c.Publisher(fn.Topic)
	return nil
}

func (fn *publishFn) ProcessElement(ctx context.Context, d pubsubmsg.DeadLetter) error {
	attrs := make(map[string]string, len(d.Message.Attributes)+3)
	for k, v := range d.Message.Attributes {
		attrs[k] = v
	}
	attrs[AttrReason] = d.Reason
	attrs[AttrDetail] = truncate(d.Detail, 1024)
	attrs[AttrOriginalMessage] = d.Message.ID
	fn.results = append(fn.results, fn.pub.Publish(ctx, &pubsub.Message{Data: d.Message.Data, Attributes: attrs}))
	return nil
}

// FinishBundle waits until Pub/Sub has every dead letter of the bundle; a
// failure fails the bundle so the runner retries it.
func (fn *publishFn) FinishBundle(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	for _, r := range fn.results {
		if _, err := r.Get(ctx); err != nil {
			return fmt.Errorf("publish dead letter to %s: %w", fn.Topic, err)
		}
	}
	fn.results = fn.results[:0]
	return nil
}

func (fn *publishFn) Teardown() error {
	if fn.pub != nil {
		fn.pub.Stop()
	}
	if fn.client != nil {
		return fn.client.Close()
	}
	return nil
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n]
}
