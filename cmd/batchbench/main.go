// Command batchbench measures the nightly batch: it generates one day of
// archived clicks (the archive format, 5-minute files, 1,000 ads with one
// hot ad, 5 % duplicate clicks, 1 % bots, 1 % expired, users drawn from
// 10 M), runs bin/batch on Prism over it and, over the same clicks
// extracted as NDJSON (not timed), the anchor: DuckDB doing the same
// exact aggregation (bin/duckbench, its own module under bench/duckdb).
// It prints the time, clicks/s and peak memory of each, both counted
// totals (they must be equal) and the ratio; then the same for the
// largest size on a day where one advertiser has -skew of the clicks, with
// both days' peak memory and the most clicks one worker of the job held
// (docs/batch.md, "Memory per worker"). -plain adds a plain
// single-process Go program doing the same (a floor, not a ceiling).
// Bigtable is left out (--bigtable_instance=): the emulator's cost is not
// the job's.
//
//	batchbench -clicks=1000000,10000000
package main

import (
	"bufio"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/google/uuid"

	"github.com/adclick/adclick/internal/blob"
	"github.com/adclick/adclick/internal/clickevent"
	"github.com/adclick/adclick/internal/countable"
	"github.com/adclick/adclick/internal/rawarchive"
	"github.com/adclick/adclick/internal/token"
	"github.com/adclick/adclick/pipelines/nightly"
)

var day = time.Date(2026, 11, 26, 0, 0, 0, 0, time.UTC)

const memLimit = "2400MiB"

func main() {
	sizes := flag.String("clicks", "1000000,10000000", "archive sizes to measure, comma separated")
	dir := flag.String("dir", os.TempDir(), "where to generate archives (10M clicks take about 5 GB)")
	binDir := flag.String("bin-dir", "bin", "folder of bin/batch and bin/duckbench")
	plain := flag.Bool("plain", false, "also run the plain single-process Go aggregation")
	baseline := flag.String("baseline", "", "internal: run the plain Go aggregation over this archive")
	history := flag.String("history", "", "instead: reconcile one day against these numbers of days of speed history, comma separated (1,60)")
	historyClicks := flag.Int("history-clicks", 200_000, "with -history: clicks of the reconciled day")
	historyAds := flag.Int("history-ads", 1000, "with -history: ads with speed cells each day")
	historyInterval := flag.Duration("history-interval", 15*time.Minute, "with -history: one speed cell per ad this often")
	skew := flag.Float64("skew", 0.6, "also measure a skewed day of the largest size, where advertiser adv0 has this share of the clicks (0: not)")
	flag.Parse()
	if *history != "" {
		var days []int
		for _, s := range strings.Split(*history, ",") {
			n, err := strconv.Atoi(strings.TrimSpace(s))
			if err != nil || n < 1 {
				fmt.Fprintln(os.Stderr, "batchbench: -history: want day counts of at least 1, got", s)
				os.Exit(2)
			}
			days = append(days, n)
		}
		if err := measureHistory(days, *historyClicks, *historyAds, *historyInterval, *dir, *binDir); err != nil {
			fmt.Fprintln(os.Stderr, "batchbench:", err)
			os.Exit(1)
		}
		return
	}
	if *baseline != "" {
		if err := runBaseline(*baseline); err != nil {
			fmt.Fprintln(os.Stderr, "baseline:", err)
			os.Exit(1)
		}
		return
	}
	var largest run
	var largestN int
	for _, s := range strings.Split(*sizes, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(s))
		if err != nil {
			fmt.Fprintln(os.Stderr, "batchbench: -clicks:", err)
			os.Exit(2)
		}
		job, err := measure(n, 0, *dir, *binDir, *plain)
		if err != nil {
			fmt.Fprintln(os.Stderr, "batchbench:", err)
			os.Exit(1)
		}
		if n >= largestN {
			largest, largestN = job, n
		}
	}
	if *skew > 0 && largestN > 0 {
		job, err := measure(largestN, *skew, *dir, *binDir, false)
		if err != nil {
			fmt.Fprintln(os.Stderr, "batchbench:", err)
			os.Exit(1)
		}
		fmt.Printf("%d clicks: peak RSS of the batch job on a day where one advertiser has %.0f %% of the clicks %d MiB, on the day above %d MiB: %.2f× (target within ±20 %%)\n",
			largestN, 100**skew, job.maxRSSMiB, largest.maxRSSMiB, float64(job.maxRSSMiB)/float64(largest.maxRSSMiB))
	}
}

