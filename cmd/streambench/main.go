// Command streambench measures the streaming job as `make run` runs it: the
// job (bin/streaming on Prism) in its own process, the Pub/Sub fake and the
// Bigtable emulator in this one. It publishes valid click events straight
// to the clicks topic at a fixed rate (one ad in five is the same hot ad,
// one impression in twenty is clicked twice), and reports:
//
//   - throughput: how long after the last click the speed layer's totals in
//     Bigtable were complete, and the clicks/s that makes end to end;
//   - freshness: for probe clicks sent four times a second on an advertiser
//     of their own, the time from publish to visible in Bigtable, p50/p99;
//   - memory: the job's resident memory over the run, apart from this
//     process's (emulators and publisher).
//
// Only the subscription the job reads exists: the fake rescans every
// unacked message of every subscription each 10 ms, so an undrained one
// would measure the fake.
package main

import (
	"context"
	"flag"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"cloud.google.com/go/bigtable"
	"cloud.google.com/go/pubsub/v2"
	"cloud.google.com/go/pubsub/v2/apiv1/pubsubpb"

	"github.com/adclick/adclick/internal/btschema"
	"github.com/adclick/adclick/internal/clickevent"
	"github.com/adclick/adclick/internal/gcpnames"
	"github.com/adclick/adclick/internal/localstack"
	"github.com/adclick/adclick/internal/token"
	"github.com/adclick/adclick/pipelines/prismopts"
	"github.com/adclick/adclick/pipelines/speed"
)

type config struct {
	rate    int
	dur     time.Duration
	ads     int
	binDir  string
	jobArgs []string
	jobEnv  []string
}

func main() {
	var cfg config
	flag.IntVar(&cfg.rate, "rate", 1000, "clicks per second to publish")
	flag.DurationVar(&cfg.dur, "duration", 30*time.Second, "how long to publish")
	flag.IntVar(&cfg.ads, "ads", 200, "number of ads (one advertiser per 10 ads)")
	flag.StringVar(&cfg.binDir, "bin-dir", "bin", "folder of bin/streaming")
	jobArgs := flag.String("job-args", "", "more flags for bin/streaming, space separated (e.g. --pprof_addr=localhost:6060)")
	jobEnv := flag.String("job-env", "", "more environment for bin/streaming, space separated (e.g. GOGC=50)")
	flag.Parse()
	cfg.jobArgs = strings.Fields(*jobArgs)
	cfg.jobEnv = strings.Fields(*jobEnv)
	if err := run(context.Background(), cfg); err != nil {
		fmt.Fprintln(os.Stderr, "streambench:", err)
		os.Exit(1)
	}
}

const (
	project       = gcpnames.LocalProject
	probeAdv      = "probe"
	probeInterval = 250 * time.Millisecond
	tick          = 20 * time.Millisecond
)

