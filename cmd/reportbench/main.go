// Command reportbench measures the reports API's query latency against the
// Bigtable emulator holding a realistic history: -ads ads of 10 per
// advertiser, -days days of minutes (each ad clicked in about one minute
// in ten), hour and day rows and reconciled markers for every day but
// today, and the top rows. At -rate requests/s, spread over five
// queries, in -rounds rounds, it prints p50/p99 from the client, the
// spread of the p99 over the rounds, and p50/p99 inside the service (the
// handler's own time, apart from the load generator's) of:
//
//   - one ad's day of minutes (1,440 points);
//   - one ad's 90 days of days;
//   - one ad's year by year;
//   - a campaign's month of days;
//   - an advertiser's top 100 ads over an hour.
package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	_ "net/http/pprof"
	"os"
	"runtime"
	"runtime/debug"
	"slices"
	"strconv"
	"sync"
	"time"

	"cloud.google.com/go/bigtable"
	"github.com/gin-gonic/gin"

	"github.com/adclick/adclick/internal/apikey"
	"github.com/adclick/adclick/internal/btschema"
	"github.com/adclick/adclick/internal/catalog"
	"github.com/adclick/adclick/internal/gcpnames"
	"github.com/adclick/adclick/internal/localstack"
	"github.com/adclick/adclick/reports/query"
	"github.com/adclick/adclick/reports/server"
)

func main() {
	ads := flag.Int("ads", 2000, "ads (10 per advertiser)")
	days := flag.Int("days", 14, "days of minute history")
	rate := flag.Int("rate", 200, "requests per second")
	dur := flag.Duration("duration", 30*time.Second, "how long to load")
	rounds := flag.Int("rounds", 3, "the load in this many rounds, to show the spread of each figure")
	flag.Parse()
	if err := run(*ads, *days, *rate, *dur, max(*rounds, 1)); err != nil {
		fmt.Fprintln(os.Stderr, "reportbench:", err)
		os.Exit(1)
	}
}

