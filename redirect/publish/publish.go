// Package publish hands click messages to Pub/Sub and, when Pub/Sub cannot
// take them in time, to the durable spool, so that a click is answered only
// once it is safe in one of the two.
//
// A breaker avoids making every click wait out a Pub/Sub outage: after a
// failure, new messages go straight to the spool until a replay succeeds.
// The replay loop re-publishes spooled messages oldest segment first. A
// message can reach Pub/Sub twice (a publish that timed out here but landed
// there, or a crash between a replay and the spool update); both copies
// carry the same click id and impression id, which the pipelines dedupe.
package publish

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"path/filepath"
	"sync"
	"sync/atomic"
	"time"

	"cloud.google.com/go/pubsub/v2/apiv1/pubsubpb"

	"github.com/adclick/adclick/redirect/spool"
)

// Message is what the click service publishes.
type Message struct {
	Data       []byte            `json:"d"`
	Attributes map[string]string `json:"a"`
}

// Route says where a message went.
type Route string

const (
	RoutePubSub Route = "pubsub"
	RouteSpool  Route = "spool"
)

// Observer receives measurements; nil fields are skipped.
type Observer struct {
	PublishLatency func(d time.Duration, ok bool)
	Spooled        func()
	Replayed       func(n int)
	BreakerOpen    func(open bool)
}

// Config tunes a Publisher.
type Config struct {
	// Topic is the full topic name, projects/P/topics/T.
	Topic string
	// Wait is how long a click waits for Pub/Sub before it is spooled.
	Wait time.Duration
	// Linger is how long a batch gathers clicks before it may be sent.
	Linger time.Duration
	// Requests is how many Publish requests may be under way at once;
	// while all are, the next batch keeps growing.
	Requests int
	// ReplayEvery is how often the spool is checked for records.
	ReplayEvery time.Duration
	// ReplayTimeout bounds one replay attempt of a segment.
	ReplayTimeout time.Duration
}

// Publisher is safe for concurrent use.
type Publisher struct {
	send    Sender
	batches *batcher
	spool   *spool.Spool
	cfg     Config
	log     *slog.Logger
	obs     Observer
	open    atomic.Bool // breaker: true sends straight to the spool
	replay  sync.Mutex  // one replay at a time
	stopped chan struct{}
	wg      sync.WaitGroup
}

// New returns a Publisher. Call Run to start replaying, Close to stop.
func New(send Sender, sp *spool.Spool, cfg Config, log *slog.Logger, obs Observer) *Publisher {
	if cfg.Wait <= 0 {
		cfg.Wait = 500 * time.Millisecond
	}
	if cfg.Linger <= 0 {
		cfg.Linger = time.Millisecond
	}
	if cfg.Requests <= 0 {
		cfg.Requests = 4
	}
	if cfg.ReplayEvery <= 0 {
		cfg.ReplayEvery = time.Second
	}
	if cfg.ReplayTimeout <= 0 {
		cfg.ReplayTimeout = 30 * time.Second
	}
	return &Publisher{
		send: send, batches: newBatcher(send, cfg.Topic, cfg.Linger, cfg.Wait, cfg.Requests),
		spool: sp, cfg: cfg, log: log, obs: obs, stopped: make(chan struct{}),
	}
}

// Publish returns once msg is accepted by Pub/Sub or synced to the spool.
// An error means neither happened and the click must not be answered as
// recorded.
func (p *Publisher) Publish(ctx context.Context, msg Message) (Route, error) {
	if !p.open.Load() {
		start := time.Now()
		b := p.batches.add(&pubsubpb.PubsubMessage{Data: msg.Data, Attributes: msg.Attributes}, start)
		select {
		case <-b.done:
			p.observeLatency(time.Since(start), b.err == nil)
			if b.err == nil {
				return RoutePubSub, nil
			}
			p.trip(fmt.Errorf("publish click %s: %w", msg.Attributes["click_id"], b.err))
		case <-ctx.Done():
			// The request is gone, but the click may already be on its way;
			// spool it anyway so it is not lost if that publish fails.
		}
	}
	if err := p.toSpool(context.WithoutCancel(ctx), msg); err != nil {
		return "", err
	}
	return RouteSpool, nil
}

func (p *Publisher) observeLatency(d time.Duration, ok bool) {
	if p.obs.PublishLatency != nil {
		p.obs.PublishLatency(d, ok)
	}
}

func (p *Publisher) trip(err error) {
	if p.open.CompareAndSwap(false, true) {
		p.log.Warn("Pub/Sub unavailable; spooling clicks until a replay succeeds", "err", err)
		if p.obs.BreakerOpen != nil {
			p.obs.BreakerOpen(true)
		}
	}
}

