// Package app wires the click service together from flags: catalog,
// keyring, Pub/Sub publisher with its spool, the Gin server, and the
// background loops. cmd main and the end-to-end tests both call Run.
package app

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"cloud.google.com/go/pubsub/v2"
	"cloud.google.com/go/pubsub/v2/apiv1/pubsubpb"
	"google.golang.org/api/option"
	"google.golang.org/grpc"
	"google.golang.org/grpc/backoff"

	"github.com/adclick/adclick/internal/catalog"
	"github.com/adclick/adclick/internal/clickevent"
	"github.com/adclick/adclick/internal/envflag"
	"github.com/adclick/adclick/internal/gcpnames"
	"github.com/adclick/adclick/internal/obs"
	"github.com/adclick/adclick/internal/ratelimit"
	"github.com/adclick/adclick/internal/token"
	"github.com/adclick/adclick/redirect/netranges"
	"github.com/adclick/adclick/redirect/publish"
	"github.com/adclick/adclick/redirect/server"
	"github.com/adclick/adclick/redirect/spool"
)

// EnvPrefix prefixes the environment variable of every flag.
const EnvPrefix = "ADCLICK"

// Flags is the click service's configuration.
type Flags struct {
	Listen          string
	PublicBaseURL   string
	Project         string
	Topic           string
	Catalog         string
	CatalogPoll     time.Duration
	TokenKeysFile   string
	PepperFile      string
	AdServerSecrets string
	SpoolDir        string
	PublishWait     time.Duration
	PublishLinger   time.Duration
	PublishRequests int
	RateLimit       float64
	RateBurst       int
	TokenTTL        time.Duration
	TokenMaxTTL     time.Duration
	TrustedProxies  string
	DatacenterCIDRs string
	DrainTimeout    time.Duration
	LogLevel        string
	AdminListen     string
	Pprof           bool
}

// NewFlagSet declares the flags with their documented defaults.
func NewFlagSet(f *Flags) *flag.FlagSet {
	fs := flag.NewFlagSet("redirect", flag.ContinueOnError)
	fs.StringVar(&f.Listen, "listen", ":8080", "address to serve HTTP on")
	fs.StringVar(&f.PublicBaseURL, "public-base-url", "http://localhost:8080", "scheme://host of minted click URLs")
	fs.StringVar(&f.Project, "project", gcpnames.LocalProject, "Google Cloud project of the clicks topic")
	fs.StringVar(&f.Topic, "topic", gcpnames.ClicksTopic, "Pub/Sub topic clicks are published to")
	fs.StringVar(&f.Catalog, "catalog", "config/catalog.json", "ad catalog: a file path or gs://bucket/object")
	fs.DurationVar(&f.CatalogPoll, "catalog-poll", 5*time.Second, "how often the catalog is checked for changes")
	fs.StringVar(&f.TokenKeysFile, "token-keys-file", "", "JSON keyring of impression-token keys (required; see internal/token)")
	fs.StringVar(&f.PepperFile, "user-key-pepper-file", "", "file holding the secret pepper of user keys, at least 32 bytes (required)")
	fs.StringVar(&f.AdServerSecrets, "ad-server-secrets-file", "", "file of bearer secrets for POST /v1/impressions, one per line; empty disables minting")
	fs.StringVar(&f.SpoolDir, "spool-dir", ".run/spool", "folder of the durable spool used while Pub/Sub is unreachable")
	fs.DurationVar(&f.PublishWait, "publish-wait", 500*time.Millisecond, "how long a click waits for Pub/Sub before it is spooled")
	fs.DurationVar(&f.PublishLinger, "publish-linger", time.Millisecond, "how long a batch of clicks gathers before it may be sent to Pub/Sub")
	fs.IntVar(&f.PublishRequests, "publish-requests", 4, "Publish requests under way at once; while all are, the next batch keeps growing")
	fs.Float64Var(&f.RateLimit, "rate-limit", 50, "requests per second allowed per client address (0 disables)")
	fs.IntVar(&f.RateBurst, "rate-burst", 100, "burst allowed per client address")
	fs.DurationVar(&f.TokenTTL, "token-ttl", time.Hour, "default lifetime of minted click URLs")
	fs.DurationVar(&f.TokenMaxTTL, "token-max-ttl", 2*time.Hour, "longest lifetime an ad server may ask for; the pipelines' dedupe horizon covers it")
	fs.StringVar(&f.TrustedProxies, "trusted-proxies", "", "comma-separated CIDRs whose X-Forwarded-For is trusted")
	fs.StringVar(&f.DatacenterCIDRs, "datacenter-cidrs", "", "file of data-centre address ranges (a CIDR a line); clicks from them are flagged in the event, never counted (invalid_datacenter); empty flags none")
	fs.DurationVar(&f.DrainTimeout, "drain-timeout", 10*time.Second, "how long shutdown waits for in-flight requests")
	fs.StringVar(&f.LogLevel, "log-level", "info", "debug, info, warn or error")
	fs.StringVar(&f.AdminListen, "admin-listen", "127.0.0.1:9090", "address of the admin listener: /metrics, detailed /readyz, pprof (keep it private)")
	fs.BoolVar(&f.Pprof, "pprof", false, "serve net/http/pprof on the admin listener")
	envflag.DocumentEnv(fs, EnvPrefix)
	return fs
}