func run(nAds, nDays, rate int, dur time.Duration, rounds int) error {
	ctx := context.Background()
	st, err := localstack.Start("127.0.0.1:0", "127.0.0.1:0")
	if err != nil {
		return err
	}
	defer st.Close()
	if err := localstack.CreateTableWithoutGC(ctx, st.BigtableAddr); err != nil {
		return err
	}
	bt, err := bigtable.NewClientWithConfig(ctx, gcpnames.LocalProject, gcpnames.BigtableInstance,
		bigtable.ClientConfig{MetricsProvider: bigtable.NoopMetricsProvider{}}, localstack.EmulatorOptions(st.BigtableAddr)...)
	if err != nil {
		return err
	}
	defer bt.Close()
	tbl := bt.Open(btschema.Table)
	today := time.Now().UTC().Truncate(24 * time.Hour)
	start := time.Now()
	cells, err := load(ctx, tbl, nAds, nDays, today)
	if err != nil {
		return err
	}
	fmt.Printf("reportbench: loaded %d cells (%d ads, %d days of minutes) in %.0f s\n", cells, nAds, nDays, time.Since(start).Seconds())
	// The emulator's millions of cells are a Go heap in this process;
	// marking it takes CPU from everything here, which Bigtable does not.
	// Collect once now and rarely during the measurement.
	runtime.GC()
	debug.SetGCPercent(1000)

	pepper := []byte("bench")
	cat, keys, err := benchCatalog(nAds, pepper)
	if err != nil {
		return err
	}
	gin.SetMode(gin.ReleaseMode)
	r := gin.New()
	server.New(server.Config{Catalog: func() *catalog.Catalog { return cat }, Pepper: pepper, Reader: query.NewReader(tbl, nil),
		Log: slog.New(slog.NewTextHandler(io.Discard, nil))}).Routes(r)
	// The service's own time per request, beside the client's: what the
	// handler took, without the load generator and the scheduling of
	// both on the same cores.
	own := &serviceTimes{byQuery: map[string][]time.Duration{}}
	srv := httptest.NewServer(own.wrap(r))
	defer srv.Close()
	if addr := os.Getenv("REPORTBENCH_PPROF"); addr != "" {
		go http.ListenAndServe(addr, nil)
	}

	yesterday := today.AddDate(0, 0, -1)
	queries := []struct {
		name string
		path func(adv, ad int) string
	}{
		{"one ad, a day of minutes (1,440 points)", func(adv, ad int) string {
			return fmt.Sprintf("/v1/ads/ad%d/clicks?granularity=minute&from=%s&to=%s", ad, yesterday.Format(time.RFC3339), today.Format(time.RFC3339))
		}},
		{"one ad, 90 days of days", func(adv, ad int) string {
			return fmt.Sprintf("/v1/ads/ad%d/clicks?granularity=day&from=%s&to=%s", ad, today.AddDate(0, 0, -89).Format(time.DateOnly), today.AddDate(0, 0, 1).Format(time.DateOnly))
		}},
		{"one ad, a year by year", func(adv, ad int) string {
			return fmt.Sprintf("/v1/ads/ad%d/clicks?granularity=year&from=%s&to=%s", ad, today.AddDate(-1, 0, 0).Format(time.DateOnly), today.AddDate(0, 0, 1).Format(time.DateOnly))
		}},
		{"a campaign, a month of days", func(adv, ad int) string {
			return fmt.Sprintf("/v1/campaigns/%s/clicks?granularity=day&from=%s&to=%s", campaignOf(ad), today.AddDate(0, 0, -30).Format(time.DateOnly), today.AddDate(0, 0, 1).Format(time.DateOnly))
		}},
		{"advertiser top 100 over an hour", func(adv, ad int) string {
			return fmt.Sprintf("/v1/advertiser/top?n=100&minutes=60&to=%s", yesterday.Add(13*time.Hour).Format(time.RFC3339))
		}},
	}
	fmt.Printf("%d requests/s for %v in %d rounds; latency from the client and inside the service, p99 per round\n", rate, dur, rounds)
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 256}}
	type figures struct{ client, service []time.Duration }
	all := make([]figures, len(queries))
	p99s := make([][]float64, len(queries)) // per query, per round: client p99
	var errs int
	for range rounds {
		lat, n := loadRequests(client, srv.URL, len(queries), rate, dur/time.Duration(rounds), func(q, ad int) (string, string) {
			return queries[q].path(ad/10, ad), keys[ad/10]
		}, nAds)
		errs += n
		for q := range queries {
			p99s[q] = append(p99s[q], ms(percentile(lat[q], 0.99)))
			all[q].client = append(all[q].client, lat[q]...)
		}
	}
	for q := range queries {
		all[q].service = own.take(strconv.Itoa(q))
	}
	fmt.Printf("%d errors\n", errs)
	for i, q := range queries {
		f := all[i]
		if len(f.client) == 0 {
			continue
		}
		spread := slices.Clone(p99s[i])
		slices.Sort(spread)
		fmt.Printf("  %-42s n=%5d  p50 %6.1f ms  p99 %6.1f ms (rounds %.1f-%.1f, target 20)  service p50 %5.1f ms  p99 %5.1f ms\n",
			q.name, len(f.client), ms(percentile(f.client, 0.5)), ms(percentile(f.client, 0.99)), spread[0], spread[len(spread)-1],
			ms(percentile(f.service, 0.5)), ms(percentile(f.service, 0.99)))
	}
	return nil
}

// loadRequests sends rate requests a second for dur, cycling through the
// queries, and returns each query's client-side latencies and the
// errors. path gives a query's path and API key for an ad.
func loadRequests(client *http.Client, base string, queries, rate int, dur time.Duration, path func(q, ad int) (string, string), nAds int) ([][]time.Duration, int) {
	lat := make([][]time.Duration, queries)
	var mu sync.Mutex
	var errs int
	var wg sync.WaitGroup
	begin := time.Now()
	for i := 0; time.Since(begin) < dur; i++ {
		if d := time.Until(begin.Add(time.Duration(i) * time.Second / time.Duration(rate))); d > 0 {
			time.Sleep(d)
		}
		q := i % queries
		ad := rand.IntN(nAds)
		wg.Go(func() {
			p, key := path(q, ad)
			req, _ := http.NewRequest(http.MethodGet, base+p, nil)
			req.Header.Set("Authorization", "Bearer "+key)
			req.Header.Set(queryHeader, strconv.Itoa(q))
			t0 := time.Now()
			resp, err := client.Do(req)
			if err == nil {
				io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
			}
			d := time.Since(t0)
			mu.Lock()
			defer mu.Unlock()
			if err != nil || resp.StatusCode != 200 {
				errs++
				return
			}
			lat[q] = append(lat[q], d)
		})
	}
	wg.Wait()
	return lat, errs
}

