// Package e2e holds the end-to-end tests: real emulators, real services on
// real sockets, driven through their public HTTP interfaces.
package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/adclick/adclick/internal/countable"
	"github.com/adclick/adclick/internal/proc"

	"cloud.google.com/go/pubsub/v2"
	"cloud.google.com/go/pubsub/v2/apiv1/pubsubpb"

	"github.com/adclick/adclick/internal/faultproxy"
	"github.com/adclick/adclick/internal/gcpnames"
	"github.com/adclick/adclick/internal/localstack"
	"github.com/adclick/adclick/redirect/app"
)

const project = gcpnames.LocalProject

// stack is the emulators, a fault proxy in front of Pub/Sub, and the
// secrets the services share.
type stack struct {
	emu     *localstack.Stack
	psProxy *faultproxy.Proxy
	secrets localstack.Secrets
	dir     string
	ps      *pubsub.Client // talks to the emulator directly, not through the proxy
}

func newStack(t *testing.T) *stack {
	t.Helper()
	emu, err := localstack.Start("127.0.0.1:0", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(emu.Close)
	ctx := context.Background()
	if err := localstack.EnsurePubSub(ctx, emu.PubSubAddr, project); err != nil {
		t.Fatal(err)
	}
	if err := localstack.EnsureBigtable(ctx, emu.BigtableAddr, project); err != nil {
		t.Fatal(err)
	}
	px, err := faultproxy.Start("127.0.0.1:0", emu.PubSubAddr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { px.Close() })
	dir := t.TempDir()
	sec, err := localstack.EnsureSecrets(dir)
	if err != nil {
		t.Fatal(err)
	}
	ps, err := pubsub.NewClient(ctx, project, localstack.EmulatorOptions(emu.PubSubAddr)...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ps.Close() })
	// Services read the standard variable, as they would in any deployment.
	t.Setenv("PUBSUB_EMULATOR_HOST", px.Addr())
	t.Setenv("BIGTABLE_EMULATOR_HOST", emu.BigtableAddr)
	return &stack{emu: emu, psProxy: px, secrets: sec, dir: dir, ps: ps}
}

// service is a running click service.
type service struct {
	admin string // the admin listener: /metrics
	base  string
	stop  func() error
	logs  *syncBuffer
}

type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// startRedirect runs the click service in-process, on a free port, with
// its spool in spoolDir.
func (s *stack) startRedirect(t *testing.T, spoolDir string, extra ...string) *service {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	addrc := make(chan string, 1)
	errc := make(chan error, 1)
	logs := &syncBuffer{}
	catalog, _ := filepath.Abs("../config/catalog.json")
	admin, err := proc.FreeAddr()
	if err != nil {
		t.Fatal(err)
	}
	args := append([]string{
		"-listen=127.0.0.1:0", "-admin-listen=" + admin, "-public-base-url=http://click.test", "-project=" + project,
		"-catalog=" + catalog, "-token-keys-file=" + s.secrets.TokenKeys, "-user-key-pepper-file=" + s.secrets.Pepper,
		"-ad-server-secrets-file=" + s.secrets.AdServerSecrets, "-spool-dir=" + spoolDir,
		"-publish-wait=200ms", "-rate-limit=0", "-log-level=debug",
	}, extra...)
	go func() {
		errc <- app.Run(ctx, args, func(string) (string, bool) { return "", false }, logs, func(a string) { addrc <- a })
	}()
	var svc *service
	select {
	case a := <-addrc:
		svc = &service{base: "http://" + a, admin: "http://" + admin, logs: logs}
	case err := <-errc:
		cancel()
		t.Fatalf("click service did not start: %v\n%s", err, logs)
	case <-time.After(30 * time.Second):
		cancel()
		t.Fatal("click service did not start in 30s")
	}
	var once sync.Once
	var stopErr error
	svc.stop = func() error {
		once.Do(func() { cancel(); stopErr = <-errc })
		return stopErr
	}
	t.Cleanup(func() { svc.stop() })
	waitFor(t, 20*time.Second, "click service ready", func() bool {
		resp, err := http.Get(svc.base + "/readyz")
		if err != nil {
			return false
		}
		resp.Body.Close()
		return resp.StatusCode == 200
	})
	return svc
}

// asAPerson waits as long as a person takes at least to see an ad and
// click it: countable's too-fast rule does not count a click sooner.
func asAPerson() { time.Sleep(countable.DefaultRules.MinClickDelay) }

// mint asks the service for n click URLs of ad, like an ad server.
func (s *stack) mint(t *testing.T, svc *service, ad string, n int) (urls, impressions []string) {
	t.Helper()
	body, _ := json.Marshal(map[string]any{"ad_id": ad, "count": n})
	req, _ := http.NewRequest(http.MethodPost, svc.base+"/v1/impressions", bytes.NewReader(body))
	req.Header.Set("Authorization", "Bearer "+s.secrets.AdServerSecret)
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var r struct {
		Impressions []struct {
			ClickURL     string `json:"click_url"`
			ImpressionID string `json:"impression_id"`
		} `json:"impressions"`
	}
	if resp.StatusCode != http.StatusCreated {
		b, _ := io.ReadAll(resp.Body)
		t.Fatalf("mint: %d %s", resp.StatusCode, b)
	}
	json.NewDecoder(resp.Body).Decode(&r)
	for _, imp := range r.Impressions {
		// Minted URLs name the public host; tests reach the service directly.
		urls = append(urls, svc.base+strings.TrimPrefix(imp.ClickURL, "http://click.test"))
		impressions = append(impressions, imp.ImpressionID)
	}
	return urls, impressions
}

var noFollow = &http.Client{
	Timeout:       10 * time.Second,
	CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
}

// click follows url like a browser would, without following the redirect.
func click(t *testing.T, url string) *http.Response {
	t.Helper()
	req, _ := http.NewRequest(http.MethodGet, url, nil)
	req.Header.Set("User-Agent", "Mozilla/5.0 (X11; Linux x86_64) Chrome/120.0")
	resp, err := noFollow.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	return resp
}

// drainTail pulls the tail subscription until stop says enough or within
// passes, returning every message seen.
func (s *stack) drainTail(t *testing.T, within time.Duration, stop func([]*pubsubpb.PubsubMessage) bool) []*pubsubpb.PubsubMessage {
	t.Helper()
	var all []*pubsubpb.PubsubMessage
	deadline := time.Now().Add(within)
	for time.Now().Before(deadline) {
		msgs, err := localstack.Pull(context.Background(), s.ps, project, gcpnames.TailSubscription, 1000)
		if err != nil {
			t.Fatal(err)
		}
		all = append(all, msgs...)
		if stop(all) {
			return all
		}
		if len(msgs) == 0 {
			time.Sleep(50 * time.Millisecond)
		}
	}
	return all
}

func waitFor(t *testing.T, within time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(within)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %v waiting for %s", within, what)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func metric(t *testing.T, base, name string) string {
	t.Helper()
	resp, err := http.Get(base + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	for _, line := range strings.Split(string(b), "\n") {
		if strings.HasPrefix(line, name+" ") {
			return strings.TrimPrefix(line, name+" ")
		}
	}
	return ""
}

func init() {
	// The services log JSON to the test's buffer; keep the test binary quiet.
	os.Unsetenv("ADCLICK_LOG_LEVEL")
}