// Run serves until ctx is done, then shuts down gracefully: readiness
// fails, requests drain, the publisher flushes and the spool closes.
// ready, if not nil, receives the bound address once serving.
func Run(ctx context.Context, args []string, lookupEnv func(string) (string, bool), stderr io.Writer, ready func(addr string)) error {
	var f Flags
	fs := NewFlagSet(&f)
	fs.SetOutput(stderr)
	if err := envflag.Parse(fs, EnvPrefix, args, lookupEnv); err != nil {
		return err
	}
	log, err := obs.NewLogger(stderr, f.LogLevel, "redirect")
	if err != nil {
		return err
	}
	keys, pepper, secrets, err := loadSecrets(f)
	if err != nil {
		return err
	}
	userKeys, err := clickevent.NewUserKeyer(pepper)
	if err != nil {
		return err
	}

	reg := obs.NewRegistry()
	health := obs.NewHealth()
	sp, err := spool.Open(f.SpoolDir)
	if err != nil {
		return err
	}
	// Whatever ends Run closes the spool exactly once: by itself until the
	// publisher owns it, then through the publisher, which flushes first.
	var pub *publish.Publisher
	shutdown := func() error {
		if pub != nil {
			return pub.Close(5 * time.Second)
		}
		return sp.Close()
	}
	shut := false
	defer func() {
		if !shut {
			shutdown()
		}
	}()
	if n := sp.Quarantined(); n > 0 {
		log.Error("corrupt spool segments quarantined at start; see docs/click-service.md to recover them", "segments", n,
			"quarantine", filepath.Join(f.SpoolDir, spool.QuarantineDir))
	}
	metrics := server.NewMetrics(reg, sp)

	src, err := catalog.NewSource(ctx, f.Catalog)
	if err != nil {
		return err
	}
	defer src.Close()
	watcher, err := catalog.NewWatcher(ctx, src, log)
	if err != nil {
		return err
	}
	watcher.OnReload = metrics.CatalogObserver
	metrics.CatalogObserver(true)
	health.Add("catalog", func(context.Context) error {
		if watcher.Current() == nil {
			return errors.New("not loaded")
		}
		return nil
	})

	// Cap gRPC's reconnect backoff (default up to 2 minutes) so the spool
	// drains soon after Pub/Sub comes back.
	ps, err := pubsub.NewClient(ctx, f.Project, option.WithGRPCDialOption(grpc.WithConnectParams(grpc.ConnectParams{
		Backoff: backoff.Config{BaseDelay: 200 * time.Millisecond, Multiplier: 1.6, Jitter: 0.2, MaxDelay: 2 * time.Second},
	})))
	if err != nil {
		return fmt.Errorf("pubsub client for project %s: %w", f.Project, err)
	}
	defer ps.Close()
	topicName := "projects/" + f.Project + "/topics/" + f.Topic
	pub = publish.New(ps.TopicAdminClient, sp, publish.Config{
		Topic: topicName, Wait: f.PublishWait, Linger: f.PublishLinger, Requests: f.PublishRequests,
	}, log, metrics.PublishObserver())
	reach := newReachability(ps, topicName)
	health.Add("topic", reach.Check)

	var limiter *ratelimit.Limiter
	if f.RateLimit > 0 {
		if f.RateBurst < 1 {
			return fmt.Errorf("-rate-burst %d: must be at least 1 when -rate-limit is on", f.RateBurst)
		}
		limiter = ratelimit.New(f.RateLimit, f.RateBurst)
	}
	var datacenters *netranges.Set
	if f.DatacenterCIDRs != "" {
		if datacenters, err = netranges.Load(f.DatacenterCIDRs); err != nil {
			return err
		}
		log.Info("data-centre ranges loaded", "ranges", datacenters.Len(), "file", f.DatacenterCIDRs)
	}
	srv, err := server.New(server.Config{
		Keys: keys, Catalog: watcher.Current, Publisher: pub, UserKeys: userKeys, Limiter: limiter,
		Log: log, Registry: reg, Metrics: metrics, Health: health,
		PublicBase: f.PublicBaseURL, AdServerSecrets: secrets,
		DefaultTTL: f.TokenTTL, MaxTTL: f.TokenMaxTTL, TrustedProxies: envflag.List(f.TrustedProxies), Datacenters: datacenters,
	})
	if err != nil {
		return err
	}

	ln, err := net.Listen("tcp", f.Listen)
	if err != nil {
		return fmt.Errorf("listen %s: %w", f.Listen, err)
	}
	defer ln.Close() // Serve closes it too; this covers the returns before
	log.Info("click service starting", "addr", ln.Addr().String(), "project", f.Project, "topic", f.Topic,
		"catalog", f.Catalog, "spool_dir", f.SpoolDir, "spool_depth", sp.Depth(),
		"signing_key_id", keys.SigningKeyID(), "verify_key_ids", keys.KeyIDs(), "minting", len(secrets) > 0,
		"pubsub_emulator", os.Getenv("PUBSUB_EMULATOR_HOST"))

	bg, stopBG := context.WithCancel(context.WithoutCancel(ctx))
	var wg sync.WaitGroup
	defer func() { stopBG(); wg.Wait() }() // before shutdown: the loops use the publisher
	for _, loop := range []func(context.Context){
		pub.Run,
		func(ctx context.Context) { watcher.Run(ctx, f.CatalogPoll) },
		func(ctx context.Context) { reach.Run(ctx, 5*time.Second) },
		func(ctx context.Context) {
			if limiter != nil {
				limiter.Run(ctx)
			}
		},
	} {
		wg.Add(1)
		go func() { defer wg.Done(); loop(bg) }()
	}
	wg.Add(1)
	go func() { defer wg.Done(); health.Run(bg, 2*time.Second, log) }()
	if _, err := obs.ServeAdmin(bg, f.AdminListen, reg, health, f.Pprof, log); err != nil {
		return err
	}
	if ready != nil {
		ready(ln.Addr().String())
	}
	httpSrv := &http.Server{
		Handler: srv.Handler(), ReadHeaderTimeout: 5 * time.Second, ReadTimeout: 10 * time.Second,
		WriteTimeout: 15 * time.Second, IdleTimeout: 120 * time.Second, MaxHeaderBytes: server.MaxHeaderBytes,
	}
	serveErr := obs.Serve(ctx, httpSrv, ln, f.DrainTimeout, health, log)
	stopBG()
	wg.Wait()
	// Requests are drained: flush what Pub/Sub still holds, then the spool.
	shut = true
	if err := shutdown(); err != nil {
		log.Error("closing publisher", "err", err)
		return errors.Join(serveErr, err)
	}
	log.Info("click service stopped", "spool_depth", sp.Depth())
	return serveErr
}

