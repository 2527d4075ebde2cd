// Command batchbench measures the nightly batch: it generates one day of
// archived clicks (the archive format, 5-minute files, 1,000 ads with one
// hot ad, 5 % duplicate clicks, 1 % bots, 1 % expired), runs bin/batch on
// Prism over it, and, over the same files, a plain single-process Go
// program doing the same exact aggregation (the ceiling). It prints the
// time, clicks/s and peak memory of each, and their ratio. Bigtable is
// left out (--bigtable_instance=): the emulator's cost is not the job's.
//
//	batchbench -clicks=1000000,10000000
package main

import (
	"context"
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
	binDir := flag.String("bin-dir", "bin", "folder of bin/batch")
	baseline := flag.String("baseline", "", "internal: run the plain Go aggregation over this archive")
	history := flag.String("history", "", "instead: reconcile one day against these numbers of days of speed history, comma separated (1,60)")
	historyClicks := flag.Int("history-clicks", 200_000, "with -history: clicks of the reconciled day")
	historyAds := flag.Int("history-ads", 1000, "with -history: ads with speed cells each day")
	historyInterval := flag.Duration("history-interval", 15*time.Minute, "with -history: one speed cell per ad this often")
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
	for _, s := range strings.Split(*sizes, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(s))
		if err != nil {
			fmt.Fprintln(os.Stderr, "batchbench: -clicks:", err)
			os.Exit(2)
		}
		if err := measure(n, *dir, *binDir); err != nil {
			fmt.Fprintln(os.Stderr, "batchbench:", err)
			os.Exit(1)
		}
	}
}

func measure(n int, dir, binDir string) error {
	archive := filepath.Join(dir, fmt.Sprintf("batchbench-%d", n))
	if _, err := os.Stat(filepath.Join(archive, "complete")); err != nil {
		os.RemoveAll(archive)
		start := time.Now()
		if err := generate(archive, n); err != nil {
			return err
		}
		fmt.Printf("generated %d clicks into %s in %.0f s\n", n, archive, time.Since(start).Seconds())
	}
	out, err := os.MkdirTemp(dir, "batchbench-out-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(out)
	self, err := os.Executable()
	if err != nil {
		return err
	}
	job := exec.Command(filepath.Join(binDir, "batch"), "--runner=prism", "--date="+day.Format(time.DateOnly),
		"--archive="+archive, "--output="+out, "--bigtable_instance=")
	// The soft memory limit `make batch` uses on this machine: without it
	// Go lets the heap grow to twice what is live (10M clicks: 4.9 GB peak
	// instead of 2.8 GB, for 3 % less time).
	job.Env = append(os.Environ(), "GOMEMLIMIT="+memLimit)
	pipe, err := timed(job)
	if err != nil {
		return err
	}
	base, err := timed(exec.Command(self, "-baseline="+archive))
	if err != nil {
		return err
	}
	fmt.Printf("%d clicks: batch job on Prism (GOMEMLIMIT=%s) %.1f s (%.0f clicks/s, peak RSS %d MiB); plain Go %.1f s (%.0f clicks/s, peak RSS %d MiB); ratio %.2f×\n",
		n, memLimit, pipe.wall.Seconds(), float64(n)/pipe.wall.Seconds(), pipe.maxRSSMiB,
		base.wall.Seconds(), float64(n)/base.wall.Seconds(), base.maxRSSMiB, pipe.wall.Seconds()/base.wall.Seconds())
	return nil
}

type run struct {
	wall      time.Duration
	maxRSSMiB int64
}

func timed(cmd *exec.Cmd) (run, error) {
	cmd.Stderr = nil
	start := time.Now()
	out, err := cmd.Output()
	wall := time.Since(start)
	if err != nil {
		return run{}, fmt.Errorf("%s: %w\n%s", cmd.Path, err, out)
	}
	ru := cmd.ProcessState.SysUsage().(*syscall.Rusage)
	return run{wall: wall, maxRSSMiB: ru.Maxrss / 1024}, nil
}

// generate writes n clicks of day into 5-minute archive files.
func generate(archive string, n int) error {
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
			ad := 0
			if rng.IntN(10) != 0 {
				ad = 1 + rng.IntN(999)
			}
			ev := &clickevent.Event{SchemaVersion: 1, ClickID: token.NewImpressionID().String(), ImpressionID: token.NewImpressionID().String(),
				AdID: "ad" + strconv.Itoa(ad), AdvertiserID: "adv" + strconv.Itoa(ad/10), CampaignID: "c", PlacementID: "p",
				ImpressionTime: at.Add(-time.Minute), ExpiresAt: at.Add(time.Hour), ClickTime: at,
				UserKey: "0123456789abcdef0123456789abcdef", UAClass: clickevent.UABrowser}
			switch r := rng.IntN(100); {
			case r < 5 && len(prev) > 0: // a second click on an earlier impression
				p := prev[rng.IntN(len(prev))]
				ev.ImpressionID, ev.AdID, ev.AdvertiserID, ev.ImpressionTime, ev.ExpiresAt = p.ImpressionID, p.AdID, p.AdvertiserID, p.ImpressionTime, p.ExpiresAt
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
	type click struct {
		imp     string
		clickID string
		ad, adv string
		at      int64
		class   countable.Outcome
	}
	var clicks []click
	seen := map[string]bool{}
	for _, f := range files {
		r, err := store.Open(ctx, f)
		if err != nil {
			return err
		}
		err = rawarchive.Read(r, func(rec *rawarchive.Record) error {
			ev, err := countable.Parse(rec.Data)
			if err != nil || seen[ev.ClickID] {
				return nil
			}
			seen[ev.ClickID] = true
			clicks = append(clicks, click{ev.ImpressionID, ev.ClickID, ev.AdID, ev.AdvertiserID, ev.ClickTime.UnixMilli(), countable.Classify(&ev)})
			return nil
		})
		r.Close()
		if err != nil {
			return err
		}
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
