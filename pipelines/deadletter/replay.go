package deadletter

import (
	"context"
	"fmt"
	"io"

	"cloud.google.com/go/pubsub/v2"
	"cloud.google.com/go/pubsub/v2/apiv1/pubsubpb"
)

// Inspect prints up to max held dead letters (reason, detail, attributes,
// body) without consuming them: they are handed back at once.
func Inspect(ctx context.Context, c *pubsub.Client, sub string, max int, w io.Writer) (int, error) {
	resp, err := c.SubscriptionAdminClient.Pull(ctx, &pubsubpb.PullRequest{Subscription: sub, MaxMessages: int32(max)})
	if err != nil {
		return 0, fmt.Errorf("pull dead letters from %s: %w", sub, err)
	}
	ids := make([]string, len(resp.ReceivedMessages))
	for i, m := range resp.ReceivedMessages {
		ids[i] = m.AckId
		a := m.Message.Attributes
		fmt.Fprintf(w, "%s reason=%s original=%s detail=%q\n  attributes=%v\n  body=%q\n",
			m.Message.MessageId, a[AttrReason], a[AttrOriginalMessage], a[AttrDetail], original(a), m.Message.Data)
	}
	if len(ids) > 0 {
		// Deadline 0 returns them to the subscription for the next reader.
		if err := c.SubscriptionAdminClient.ModifyAckDeadline(ctx, &pubsubpb.ModifyAckDeadlineRequest{Subscription: sub, AckIds: ids, AckDeadlineSeconds: 0}); err != nil {
			return len(ids), fmt.Errorf("hand back %d dead letters: %w", len(ids), err)
		}
	}
	return len(ids), nil
}

// Replay moves held dead letters back to topic, as they were first
// published (body and original attributes, the dead-letter attributes
// removed), acknowledging each batch only after it was republished. It
// stops when the subscription is empty and returns how many it moved.
func Replay(ctx context.Context, c *pubsub.Client, sub, topic string) (int, error) {
	moved := 0
	for {
		resp, err := c.SubscriptionAdminClient.Pull(ctx, &pubsubpb.PullRequest{Subscription: sub, MaxMessages: 500})
		if err != nil {
			return moved, fmt.Errorf("pull dead letters from %s: %w", sub, err)
		}
		if len(resp.ReceivedMessages) == 0 {
			return moved, nil
		}
		msgs := make([]*pubsubpb.PubsubMessage, len(resp.ReceivedMessages))
		ids := make([]string, len(resp.ReceivedMessages))
		for i, m := range resp.ReceivedMessages {
			msgs[i] = &pubsubpb.PubsubMessage{Data: m.Message.Data, Attributes: original(m.Message.Attributes)}
			ids[i] = m.AckId
		}
		if _, err := c.TopicAdminClient.Publish(ctx, &pubsubpb.PublishRequest{Topic: topic, Messages: msgs}); err != nil {
			return moved, fmt.Errorf("republish %d dead letters to %s: %w", len(msgs), topic, err)
		}
		if err := c.SubscriptionAdminClient.Acknowledge(ctx, &pubsubpb.AcknowledgeRequest{Subscription: sub, AckIds: ids}); err != nil {
			// They were republished; a second copy is deduped downstream.
			return moved, fmt.Errorf("acknowledge %d replayed dead letters: %w", len(ids), err)
		}
		moved += len(msgs)
	}
}

// original drops the attributes the dead-letter publisher added.
func original(attrs map[string]string) map[string]string {
	out := make(map[string]string, len(attrs))
	for k, v := range attrs {
		if k != AttrReason && k != AttrDetail && k != AttrOriginalMessage {
			out[k] = v
		}
	}
	return out
}