func loadSecrets(f Flags) (*token.Keyring, []byte, []string, error) {
	if f.TokenKeysFile == "" || f.PepperFile == "" {
		return nil, nil, nil, errors.New("-token-keys-file and -user-key-pepper-file are required (make run creates local ones in .run/secrets)")
	}
	keys, err := token.LoadKeyring(f.TokenKeysFile)
	if err != nil {
		return nil, nil, nil, err
	}
	pepper, err := os.ReadFile(f.PepperFile)
	if err != nil {
		return nil, nil, nil, fmt.Errorf("user key pepper: %w", err)
	}
	var secrets []string
	if f.AdServerSecrets != "" {
		data, err := os.ReadFile(f.AdServerSecrets)
		if err != nil {
			return nil, nil, nil, fmt.Errorf("ad server secrets: %w", err)
		}
		for _, line := range strings.Split(string(data), "\n") {
			if line = strings.TrimSpace(line); line != "" && !strings.HasPrefix(line, "#") {
				secrets = append(secrets, line)
			}
		}
	}
	return keys, []byte(strings.TrimSpace(string(pepper))), secrets, nil
}

// reachability remembers whether the topic answered its last GetTopic, so
// /readyz does not call Pub/Sub on every probe.
type reachability struct {
	ps      *pubsub.Client
	name    string
	lastErr atomic.Pointer[error]
}

func newReachability(ps *pubsub.Client, topic string) *reachability {
	r := &reachability{ps: ps, name: topic}
	err := errors.New("not checked yet")
	r.lastErr.Store(&err)
	return r
}

func (r *reachability) probe(ctx context.Context) {
	ctx, cancel := context.WithTimeout(ctx, 3*time.Second)
	defer cancel()
	_, err := r.ps.TopicAdminClient.GetTopic(ctx, &pubsubpb.GetTopicRequest{Topic: r.name})
	if err != nil {
		err = fmt.Errorf("get topic %s: %w", r.name, err)
	}
	r.lastErr.Store(&err)
}

func (r *reachability) Run(ctx context.Context, every time.Duration) {
	for {
		r.probe(ctx)
		select {
		case <-ctx.Done():
			return
		case <-time.After(every):
		}
	}
}

func (r *reachability) Check(context.Context) error { return *r.lastErr.Load() }