func run(ctx context.Context, cfg config) error {
	var written writes
	st, err := localstack.Start("127.0.0.1:0", "127.0.0.1:0", written.options()...)
	if err != nil {
		return err
	}
	defer st.Close()
	if err := localstack.EnsureTopics(ctx, st.PubSubAddr, project); err != nil {
		return err
	}
	if err := localstack.EnsureSubscription(ctx, st.PubSubAddr, project, gcpnames.StreamingSubscription, gcpnames.ClicksTopic); err != nil {
		return err
	}
	if err := localstack.EnsureBigtable(ctx, st.BigtableAddr, project); err != nil {
		return err
	}
	job, stopJob, err := startJob(st, cfg)
	if err != nil {
		return err
	}
	defer stopJob()
	time.Sleep(3 * time.Second)

	ps, err := pubsub.NewClient(ctx, project, localstack.EmulatorOptions(st.PubSubAddr)...)
	if err != nil {
		return err
	}
	defer ps.Close()
	bt, err := bigtable.NewClientWithConfig(ctx, project, gcpnames.BigtableInstance, bigtable.ClientConfig{MetricsProvider: bigtable.NoopMetricsProvider{}}, localstack.EmulatorOptions(st.BigtableAddr)...)
	if err != nil {
		return err
	}
	defer bt.Close()
	tbl := bt.Open(btschema.Table)

	fmt.Printf("streambench: %d clicks/s for %v over %d ads; job RSS at start %d MiB\n", cfg.rate, cfg.dur, cfg.ads, rssMiB(job.Process.Pid))
	probes := newProbes()
	watchCtx, stopWatch := context.WithCancel(ctx)
	var watch sync.WaitGroup
	watch.Go(func() { probes.watch(watchCtx, tbl) })
	mem := &memory{}
	watch.Go(func() { mem.sample(watchCtx, job.Process.Pid, 5*time.Second) })

	start := time.Now()
	rows0, cells0 := written.snapshot()
	cpu0 := cpuTime(job.Process.Pid)
	countable, err := publish(ctx, ps, cfg, probes)
	if err != nil {
		stopWatch()
		return err
	}
	last := time.Now()
	mem.publishedUntil()
	rows, cells := written.snapshot()
	cpu := cpuTime(job.Process.Pid) - cpu0
	secs := last.Sub(start).Seconds()
	fmt.Printf("Bigtable writes while publishing (early panes every %s): %.0f rows/s, %.0f cells/s, %.1f cells per 100 clicks\n",
		cfg.earlyFiring(), float64(rows-rows0)/secs, float64(cells-cells0)/secs, 100*float64(cells-cells0)/float64(countable))
	fmt.Printf("job CPU while publishing: %.2f cores, %.0f µs per published click\n", cpu.Seconds()/secs, float64(cpu.Microseconds())/(secs*float64(cfg.rate)))
	fmt.Printf("published %d countable clicks (plus duplicates and probes) in %.1f s\n", countable, last.Sub(start).Seconds())

	deadline := last.Add(5 * time.Minute)
	for {
		got, err := counted(ctx, tbl)
		if err != nil {
			stopWatch()
			return err
		}
		if got >= countable {
			elapsed := time.Since(start)
			fmt.Printf("throughput: all %d clicks counted %.1f s after the last was published: %.0f clicks/s end to end\n",
				countable, time.Since(last).Seconds(), float64(countable)/elapsed.Seconds())
			if got > countable {
				fmt.Printf("OVERCOUNT: Bigtable holds %d, %d more than were countable\n", got, got-countable)
			}
			break
		}
		if time.Now().After(deadline) {
			fmt.Printf("throughput: 5 minutes after the last click %d of %d were counted: the job did not keep up\n", got, countable)
			break
		}
		time.Sleep(200 * time.Millisecond)
	}
	time.Sleep(time.Second) // the last probes
	stopWatch()
	watch.Wait()
	probes.report()
	mem.report(rssMiB(os.Getpid()), float64(countable)/last.Sub(start).Seconds())
	return nil
}

// earlyFiring is the job's early-firing interval: its flag in jobArgs,
// else the job's default.
func (cfg config) earlyFiring() string {
	for _, a := range cfg.jobArgs {
		if v, ok := strings.CutPrefix(a, "--early_firing="); ok {
			return v
		}
	}
	return speed.DefaultEarlyFiring.String()
}

func startJob(st *localstack.Stack, cfg config) (*exec.Cmd, func(), error) {
	drain := filepath.Join(os.TempDir(), fmt.Sprintf("streambench-%d.drain", os.Getpid()))
	os.Remove(drain)
	args := append([]string{"--runner=prism", "--experiments=" + prismopts.Experiments, "--project=" + project, "--drain_file=" + drain}, cfg.jobArgs...)
	job := exec.Command(filepath.Join(cfg.binDir, "streaming"), args...)
	job.Env = append(append(os.Environ(), "PUBSUB_EMULATOR_HOST="+st.PubSubAddr, "BIGTABLE_EMULATOR_HOST="+st.BigtableAddr), cfg.jobEnv...)
	if err := job.Start(); err != nil {
		return nil, nil, fmt.Errorf("start %s: %w", job.Path, err)
	}
	return job, func() { os.WriteFile(drain, nil, 0o644); job.Wait(); os.Remove(drain) }, nil
}

