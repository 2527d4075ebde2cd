package main

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"syscall"
	"time"

	"github.com/adclick/adclick/internal/faultproxy"
	"github.com/adclick/adclick/internal/gcpnames"
	"github.com/adclick/adclick/internal/localstack"
	"github.com/adclick/adclick/reports/server"
)

// stack is the local system under proof: emulators in this process, a
// fault proxy in front of Pub/Sub that every service goes through, and the
// services as child processes that can be killed.
type stack struct {
	dir       string
	bin       string
	emu       *localstack.Stack
	proxy     *faultproxy.Proxy
	secrets   localstack.Secrets
	apiKeys   map[string]string // advertiser → reports API key
	log       io.Writer
	redirect  *child
	streaming *child
	archiver  *child
	reports   *child
	clickBase string
	reportURL string
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
	if s.secrets, err = localstack.EnsureSecrets(dir); err != nil {
		return s, err
	}
	reportsCatalog, pepper, err := s.reportsCatalog()
	if err != nil {
		return s, err
	}
	env := []string{"PUBSUB_EMULATOR_HOST=" + s.proxy.Addr(), "BIGTABLE_EMULATOR_HOST=" + emu.BigtableAddr}
	redirectAddr, reportsAddr := freeAddr(), freeAddr()
	s.clickBase, s.reportURL = "http://"+redirectAddr, "http://"+reportsAddr
	s.archiver = &child{name: "archiver", path: filepath.Join(bin, "archiver"), env: env, log: log,
		args: []string{"-archive=" + filepath.Join(dir, "archive"), "-max-duration=1m"}}
	s.redirect = &child{name: "redirect", path: filepath.Join(bin, "redirect"), env: env, log: log, args: []string{
		"-listen=" + redirectAddr, "-public-base-url=" + s.clickBase, "-catalog=config/catalog.json",
		"-token-keys-file=" + s.secrets.TokenKeys, "-user-key-pepper-file=" + s.secrets.Pepper,
		"-ad-server-secrets-file=" + s.secrets.AdServerSecrets, "-spool-dir=" + filepath.Join(dir, "spool"),
		// The load generator speaks for many clients through X-Forwarded-For.
		"-trusted-proxies=127.0.0.1/32", "-rate-limit=50", "-rate-burst=100",
	}}
	s.streaming = &child{name: "streaming", path: filepath.Join(bin, "streaming"), env: env, log: log, args: []string{
		"--runner=prism", "--experiments=prism_disable_sdf_split", "--project=" + gcpnames.LocalProject,
		"--drain_file=" + filepath.Join(dir, "streaming.drain"),
	}}
	s.reports = &child{name: "reports", path: filepath.Join(bin, "reports"), env: env, log: log, args: []string{
		"-listen=" + reportsAddr, "-catalog=" + reportsCatalog, "-api-key-pepper-file=" + pepper,
	}}
	for _, c := range []*child{s.archiver, s.redirect, s.streaming, s.reports} {
		if err := c.start(); err != nil {
			return s, err
		}
	}
	for _, u := range []string{s.clickBase + "/readyz", s.reportURL + "/readyz"} {
		if err := waitOK(ctx, u, 60*time.Second); err != nil {
			return s, err
		}
	}
	return s, nil
}

// reportsCatalog gives each advertiser an API key, as make run does.
func (s *stack) reportsCatalog() (string, string, error) {
	pepper := filepath.Join(s.dir, "api-key-pepper")
	if err := os.WriteFile(pepper, []byte("proof-pepper"), 0o600); err != nil {
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
		adv["api_key_hashes"] = []string{server.HashAPIKey([]byte("proof-pepper"), s.apiKeys[id])}
	}
	out, _ := json.Marshal(doc)
	path := filepath.Join(s.dir, "catalog-reports.json")
	return path, pepper, os.WriteFile(path, out, 0o600)
}

func (s *stack) close() {
	for _, c := range []*child{s.reports, s.streaming, s.redirect, s.archiver} {
		if c != nil {
			c.stop(60 * time.Second)
		}
	}
	if s.proxy != nil {
		s.proxy.Close()
	}
	if s.emu != nil {
		s.emu.Close()
	}
}

func freeAddr() string {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		panic(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

func waitOK(ctx context.Context, url string, within time.Duration) error {
	deadline := time.Now().Add(within)
	for time.Now().Before(deadline) {
		if resp, err := http.Get(url); err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(200 * time.Millisecond):
		}
	}
	return fmt.Errorf("%s not ready after %v", url, within)
}

// child is a service process.
type child struct {
	name, path string
	args, env  []string
	log        io.Writer

	mu   sync.Mutex
	cmd  *exec.Cmd
	done chan struct{}
}

func (c *child) start() error {
	cmd := exec.Command(c.path, c.args...)
	cmd.Env = append(os.Environ(), c.env...)
	out, err := cmd.StdoutPipe()
	if err != nil {
		return err
	}
	cmd.Stderr = cmd.Stdout
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("start %s: %w", c.name, err)
	}
	done := make(chan struct{})
	go func() {
		sc := bufio.NewScanner(out)
		sc.Buffer(make([]byte, 64<<10), 1<<20)
		for sc.Scan() {
			fmt.Fprintf(c.log, "%-9s| %s\n", c.name, sc.Text())
		}
		cmd.Wait()
		close(done)
	}()
	c.mu.Lock()
	c.cmd, c.done = cmd, done
	c.mu.Unlock()
	return nil
}

// kill is a crash: SIGKILL, nothing flushed.
func (c *child) kill() {
	c.mu.Lock()
	cmd, done := c.cmd, c.done
	c.mu.Unlock()
	cmd.Process.Signal(syscall.SIGKILL)
	<-done
}

// stop is a graceful stop: SIGTERM, then SIGKILL after timeout.
func (c *child) stop(timeout time.Duration) {
	c.mu.Lock()
	cmd, done := c.cmd, c.done
	c.mu.Unlock()
	if cmd == nil {
		return
	}
	cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-done:
	case <-time.After(timeout):
		cmd.Process.Signal(syscall.SIGKILL)
		<-done
	}
}

func (c *child) alive() bool {
	c.mu.Lock()
	done := c.done
	c.mu.Unlock()
	select {
	case <-done:
		return false
	default:
		return true
	}
}
