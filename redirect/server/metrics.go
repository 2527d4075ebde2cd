package server

import (
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/adclick/adclick/redirect/publish"
)

// Metrics are the click service's own series; request counts and latency
// come from obs.RequestMetrics.
type Metrics struct {
	Clicks         *prometheus.CounterVec
	Minted         prometheus.Counter
	PublishLatency *prometheus.HistogramVec
	Spooled        prometheus.Counter
	Replayed       prometheus.Counter
	BreakerOpen    prometheus.Gauge
	CatalogReloads *prometheus.CounterVec
	RateLimited    prometheus.Counter

	// Children of the vectors that every click touches, resolved once:
	// a label lookup hashes and locks on each call.
	redirected, expired      prometheus.Counter
	publishOK, publishFailed prometheus.Observer
}

// NewMetrics registers the click service's metrics on reg. spoolDepth is
// read at scrape time.
// SpoolStats is what the metrics read of the spool.
type SpoolStats interface {
	Depth() int64
	Quarantined() int64
}

func NewMetrics(reg prometheus.Registerer, sp SpoolStats) *Metrics {
	const ns = "adclick_redirect"
	m := &Metrics{
		Clicks: prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: ns, Name: "clicks_total",
			Help: "Click requests by outcome: redirected, expired (redirected, not countable), or the reason they were refused."}, []string{"outcome"}),
		Minted: prometheus.NewCounter(prometheus.CounterOpts{Namespace: ns, Name: "impressions_minted_total",
			Help: "Signed click URLs minted for ad servers."}),
		PublishLatency: prometheus.NewHistogramVec(prometheus.HistogramOpts{Namespace: ns, Name: "publish_latency_seconds",
			Help:    "Time from handing a click to Pub/Sub until it was accepted (ok) or given up on (failed).",
			Buckets: []float64{.0005, .001, .002, .003, .005, .0075, .01, .02, .05, .1, .25, .5, 1}}, []string{"result"}),
		Spooled: prometheus.NewCounter(prometheus.CounterOpts{Namespace: ns, Name: "spooled_total",
			Help: "Clicks written to the local spool because Pub/Sub did not take them in time."}),
		Replayed: prometheus.NewCounter(prometheus.CounterOpts{Namespace: ns, Name: "spool_replayed_total",
			Help: "Spooled clicks re-published to Pub/Sub."}),
		BreakerOpen: prometheus.NewGauge(prometheus.GaugeOpts{Namespace: ns, Name: "pubsub_breaker_open",
			Help: "1 while clicks go straight to the spool because Pub/Sub failed."}),
		CatalogReloads: prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: ns, Name: "catalog_reloads_total",
			Help: "Catalog loads by result."}, []string{"result"}),
		RateLimited: prometheus.NewCounter(prometheus.CounterOpts{Namespace: ns, Name: "rate_limited_total",
			Help: "Requests refused with 429."}),
	}
	depth := prometheus.NewGaugeFunc(prometheus.GaugeOpts{Namespace: ns, Name: "spool_depth",
		Help: "Clicks in the spool waiting to be replayed to Pub/Sub."}, func() float64 { return float64(sp.Depth()) })
	quarantined := prometheus.NewCounterFunc(prometheus.CounterOpts{Namespace: ns, Name: "spool_quarantined_segments_total",
		Help: "Corrupt spool segments moved to the quarantine folder (never replayed, never deleted: recover by hand)."},
		func() float64 { return float64(sp.Quarantined()) })
	m.redirected, m.expired = m.Clicks.WithLabelValues("redirected"), m.Clicks.WithLabelValues("expired")
	m.publishOK, m.publishFailed = m.PublishLatency.WithLabelValues("ok"), m.PublishLatency.WithLabelValues("failed")
	reg.MustRegister(m.Clicks, m.Minted, m.PublishLatency, m.Spooled, m.Replayed, m.BreakerOpen, m.CatalogReloads, m.RateLimited, depth, quarantined)
	return m
}

// PublishObserver adapts the metrics to publish.Observer.
func (m *Metrics) PublishObserver() publish.Observer {
	return publish.Observer{
		PublishLatency: func(d time.Duration, ok bool) {
			if ok {
				m.publishOK.Observe(d.Seconds())
			} else {
				m.publishFailed.Observe(d.Seconds())
			}
		},
		Spooled:  func() { m.Spooled.Inc() },
		Replayed: func(n int) { m.Replayed.Add(float64(n)) },
		BreakerOpen: func(open bool) {
			if open {
				m.BreakerOpen.Set(1)
			} else {
				m.BreakerOpen.Set(0)
			}
		},
	}
}

// click is the clicks_total child of an outcome.
func (m *Metrics) click(outcome string) prometheus.Counter {
	switch outcome {
	case "redirected":
		return m.redirected
	case "expired":
		return m.expired
	}
	return m.Clicks.WithLabelValues(outcome)
}

// CatalogObserver adapts the metrics to catalog.Watcher.OnReload.
func (m *Metrics) CatalogObserver(ok bool) {
	if ok {
		m.CatalogReloads.WithLabelValues("ok").Inc()
	} else {
		m.CatalogReloads.WithLabelValues("error").Inc()
	}
}