// archiveVersion names the generator's output: a change to what it
// generates must not reuse an archive generated before.
const archiveVersion = 2

// measure runs the job and DuckDB over a day of n clicks where advertiser
// adv0 has a share skew of them (0: the ordinary day), and returns the
// job's run.
func measure(n int, skew float64, dir, binDir string, plain bool) (run, error) {
	name := fmt.Sprintf("batchbench-v%d-%d", archiveVersion, n)
	if skew > 0 {
		name += fmt.Sprintf("-skew%.0f", 100*skew)
	}
	archive := filepath.Join(dir, name)
	if _, err := os.Stat(filepath.Join(archive, "complete")); err != nil {
		os.RemoveAll(archive)
		start := time.Now()
		if err := generate(archive, n, skew); err != nil {
			return run{}, err
		}
		fmt.Printf("generated %d clicks into %s in %.0f s\n", n, archive, time.Since(start).Seconds())
	}
	events := archive + ".ndjson"
	if _, err := os.Stat(events); err != nil {
		if err := extract(archive, events); err != nil {
			return run{}, err
		}
	}
	out, err := os.MkdirTemp(dir, "batchbench-out-")
	if err != nil {
		return run{}, err
	}
	defer os.RemoveAll(out)
	job := exec.Command(filepath.Join(binDir, "batch"), "--runner=prism", "--date="+day.Format(time.DateOnly),
		"--archive="+archive, "--output="+out, "--bigtable_instance=")
	// The soft memory limit `make batch` uses on this machine: without it
	// Go lets the heap grow to twice what is live (10M clicks: 4.9 GB peak
	// instead of 2.8 GB, for 3 % less time).
	job.Env = append(os.Environ(), "GOMEMLIMIT="+memLimit)
	pipe, err := timed(job)
	if err != nil {
		return run{}, err
	}
	report, err := readReport(out)
	if err != nil {
		return run{}, err
	}
	jobCounted := report.BatchTotal
	duck, err := timed(exec.Command(filepath.Join(binDir, "duckbench"), "-events="+events, "-day="+day.Format(time.DateOnly), "-threads=2"))
	if err != nil {
		return run{}, err
	}
	var duckCounted, duckCells int64
	var duckSQL float64
	if _, err := fmt.Sscanf(strings.TrimSpace(duck.out), "duckdb: %d counted, %d count cells, %f s", &duckCounted, &duckCells, &duckSQL); err != nil {
		return run{}, fmt.Errorf("duckbench said %q: %w", duck.out, err)
	}
	fmt.Printf("%d clicks%s: batch job on Prism (GOMEMLIMIT=%s) %.1f s (%.0f clicks/s, peak RSS %d MiB), %d counted; DuckDB (2 threads, NDJSON) %.1f s (peak RSS %d MiB), %d counted; ratio %.2f× (target ≤ 1.5×)\n",
		n, skewNote(skew), memLimit, pipe.wall.Seconds(), float64(n)/pipe.wall.Seconds(), pipe.maxRSSMiB, jobCounted,
		duck.wall.Seconds(), duck.maxRSSMiB, duckCounted, pipe.wall.Seconds()/duck.wall.Seconds())
	fmt.Printf("%d clicks: CPU per archived click: batch job %.1f µs, DuckDB %.1f µs\n", n,
		float64(pipe.cpu.Microseconds())/float64(n), float64(duck.cpu.Microseconds())/float64(n))
	held := distributionMax(pipe.log, "settle_shard_clicks")
	fmt.Printf("%d clicks%s: the most clicks one worker held at once (settle_shard_clicks, max over the %d shards of each shuffle): %d, %.1f %% of the day's archive (a shard holds whole ads but the hot ones, %d ads settled split)\n",
		n, skewNote(skew), nightly.DefaultShards, held, 100*float64(held)/float64(n), len(report.SplitAds))
	if jobCounted != duckCounted {
		return run{}, fmt.Errorf("the batch job counted %d clicks, DuckDB %d: not the same aggregation", jobCounted, duckCounted)
	}
	if !plain {
		return pipe, nil
	}
	self, err := os.Executable()
	if err != nil {
		return run{}, err
	}
	base, err := timed(exec.Command(self, "-baseline="+archive))
	if err != nil {
		return run{}, err
	}
	fmt.Printf("%d clicks: plain Go %.1f s (%.0f clicks/s, peak RSS %d MiB); the job %.2f× that\n",
		n, base.wall.Seconds(), float64(n)/base.wall.Seconds(), base.maxRSSMiB, pipe.wall.Seconds()/base.wall.Seconds())
	return pipe, nil
}

