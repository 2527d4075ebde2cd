// Package app wires the reporting service from flags: catalog (with the
// advertisers' hashed API keys), the Bigtable reader, the Gin server with
// the API and dashboard, metrics, health and graceful shutdown. The main
// package and the end-to-end tests both call Run.
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
	"strings"
	"time"

	"github.com/adclick/adclick/internal/apikey"
	"github.com/adclick/adclick/internal/ratelimit"

	"github.com/gin-gonic/gin"

	"github.com/adclick/adclick/internal/btschema"
	"github.com/adclick/adclick/internal/catalog"
	"github.com/adclick/adclick/internal/envflag"
	"github.com/adclick/adclick/internal/gcpnames"
	"github.com/adclick/adclick/internal/obs"
	"github.com/adclick/adclick/reports/query"
	"github.com/adclick/adclick/reports/server"
)

// EnvPrefix prefixes the environment variable of every flag.
const EnvPrefix = "ADCLICK"

// Flags is the reporting service's configuration.
type Flags struct {
	Listen           string
	Project          string
	BigtableInstance string
	BigtableProfile  string
	Catalog          string
	CatalogPoll      time.Duration
	PepperFile       string
	LogLevel         string
	DrainTimeout     time.Duration
	TrustedProxies   string
	RateLimit        float64
	RateBurst        int
	ReadTimeout      time.Duration
	AdminListen      string
	Pprof            bool
}

// NewFlagSet defines the flags, with their documented defaults.
func NewFlagSet(f *Flags) *flag.FlagSet {
	fs := flag.NewFlagSet("reports", flag.ContinueOnError)
	fs.StringVar(&f.Listen, "listen", ":8081", "address to serve the API and dashboard on")
	fs.StringVar(&f.Project, "project", gcpnames.LocalProject, "project of the Bigtable instance")
	fs.StringVar(&f.BigtableInstance, "bigtable-instance", gcpnames.BigtableInstance, "Bigtable instance of the clicks table")
	fs.StringVar(&f.BigtableProfile, "bigtable-app-profile", "", "Bigtable app profile of the reports' reads (empty: the instance's default)")
	fs.StringVar(&f.Catalog, "catalog", "config/catalog.json", "ad catalog with the advertisers' hashed API keys: a file or gs://bucket/object")
	fs.DurationVar(&f.CatalogPoll, "catalog-poll", 5*time.Second, "how often to look for a new catalog")
	fs.StringVar(&f.PepperFile, "api-key-pepper-file", "", "file holding the pepper API keys are hashed with (required)")
	fs.StringVar(&f.LogLevel, "log-level", "info", "debug, info, warn or error")
	fs.DurationVar(&f.DrainTimeout, "drain-timeout", 10*time.Second, "on SIGTERM, how long in-flight requests may take")
	fs.StringVar(&f.TrustedProxies, "trusted-proxies", "", "comma-separated CIDRs whose X-Forwarded-For is trusted (default none)")
	fs.Float64Var(&f.RateLimit, "rate-limit", 20, "API requests per second allowed per API key (0 disables)")
	fs.IntVar(&f.RateBurst, "rate-burst", 100, "burst of API requests allowed per API key")
	fs.DurationVar(&f.ReadTimeout, "read-timeout", server.DefaultReadTimeout, "longest an API request may spend reading Bigtable (then 503)")
	fs.StringVar(&f.AdminListen, "admin-listen", "127.0.0.1:9091", "address of the admin listener: /metrics, detailed /readyz, pprof (keep it private)")
	fs.BoolVar(&f.Pprof, "pprof", false, "serve net/http/pprof on the admin listener")
	envflag.DocumentEnv(fs, EnvPrefix)
	return fs
}

