package dataflowpubsub

import (
	"testing"

	"cloud.google.com/go/pubsub/v2/apiv1/pubsubpb"
	"google.golang.org/protobuf/proto"

	"github.com/adclick/adclick/pipelines/pubsubmsg"
)

func TestDecode(t *testing.T) {
	raw, _ := proto.Marshal(&pubsubpb.PubsubMessage{MessageId: "m1", Data: []byte("x"), Attributes: map[string]string{"a": "b"}})
	var got []pubsubmsg.Message
	if err := decode(raw, func(m pubsubmsg.Message) { got = append(got, m) }); err != nil {
		t.Fatal(err)
	}
	if len(got) != 1 || got[0].ID != "m1" || string(got[0].Data) != "x" || got[0].Attributes["a"] != "b" {
		t.Errorf("decode = %+v", got)
	}
	if err := decode([]byte{0xff, 0xff}, func(pubsubmsg.Message) {}); err == nil {
		t.Error("decode accepted garbage")
	}
}
