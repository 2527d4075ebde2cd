// Package pullsource reads a Pub/Sub subscription with synchronous Pull as
// an unbounded splittable DoFn. It is the streaming pipeline's source on
// runners without Beam's Pub/Sub connector (Prism, locally, against the
// Pub/Sub fake); on Dataflow the pipeline uses pubsubio instead.
//
// At-least-once without bundle finalization: Beam Go drops finalization
// callbacks after the first bundle of a cached plan, so acks cannot ride on
// them. Instead each bundle reads one Pull batch, claims its ack ids, and
// checkpoints; the residual restriction carries those ack ids. The runner
// hands the residual back only after it has committed the bundle that
// emitted the messages, so acknowledging them first thing on resume is
// safe. A crash before that leaves them unacked, and Pub/Sub redelivers
// them after the ack deadline.
//
// The watermark is wall-clock time minus Lag, advanced on every Pull, empty
// or not: click times are stamped by the click service moments before
// publishing, so a message older than that is late data (replayed from a
// spool, say), which the windows' allowed lateness and the nightly batch
// absorb.
//
// Stopping: when DrainFile exists the reader stops claiming, so the runner
// finishes the job and every window and timer fires (a drain).
package pullsource

import (
	"context"
	"fmt"
	"os"
	"reflect"
	"time"

	"cloud.google.com/go/pubsub/v2"
	"cloud.google.com/go/pubsub/v2/apiv1/pubsubpb"
	"github.com/apache/beam/sdks/v2/go/pkg/beam"
	"github.com/apache/beam/sdks/v2/go/pkg/beam/core/graph/mtime"
	"github.com/apache/beam/sdks/v2/go/pkg/beam/core/sdf"
	"github.com/apache/beam/sdks/v2/go/pkg/beam/log"
	"github.com/apache/beam/sdks/v2/go/pkg/beam/register"

	"github.com/adclick/adclick/internal/ackids"
	"github.com/adclick/adclick/internal/clickevent"
	"github.com/adclick/adclick/pipelines/pubsubmsg"
)

// Tuning. MaxMessages bounds one Pull, and so one bundle. Pub/Sub
// returns up to ~1,000 messages a Pull whatever is asked; the fake returns
// what is asked, and a Pull costs it a scan of every unacked message under
// its one lock whatever it returns, so a backlog (after an outage, a
// restart, a spool's replay) drains locally in few large Pulls or not at
// all (docs/proof.md). Acks go in requests as large as Pub/Sub takes
// (ackids).
const (
	MaxMessages = 10_000
	Lag         = 2 * time.Second
	idleWait    = 200 * time.Millisecond
)

var (
	pulled = beam.NewCounter("adclick", "pulled")
	acked  = beam.NewCounter("adclick", "acked")
	// perBundle is how many messages each bundle pulled.
	perBundle = beam.NewDistribution("adclick", "pulled_per_bundle")
)

func init() {
	register.DoFn5x2[context.Context, *Watermark, *sdf.LockRTracker, []byte, func(beam.EventTime, pubsubmsg.Message), sdf.ProcessContinuation, error](&readFn{})
	register.Emitter2[beam.EventTime, pubsubmsg.Message]()
	beam.RegisterType(reflect.TypeOf((*Restriction)(nil)).Elem())
}

// Read returns the messages of subscription sub in project as an
// unbounded PCollection<pubsubmsg.Message>, timestamped by their click time.
func Read(s beam.Scope, project, sub, drainFile string) beam.PCollection {
	s = s.Scope("pullsource.Read")
	return beam.ParDo(s, &readFn{Project: project, Subscription: sub, DrainFile: drainFile}, beam.Impulse(s))
}

// Restriction is the reader's position: nothing to seek in Pub/Sub, only
// the acks owed for the previous bundle, and whether reading has stopped.
type Restriction struct {
	Acks    []string
	Stopped bool
}

type readFn struct {
	Project      string
	Subscription string
	DrainFile    string

	client *pubsub.Client
	name   string
}

func (fn *readFn) Setup(ctx context.Context) error {
	c, err := pubsub.NewClient(ctx, fn.Project)
	if err != nil {
		return fmt.Errorf("pubsub client for %s: %w", fn.Project, err)
	}
	fn.client = c
	fn.name = "projects/" + fn.Project + "/subscriptions/" + fn.Subscription
	return nil
}

func (fn *readFn) Teardown() error {
	if fn.client != nil {
		return fn.client.Close()
	}
	return nil
}

func (fn *readFn) CreateInitialRestriction(_ []byte) Restriction { return Restriction{} }

func (fn *readFn) SplitRestriction(_ []byte, r Restriction) []Restriction { return []Restriction{r} }

func (fn *readFn) RestrictionSize(_ []byte, r Restriction) float64 {
	if r.Stopped {
		return 0
	}
	return 1
}

func (fn *readFn) CreateTracker(r Restriction) *sdf.LockRTracker {
	return sdf.NewLockRTracker(&Tracker{rest: r})
}

// TruncateRestriction is used on drain by runners that support it: stop.
func (fn *readFn) TruncateRestriction(rt *sdf.LockRTracker, _ []byte) Restriction {
	return Restriction{Acks: rt.GetRestriction().(Restriction).Acks, Stopped: true}
}

func (fn *readFn) InitialWatermarkEstimatorState(_ beam.EventTime, _ Restriction, _ []byte) int64 {
	return time.Now().Add(-Lag).UnixMilli()
}

func (fn *readFn) CreateWatermarkEstimator(ms int64) *Watermark { return &Watermark{ms: ms} }