// skewNote names a skewed day in the bench's lines.
func skewNote(skew float64) string {
	if skew == 0 {
		return ""
	}
	return fmt.Sprintf(" (adv0 %.0f %%)", 100*skew)
}

// readReport reads the batch's reconciliation report of the day.
func readReport(out string) (nightly.Report, error) {
	var r nightly.Report
	data, err := os.ReadFile(filepath.Join(out, nightly.ReportName(day)))
	if err != nil {
		return r, fmt.Errorf("the batch's report: %w", err)
	}
	if err := json.Unmarshal(data, &r); err != nil {
		return r, fmt.Errorf("the batch's report: %w", err)
	}
	return r, nil
}

// extract writes every click event of the files the batch reads (its
// read window) as NDJSON, for the anchor.
func extract(archive, events string) error {
	f, err := os.Create(events + ".part")
	if err != nil {
		return err
	}
	w := bufio.NewWriterSize(f, 1<<20)
	err = readDay(archive, func(rec *rawarchive.Record) error {
		w.Write(rec.Data)
		return w.WriteByte('\n')
	})
	if err != nil {
		return fmt.Errorf("extract: %w", err)
	}
	if err := w.Flush(); err != nil {
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	return os.Rename(events+".part", events)
}

// readDay calls fn with every record of the files the batch reads for
// day (its read window).
func readDay(archive string, fn func(*rawarchive.Record) error) error {
	ctx := context.Background()
	store, err := blob.Open(ctx, archive)
	if err != nil {
		return err
	}
	from, to := nightly.ReadWindow(day, day.AddDate(0, 0, 1), nightly.DefaultLateMargin)
	files, err := rawarchive.List(ctx, store, from, to)
	if err != nil {
		return err
	}
	for _, name := range files {
		r, err := store.Open(ctx, name)
		if err != nil {
			return err
		}
		err = rawarchive.Read(r, fn)
		r.Close()
		if err != nil {
			return fmt.Errorf("read %s: %w", name, err)
		}
	}
	return nil
}

type run struct {
	wall      time.Duration
	cpu       time.Duration // user and system
	maxRSSMiB int64
	out       string
	log       string // standard error
}

func timed(cmd *exec.Cmd) (run, error) {
	var log strings.Builder
	cmd.Stderr = &log
	start := time.Now()
	out, err := cmd.Output()
	wall := time.Since(start)
	if err != nil {
		return run{}, fmt.Errorf("%s: %w\n%s%s", cmd.Path, err, out, lastLines(log.String(), 20))
	}
	ru := cmd.ProcessState.SysUsage().(*syscall.Rusage)
	cpu := time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
	return run{wall: wall, cpu: cpu, maxRSSMiB: ru.Maxrss / 1024, out: string(out), log: log.String()}, nil
}

func lastLines(s string, n int) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	return strings.Join(lines[max(0, len(lines)-n):], "\n")
}

// distributionMax is the largest value of a distribution the batch job
// logged (nightly.RunDays logs each at the end), or -1.
func distributionMax(log, name string) int64 {
	most := int64(-1)
	for _, line := range strings.Split(log, "\n") { // one line per step
		var rec struct {
			Msg, Name string
			Max       int64
		}
		if json.Unmarshal([]byte(line), &rec) == nil && rec.Msg == "distribution" && rec.Name == name {
			most = max(most, rec.Max)
		}
	}
	return most
}

// users is how many distinct users click (the design's 10 M active).
const users = 10_000_000

