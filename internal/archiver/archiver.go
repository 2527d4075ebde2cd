// Package archiver is the local stand-in for the Pub/Sub Cloud Storage
// subscription that archives every click in production: it pulls the
// archive subscription and writes rawarchive files with the same schema,
// names and rotation, into a folder (or a bucket) that stands in for the
// raw bucket.
//
// A message is acknowledged only after the file holding it is durably
// written (fsynced and renamed into place). A crash mid-file leaves a
// hidden temporary file, removed on the next start, and the messages in it
// unacknowledged; Pub/Sub redelivers them once their lease lapses (the
// archiver renews it while the file is open, AckExtension at a time), into
// a later file. As with the managed subscription, a message may so appear
// in two files (at-least-once); readers dedupe by message id.
package archiver

import (
	"context"
	"fmt"
	"log/slog"
	"time"

	"cloud.google.com/go/pubsub/v2"
	"cloud.google.com/go/pubsub/v2/apiv1/pubsubpb"
	"github.com/google/uuid"

	"github.com/adclick/adclick/internal/ackids"
	"github.com/adclick/adclick/internal/blob"
	"github.com/adclick/adclick/internal/rawarchive"
)

// Config is the subscription's Cloud Storage settings.
type Config struct {
	// Subscription is the full resource name, projects/<p>/subscriptions/<s>.
	Subscription string
	// MaxDuration and MaxBytes rotate files, as the managed subscription's
	// max_duration and max_bytes do.
	MaxDuration time.Duration
	MaxBytes    int64
	// Lease is how long the messages of the open file are leased at a time
	// (AckExtension if 0); a crashed archiver's messages come back after it.
	Lease time.Duration
	// Now is the clock (time.Now if nil).
	Now func() time.Time
}

// Validate applies the managed subscription's limits.
func (c Config) Validate() error {
	if c.MaxDuration < rawarchive.MinDuration || c.MaxDuration > rawarchive.MaxDuration {
		return fmt.Errorf("max duration %v: want %v to %v", c.MaxDuration, rawarchive.MinDuration, rawarchive.MaxDuration)
	}
	if c.MaxBytes < rawarchive.MinBytes {
		return fmt.Errorf("max bytes %d: want at least %d", c.MaxBytes, rawarchive.MinBytes)
	}
	return nil
}

// Archiver moves messages from a subscription into archive files.
type Archiver struct {
	cfg   Config
	ps    *pubsub.Client
	store blob.Store
	log   *slog.Logger

	file *openFile
}

type openFile struct {
	name     string
	started  time.Time
	extended time.Time // when the ack deadlines were last extended
	w        blob.Writer
	avro     *rawarchive.Writer
	bytes    int64
	ackIDs   []string
}

// New returns an archiver; Run starts it.
func New(cfg Config, ps *pubsub.Client, store blob.Store, log *slog.Logger) (*Archiver, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Lease <= 0 {
		cfg.Lease = AckExtension
	}
	return &Archiver{cfg: cfg, ps: ps, store: store, log: log}, nil
}

// Run archives until ctx ends, then closes the open file (so its messages
// are acknowledged) and returns.
func (a *Archiver) Run(ctx context.Context) error {
	for ctx.Err() == nil {
		if err := a.step(ctx); err != nil {
			a.log.Error("archive step failed; retrying", "err", err)
			sleep(ctx, time.Second)
		}
	}
	// ctx is over: finish with a fresh one, bounded.
	done, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	return a.rotate(done)
}

// PullMessages bounds one Pull. Pub/Sub returns up to ~1,000 messages a
// Pull whatever is asked; the fake returns what is asked, and each Pull
// costs it a scan of every unacked message under its one lock, so large
// Pulls are what let the archiver catch up with a backlog locally.
const PullMessages = 10_000

// step pulls once, appends what came to the open file, and rotates the
// file when it is due.
func (a *Archiver) step(ctx context.Context) error {
	if a.file != nil && a.cfg.Now().Sub(a.file.started) >= a.cfg.MaxDuration {
		if err := a.rotate(ctx); err != nil {
			return err
		}
	}
	if err := a.extend(ctx); err != nil {
		return err
	}
	// A stop does not cancel a pull in flight: Pub/Sub may have handed its
	// messages over already, and a cancelled call would drop them until
	// their lease ran out. The pull ends within 2 s either way, and what it
	// brought is written below.
	pullCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 2*time.Second)
	resp, err := a.ps.SubscriptionAdminClient.Pull(pullCtx, &pubsubpb.PullRequest{Subscription: a.cfg.Subscription, MaxMessages: PullMessages})
	cancel()
	if err != nil {
		if ctx.Err() != nil {
			return nil
		}
		return fmt.Errorf("pull %s: %w", a.cfg.Subscription, err)
	}
	if len(resp.ReceivedMessages) == 0 {
		sleep(ctx, 200*time.Millisecond)
		return nil
	}
	// What was pulled is finished even if a stop comes meanwhile: a stop
	// only ends pulling.
	work, cancel := context.WithTimeout(context.WithoutCancel(ctx), 30*time.Second)
	defer cancel()
	return a.append(work, resp.ReceivedMessages)
}

