package main

import (
	"bytes"
	"context"
	crand "crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"github.com/adclick/adclick/internal/apikey"
	"github.com/adclick/adclick/internal/catalog"
	"github.com/adclick/adclick/internal/countable"
)

// demoKeys gives every advertiser of the catalog an API key for the local
// dashboard: keys and the pepper are generated once into the secrets
// folder, and a copy of the catalog with the keys' hashes is written for
// the reports service. It returns that catalog's path, the pepper's, and
// the keys by advertiser.
func demoKeys(stateDir, catalogPath string) (string, string, map[string]string, error) {
	sdir := filepath.Join(stateDir, "secrets")
	pepperPath := filepath.Join(sdir, "api-key-pepper")
	if _, err := os.Stat(pepperPath); err != nil {
		if err := os.WriteFile(pepperPath, []byte(randomHex(32)), 0o600); err != nil {
			return "", "", nil, fmt.Errorf("write api key pepper: %w", err)
		}
	}
	pepper, err := os.ReadFile(pepperPath)
	if err != nil {
		return "", "", nil, err
	}
	data, err := os.ReadFile(catalogPath)
	if err != nil {
		return "", "", nil, fmt.Errorf("read catalog: %w", err)
	}
	var doc map[string]any
	if err := json.Unmarshal(data, &doc); err != nil {
		return "", "", nil, fmt.Errorf("catalog %s: %w", catalogPath, err)
	}
	keysPath := filepath.Join(sdir, "api-keys")
	keys := map[string]string{}
	if old, err := os.ReadFile(keysPath); err == nil {
		for _, line := range strings.Split(string(old), "\n") {
			if adv, key, ok := strings.Cut(strings.TrimSpace(line), " "); ok {
				keys[adv] = key
			}
		}
	}
	advs, _ := doc["advertisers"].([]any)
	for _, a := range advs {
		adv, _ := a.(map[string]any)
		id, _ := adv["id"].(string)
		if keys[id] == "" {
			keys[id] = "demo-" + id + "-" + randomHex(12)
		}
		adv["api_key_hashes"] = []string{apikey.Hash(bytes.TrimSpace(pepper), keys[id])}
	}
	var lines []string
	for adv, key := range keys {
		lines = append(lines, adv+" "+key)
	}
	sort.Strings(lines)
	if err := os.WriteFile(keysPath, []byte(strings.Join(lines, "\n")+"\n"), 0o600); err != nil {
		return "", "", nil, fmt.Errorf("write api keys: %w", err)
	}
	out, _ := json.MarshalIndent(doc, "", "  ")
	catPath := filepath.Join(stateDir, "catalog-reports.json")
	if err := os.WriteFile(catPath, out, 0o600); err != nil {
		return "", "", nil, fmt.Errorf("write reports catalog: %w", err)
	}
	return catPath, pepperPath, keys, nil
}

func randomHex(n int) string {
	b := make([]byte, n)
	if _, err := crand.Read(b); err != nil {
		panic(err)
	}
	return hex.EncodeToString(b)
}

// simulate clicks the active ads of the catalog through the click service
// the way browsers would, about rate times a second, a second or two
// after each impression, one click in ten a repeat click on the same
// impression: a gentle stream that keeps the dashboard moving.
func simulate(ctx context.Context, base, secret, catalogPath string, rate float64, out io.Writer) {
	data, err := os.ReadFile(catalogPath)
	if err != nil {
		fmt.Fprintln(out, "traffic:", err)
		return
	}
	cat, err := catalog.Parse(data)
	if err != nil {
		fmt.Fprintln(out, "traffic:", err)
		return
	}
	var ads []string
	for _, id := range cat.Advertisers() {
		adv, _ := cat.Advertiser(id)
		for _, ad := range adv.Ads {
			if ad.Status == "active" {
				ads = append(ads, ad.ID)
			}
		}
	}
	if len(ads) == 0 || rate <= 0 {
		return
	}
	client := &http.Client{Timeout: 5 * time.Second, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	tick := time.NewTicker(time.Duration(float64(time.Second) / rate))
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
		url, err := mintOne(ctx, base, secret, ads[rand.IntN(len(ads))])
		if err != nil {
			continue // the click service may be restarting
		}
		// A person looks at the ad before clicking it: sooner, the click
		// would be invalid traffic (countable's too-fast rule).
		think := countable.DefaultRules.MinClickDelay + time.Duration(200+rand.IntN(2000))*time.Millisecond
		clicks := 1 + boolInt(rand.IntN(10) == 0)
		time.AfterFunc(think, func() { clickAsBrowser(ctx, client, url, clicks) })
	}
}

func clickAsBrowser(ctx context.Context, client *http.Client, url string, times int) {
	for range times {
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
		req.Header.Set("User-Agent", "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0 Safari/537.36 (adclick local traffic)")
		if resp, err := client.Do(req); err == nil {
			resp.Body.Close()
		}
	}
}

func boolInt(b bool) int {
	if b {
		return 1
	}
	return 0
}
