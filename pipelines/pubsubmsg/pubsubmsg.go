// Package pubsubmsg is the Pub/Sub message as the pipelines carry it, and
// the dead letter a message becomes when it is not a click event. Sources
// (Dataflow's Pub/Sub connector, the pull source) emit Messages; the
// dead-letter sink consumes DeadLetters; neither needs the counting.
package pubsubmsg

// Message is a Pub/Sub message as every source hands it over.
type Message struct {
	ID         string
	Data       []byte
	Attributes map[string]string
}

// DeadLetter is a message that is not a readable click event, with the
// reason (countable.DeadLetterReason) and the parser's error.
type DeadLetter struct {
	Message Message
	Reason  string
	Detail  string
}
