// Command local runs the whole adclick system on this machine, with no
// cloud account: the Pub/Sub fake and the Bigtable emulator in-process, the
// services as child processes pointed at them through the standard
// PUBSUB_EMULATOR_HOST / BIGTABLE_EMULATOR_HOST variables, and a small
// stand-in advertiser site for the landing pages. `make run` starts it;
// Ctrl-C stops everything cleanly.
package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/signal"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"cloud.google.com/go/pubsub/v2"

	"github.com/adclick/adclick/internal/clickevent"
	"github.com/adclick/adclick/internal/envflag"
	"github.com/adclick/adclick/internal/gcpnames"
	"github.com/adclick/adclick/internal/localstack"
	"github.com/adclick/adclick/internal/proc"
	"github.com/adclick/adclick/pipelines/prismopts"
)

type config struct {
	pubsubAddr   string
	bigtableAddr string
	redirectAddr string
	siteAddr     string
	stateDir     string
	binDir       string
	catalog      string
	tail         bool
	streaming    bool
	reportsAddr  string
	traffic      float64
}

func main() {
	var c config
	fs := flag.NewFlagSet("local", flag.ContinueOnError)
	fs.StringVar(&c.pubsubAddr, "pubsub-addr", localstack.DefaultPubSubAddr, "address of the Pub/Sub fake")
	fs.StringVar(&c.bigtableAddr, "bigtable-addr", localstack.DefaultBigtableAddr, "address of the Bigtable emulator")
	fs.StringVar(&c.redirectAddr, "redirect-addr", "127.0.0.1:8080", "address of the click service")
	fs.StringVar(&c.siteAddr, "site-addr", "127.0.0.1:8090", "address of the stand-in advertiser site the sample catalog links to")
	fs.StringVar(&c.stateDir, "state-dir", ".run", "folder for generated secrets and the spool (git-ignored)")
	fs.StringVar(&c.binDir, "bin-dir", "", "folder of the service binaries (default: this binary's folder)")
	fs.StringVar(&c.catalog, "catalog", "config/catalog.json", "ad catalog for the click service")
	fs.BoolVar(&c.tail, "tail", true, "print each click event as it arrives on Pub/Sub")
	fs.BoolVar(&c.streaming, "streaming", true, "run the streaming job on Prism")
	fs.StringVar(&c.reportsAddr, "reports-addr", "127.0.0.1:8081", "address of the reports API and dashboard")
	fs.Float64Var(&c.traffic, "traffic", 2, "simulated clicks per second through the click service, so the dashboard moves (0: none)")
	envflag.DocumentEnv(fs, "ADCLICK_LOCAL")
	if err := envflag.Parse(fs, "ADCLICK_LOCAL", os.Args[1:], os.LookupEnv); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return
		}
		fmt.Fprintln(os.Stderr, "local:", err)
		os.Exit(2)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, c, os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "local:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, c config, out io.Writer) error {
	if c.binDir == "" {
		exe, err := os.Executable()
		if err != nil {
			return err
		}
		c.binDir = filepath.Dir(exe)
	}
	secrets, err := localstack.EnsureSecrets(c.stateDir)
	if err != nil {
		return err
	}
	stack, err := localstack.Start(c.pubsubAddr, c.bigtableAddr)
	if err != nil {
		return err
	}
	defer stack.Close()
	if err := localstack.EnsurePubSub(ctx, stack.PubSubAddr, gcpnames.LocalProject); err != nil {
		return err
	}
	if err := localstack.EnsureBigtable(ctx, stack.BigtableAddr, gcpnames.LocalProject); err != nil {
		return err
	}
	site, err := startSite(c.siteAddr)
	if err != nil {
		return err
	}
	defer site.Close()

	emu := []string{"PUBSUB_EMULATOR_HOST=" + stack.PubSubAddr, "BIGTABLE_EMULATOR_HOST=" + stack.BigtableAddr}
	redirect := &proc.Proc{
		Name: "redirect", Path: filepath.Join(c.binDir, "redirect"), Out: out, Env: emu,
		Args: []string{
			"-listen=" + c.redirectAddr, "-public-base-url=http://" + hostPort(c.redirectAddr),
			"-project=" + gcpnames.LocalProject, "-catalog=" + c.catalog,
			"-token-keys-file=" + secrets.TokenKeys, "-user-key-pepper-file=" + secrets.Pepper,
			"-ad-server-secrets-file=" + secrets.AdServerSecrets, "-spool-dir=" + filepath.Join(c.stateDir, "spool"),
		},
	}
	streaming := &proc.Proc{
		Name: "streaming", Path: filepath.Join(c.binDir, "streaming"), Out: out, Env: emu,
		Args: []string{
			"--runner=prism", "--experiments=" + prismopts.Experiments, "--project=" + gcpnames.LocalProject,
			"--drain_file=" + filepath.Join(c.stateDir, "streaming.drain"),
		},
	}
	archiver := &proc.Proc{
		Name: "archiver", Path: filepath.Join(c.binDir, "archiver"), Out: out, Env: emu,
		Args: []string{"-project=" + gcpnames.LocalProject, "-archive=" + filepath.Join(c.stateDir, "archive"),
			"-max-bytes=" + strconv.Itoa(localstack.ArchiveFileBytes)},
	}
	reportsCatalog, apiPepper, apiKeys, err := demoKeys(c.stateDir, c.catalog)
	if err != nil {
		return err
	}
	reports := &proc.Proc{
		Name: "reports", Path: filepath.Join(c.binDir, "reports"), Out: out, Env: emu,
		Args: []string{"-listen=" + c.reportsAddr, "-project=" + gcpnames.LocalProject, "-catalog=" + reportsCatalog, "-api-key-pepper-file=" + apiPepper},
	}
	procs := []*proc.Proc{archiver, redirect, reports}
	if c.streaming {
		procs = append(procs, streaming)
	}
	for _, p := range procs {
		if err := p.Start(); err != nil {
			return err
		}
	}
	defer func() {
		for i := len(procs) - 1; i >= 0; i-- {
			procs[i].Stop(30 * time.Second)
		}
		fmt.Fprintln(out, "local stack stopped")
	}()

	base := "http://" + hostPort(c.redirectAddr)
	if err := proc.WaitReady(ctx, base+"/readyz", 30*time.Second, redirect.Exited()); err != nil {
		return err
	}
	if err := proc.WaitReady(ctx, "http://"+hostPort(c.reportsAddr)+"/readyz", 30*time.Second, reports.Exited()); err != nil {
		return err
	}
	clickURL, err := mintOne(ctx, base, secrets.AdServerSecret, "acme-trail-1")
	if err != nil {
		return err
	}
	fmt.Fprintf(out, `
adclick is running locally. Ctrl-C stops everything.

  click service     %[1]s   (/healthz /readyz; /metrics and details on http://127.0.0.1:9090)
  Pub/Sub fake      %[2]s   export PUBSUB_EMULATOR_HOST=%[2]s
  Bigtable emulator %[3]s   export BIGTABLE_EMULATOR_HOST=%[3]s
  advertiser site   http://%[4]s   (stand-in landing pages of the sample catalog)
  reports dashboard http://%[9]s/   sign in with acme's demo API key: %[10]s
                    (every advertiser's key is in %[5]s/secrets/api-keys; API described at /openapi.json)
  state             %[5]s/   (generated secrets, click spool)
  raw click archive %[5]s/archive/clicks/   (Avro files as the Cloud Storage subscription writes them, every minute)

Reconcile a day from the archive (the nightly batch) with: make batch DATE=$(date -u +%%F)

Open this click URL in a browser (valid for 1 hour); you land on the ad's page
and the click appears below as it arrives on Pub/Sub:

  %[6]s

Mint more (ad ids are in %[7]s):

  curl -s -X POST %[1]s/v1/impressions -H "Authorization: Bearer $(head -1 %[8]s)" \
       -H 'Content-Type: application/json' -d '{"ad_id":"globex-lisbon","count":3}'

`, base, stack.PubSubAddr, stack.BigtableAddr, hostPort(c.siteAddr), c.stateDir, clickURL, c.catalog, secrets.AdServerSecrets,
		hostPort(c.reportsAddr), apiKeys["acme"])
	if c.traffic > 0 {
		fmt.Fprintf(out, "Simulated traffic: about %.0f clicks/s on the catalog's active ads (-traffic=0 turns it off).\n\n", c.traffic)
	}

	var wg sync.WaitGroup
	wg.Add(1)
	go func() { defer wg.Done(); simulate(ctx, base, secrets.AdServerSecret, c.catalog, c.traffic, out) }()
	if c.tail {
		wg.Add(1)
		go func() { defer wg.Done(); tail(ctx, stack.PubSubAddr, out) }()
	}
	select {
	case <-ctx.Done():
	case <-redirect.Exited():
		err = errors.New("the click service exited; see its log above")
	case <-exitedIf(c.streaming, streaming):
		err = errors.New("the streaming job exited; see its log above")
	case <-reports.Exited():
		err = errors.New("the reports service exited; see its log above")
	case <-archiver.Exited():
		err = errors.New("the archiver exited; see its log above")
	}
	wg.Wait()
	return err
}