func (fn *readFn) WatermarkEstimatorState(w *Watermark) int64 { return w.ms }

// ProcessElement settles the previous bundle's acks, pulls once, emits
// what came and checkpoints.
func (fn *readFn) ProcessElement(ctx context.Context, wm *Watermark, rt *sdf.LockRTracker, _ []byte, emit func(beam.EventTime, pubsubmsg.Message)) (sdf.ProcessContinuation, error) {
	if owed := rt.GetRestriction().(Restriction).Acks; len(owed) > 0 {
		if err := fn.ack(ctx, owed); err != nil {
			// Unacked messages come back after the ack deadline; the
			// pipeline dedupes them. Not worth failing the bundle.
			log.Warnf(ctx, "ack %d messages of the previous bundle: %v", len(owed), err)
		}
	}
	if fn.draining() {
		rt.TryClaim(stop{})
		return sdf.StopProcessing(), nil
	}
	msgs, err := fn.pull(ctx)
	wm.Advance(time.Now().Add(-Lag))
	if err != nil {
		log.Warnf(ctx, "pull %s: %v", fn.name, err)
	}
	if len(msgs) == 0 {
		if err != nil {
			return sdf.ResumeProcessingIn(time.Second), nil
		}
		return sdf.ResumeProcessingIn(idleWait), nil
	}
	ids := make([]string, len(msgs))
	for i, m := range msgs {
		ids[i] = m.AckId
	}
	if !rt.TryClaim(ids) {
		return sdf.StopProcessing(), nil
	}
	for _, m := range msgs {
		emit(eventTime(m.Message), pubsubmsg.Message{ID: m.Message.MessageId, Data: m.Message.Data, Attributes: m.Message.Attributes})
	}
	pulled.Inc(ctx, int64(len(ids)))
	perBundle.Update(ctx, int64(len(ids)))
	return sdf.ResumeProcessingIn(0), nil
}

// pull takes up to MaxMessages messages in one Pull.
func (fn *readFn) pull(ctx context.Context) ([]*pubsubpb.ReceivedMessage, error) {
	pullCtx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	resp, err := fn.client.SubscriptionAdminClient.Pull(pullCtx, &pubsubpb.PullRequest{Subscription: fn.name, MaxMessages: MaxMessages})
	if err != nil {
		return nil, err
	}
	return resp.ReceivedMessages, nil
}

// eventTime is the click time attribute, as Dataflow's timestamp attribute
// reads it; a message without one keeps its publish time (it will be
// dead-lettered as malformed downstream).
func eventTime(m *pubsubpb.PubsubMessage) beam.EventTime {
	if t, err := time.Parse(time.RFC3339Nano, m.Attributes[clickevent.AttrClickTime]); err == nil {
		return mtime.FromTime(t)
	}
	return mtime.FromTime(m.PublishTime.AsTime())
}

// ack acknowledges ids in as few requests as Pub/Sub takes.
func (fn *readFn) ack(ctx context.Context, ids []string) error {
	for chunk := range ackids.Chunks(ids) {
		actx, cancel := context.WithTimeout(ctx, 10*time.Second)
		err := fn.client.SubscriptionAdminClient.Acknowledge(actx, &pubsubpb.AcknowledgeRequest{Subscription: fn.name, AckIds: chunk})
		cancel()
		if err != nil {
			return err
		}
		acked.Inc(ctx, int64(len(chunk)))
	}
	return nil
}

func (fn *readFn) draining() bool {
	if fn.DrainFile == "" {
		return false
	}
	_, err := os.Stat(fn.DrainFile)
	return err == nil
}

// Watermark is a manual watermark estimator that only moves forward.
type Watermark struct{ ms int64 }

// CurrentWatermark is the estimate.
func (w *Watermark) CurrentWatermark() time.Time { return time.UnixMilli(w.ms) }

// Advance moves the estimate to t unless it is already later.
func (w *Watermark) Advance(t time.Time) {
	if ms := t.UnixMilli(); ms > w.ms {
		w.ms = ms
	}
}

// stop is claimed to end reading.
type stop struct{}

// Tracker tracks one bundle: the ack ids it claimed.
type Tracker struct {
	rest    Restriction
	claimed []string
	err     error
}

// TryClaim accepts a batch of ack ids ([]string) or stop{}.
func (t *Tracker) TryClaim(pos any) bool {
	if t.rest.Stopped {
		return false
	}
	switch p := pos.(type) {
	case []string:
		t.claimed = append(t.claimed, p...)
		return true
	case stop:
		t.rest.Stopped = true
		return false
	}
	t.err = fmt.Errorf("pullsource: cannot claim %T", pos)
	return false
}

func (t *Tracker) GetError() error { return t.err }

// TrySplit only checkpoints (fraction 0): the primary ends here, the
// residual owes the claimed acks. Other splits are refused: a
// subscription cannot be divided by position.
func (t *Tracker) TrySplit(fraction float64) (primary, residual any, err error) {
	if t.rest.Stopped || fraction > 0 {
		return t.rest, nil, nil
	}
	residual = Restriction{Acks: t.claimed}
	t.rest = Restriction{Stopped: true}
	return t.rest, residual, nil
}

func (t *Tracker) GetProgress() (done, remaining float64) {
	if t.rest.Stopped {
		return 1, 0
	}
	return 0, 1
}

func (t *Tracker) IsDone() bool { return t.rest.Stopped }

func (t *Tracker) GetRestriction() any { return t.rest }

func (t *Tracker) IsBounded() bool { return false }