// publish sends cfg.rate clicks a second for cfg.dur in batches every
// tick, through the raw Publish call (the high-level publisher costs more
// CPU than the job being measured). It returns how many were countable.
func publish(ctx context.Context, ps *pubsub.Client, cfg config, probes *probes) (int64, error) {
	topic := localstack.TopicName(project, gcpnames.ClicksTopic)
	start := time.Now()
	var sent, countable int64
	var repeat []*clickevent.Event
	nextProbe := start
	for now := start; now.Sub(start) < cfg.dur; now = time.Now() {
		due := int64(now.Sub(start).Seconds() * float64(cfg.rate))
		var msgs []*pubsubpb.PubsubMessage
		for ; sent < due; sent++ {
			ev := click(cfg, now)
			if len(repeat) > 0 && sent%20 == 0 {
				// A second click on an earlier impression: a duplicate.
				first := repeat[0]
				ev.ImpressionID, ev.AdID, ev.AdvertiserID = first.ImpressionID, first.AdID, first.AdvertiserID
				ev.ImpressionTime, ev.ExpiresAt = first.ImpressionTime, first.ExpiresAt
				repeat = repeat[1:]
			} else {
				countable++
				if sent%20 == 1 {
					repeat = append(repeat, ev)
				}
			}
			msgs = append(msgs, message(ev))
		}
		var probe *clickevent.Event
		if !now.Before(nextProbe) {
			probe = click(cfg, now)
			probe.AdvertiserID, probe.AdID = probeAdv, "probe0"
			msgs = append(msgs, message(probe))
			nextProbe = nextProbe.Add(probeInterval)
		}
		if len(msgs) > 0 {
			if _, err := ps.TopicAdminClient.Publish(ctx, &pubsubpb.PublishRequest{Topic: topic, Messages: msgs}); err != nil {
				return 0, fmt.Errorf("publish %d clicks: %w", len(msgs), err)
			}
			if probe != nil {
				probes.sent(time.Now())
			}
		}
		time.Sleep(time.Until(now.Add(tick)))
	}
	return countable, nil
}

func click(cfg config, now time.Time) *clickevent.Event {
	ad := 0
	if rand.IntN(5) != 0 {
		ad = rand.IntN(cfg.ads)
	}
	return &clickevent.Event{SchemaVersion: 1, ClickID: token.NewImpressionID().String(), ImpressionID: token.NewImpressionID().String(),
		AdID: "ad" + strconv.Itoa(ad), AdvertiserID: "adv" + strconv.Itoa(ad/10), CampaignID: "camp" + strconv.Itoa(ad/5), ImpressionTime: now.Add(-time.Minute),
		ExpiresAt: now.Add(time.Hour), ClickTime: now.UTC(), UserKey: "u", UAClass: clickevent.UABrowser}
}

func message(ev *clickevent.Event) *pubsubpb.PubsubMessage {
	data, _ := clickevent.Marshal(ev)
	return &pubsubpb.PubsubMessage{Data: data, Attributes: clickevent.Attributes(ev)}
}

// counted sums the speed layer's advertiser totals over every minute row,
// probes aside.
func counted(ctx context.Context, tbl *bigtable.Table) (int64, error) {
	var n int64
	err := btschema.ReadCells(ctx, tbl, btschema.KindRows(btschema.Minute), btschema.FamilySpeed, func(c btschema.Cell) {
		if c.Ad == btschema.AllAds && c.Advertiser != probeAdv {
			n += c.N
		}
	})
	if err != nil {
		return 0, fmt.Errorf("read counts: %w", err)
	}
	return n, nil
}

// probes tracks probe clicks: the i-th sent is visible once the probe
// advertiser's total reaches i.
type probes struct {
	mu      sync.Mutex
	sentAt  []time.Time
	visible []time.Duration
}

func newProbes() *probes { return &probes{} }

func (p *probes) sent(t time.Time) {
	p.mu.Lock()
	p.sentAt = append(p.sentAt, t)
	p.mu.Unlock()
}