func hostPort(addr string) string {
	if strings.HasPrefix(addr, ":") {
		return "localhost" + addr
	}
	return strings.Replace(addr, "127.0.0.1", "localhost", 1)
}

// mintOne asks the click service for a click URL the way an ad server does.
func mintOne(ctx context.Context, base, secret, ad string) (string, error) {
	body, _ := json.Marshal(map[string]any{"ad_id": ad, "placement_id": "local-demo"})
	req, _ := http.NewRequestWithContext(ctx, http.MethodPost, base+"/v1/impressions", bytes.NewReader(body))
	req.Header.Set("Authorization", "Bearer "+secret)
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return "", fmt.Errorf("mint a demo click URL: %w", err)
	}
	defer resp.Body.Close()
	var r struct {
		Impressions []struct {
			ClickURL string `json:"click_url"`
		} `json:"impressions"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&r); err != nil || resp.StatusCode != http.StatusCreated || len(r.Impressions) == 0 {
		return "", fmt.Errorf("mint a demo click URL: status %d, %v", resp.StatusCode, err)
	}
	return r.Impressions[0].ClickURL, nil
}

// tail prints every click that reaches the local-only tail subscription.
func tail(ctx context.Context, addr string, out io.Writer) {
	c, err := pubsub.NewClient(ctx, gcpnames.LocalProject, localstack.EmulatorOptions(addr)...)
	if err != nil {
		fmt.Fprintln(out, "tail:", err)
		return
	}
	defer c.Close()
	for ctx.Err() == nil {
		msgs, err := localstack.Pull(ctx, c, gcpnames.LocalProject, gcpnames.TailSubscription, 500)
		if err != nil && ctx.Err() == nil {
			fmt.Fprintln(out, "tail:", err)
		}
		for _, m := range msgs {
			ev, err := clickevent.Unmarshal(m.Data)
			if err != nil {
				fmt.Fprintf(out, "pubsub   | undecodable click message %s: %v\n", m.MessageId, err)
				continue
			}
			fmt.Fprintf(out, "pubsub   | click %s ad=%s advertiser=%s impression=%s… ua=%s at %s\n",
				m.MessageId, ev.AdID, ev.AdvertiserID, ev.ImpressionID[:8], ev.UAClass, ev.ClickTime.Format(time.TimeOnly))
		}
		if len(msgs) == 0 {
			select {
			case <-ctx.Done():
			case <-time.After(250 * time.Millisecond):
			}
		}
	}
}

// exitedIf is p's exit channel when it runs, and a channel that never
// closes otherwise.
func exitedIf(runs bool, p *proc.Proc) <-chan struct{} {
	if !runs {
		return nil
	}
	return p.Exited()
}
