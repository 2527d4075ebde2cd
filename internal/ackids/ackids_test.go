package ackids

import (
	"slices"
	"strconv"
	"strings"
	"testing"

	"cloud.google.com/go/pubsub/v2/apiv1/pubsubpb"
	"google.golang.org/protobuf/proto"
)

func TestChunks(t *testing.T) {
	// A real ack id is ~180 bytes; the fake's a dozen.
	real := func(i int) string { return strings.Repeat("x", 170) + strconv.Itoa(i) }
	fake := func(i int) string { return "m" + strconv.Itoa(i) + ":1" }
	for _, tc := range []struct {
		name      string
		n         int
		id        func(int) string
		wantParts int
	}{
		{"none", 0, fake, 0},
		{"one", 1, fake, 1},
		{"a fake bundle in one request", 10_000, fake, 1},
		{"real ids split by size", 10_000, real, 4},
		{"one id over the limit alone", 1, func(int) string { return strings.Repeat("y", MaxRequestBytes+1) }, 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ids := make([]string, tc.n)
			for i := range ids {
				ids[i] = tc.id(i)
			}
			var got []string
			parts := 0
			for chunk := range Chunks(ids) {
				parts++
				if len(chunk) == 0 {
					t.Fatal("empty chunk")
				}
				req := &pubsubpb.AcknowledgeRequest{Subscription: "projects/adclick-prod/subscriptions/clicks-streaming", AckIds: chunk}
				if size := proto.Size(req); len(chunk) > 1 && size > 512<<10 {
					t.Errorf("request of %d ids is %d bytes, over Pub/Sub's 512 KiB", len(chunk), size)
				}
				got = append(got, chunk...)
			}
			if parts != tc.wantParts {
				t.Errorf("%d requests, want %d", parts, tc.wantParts)
			}
			if !slices.Equal(got, ids) {
				t.Errorf("chunks joined give %d ids, not the %d given in order", len(got), len(ids))
			}
		})
	}
}

func TestChunksStopsWhenAsked(t *testing.T) {
	ids := make([]string, 10_000)
	for i := range ids {
		ids[i] = strings.Repeat("x", 200)
	}
	n := 0
	for range Chunks(ids) {
		n++
		break
	}
	if n != 1 {
		t.Errorf("%d chunks after break, want 1", n)
	}
}