// append writes msgs into the open file, rotating whenever the file
// reaches MaxBytes, so no file grows much past it.
func (a *Archiver) append(ctx context.Context, msgs []*pubsubpb.ReceivedMessage) error {
	for len(msgs) > 0 {
		if a.file == nil {
			if err := a.open(ctx); err != nil {
				return err
			}
		}
		var recs []rawarchive.Record
		var size int64
		for len(msgs) > 0 && (len(recs) == 0 || a.file.bytes+size < a.cfg.MaxBytes) {
			m := msgs[0]
			msgs = msgs[1:]
			recs = append(recs, rawarchive.Record{
				Subscription: a.cfg.Subscription, MessageID: m.Message.MessageId, PublishTime: m.Message.PublishTime.AsTime(),
				Attributes: m.Message.Attributes, Data: m.Message.Data,
			})
			size += int64(len(m.Message.Data))
			a.file.ackIDs = append(a.file.ackIDs, m.AckId)
		}
		if err := a.file.avro.Append(recs); err != nil {
			// The file is unusable: drop it; its messages were not acked
			// and come back after the ack deadline.
			a.abandon()
			return fmt.Errorf("archive %d messages: %w", len(recs), err)
		}
		a.file.bytes += size
		if a.file.bytes >= a.cfg.MaxBytes {
			if err := a.rotate(ctx); err != nil {
				return err
			}
		}
	}
	return nil
}

func (a *Archiver) open(ctx context.Context) error {
	started := a.cfg.Now()
	name := rawarchive.ObjectName(started, uuid.NewString())
	w, err := a.store.Create(ctx, name)
	if err != nil {
		return err
	}
	aw, err := rawarchive.NewWriter(w)
	if err != nil {
		w.Abort()
		return err
	}
	a.file = &openFile{name: name, started: started, w: w, avro: aw}
	return nil
}

// rotate makes the open file durable and visible, then acknowledges its
// messages. If the acks fail the messages come back and are archived
// again: at-least-once, as in production.
func (a *Archiver) rotate(ctx context.Context) error {
	f := a.file
	if f == nil {
		return nil
	}
	a.file = nil
	if err := f.w.Close(); err != nil {
		return fmt.Errorf("close archive file %s with %d messages (not acknowledged): %w", f.name, len(f.ackIDs), err)
	}
	for ids := range ackids.Chunks(f.ackIDs) {
		if err := a.ps.SubscriptionAdminClient.Acknowledge(ctx, &pubsubpb.AcknowledgeRequest{Subscription: a.cfg.Subscription, AckIds: ids}); err != nil {
			return fmt.Errorf("acknowledge %d messages of %s: %w", len(ids), f.name, err)
		}
	}
	a.log.Info("archive file written", "file", a.store.URL(f.name), "messages", len(f.ackIDs), "bytes", f.bytes)
	return nil
}

// Ack deadline extension: while a file is open its messages are leased
// for AckExtension at a time, renewed every AckExtension/3, as Pub/Sub's
// own clients do. A crashed archiver stops renewing, so its messages come
// back within AckExtension instead of the subscription's full deadline.
const AckExtension = 60 * time.Second

func (a *Archiver) extend(ctx context.Context) error {
	f := a.file
	if f == nil || len(f.ackIDs) == 0 || a.cfg.Now().Sub(f.extended) < a.cfg.Lease/3 {
		return nil
	}
	for ids := range ackids.Chunks(f.ackIDs) {
		err := a.ps.SubscriptionAdminClient.ModifyAckDeadline(ctx, &pubsubpb.ModifyAckDeadlineRequest{
			Subscription: a.cfg.Subscription, AckIds: ids, AckDeadlineSeconds: int32(a.cfg.Lease / time.Second),
		})
		if err != nil {
			return fmt.Errorf("extend the lease of %d messages of %s: %w", len(ids), f.name, err)
		}
	}
	f.extended = a.cfg.Now()
	return nil
}

func (a *Archiver) abandon() {
	if a.file != nil {
		a.file.w.Abort()
		a.file = nil
	}
}

func sleep(ctx context.Context, d time.Duration) {
	select {
	case <-ctx.Done():
	case <-time.After(d):
	}
}
