// Package ackids splits ack ids into Acknowledge and ModifyAckDeadline
// requests as large as Pub/Sub accepts.
//
// Pub/Sub refuses a request over 512 KiB ("Request payload size exceeds
// the limit: 524288 bytes"); its ack ids run to a couple of hundred bytes,
// so a request carries ~2,500 of them. The Pub/Sub fake's ids are a dozen
// bytes, and there every request waits for the fake's one lock (which its
// delivery loops hold for a scan of every unacked message), so fewer,
// larger requests are what lets a local consumer drain a backlog.
package ackids

import (
	"iter"

	"google.golang.org/protobuf/encoding/protowire"
)

// MaxRequestBytes is what one request's ack ids may take: Pub/Sub's
// 512 KiB less room for the subscription name and the deadline.
const MaxRequestBytes = 512<<10 - 4<<10

// Chunks yields ids in order, in consecutive runs whose encoded size (an
// id and its protobuf field header each) stays within MaxRequestBytes.
// An id is never split; each run holds at least one.
func Chunks(ids []string) iter.Seq[[]string] {
	return func(yield func([]string) bool) {
		start, size := 0, 0
		for i, id := range ids {
			n := encodedSize(id)
			if i > start && size+n > MaxRequestBytes {
				if !yield(ids[start:i]) {
					return
				}
				start, size = i, 0
			}
			size += n
		}
		if start < len(ids) {
			yield(ids[start:])
		}
	}
}

// encodedSize is an id's cost as a repeated string field (ack_ids is
// field 2 of AcknowledgeRequest, 4 of ModifyAckDeadlineRequest: a one-byte
// tag either way).
func encodedSize(id string) int {
	return protowire.SizeTag(4) + protowire.SizeBytes(len(id))
}