// generate writes n clicks of day into 5-minute archive files. With skew
// above 0, advertiser adv0 has that share of the clicks, spread evenly
// over its ten ads, and the other ads the rest.
func generate(archive string, n int, skew float64) error {
	ctx := context.Background()
	store, err := blob.Open(ctx, archive)
	if err != nil {
		return err
	}
	rng := rand.New(rand.NewPCG(7, 11))
	const files = 288
	perFile := n / files
	var prev []*clickevent.Event
	for f := range files {
		fileStart := day.Add(time.Duration(f) * 5 * time.Minute)
		w, err := store.Create(ctx, rawarchive.ObjectName(fileStart, uuid.NewString()))
		if err != nil {
			return err
		}
		aw, err := rawarchive.NewWriter(w)
		if err != nil {
			return err
		}
		count := perFile
		if f == files-1 {
			count = n - perFile*(files-1)
		}
		recs := make([]rawarchive.Record, 0, 1000)
		for i := range count {
			at := fileStart.Add(time.Duration(rng.Int64N(int64(5 * time.Minute))))
			var ad int
			switch {
			case skew > 0 && rng.Float64() < skew:
				ad = rng.IntN(10)
			case skew > 0:
				ad = 10 + rng.IntN(990)
			case rng.IntN(10) == 0:
				ad = 0 // the hot ad
			default:
				ad = 1 + rng.IntN(999)
			}
			ev := &clickevent.Event{SchemaVersion: 1, ClickID: token.NewImpressionID().String(), ImpressionID: token.NewImpressionID().String(),
				AdID: "ad" + strconv.Itoa(ad), AdvertiserID: "adv" + strconv.Itoa(ad/10), CampaignID: "c", PlacementID: "p",
				ImpressionTime: at.Add(-time.Minute), ExpiresAt: at.Add(time.Hour), ClickTime: at,
				UserKey: fmt.Sprintf("%032x", rng.IntN(users)), UAClass: clickevent.UABrowser}
			switch r := rng.IntN(100); {
			case r < 5 && len(prev) > 0: // a second click on an earlier impression
				p := prev[rng.IntN(len(prev))]
				ev.ImpressionID, ev.AdID, ev.AdvertiserID, ev.ImpressionTime, ev.ExpiresAt = p.ImpressionID, p.AdID, p.AdvertiserID, p.ImpressionTime, p.ExpiresAt
				ev.UserKey = p.UserKey
				if !ev.ClickTime.Before(ev.ExpiresAt) {
					ev.ExpiresAt = ev.ClickTime.Add(time.Minute)
				}
			case r < 6:
				ev.UAClass = clickevent.UABot
			case r < 7:
				ev.ExpiresAt = at.Add(-time.Second)
				ev.ImpressionTime = at.Add(-time.Hour)
			}
			if i%100 == 0 {
				prev = append(prev[max(0, len(prev)-50):], ev)
			}
			data, _ := clickevent.Marshal(ev)
			recs = append(recs, rawarchive.Record{Subscription: "projects/p/subscriptions/clicks-archive", MessageID: strconv.Itoa(f*perFile + i),
				PublishTime: at.Add(30 * time.Millisecond), Attributes: clickevent.Attributes(ev), Data: data})
			if len(recs) == cap(recs) {
				if err := aw.Append(recs); err != nil {
					return err
				}
				recs = recs[:0]
			}
		}
		if len(recs) > 0 {
			if err := aw.Append(recs); err != nil {
				return err
			}
		}
		if err := w.Close(); err != nil {
			return err
		}
	}
	return os.WriteFile(filepath.Join(archive, "complete"), nil, 0o644)
}

// runBaseline is the ceiling: read every file the batch would read, in
// one process, and aggregate exactly as the batch does (same rules: one
// copy per click id, countable.Classify, the first countable click of an
// impression counts), into minute, hour and day counts per ad and
// advertiser.
func runBaseline(archive string) error {
	type click struct {
		imp     string
		clickID string
		ad, adv string
		at      int64
		class   countable.Outcome
	}
	var clicks []click
	seen := map[string]bool{}
	err := readDay(archive, func(rec *rawarchive.Record) error {
		ev, err := countable.Parse(rec.Data)
		if err != nil || seen[ev.ClickID] {
			return nil
		}
		seen[ev.ClickID] = true
		clicks = append(clicks, click{ev.ImpressionID, ev.ClickID, ev.AdID, ev.AdvertiserID, ev.ClickTime.UnixMilli(), countable.Classify(&ev)})
		return nil
	})
	if err != nil {
		return err
	}
	sort.Slice(clicks, func(i, j int) bool {
		if clicks[i].at != clicks[j].at {
			return clicks[i].at < clicks[j].at
		}
		return clicks[i].clickID < clicks[j].clickID
	})
	counted := map[string]bool{}
	counts := map[string]int64{}
	lo, hi := day.UnixMilli(), day.AddDate(0, 0, 1).UnixMilli()
	for _, c := range clicks {
		if c.class != countable.Counted || counted[c.imp] {
			continue
		}
		counted[c.imp] = true
		if c.at < lo || c.at >= hi {
			continue
		}
		minute := c.at / 60000 * 60000
		for _, k := range []string{c.adv + "/" + c.ad, c.adv + "/*"} {
			counts["m"+k+strconv.FormatInt(minute, 10)]++
			counts["h"+k+strconv.FormatInt(minute/3600000, 10)]++
			counts["d"+k+strconv.FormatInt(minute/86400000, 10)]++
		}
	}
	fmt.Fprintf(os.Stderr, "baseline: %d clicks, %d counts\n", len(clicks), len(counts))
	return nil
}