// queryHeader tells the service-side timer which query a request is.
const queryHeader = "X-Reportbench-Query"

// serviceTimes records how long the handler took per query.
type serviceTimes struct {
	mu      sync.Mutex
	byQuery map[string][]time.Duration
}

func (s *serviceTimes) wrap(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		t0 := time.Now()
		h.ServeHTTP(w, r)
		d := time.Since(t0)
		s.mu.Lock()
		s.byQuery[r.Header.Get(queryHeader)] = append(s.byQuery[r.Header.Get(queryHeader)], d)
		s.mu.Unlock()
	})
}

func (s *serviceTimes) take(q string) []time.Duration {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.byQuery[q]
}

// percentile of d (sorted in place); 0 for none.
func percentile(d []time.Duration, f float64) time.Duration {
	if len(d) == 0 {
		return 0
	}
	slices.Sort(d)
	return d[min(len(d)-1, int(f*float64(len(d))))]
}

func ms(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }

// campaignOf is an ad's campaign: five ads each, two per advertiser.
func campaignOf(ad int) string { return "camp" + strconv.Itoa(ad/5) }

// load writes the history: minute cells (speed, and batch on reconciled
// days), hour and day rows (batch) and top rows, of each ad and of each
// campaign, and the reconciled markers.
func load(ctx context.Context, tbl *bigtable.Table, nAds, nDays int, today time.Time) (int, error) {
	rows := map[string]*bigtable.Mutation{}
	cells := 0
	set := func(row, fam, col string, ts bigtable.Timestamp, n int64) {
		m, ok := rows[row]
		if !ok {
			m = bigtable.NewMutation()
			rows[row] = m
		}
		m.Set(fam, col, ts, btschema.EncodeCount(n))
		cells++
	}
	flush := func() error {
		keys := make([]string, 0, len(rows))
		muts := make([]*bigtable.Mutation, 0, len(rows))
		for k, m := range rows {
			keys, muts = append(keys, k), append(muts, m)
		}
		for s := 0; s < len(keys); s += 500 {
			e := min(s+500, len(keys))
			if errs, err := tbl.ApplyBulk(ctx, keys[s:e], muts[s:e]); err != nil || errs != nil {
				return fmt.Errorf("load: %v %v", err, errs)
			}
		}
		clear(rows)
		return nil
	}
	// Every past day is reconciled in production, data or not: the batch
	// marks each day it runs for.
	for d := 1; d <= 120; d++ {
		day := today.AddDate(0, 0, -d)
		m := bigtable.NewMutation()
		m.Set(btschema.FamilyBatch, btschema.ReconciledColumn, btschema.BatchTimestamp(day.AddDate(0, 0, 1)), []byte("bench"))
		rows[btschema.ReconciledRowKey(day)] = m
	}
	rng := rand.New(rand.NewPCG(3, 5))
	for d := nDays - 1; d >= 0; d-- {
		day := today.AddDate(0, 0, -d)
		final := d > 0
		run := btschema.BatchTimestamp(day.AddDate(0, 0, 1))
		type campaign struct{ adv, id string }
		campMinutes := map[campaign]map[time.Time]int64{}
		for ad := range nAds {
			if campMinutes[campaign{"adv" + strconv.Itoa(ad/10), campaignOf(ad)}] == nil {
				campMinutes[campaign{"adv" + strconv.Itoa(ad/10), campaignOf(ad)}] = map[time.Time]int64{}
			}
			adv := "adv" + strconv.Itoa(ad/10)
			adID := "ad" + strconv.Itoa(ad)
			hours := map[time.Time]int64{}
			var total int64
			for m := 0; m < 1440; m++ {
				if rng.IntN(10) != 0 {
					continue
				}
				minute := day.Add(time.Duration(m) * time.Minute)
				n := int64(1 + rng.IntN(5))
				set(btschema.RowKey(btschema.Minute, adv, adID, minute), btschema.FamilySpeed, btschema.Qualifier(btschema.Minute, minute), btschema.SpeedTimestamp(minute, n), n)
				set(btschema.TopRowKey(adv, minute), btschema.FamilySpeed, adID, btschema.SpeedTimestamp(minute, n), n)
				if final {
					set(btschema.RowKey(btschema.Minute, adv, adID, minute), btschema.FamilyBatch, btschema.Qualifier(btschema.Minute, minute), run, n)
					set(btschema.TopRowKey(adv, minute), btschema.FamilyBatch, adID, run, n)
				}
				hours[minute.Truncate(time.Hour)] += n
				total += n
				campMinutes[campaign{adv, campaignOf(ad)}][minute] += n
			}
			if final {
				for h, n := range hours {
					set(btschema.RowKey(btschema.Hour, adv, adID, h), btschema.FamilyBatch, btschema.Qualifier(btschema.Hour, h), run, n)
				}
				set(btschema.RowKey(btschema.Day, adv, adID, day), btschema.FamilyBatch, btschema.Qualifier(btschema.Day, day), run, total)
			}
		}
		// The campaigns' series, as both layers write them.
		for c, minutes := range campMinutes {
			series := btschema.CampaignSeries(c.id)
			hours := map[time.Time]int64{}
			var total int64
			for minute, n := range minutes {
				set(btschema.RowKey(btschema.Minute, c.adv, series, minute), btschema.FamilySpeed, btschema.Qualifier(btschema.Minute, minute), btschema.SpeedTimestamp(minute, n), n)
				set(btschema.TopRowKey(c.adv, minute), btschema.FamilySpeed, series, btschema.SpeedTimestamp(minute, n), n)
				if final {
					set(btschema.RowKey(btschema.Minute, c.adv, series, minute), btschema.FamilyBatch, btschema.Qualifier(btschema.Minute, minute), run, n)
					set(btschema.TopRowKey(c.adv, minute), btschema.FamilyBatch, series, run, n)
				}
				hours[minute.Truncate(time.Hour)] += n
				total += n
			}
			if final {
				for h, n := range hours {
					set(btschema.RowKey(btschema.Hour, c.adv, series, h), btschema.FamilyBatch, btschema.Qualifier(btschema.Hour, h), run, n)
				}
				set(btschema.RowKey(btschema.Day, c.adv, series, day), btschema.FamilyBatch, btschema.Qualifier(btschema.Day, day), run, total)
			}
		}
		if err := flush(); err != nil {
			return cells, err
		}
	}
	return cells, nil
}

func benchCatalog(nAds int, pepper []byte) (*catalog.Catalog, []string, error) {
	var doc []byte
	doc = append(doc, `{"advertisers":[`...)
	var keys []string
	for a := 0; a < (nAds+9)/10; a++ {
		if a > 0 {
			doc = append(doc, ',')
		}
		key := "key" + strconv.Itoa(a)
		keys = append(keys, key)
		doc = fmt.Appendf(doc, `{"id":"adv%d","name":"Advertiser %d","api_key_hashes":[%q],"ads":[`, a, a, apikey.Hash(pepper, key))
		for i := a * 10; i < min(nAds, a*10+10); i++ {
			if i > a*10 {
				doc = append(doc, ',')
			}
			doc = fmt.Appendf(doc, `{"id":"ad%d","campaign_id":"c","landing_url":"https://example.com/%d","status":"active"}`, i, i)
		}
		doc = append(doc, "]}"...)
	}
	doc = append(doc, "]}"...)
	cat, err := catalog.Parse(doc)
	return cat, keys, err
}
