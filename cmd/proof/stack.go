package main

import (
	"context"
	"encoding/json"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"time"

	"github.com/adclick/adclick/internal/apikey"
	"github.com/adclick/adclick/internal/faultproxy"
	"github.com/adclick/adclick/internal/gcpnames"
	"github.com/adclick/adclick/internal/localstack"
	"github.com/adclick/adclick/internal/proc"
	"github.com/adclick/adclick/pipelines/prismopts"
)

// stack is the local system under proof: emulators in this process, a
// fault proxy in front of Pub/Sub that every service goes through, and the
// services as child processes that can be killed.
type stack struct {
	dir       string
	bin       string
	emu       *localstack.Stack
	proxy     *faultproxy.Proxy
	btProxy   *faultproxy.Proxy // in front of Bigtable, for everyone but the proof's own checks
	secrets   localstack.Secrets
	apiKeys   map[string]string // advertiser → reports API key
	log       io.Writer
	redirect  *proc.Proc
	streaming *proc.Proc
	archiver  *proc.Proc
	reports   *proc.Proc
	clickBase string
	// clickAdmin and reportsAdmin are the services' admin listeners
	// (/metrics).
	clickAdmin, reportsAdmin string
	reportURL                string
}

func startStack(ctx context.Context, bin, dir string, log io.Writer) (*stack, error) {
	emu, err := localstack.Start("127.0.0.1:0", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	s := &stack{dir: dir, bin: bin, emu: emu, log: log}
	if err := localstack.EnsurePubSub(ctx, emu.PubSubAddr, gcpnames.LocalProject); err != nil {
		return s, err
	}
	if err := localstack.EnsureBigtable(ctx, emu.BigtableAddr, gcpnames.LocalProject); err != nil {
		return s, err
	}
	if s.proxy, err = faultproxy.Start("127.0.0.1:0", emu.PubSubAddr); err != nil {
		return s, err
	}
	if s.btProxy, err = faultproxy.Start("127.0.0.1:0", emu.BigtableAddr); err != nil {
		return s, err
	}
	if s.secrets, err = localstack.EnsureSecrets(dir); err != nil {
		return s, err
	}
	reportsCatalog, pepper, err := s.reportsCatalog()
	if err != nil {
		return s, err
	}
	env := []string{"PUBSUB_EMULATOR_HOST=" + s.proxy.Addr(), "BIGTABLE_EMULATOR_HOST=" + s.btProxy.Addr()}
	redirectAddr, err := proc.FreeAddr()
	if err != nil {
		return s, err
	}
	reportsAddr, err := proc.FreeAddr()
	if err != nil {
		return s, err
	}
	redirectAdmin, err := proc.FreeAddr()
	if err != nil {
		return s, err
	}
	reportsAdmin, err := proc.FreeAddr()
	if err != nil {
		return s, err
	}
	s.clickBase, s.reportURL, s.clickAdmin, s.reportsAdmin = "http://"+redirectAddr, "http://"+reportsAddr, "http://"+redirectAdmin, "http://"+reportsAdmin
	s.archiver = &proc.Proc{Name: "archiver", Path: filepath.Join(bin, "archiver"), Env: env, Out: log,
		Args: []string{"-archive=" + filepath.Join(dir, "archive"), "-max-duration=1m", "-max-bytes=" + strconv.Itoa(localstack.ArchiveFileBytes)}}
	// The load's data-centre clicks come from this range (load.go).
	datacenters := filepath.Join(dir, "datacenters.txt")
	if err := os.WriteFile(datacenters, []byte(datacenterRange+"\n"), 0o600); err != nil {
		return s, err
	}
	s.redirect = &proc.Proc{Name: "redirect", Path: filepath.Join(bin, "redirect"), Env: env, Out: log, Args: []string{
		"-listen=" + redirectAddr, "-admin-listen=" + redirectAdmin, "-public-base-url=" + s.clickBase, "-catalog=config/catalog.json",
		"-token-keys-file=" + s.secrets.TokenKeys, "-user-key-pepper-file=" + s.secrets.Pepper,
		"-ad-server-secrets-file=" + s.secrets.AdServerSecrets, "-spool-dir=" + filepath.Join(dir, "spool"),
		// The load generator speaks for many clients through X-Forwarded-For.
		"-trusted-proxies=127.0.0.1/32", "-rate-limit=50", "-rate-burst=100",
		"-datacenter-cidrs=" + datacenters,
		// pprof on the admin listener, for -click-profile.
		"-pprof",
	}}
	s.streaming = &proc.Proc{Name: "streaming", Path: filepath.Join(bin, "streaming"), Env: env, Out: log, Args: []string{
		"--runner=prism", "--experiments=" + prismopts.Experiments, "--project=" + gcpnames.LocalProject,
		"--drain_file=" + filepath.Join(dir, "streaming.drain"),
	}}
	s.reports = &proc.Proc{Name: "reports", Path: filepath.Join(bin, "reports"), Env: env, Out: log, Args: []string{
		"-listen=" + reportsAddr, "-admin-listen=" + reportsAdmin, "-catalog=" + reportsCatalog, "-api-key-pepper-file=" + pepper,
	}}
	for _, c := range []*proc.Proc{s.archiver, s.redirect, s.streaming, s.reports} {
		if err := c.Start(); err != nil {
			return s, err
		}
	}
	if err := proc.WaitReady(ctx, s.clickBase+"/readyz", 60*time.Second, s.redirect.Exited()); err != nil {
		return s, err
	}
	if err := proc.WaitReady(ctx, s.reportURL+"/readyz", 60*time.Second, s.reports.Exited()); err != nil {
		return s, err
	}
	return s, nil
}

// proofPepper is the reports' API-key pepper in the proof (32 bytes or more,
// as the service requires).
const proofPepper = "proof-pepper-of-at-least-32-bytes-long"

// reportsCatalog gives each advertiser an API key, as make run does.
func (s *stack) reportsCatalog() (string, string, error) {
	pepper := filepath.Join(s.dir, "api-key-pepper")
	if err := os.WriteFile(pepper, []byte(proofPepper), 0o600); err != nil {
		return "", "", err
	}
	data, err := os.ReadFile("config/catalog.json")
	if err != nil {
		return "", "", err
	}
	var doc map[string]any
	if err := json.Unmarshal(data, &doc); err != nil {
		return "", "", err
	}
	s.apiKeys = map[string]string{}
	for _, a := range doc["advertisers"].([]any) {
		adv := a.(map[string]any)
		id := adv["id"].(string)
		s.apiKeys[id] = "proof-key-" + id
		adv["api_key_hashes"] = []string{apikey.Hash([]byte(proofPepper), s.apiKeys[id])}
	}
	out, _ := json.Marshal(doc)
	path := filepath.Join(s.dir, "catalog-reports.json")
	return path, pepper, os.WriteFile(path, out, 0o600)
}

func (s *stack) close() {
	for _, c := range []*proc.Proc{s.reports, s.streaming, s.redirect, s.archiver} {
		if c != nil {
			c.Stop(60 * time.Second)
		}
	}
	if s.proxy != nil {
		s.proxy.Close()
	}
	if s.btProxy != nil {
		s.btProxy.Close()
	}
	if s.emu != nil {
		s.emu.Close()
	}
}