func (p *probes) watch(ctx context.Context, tbl *bigtable.Table) {
	for ctx.Err() == nil {
		var n int64
		err := btschema.ReadCells(ctx, tbl, btschema.AdRows(btschema.Minute, probeAdv, btschema.AllAds), btschema.FamilySpeed, func(c btschema.Cell) { n += c.N })
		now := time.Now()
		if err == nil {
			p.mu.Lock()
			for int64(len(p.visible)) < n && len(p.visible) < len(p.sentAt) {
				p.visible = append(p.visible, now.Sub(p.sentAt[len(p.visible)]))
			}
			p.mu.Unlock()
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func (p *probes) report() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if len(p.visible) == 0 {
		fmt.Printf("freshness: none of %d probe clicks became visible\n", len(p.sentAt))
		return
	}
	d := slices.Clone(p.visible)
	slices.Sort(d)
	q := func(f float64) float64 { return d[min(len(d)-1, int(f*float64(len(d))))].Seconds() }
	fmt.Printf("freshness (publish to visible in Bigtable, %d of %d probe clicks): p50 %.1f s, p99 %.1f s, max %.1f s\n",
		len(d), len(p.sentAt), q(0.5), q(0.99), d[len(d)-1].Seconds())
}

// memory samples the job's resident set.
type memory struct {
	mu        sync.Mutex
	samples   []int
	every     time.Duration
	published int // samples taken while clicks were published
}

// publishedUntil marks the end of publishing: growth per impression is
// measured over the samples before it.
func (m *memory) publishedUntil() {
	m.mu.Lock()
	m.published = len(m.samples)
	m.mu.Unlock()
}

func (m *memory) sample(ctx context.Context, pid int, every time.Duration) {
	m.every = every
	for {
		m.mu.Lock()
		m.samples = append(m.samples, rssMiB(pid))
		m.mu.Unlock()
		select {
		case <-ctx.Done():
			return
		case <-time.After(every):
		}
	}
}

// report prints the job's RSS, and its growth per remembered impression:
// every countable click is a new impression the dedupe remembers for
// Horizon (2 h 26 min, longer than any run), so after the first minute
// the job grows by its dedupe state, at newPerSec impressions a second.
func (m *memory) report(selfMiB int, newPerSec float64) {
	m.mu.Lock()
	defer m.mu.Unlock()
	s := m.samples
	if len(s) == 0 {
		return
	}
	perMin := int(time.Minute / m.every)
	line := fmt.Sprintf("job RSS (MiB): start %d, max %d, end %d", s[0], slices.Max(s), s[len(s)-1])
	if len(s) > 2*perMin {
		// Growth after the first minute, when the runner has warmed up.
		minutes := float64(len(s)-1-perMin) / float64(perMin)
		line += fmt.Sprintf("; after 1 min %d, growth since %+.1f MiB/min", s[perMin], float64(s[len(s)-1]-s[perMin])/minutes)
	}
	fmt.Println(line)
	if pub := m.published; pub > perMin+perMin/2 {
		// The least-squares slope of RSS over the samples from 1 min to
		// the end of publishing: single samples swing with GC cycles.
		var n, sx, sy, sxx, sxy float64
		for i := perMin; i < pub; i++ {
			x, y := float64(i)*m.every.Seconds(), float64(s[i])*(1<<20)
			n, sx, sy, sxx, sxy = n+1, sx+x, sy+y, sxx+x*x, sxy+x*y
		}
		slope := (n*sxy - sx*sy) / (n*sxx - sx*sx) // bytes per second
		fmt.Printf("dedupe state: %.0f bytes of job RSS per remembered impression (target ≤ 48; RSS slope %.1f MiB/min from 1 min to the end of publishing, %.0f new impressions/s)\n",
			slope/newPerSec, slope*60/(1<<20), newPerSec)
	}
	fmt.Printf("job RSS every %v: %v\n", m.every, s)
	fmt.Printf("this process (emulators, publisher) RSS at the end: %d MiB\n", selfMiB)
}

// cpuTime is the user and system CPU time process pid has used (Linux).
func cpuTime(pid int) time.Duration {
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0
	}
	// Fields after the command's closing parenthesis: utime and stime
	// are the 12th and 13th, in clock ticks (100 a second on Linux).
	f := strings.Fields(string(data[strings.LastIndexByte(string(data), ')')+1:]))
	if len(f) < 13 {
		return 0
	}
	utime, _ := strconv.ParseInt(f[11], 10, 64)
	stime, _ := strconv.ParseInt(f[12], 10, 64)
	return time.Duration(utime+stime) * 10 * time.Millisecond
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
