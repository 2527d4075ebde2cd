// Command streambench measures the streaming job as `make run` runs it: the
// job (bin/streaming on Prism) in its own process, the Pub/Sub fake and the
// Bigtable emulator in this one. It publishes valid click events straight
// to the clicks topic at a fixed rate (one ad in five is the same hot ad),
// then reports how long after the last click the speed layer's totals in
// Bigtable were complete, and the job's resident memory over the run.
package main

import (
	"context"
	"flag"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"cloud.google.com/go/bigtable"
	"cloud.google.com/go/pubsub/v2"

	"github.com/adclick/adclick/internal/btschema"
	"github.com/adclick/adclick/internal/clickevent"
	"github.com/adclick/adclick/internal/gcpnames"
	"github.com/adclick/adclick/internal/localstack"
	"github.com/adclick/adclick/internal/token"
)

func main() {
	rate := flag.Int("rate", 1000, "clicks per second to publish")
	dur := flag.Duration("duration", 30*time.Second, "how long to publish")
	ads := flag.Int("ads", 200, "number of ads (one advertiser per 10 ads)")
	binDir := flag.String("bin-dir", "bin", "folder of bin/streaming")
	jobArgs := flag.String("job-args", "", "more flags for bin/streaming, space separated (e.g. --pprof_addr=localhost:6060)")
	flag.Parse()
	if err := run(*rate, *dur, *ads, *binDir, strings.Fields(*jobArgs)); err != nil {
		fmt.Fprintln(os.Stderr, "streambench:", err)
		os.Exit(1)
	}
}

func run(rate int, dur time.Duration, nAds int, binDir string, jobArgs []string) error {
	ctx := context.Background()
	st, err := localstack.Start("127.0.0.1:0", "127.0.0.1:0")
	if err != nil {
		return err
	}
	defer st.Close()
	const project = gcpnames.LocalProject
	if err := localstack.EnsurePubSub(ctx, st.PubSubAddr, project); err != nil {
		return err
	}
	if err := localstack.EnsureBigtable(ctx, st.BigtableAddr, project); err != nil {
		return err
	}
	drain := filepath.Join(os.TempDir(), fmt.Sprintf("streambench-%d.drain", os.Getpid()))
	os.Remove(drain)
	args := append([]string{"--runner=prism", "--experiments=prism_disable_sdf_split", "--project=" + project, "--drain_file=" + drain}, jobArgs...)
	job := exec.Command(filepath.Join(binDir, "streaming"), args...)
	job.Env = append(os.Environ(), "PUBSUB_EMULATOR_HOST="+st.PubSubAddr, "BIGTABLE_EMULATOR_HOST="+st.BigtableAddr)
	if err := job.Start(); err != nil {
		return err
	}
	defer func() { os.WriteFile(drain, nil, 0o644); job.Wait(); os.Remove(drain) }()
	time.Sleep(3 * time.Second)

	os.Setenv("PUBSUB_EMULATOR_HOST", st.PubSubAddr)
	ps, err := pubsub.NewClient(ctx, project)
	if err != nil {
		return err
	}
	defer ps.Close()
	pub := ps.Publisher(gcpnames.ClicksTopic)
	defer pub.Stop()

	fmt.Printf("streambench: %d clicks/s for %v over %d ads; job RSS at start %d MiB\n", rate, dur, nAds, rssMiB(job.Process.Pid))
	published := map[string]int64{} // advertiser -> clicks
	start := time.Now()
	var results []*pubsub.PublishResult
	var rss []int
	for i := 0; time.Since(start) < dur; i++ {
		due := start.Add(time.Duration(i) * time.Second / time.Duration(rate))
		if d := time.Until(due); d > 0 {
			time.Sleep(d)
		}
		ad := 0
		if i%5 != 0 {
			ad = rand.IntN(nAds)
		}
		adv := "adv" + strconv.Itoa(ad/10)
		now := time.Now().UTC()
		ev := &clickevent.Event{SchemaVersion: 1, ClickID: token.NewImpressionID().String(), ImpressionID: token.NewImpressionID().String(),
			AdID: "ad" + strconv.Itoa(ad), AdvertiserID: adv, CampaignID: "c", ImpressionTime: now.Add(-time.Minute),
			ExpiresAt: now.Add(time.Hour), ClickTime: now, UserKey: "u", UAClass: clickevent.UABrowser}
		data, _ := clickevent.Marshal(ev)
		results = append(results, pub.Publish(ctx, &pubsub.Message{Data: data, Attributes: clickevent.Attributes(ev)}))
		published[adv]++
		if i%rate == 0 {
			rss = append(rss, rssMiB(job.Process.Pid))
		}
	}
	for _, r := range results {
		if _, err := r.Get(ctx); err != nil {
			return err
		}
	}
	last := time.Now()
	var total int64
	for _, n := range published {
		total += n
	}
	os.Setenv("BIGTABLE_EMULATOR_HOST", st.BigtableAddr)
	bt, err := bigtable.NewClient(ctx, project, gcpnames.BigtableInstance)
	if err != nil {
		return err
	}
	defer bt.Close()
	deadline := last.Add(5 * time.Minute)
	for {
		got := counted(ctx, bt)
		if got >= total {
			fmt.Printf("all %d clicks counted in Bigtable %.1f s after the last one was published (sustained %.0f clicks/s end to end)\n",
				total, time.Since(last).Seconds(), float64(total)/time.Since(start).Seconds())
			break
		}
		if time.Now().After(deadline) {
			fmt.Printf("after 5 minutes %d of %d clicks counted: the job did not keep up\n", got, total)
			break
		}
		time.Sleep(500 * time.Millisecond)
	}
	fmt.Printf("job RSS (MiB) every second while publishing: %v\n", rss)
	return nil
}

// counted sums the speed layer's advertiser totals over every minute row.
func counted(ctx context.Context, bt *bigtable.Client) int64 {
	var n int64
	bt.Open(btschema.Table).ReadRows(ctx, bigtable.PrefixRange("m#"), func(r bigtable.Row) bool {
		if !strings.Contains(r.Key(), "#"+btschema.AllAds+"#") {
			return true
		}
		for _, c := range r[btschema.FamilySpeed] {
			v, _ := btschema.DecodeCount(c.Value)
			n += v
		}
		return true
	}, bigtable.RowFilter(bigtable.LatestNFilter(1)))
	return n
}

func rssMiB(pid int) int {
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return -1
	}
	for _, line := range strings.Split(string(data), "\n") {
		if strings.HasPrefix(line, "VmRSS:") {
			kb, _ := strconv.Atoi(strings.Fields(line)[1])
			return kb / 1024
		}
	}
	return -1
}
