// Package dataflowpubsub reads Pub/Sub on Dataflow through the runner's
// native source, exactly as Beam's pubsubio.Read does: the same URN and
// payload, which Dataflow replaces with its own reader (with id-attribute
// dedupe and timestamp-attribute event times).
//
// Why not pubsubio itself: in Beam Go v2.77.0 it decodes messages with
// google.golang.org/genproto/googleapis/pubsub/v1, a package that genproto
// has since removed, and cloud.google.com/go/pubsub/v2 requires a genproto
// without it, so pubsubio does not compile next to the v2 client. The wire
// format is the same PubsubMessage proto, decoded here with the v2
// client's pubsubpb.
package dataflowpubsub

import (
	"fmt"

	"cloud.google.com/go/pubsub/v2/apiv1/pubsubpb"
	"github.com/apache/beam/sdks/v2/go/pkg/beam"
	"github.com/apache/beam/sdks/v2/go/pkg/beam/core/typex"
	"github.com/apache/beam/sdks/v2/go/pkg/beam/core/util/protox"
	"github.com/apache/beam/sdks/v2/go/pkg/beam/core/util/reflectx"
	pipepb "github.com/apache/beam/sdks/v2/go/pkg/beam/model/pipeline_v1"
	"github.com/apache/beam/sdks/v2/go/pkg/beam/register"
	"google.golang.org/protobuf/proto"

	"github.com/adclick/adclick/internal/clickevent"
	"github.com/adclick/adclick/pipelines/pubsubmsg"
)

// readURN is Beam's Pub/Sub read transform, implemented by Dataflow.
const readURN = "beam:transform:pubsub_read:v1"

func init() {
	register.Function2x1(decode)
	register.Emitter1[pubsubmsg.Message]()
}

// IDAttribute and TimestampAttribute are what the streaming job reads
// with on Dataflow. The id attribute names one click, so Dataflow's
// dedupe removes redelivered copies of a click and nothing else; which of
// an impression's clicks counts is the pipeline's decision (countable),
// as in the nightly.
const (
	IDAttribute        = clickevent.AttrClickID
	TimestampAttribute = clickevent.AttrClickTime
)

// DeliverLikeDataflow returns what Dataflow's Pub/Sub source hands the
// pipeline from msgs, in order, under id attribute idAttr: a message whose
// id attribute value was delivered already is dropped (Dataflow keeps the
// ids of at least the last ten minutes; tests run inside that span), and
// one without the attribute falls back to its Pub/Sub message id. A model
// of the managed source, which has no emulator, for tests of what the
// speed layer counts on Dataflow.
func DeliverLikeDataflow(msgs []pubsubmsg.Message, idAttr string) []pubsubmsg.Message {
	seen := map[string]bool{}
	var out []pubsubmsg.Message
	for _, m := range msgs {
		id, ok := m.Attributes[idAttr]
		if !ok {
			id = "message:" + m.ID
		}
		if seen[id] {
			continue
		}
		seen[id] = true
		out = append(out, m)
	}
	return out
}

// Read reads subscription sub of project with message ids deduplicated by
// idAttr and event times taken from tsAttr.
func Read(s beam.Scope, project, sub, idAttr, tsAttr string) beam.PCollection {
	s = s.Scope("dataflowpubsub.Read")
	payload := &pipepb.PubSubReadPayload{
		Subscription:       fmt.Sprintf("projects/%s/subscriptions/%s", project, sub),
		IdAttribute:        idAttr,
		TimestampAttribute: tsAttr,
		WithAttributes:     true,
	}
	out := beam.External(s, readURN, protox.MustEncode(payload), nil, []beam.FullType{typex.New(reflectx.ByteSlice)}, false)
	return beam.ParDo(s, decode, out[0])
}

// decode turns the runner's serialized PubsubMessage into a pubsubmsg.Message.
func decode(raw []byte, emit func(pubsubmsg.Message)) error {
	var m pubsubpb.PubsubMessage
	if err := proto.Unmarshal(raw, &m); err != nil {
		return fmt.Errorf("decode Pub/Sub message from the runner: %w", err)
	}
	emit(pubsubmsg.Message{ID: m.MessageId, Data: m.Data, Attributes: m.Attributes})
	return nil
}
