package catalog

import (
	"context"
	"fmt"
	"log/slog"
	"sync/atomic"
	"time"
)

// Watcher keeps the current catalog and swaps in a new one when the source
// changes. A document that fails to parse is logged and ignored: the last
// good catalog keeps serving.
type Watcher struct {
	src      *Source
	log      *slog.Logger
	cur      atomic.Pointer[Catalog]
	version  string
	hash     string
	OnReload func(ok bool) // optional, for metrics
}

// NewWatcher loads the catalog once; it fails if that first load fails.
func NewWatcher(ctx context.Context, src *Source, log *slog.Logger) (*Watcher, error) {
	w := &Watcher{src: src, log: log}
	if err := w.reload(ctx); err != nil {
		return nil, err
	}
	return w, nil
}

// Current is the catalog in force. It is never nil after NewWatcher.
func (w *Watcher) Current() *Catalog { return w.cur.Load() }

// Run polls the source every interval until ctx is done. Polling rather
// than inotify: it works the same for gs:// objects and for files that
// Kubernetes or Cloud Run swap in through symlinks.
func (w *Watcher) Run(ctx context.Context, interval time.Duration) {
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			if err := w.Poll(ctx); err != nil {
				w.log.Error("catalog reload failed; keeping the previous catalog", "source", w.src.String(), "err", err)
			}
		}
	}
}

// Poll reloads the catalog if the source changed.
func (w *Watcher) Poll(ctx context.Context) error {
	v, err := w.src.Version(ctx)
	if err != nil {
		w.report(false)
		return err
	}
	if v == w.version {
		return nil
	}
	return w.reload(ctx)
}

func (w *Watcher) reload(ctx context.Context) error {
	v, err := w.src.Version(ctx)
	if err != nil {
		w.report(false)
		return err
	}
	data, hash, err := w.src.Read(ctx)
	if err != nil {
		w.report(false)
		return err
	}
	if hash == w.hash {
		w.version = v
		return nil
	}
	c, err := Parse(data)
	if err != nil {
		w.report(false)
		return fmt.Errorf("catalog %s: %w", w.src, err)
	}
	w.cur.Store(c)
	w.version, w.hash = v, hash
	w.log.Info("catalog loaded", "source", w.src.String(), "advertisers", len(c.advertisers), "ads", len(c.ads), "sha256_prefix", hash)
	w.report(true)
	return nil
}

func (w *Watcher) report(ok bool) {
	if w.OnReload != nil {
		w.OnReload(ok)
	}
}
