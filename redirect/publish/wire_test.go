package publish

import (
	"strings"
	"testing"

	"cloud.google.com/go/pubsub/v2/apiv1/pubsubpb"
	"google.golang.org/grpc/encoding"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"
)

func clickMessage(i int) *pubsubpb.PubsubMessage {
	return &pubsubpb.PubsubMessage{
		Data: []byte(`{"v":1,"click_id":"` + strings.Repeat("a", 32) + `","ad_id":"acme-trail-1","user_agent":"` + strings.Repeat("b", 200) + `"}`),
		Attributes: map[string]string{
			"impression_id": strings.Repeat("c", 32), "click_time": "2026-12-01T06:00:00.123456Z",
			"click_id": strings.Repeat("d", 31) + string(rune('a'+i%26)), "schema_version": "1",
		},
	}
}

// clickRequest is a Publish request of n clicks.
func clickRequest(n int) *pubsubpb.PublishRequest {
	req := &pubsubpb.PublishRequest{Topic: "projects/adclick-local/topics/clicks"}
	for i := range n {
		req.Messages = append(req.Messages, clickMessage(i))
	}
	return req
}

// TestPublishCodecMatchesProto decodes the fast path's bytes with
// protobuf-go itself: the same request must come out.
func TestPublishCodecMatchesProto(t *testing.T) {
	many := clickRequest(1000)
	for _, tc := range []struct {
		name string
		req  *pubsubpb.PublishRequest
	}{
		{"empty request", &pubsubpb.PublishRequest{}},
		{"topic only", &pubsubpb.PublishRequest{Topic: "projects/p/topics/t"}},
		{"one click", &pubsubpb.PublishRequest{Topic: "projects/p/topics/t", Messages: []*pubsubpb.PubsubMessage{clickMessage(0)}}},
		{"a full batch", many},
		{"empty fields and values", &pubsubpb.PublishRequest{Topic: "t", Messages: []*pubsubpb.PubsubMessage{
			{}, {Attributes: map[string]string{"": "", "k": ""}}, {Data: []byte{0}, MessageId: "m1", OrderingKey: "o"},
		}}},
		{"long and non-ASCII", &pubsubpb.PublishRequest{Topic: "t", Messages: []*pubsubpb.PubsubMessage{
			{Data: []byte(strings.Repeat("é", 70_000)), Attributes: map[string]string{"ключ": strings.Repeat("z", 300)}},
		}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if !plain(tc.req) {
				t.Fatal("not taken by the fast path")
			}
			data, err := newPublishCodec().Marshal(tc.req)
			if err != nil {
				t.Fatal(err)
			}
			got := &pubsubpb.PublishRequest{}
			if err := proto.Unmarshal(data.Materialize(), got); err != nil {
				t.Fatalf("protobuf-go cannot decode it: %v", err)
			}
			if !proto.Equal(got, tc.req) {
				t.Errorf("decoded %v, want %v", got, tc.req)
			}
			if want := proto.Size(tc.req); data.Len() != want {
				t.Errorf("%d bytes, protobuf-go writes %d", data.Len(), want)
			}
		})
	}
}

// TestPublishCodecFallsBack: what the fast path does not write goes
// through the proto codec, untouched.
func TestPublishCodecFallsBack(t *testing.T) {
	stamped := &pubsubpb.PublishRequest{Topic: "t", Messages: []*pubsubpb.PubsubMessage{{Data: []byte("x"), PublishTime: timestamppb.Now()}}}
	withNil := &pubsubpb.PublishRequest{Topic: "t", Messages: []*pubsubpb.PubsubMessage{nil}}
	other := &pubsubpb.AcknowledgeRequest{Subscription: "s", AckIds: []string{"a"}}
	for _, v := range []proto.Message{stamped, withNil, other} {
		got, err := newPublishCodec().Marshal(v)
		if err != nil {
			t.Fatal(err)
		}
		want, err := encoding.GetCodecV2("proto").Marshal(v)
		if err != nil {
			t.Fatal(err)
		}
		if string(got.Materialize()) != string(want.Materialize()) {
			t.Errorf("%T: not the proto codec's bytes", v)
		}
	}
	if plain(stamped) || plain(withNil) {
		t.Error("a message with a publish time or a nil message taken by the fast path")
	}
}

func BenchmarkPublishCodec(b *testing.B) {
	req := clickRequest(20)
	for _, c := range []struct {
		name  string
		codec encoding.CodecV2
	}{{"proto", encoding.GetCodecV2("proto")}, {"fast", newPublishCodec()}} {
		b.Run(c.name, func(b *testing.B) {
			for b.Loop() {
				data, err := c.codec.Marshal(req)
				if err != nil {
					b.Fatal(err)
				}
				data.Free()
			}
		})
	}
}