// Run serves until ctx ends, then drains. ready, if set, gets the address.
func Run(ctx context.Context, args []string, lookupEnv func(string) (string, bool), stderr io.Writer, ready func(addr string)) error {
	var f Flags
	fs := NewFlagSet(&f)
	fs.SetOutput(stderr)
	if err := envflag.Parse(fs, EnvPrefix, args, lookupEnv); err != nil {
		return err
	}
	log, err := obs.NewLogger(stderr, f.LogLevel, "reports")
	if err != nil {
		return err
	}
	if f.PepperFile == "" {
		return errors.New("-api-key-pepper-file is required (make run creates a local one in .run/secrets)")
	}
	pepperFile, err := os.ReadFile(f.PepperFile)
	if err != nil {
		return fmt.Errorf("api key pepper: %w", err)
	}
	pepper := []byte(strings.TrimSpace(string(pepperFile)))
	if err := apikey.CheckPepper(pepper); err != nil {
		return fmt.Errorf("%s: %w", f.PepperFile, err)
	}

	reg := obs.NewRegistry()
	health := obs.NewHealth()
	src, err := catalog.NewSource(ctx, f.Catalog)
	if err != nil {
		return err
	}
	defer src.Close()
	watcher, err := catalog.NewWatcher(ctx, src, log)
	if err != nil {
		return err
	}
	health.Add("catalog", func(context.Context) error {
		if watcher.Current() == nil {
			return errors.New("not loaded")
		}
		return nil
	})
	bt, err := btschema.Dial(ctx, f.Project, f.BigtableInstance, f.BigtableProfile)
	if err != nil {
		return err
	}
	defer bt.Close()
	tbl := bt.Open(btschema.Table)
	health.Add("bigtable", func(ctx context.Context) error {
		ctx, cancel := context.WithTimeout(ctx, 2*time.Second)
		defer cancel()
		_, err := tbl.ReadRow(ctx, btschema.ReconciledRowKey(time.Now()))
		return err
	})

	r, err := newEngine(f.TrustedProxies)
	if err != nil {
		return err
	}
	var limiter *ratelimit.Limiter
	if f.RateLimit > 0 {
		limiter = ratelimit.New(f.RateLimit, f.RateBurst)
	}
	r.Use(gin.Recovery(), obs.RequestMetrics(reg, "reports"), obs.RequestLog(log))
	health.Register(r)
	server.New(server.Config{
		Catalog: watcher.Current, Pepper: pepper,
		Reader: query.NewReader(tbl, nil), Log: log, Metrics: reg, Limiter: limiter, ReadTimeout: f.ReadTimeout,
	}).Routes(r)

	ln, err := net.Listen("tcp", f.Listen)
	if err != nil {
		return fmt.Errorf("listen %s: %w", f.Listen, err)
	}
	log.Info("reports service starting", "addr", ln.Addr().String(), "project", f.Project, "bigtable_instance", f.BigtableInstance,
		"catalog", f.Catalog, "bigtable_emulator", os.Getenv("BIGTABLE_EMULATOR_HOST"))
	bg, stopBG := context.WithCancel(context.WithoutCancel(ctx))
	defer stopBG()
	go watcher.Run(bg, f.CatalogPoll)
	go health.Run(bg, 2*time.Second, log)
	if _, err := obs.ServeAdmin(bg, f.AdminListen, reg, health, f.Pprof, log); err != nil {
		return err
	}
	if limiter != nil {
		go limiter.Run(bg)
	}
	if ready != nil {
		ready(ln.Addr().String())
	}
	srv := &http.Server{Handler: r, ReadHeaderTimeout: 5 * time.Second, ReadTimeout: 10 * time.Second, WriteTimeout: 30 * time.Second, IdleTimeout: 120 * time.Second}
	err = obs.Serve(ctx, srv, ln, f.DrainTimeout, health, log)
	log.Info("reports service stopped")
	return err
}

// newEngine is the service's router. Only the proxies listed (CIDRs,
// comma-separated) may name the client in X-Forwarded-For; with none, the
// connection's address is the client (gin's own default trusts everyone).
func newEngine(trustedProxies string) (*gin.Engine, error) {
	gin.SetMode(gin.ReleaseMode)
	r := gin.New()
	if err := r.SetTrustedProxies(envflag.List(trustedProxies)); err != nil {
		return nil, fmt.Errorf("-trusted-proxies: %w", err)
	}
	return r, nil
}