func (p *Publisher) toSpool(ctx context.Context, msg Message) error {
	rec, err := json.Marshal(msg)
	if err != nil {
		return fmt.Errorf("spool click %s: encode: %w", msg.Attributes["click_id"], err)
	}
	if err := p.spool.Append(ctx, rec); err != nil {
		return fmt.Errorf("spool click %s: %w", msg.Attributes["click_id"], err)
	}
	if p.obs.Spooled != nil {
		p.obs.Spooled()
	}
	return nil
}

// Run replays the spool every ReplayEvery until ctx is done. Records left
// from an earlier process are replayed on the first tick.
func (p *Publisher) Run(ctx context.Context) {
	p.wg.Add(1)
	defer p.wg.Done()
	t := time.NewTicker(p.cfg.ReplayEvery)
	defer t.Stop()
	for {
		if p.spool.Depth() > 0 || p.open.Load() {
			if err := p.ReplayOnce(ctx); err != nil && ctx.Err() == nil {
				p.log.Warn("spool replay incomplete; will retry", "err", err, "spool_depth", p.spool.Depth())
			}
		}
		select {
		case <-ctx.Done():
			return
		case <-p.stopped:
			return
		case <-t.C:
		}
	}
}

// ReplayOnce re-publishes every sealed segment, oldest first, stopping at
// the first segment that does not fully succeed. A fully replayed spool
// closes the breaker.
func (p *Publisher) ReplayOnce(ctx context.Context) error {
	p.replay.Lock()
	defer p.replay.Unlock()
	segs, err := p.spool.Seal()
	if err != nil {
		return err
	}
	for _, seg := range segs {
		if err := p.replaySegment(ctx, seg); err != nil {
			return err
		}
	}
	if p.open.CompareAndSwap(true, false) {
		p.log.Info("Pub/Sub reachable again; publishing directly", "spool_depth", p.spool.Depth())
		if p.obs.BreakerOpen != nil {
			p.obs.BreakerOpen(false)
		}
	}
	return nil
}

func (p *Publisher) replaySegment(ctx context.Context, seg string) error {
	recs, err := p.spool.Read(seg)
	if errors.Is(err, spool.ErrCorrupt) {
		// Not a torn tail: keep it aside, never delete it, go on.
		p.log.Error("corrupt spool segment quarantined; see docs/click-service.md to recover it", "segment", seg, "err", err,
			"quarantine", filepath.Join(p.spool.Dir(), spool.QuarantineDir))
		return p.spool.Quarantine(seg)
	}
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(ctx, p.cfg.ReplayTimeout)
	defer cancel()
	var keep [][]byte
	var firstErr error
	req := &pubsubpb.PublishRequest{Topic: p.cfg.Topic}
	var pending [][]byte // records in req
	size := 0
	flush := func() {
		if len(req.Messages) == 0 {
			return
		}
		if firstErr == nil {
			// The default retry of the Publish call: a replay can wait.
			if _, err := p.send.Publish(ctx, req, p.batches.codec); err != nil {
				firstErr = fmt.Errorf("publish %d records: %w", len(pending), err)
			}
		}
		if firstErr != nil {
			keep = append(keep, pending...) // the rest waits for the next replay
		}
		req = &pubsubpb.PublishRequest{Topic: p.cfg.Topic}
		pending, size = nil, 0
	}
	for i, rec := range recs {
		var m Message
		if err := json.Unmarshal(rec, &m); err != nil {
			// Cannot happen for records we wrote; keep the bytes for a human.
			p.log.Error("undecodable spool record kept", "segment", seg, "index", i, "err", err)
			keep = append(keep, rec)
			continue
		}
		pm := &pubsubpb.PubsubMessage{Data: m.Data, Attributes: m.Attributes}
		n := messageSize(pm)
		if len(req.Messages) == maxBatchMessages || size+n > maxBatchBytes {
			flush()
		}
		req.Messages = append(req.Messages, pm)
		pending = append(pending, rec)
		size += n
	}
	flush()
	if err := p.spool.Done(seg, len(recs), keep); err != nil {
		return err
	}
	if n := len(recs) - len(keep); n > 0 && p.obs.Replayed != nil {
		p.obs.Replayed(n)
	}
	if firstErr != nil {
		return fmt.Errorf("replay %s: %d of %d records kept: %w", seg, len(keep), len(recs), firstErr)
	}
	if len(keep) > 0 {
		return errors.New("replay " + seg + ": undecodable records kept")
	}
	p.log.Info("spool segment replayed", "segment", seg, "records", len(recs))
	return nil
}

// Close stops the replay loop, gives Pub/Sub up to flush to take what is
// still batched, and closes the spool. Call it after the HTTP server has
// drained: every click answered by then is in Pub/Sub or in the spool (a
// publish still pending here timed out and was spooled), so giving up on
// the flush loses nothing, and a shutdown during an outage stays short.
func (p *Publisher) Close(flush time.Duration) error {
	close(p.stopped)
	p.wg.Wait()
	if !p.batches.close(flush) {
		p.log.Warn("Pub/Sub flush unfinished at shutdown; those clicks are already in the spool", "waited", flush.String())
	}
	return p.spool.Close()
}
