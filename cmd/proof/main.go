// Command proof checks the system's promises the way an auditor would:
// it starts the whole local stack (services as processes, every one of
// them behind a fault proxy to Pub/Sub), clicks through the real HTTP
// endpoints like browsers would while keeping its own ground truth,
// injects faults (a Pub/Sub outage, SIGKILLs of the click service, the
// streaming job and the archiver, a batch run while the archive still
// grows), attacks it with hostile input, and at the end compares: every
// redirected click archived exactly once, the batch's counts and Bigtable's
// final cells equal to the truth, the speed layer within a stated
// tolerance, nothing left behind. It exits non-zero on any loss or
// mismatch.
//
//	proof -duration=10m -rate=1000   # make proof
//	proof -short                     # CI: about three minutes, same assertions
package main

import (
	"net/http"

	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"sort"
	"sync"
	"time"

	"golang.org/x/sys/unix"

	"cloud.google.com/go/bigtable"
	"cloud.google.com/go/pubsub/v2"
	"cloud.google.com/go/pubsub/v2/apiv1/pubsubpb"

	"github.com/adclick/adclick/internal/btschema"
	"github.com/adclick/adclick/internal/countable"
	"github.com/adclick/adclick/internal/gcpnames"
	"github.com/adclick/adclick/internal/localstack"
	"github.com/adclick/adclick/internal/obs"
	"github.com/adclick/adclick/internal/proc"
	"github.com/adclick/adclick/internal/token"
	"github.com/adclick/adclick/internal/warehouse"
)

type config struct {
	duration time.Duration
	rate     int
	outage   time.Duration
	bin      string
	verbose  bool
	short    bool
	abuse    time.Duration
	btOutage time.Duration
	// clickProfile is where the click service's CPU profile goes, if
	// anywhere.
	clickProfile string
}

func main() { os.Exit(proofMain()) }

func proofMain() int {
	var c config
	short := flag.Bool("short", false, "the CI form: 130 s of load at 200 clicks/s, a 15 s outage")
	flag.DurationVar(&c.duration, "duration", 10*time.Minute, "how long to load")
	flag.IntVar(&c.rate, "rate", 1000, "clicks per second")
	flag.DurationVar(&c.outage, "outage", 30*time.Second, "how long Pub/Sub is down")
	flag.StringVar(&c.bin, "bin-dir", "bin", "folder of the service binaries")
	flag.BoolVar(&c.verbose, "v", false, "print the services' logs")
	flag.DurationVar(&c.abuse, "abuse", 30*time.Second, "how long the reports API is attacked while a dashboard uses it")
	flag.DurationVar(&c.btOutage, "bigtable-outage", 30*time.Second, "how long Bigtable is down")
	cpuProfile := flag.String("cpuprofile", "", "write this process's CPU profile (load generator, emulators, proxies) to this file")
	flag.StringVar(&c.clickProfile, "click-profile", "", "write a 30-second CPU profile of the click service, taken from the middle of the load, to this file")
	flag.Parse()
	if *short {
		c.duration, c.rate, c.outage, c.abuse, c.btOutage, c.short = 130*time.Second, 200, 15*time.Second, 10*time.Second, 10*time.Second, true
	}
	if *cpuProfile != "" {
		stop, err := obs.ProfileCPU(*cpuProfile)
		if err != nil {
			fmt.Fprintln(os.Stderr, "proof:", err)
			return 1
		}
		defer stop()
	}
	ok, err := run(context.Background(), c)
	if err != nil {
		fmt.Fprintln(os.Stderr, "proof:", err)
		return 1
	}
	if !ok {
		return 1
	}
	return 0
}

func run(ctx context.Context, c config) (bool, error) {
	dir, err := os.MkdirTemp("", "adclick-proof-")
	if err != nil {
		return false, err
	}
	defer os.RemoveAll(dir)
	logs := io.Discard
	if c.verbose {
		logs = os.Stderr
	}
	start := time.Now().UTC()
	fmt.Printf("proof: %d clicks/s for %v, Pub/Sub outage %v; state in %s\n", c.rate, c.duration, c.outage, dir)
	s, err := startStack(ctx, c.bin, dir, logs)
	if s != nil {
		defer s.close()
	}
	if err != nil {
		return false, err
	}
	if err := dropTail(ctx, s); err != nil {
		return false, err
	}
	keys, err := token.LoadKeyring(s.secrets.TokenKeys)
	if err != nil {
		return false, err
	}

	t := newTruth()
	l := newLoad(s.clickBase, s.secrets.AdServerSecret, keys, t)
	loadCtx, stopLoad := context.WithTimeout(ctx, c.duration)
	defer stopLoad()
	loadDone := make(chan struct{})
	loadStart := time.Now()
	cpuAtStart := s.sampleCPU()
	var waiting backlog
	go waiting.run(loadCtx, s, start, 10*time.Second)
	if c.clickProfile != "" {
		go func() {
			sleepUntil(start.Add(c.duration / 2))
			if err := profileService(ctx, s.clickAdmin, 30*time.Second, c.clickProfile); err != nil {
				fmt.Println("  click service profile:", err)
			}
		}()
	}
	go func() { l.run(loadCtx, c.rate); close(loadDone) }()

	var faults []string
	var faultsMu sync.Mutex
	at := func(frac float64) { sleepUntil(start.Add(time.Duration(frac * float64(c.duration)))) }
	note := func(format string, args ...any) {
		msg := fmt.Sprintf("%6.1fs  ", time.Since(start).Seconds()) + fmt.Sprintf(format, args...)
		faultsMu.Lock()
		defer faultsMu.Unlock()
		faults = append(faults, msg)
		fmt.Println("  fault: " + msg)
	}
	var outageFrom, outageTo, streamingKill time.Time

	// The streaming job's crash: in the long form mid-run; in the short
	// one in the smaller partial minute of the load, on its own clock, so
	// that most minutes stay comparable (crashTime).
	crashStreaming := func() error {
		streamingKill = time.Now()
		s.streaming.Kill()
		note("streaming job killed (SIGKILL) at %.1fs (load from %.1fs)", streamingKill.Sub(start).Seconds(), loadStart.Sub(start).Seconds())
		if err := s.streaming.Start(); err != nil {
			return err
		}
		note("streaming job restarted")
		return nil
	}
	crashed := make(chan error, 1)
	if c.short {
		go func() {
			sleepUntil(crashTime(loadStart, loadStart.Add(c.duration)))
			crashed <- crashStreaming()
		}()
	}

	var spoolFull int

	at(0.15)
	outageFrom = time.Now()
	s.proxy.SetDown(true)
	note("Pub/Sub unreachable for every service")
	// A third into the outage the click service's disk is full as well
	// (its file-size limit drops to nothing) for a third of it: it can
	// neither publish nor spool, so it must answer 503 and redirect no one.
	time.Sleep(c.outage / 3)
	full503 := t.status(http.StatusServiceUnavailable)
	if err := diskFull(s.redirect.Pid(), true); err != nil {
		return false, err
	}
	note("click service's spool disk full during the outage")
	time.Sleep(c.outage / 3)
	if err := diskFull(s.redirect.Pid(), false); err != nil {
		return false, err
	}
	spoolFull = t.status(http.StatusServiceUnavailable) - full503
	note("spool disk has room again: %d clicks answered 503 meanwhile", spoolFull)
	time.Sleep(c.outage - 2*(c.outage/3))
	s.proxy.SetDown(false)
	outageTo = time.Now()
	note("Pub/Sub back after %v", c.outage)

	// Bigtable down away from the streaming job's crash, so the speed
	// layer's minutes around it are compared at the end: the job must
	// retry its writes and catch up.
	at(0.33)
	btDown := time.Now()
	s.btProxy.SetDown(true)
	note("Bigtable unreachable for every service")
	outcome, err := bigtableOutage(ctx, s, start, c.btOutage)
	if err != nil {
		return false, err
	}
	note("Bigtable back after %v: %s", time.Since(btDown).Round(time.Second), outcome)

	at(0.40)
	s.redirect.Kill()
	note("click service killed (SIGKILL)")
	time.Sleep(time.Second)
	if err := s.redirect.Start(); err != nil {
		return false, err
	}
	note("click service restarted on the same spool")

	if !c.short {
		at(0.55)
		crashed <- crashStreaming()
	}

	at(0.70)
	s.archiver.Kill()
	note("archiver killed (SIGKILL) mid-file")
	if err := s.archiver.Start(); err != nil {
		return false, err
	}
	note("archiver restarted")

	at(0.80)
	days := daysOf(start, time.Now().UTC().Add(time.Minute))
	if err := runBatch(s, days); err != nil {
		return false, fmt.Errorf("batch while the archive still grows: %w", err)
	}
	note("nightly batch ran while clicks were still being archived")

	<-loadDone
	loadEnd := time.Now()
	cpuAtEnd := s.sampleCPU()
	if err := <-crashed; err != nil {
		return false, err
	}
	fmt.Printf("load done: %d requests answered, %d unanswered (the click service killed under them, or past the load's 10 s timeout)\n", len(t.latencies), t.failed)
	fmt.Printf("CPU per redirected click during the load (%d clicks/s asked): %s\n", c.rate, s.cpuPerClick(cpuAtStart, cpuAtEnd, t.status(http.StatusFound)))
	fmt.Println("backlog: " + waiting.String())

	// Hostile input, while everything runs.
	validURL, _, err := l.mint(ctx, ads[1].id, 1, 0)
	if err != nil {
		return false, fmt.Errorf("mint for the hostile phase: %w", err)
	}
	// The off-catalog attempt uses a real token: a real click, and a
	// countable one, made as a person would (after the too-fast delay).
	time.Sleep(l.thinkTime())
	hostileResults := hostile(ctx, s, validURL[0], func(status int) {
		t.record(kindHuman, status, impressionOf(validURL[0], l), ads[1].id, time.Now(), 0)
	})
	abuse, err := reportsAbuse(ctx, s, c.abuse)
	if err != nil {
		return false, fmt.Errorf("reports abuse: %w", err)
	}
	fmt.Println("reports under attack: " + abuse.String())
	for _, p := range []*proc.Proc{s.redirect, s.streaming, s.archiver, s.reports} {
		if !p.Alive() {
			return false, fmt.Errorf("%s died during the hostile phase", p.Name)
		}
	}

	// Settle: the spool replays, both subscriptions catch up, the
	// archiver closes its file, the streaming job drains.
	if err := waitSpoolEmpty(ctx, s, 3*time.Minute); err != nil {
		return false, err
	}
	published, err := waitArchived(ctx, s, 4*time.Minute)
	if err != nil {
		return false, err
	}
	s.archiver.Stop(time.Minute)
	s.streaming.Stop(2 * time.Minute)
	days = daysOf(start, time.Now().UTC())
	for range 2 {
		if err := runBatch(s, days); err != nil {
			return false, err
		}
	}
	if spoolFull == 0 {
		fmt.Println("  FAIL: no click was answered 503 while the spool's disk was full: the fault did not reach the service")
		return false, nil
	}
	// The p99 target is the long form's: in the short one, on CI's two
	// cores, the load generator, the fakes and Prism share them with it.
	abuseFailures := abuse.failures(!c.short)
	ok, err := verify(ctx, s, t, days, published, faults, hostileResults, outageFrom, outageTo, streamingKill, loadEnd, start, abuse, abuseFailures)
	return ok, err
}

// diskFull makes process pid's files unable to grow (its RLIMIT_FSIZE at
// zero, as a full disk would), or lifts the limit. The click service
// ignores SIGXFSZ, so its writes then fail with EFBIG.
func diskFull(pid int, full bool) error {
	lim := unix.Rlimit{Cur: unix.RLIM_INFINITY, Max: unix.RLIM_INFINITY}
	if full {
		lim.Cur = 0
	}
	if err := unix.Prlimit(pid, unix.RLIMIT_FSIZE, &lim, nil); err != nil {
		return fmt.Errorf("set the file-size limit of pid %d: %w", pid, err)
	}
	return nil
}

// dropTail deletes the local-only tail subscription: nobody reads it here,
// and the fake rescans every unacked message of every subscription.
func dropTail(ctx context.Context, s *stack) error {
	ps, err := pubsub.NewClient(ctx, gcpnames.LocalProject, localstack.EmulatorOptions(s.emu.PubSubAddr)...)
	if err != nil {
		return err
	}
	defer ps.Close()
	return ps.SubscriptionAdminClient.DeleteSubscription(ctx, &pubsubpb.DeleteSubscriptionRequest{
		Subscription: localstack.SubscriptionName(gcpnames.LocalProject, gcpnames.TailSubscription)})
}

func impressionOf(u string, l *load) string {
	tok := u[len(l.base)+len("/c/"):]
	claims, err := l.keys.Verify(tok, time.Now())
	if err != nil {
		return ""
	}
	return claims.ImpressionID.String()
}

func sleepUntil(t time.Time) { time.Sleep(time.Until(t)) }

func daysOf(from, to time.Time) []time.Time {
	var days []time.Time
	for d := from.Truncate(24 * time.Hour); !d.After(to); d = d.AddDate(0, 0, 1) {
		days = append(days, d)
	}
	return days
}

func runBatch(s *stack, days []time.Time, extra ...string) error {
	args := append([]string{"--runner=prism", "--archive=" + filepath.Join(s.dir, "archive"), "--output=" + filepath.Join(s.dir, "warehouse"),
		"--from=" + days[0].Format(time.DateOnly), "--to=" + days[len(days)-1].Format(time.DateOnly)}, extra...)
	cmd := exec.Command(filepath.Join(s.bin, "batch"), args...)
	cmd.Env = append(os.Environ(), "BIGTABLE_EMULATOR_HOST="+s.btProxy.Addr(), "GOMEMLIMIT=2400MiB")
	out, err := cmd.CombinedOutput()
	if err != nil {
		return fmt.Errorf("batch: %w\n%s", err, out)
	}
	return nil
}

func waitSpoolEmpty(ctx context.Context, s *stack, within time.Duration) error {
	deadline := time.Now().Add(within)
	for {
		d, err := spoolDepth(s.clickAdmin)
		if err == nil && d == 0 {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("click service spool still holds %.0f clicks after %v (%v)", d, within, err)
		}
		time.Sleep(time.Second)
	}
}

func verify(ctx context.Context, s *stack, t *truth, days []time.Time, published int, faults []string, hostileResults []hostileResult,
	outageFrom, outageTo, streamingKill, loadEnd, start time.Time, abuse abuseResult, abuseFailures []string) (bool, error) {
	ok := true
	fail := func(format string, args ...any) {
		ok = false
		fmt.Printf("  FAIL: "+format+"\n", args...)
	}
	arch, err := readArchive(ctx, filepath.Join(s.dir, "archive"))
	if err != nil {
		return false, err
	}
	bt, err := bigtable.NewClient(ctx, gcpnames.LocalProject, gcpnames.BigtableInstance, localstack.EmulatorOptions(s.emu.BigtableAddr)...)
	if err != nil {
		return false, err
	}
	defer bt.Close()
	tbl := bt.Open(btschema.Table)

	// 1. Every redirected click is archived, once, as its own event.
	redirected, lost := 0, 0
	for imp, n := range t.redirected {
		redirected += n
		if arch.byImp[imp] < n {
			lost += n - arch.byImp[imp]
		}
	}
	extra := len(arch.events) - redirected
	duplicates := 0
	for _, n := range arch.copies {
		if n > 1 {
			duplicates += n - 1
		}
	}
	// 2. The exact counts: truth, plus unanswered clicks the service did
	// record (their impressions are in the archive as human clicks).
	want := map[string]int64{}
	for ad, imps := range t.counted {
		want[ad] = int64(len(imps))
	}
	resolved := 0
	for imp, ad := range t.uncertain {
		if arch.byImp[imp] > 0 {
			want[ad]++
			resolved++
		}
	}
	// Unanswered clicks of the other kinds the service recorded count as
	// their kind: a data-centre click is invalid_datacenter whether or not
	// its answer arrived.
	recordedUnanswered := map[string]int{}
	for imp, kind := range t.uncertainKind {
		if arch.byImp[imp] > 0 {
			recordedUnanswered[kind]++
			resolved++
		}
	}
	// Too-fast clicks answered past the rule's threshold: the rule itself,
	// on the archived event, says whether the service stamped them in time.
	tooFastCounted := 0
	for _, ev := range arch.events {
		if ad, late := t.tooFastLate[ev.ImpressionID]; late && countable.Classify(&ev) == countable.Counted {
			want[ad]++
			tooFastCounted++
		}
	}
	batch, err := cells(ctx, tbl, btschema.FamilyBatch, days)
	if err != nil {
		return false, err
	}
	speed, err := cells(ctx, tbl, btschema.FamilySpeed, days)
	if err != nil {
		return false, err
	}
	parquet, err := parquetDays(ctx, s, days)
	if err != nil {
		return false, err
	}
	spooled, dead, err := leftovers(ctx, s)
	if err != nil {
		return false, err
	}

	fmt.Println("\n== proof report")
	fmt.Printf("ran %v of load from %s; days reconciled %v\n", loadEnd.Sub(start).Round(time.Second), start.Format(time.RFC3339), fmtDays(days))
	fmt.Println("faults injected:")
	for _, f := range faults {
		fmt.Println("  " + f)
	}
	fmt.Println("clicks by kind and answer:")
	kinds := []string{kindHuman, kindRepeat, kindBot, kindTooFast, kindDC, kindBurst, kindExpired, kindTampered, kindUnknown}
	for _, k := range kinds {
		fmt.Printf("  %-9s %v\n", k, t.statuses[k])
	}
	fmt.Printf("redirected (302): %d; unanswered requests: %d (%d impressions settled from the archive; of other kinds than human and repeat: %v)\n", redirected, t.failed, resolved, recordedUnanswered)
	fmt.Printf("too-fast clicks answered past the rule's threshold: %d, of which the service stamped %d in time to count (settled by the rule on the archived event)\n", len(t.tooFastLate), tooFastCounted)
	fmt.Printf("published to Pub/Sub: %d messages; archived: %d records, %d distinct clicks, %d re-delivered copies\n", published, arch.messages, len(arch.events), duplicates)
	if lost > 0 {
		fail("%d redirected clicks are missing from the archive", lost)
	} else {
		fmt.Println("losses: 0 (every redirected click is in the raw archive)")
	}
	if extra < 0 || extra > t.failed {
		fail("the archive holds %d clicks more than were redirected, beyond the %d unanswered requests", extra, t.failed)
	}
	var total, speedTotal, mismatches int64
	fmt.Println("counted clicks per ad (truth / nightly batch in Bigtable / batch Parquet / speed layer):")
	for _, ad := range ads {
		w := want[ad.id]
		total += w
		speedTotal += speed[ad.id]
		line := fmt.Sprintf("  %-14s %7d / %7d / %7d / %7d", ad.id, w, batch[ad.id], parquet[ad.id], speed[ad.id])
		if batch[ad.id] != w || parquet[ad.id] != w {
			mismatches++
			line += "  MISMATCH"
		}
		fmt.Println(line)
	}
	if mismatches > 0 {
		fail("%d ads' reconciled counts differ from the truth", mismatches)
	} else {
		fmt.Printf("mismatches: 0 (%d countable clicks, exact after reconciliation)\n", total)
	}
	campaignLines, badCampaigns, err := checkCampaigns(ctx, s, tbl, days, want)
	if err != nil {
		return false, err
	}
	fmt.Println("counted clicks per campaign (truth / nightly batch in Bigtable / batch Parquet):")
	for _, l := range campaignLines {
		fmt.Println(l)
	}
	if badCampaigns > 0 {
		fail("%d campaigns' reconciled counts differ from the truth", badCampaigns)
	}
	outcomes, err := outcomeTotals(ctx, s, days)
	if err != nil {
		return false, err
	}
	fmt.Printf("the nightly's outcomes: %v\n", outcomes)
	for _, b := range checkInvalidTraffic(outcomes, map[countable.Outcome]int{
		countable.InvalidTooFast:    t.statuses[kindTooFast][http.StatusFound] - tooFastCounted + recordedUnanswered[kindTooFast],
		countable.InvalidDatacenter: t.statuses[kindDC][http.StatusFound] + recordedUnanswered[kindDC],
		countable.InvalidBurst:      t.statuses[kindBurst][http.StatusFound] + recordedUnanswered[kindBurst],
	}) {
		fail("invalid traffic: %s", b)
	}
	badYears, err := checkYears(ctx, s, days, want)
	if err != nil {
		return false, err
	}
	for _, b := range badYears {
		fail("years: %s", b)
	}
	if len(badYears) == 0 {
		fmt.Println("years: every ad's and advertiser's year (rolled up from months, from days) is exact")
	}
	badPlacements, err := checkPlacements(ctx, s, tbl, days, want)
	if err != nil {
		return false, err
	}
	if badPlacements > 0 {
		fail("%d ads' placement counts differ from the truth", badPlacements)
	} else {
		fmt.Printf("placements: every ad's clicks under %q, exact in Bigtable and Parquet\n", proofPlacement)
	}
	// The speed layer against the exact minute cells: every minute but
	// the crash's (crashMinutes) must match to 1 %, give or take the
	// moves explained below; the crash's minutes are reported. Most of
	// the countable clicks must be in compared minutes, or the check
	// proves nothing.
	crash := crashMinutes(streamingKill)
	var off, offCrash, inMinutes int64
	for _, ad := range ads {
		for _, day := range days {
			sp, err := minuteCells(ctx, tbl, ad.advertiser, ad.id, day, btschema.FamilySpeed)
			if err != nil {
				return false, err
			}
			ba, err := minuteCells(ctx, tbl, ad.advertiser, ad.id, day, btschema.FamilyBatch)
			if err != nil {
				return false, err
			}
			for m := range union(sp, ba) {
				d := sp[m] - ba[m]
				if d < 0 {
					d = -d
				}
				if crash[m] {
					offCrash += d
					continue
				}
				off += d
				inMinutes += ba[m]
			}
		}
	}
	// A repeat click made while its impression's first click waits in the
	// spool (the Pub/Sub outage, and the replay after it) reaches the
	// streaming job first and is counted in its own minute instead: the
	// speed layer counts the first click it sees. Each such repeat can
	// move one click between two minutes. A repeat made just after the
	// crash, of an impression the crashed job counted, counts once more.
	moved, recounted := 0, 0
	for _, l := range t.latencies {
		switch {
		case l.kind != kindRepeat:
		case !l.at.Before(outageFrom) && l.at.Before(outageTo.Add(30*time.Second)):
			moved++
		case !l.at.Before(streamingKill) && l.at.Before(streamingKill.Add(repeatWindow)):
			recounted++
		}
	}
	// The burst rule is the nightly's alone: the speed layer counts the
	// scripts' clicks past the limit, one each.
	bursts := t.statuses[kindBurst][http.StatusFound]
	tolerance := int64(0.01*float64(inMinutes)) + 2*int64(moved) + int64(recounted) + int64(bursts)
	fmt.Printf("speed layer before reconciliation: %d in all (exact: %d); outside the streaming crash's minute it is off by %d of %d clicks (%.2f %%, %.0f %% of all compared), tolerance %d (1 %% + 2 per repeat click made during the outage and its replay: %d, + 1 per repeat in the %v after the crash: %d, + 1 per burst click: %d); in the crash's minute off by %d\n",
		speedTotal, total, off, inMinutes, 100*float64(off)/float64(max(inMinutes, 1)), 100*float64(inMinutes)/float64(max(total, 1)), tolerance, moved, repeatWindow, recounted, bursts, offCrash)
	if off > tolerance {
		fail("the speed layer is off by %d clicks outside the crash minutes, beyond the tolerance %d", off, tolerance)
	}
	if 2*inMinutes < total {
		fail("only %d of %d countable clicks were in compared minutes: the speed-layer check covers too little", inMinutes, total)
	}
	fmt.Printf("left behind: %d spooled clicks, %d dead letters\n", spooled, dead)
	if spooled > 0 || dead > 0 {
		fail("something was left in a spool or the dead letters")
	}
	fmt.Println("hostile input:")
	for _, r := range hostileResults {
		fmt.Println("  " + r.String())
		if len(r.unexpected) > 0 {
			ok = false
		}
	}
	normal, during := percentiles(t.latencies, outageFrom, outageTo)
	fmt.Printf("click latency: p50 %v p99 %v normally; p50 %v p99 %v during the Pub/Sub outage\n", normal[0], normal[1], during[0], during[1])
	fmt.Println("reports under attack: " + abuse.String())
	for _, f := range abuseFailures {
		fail("%s", f)
	}
	if ok {
		fmt.Println("PROOF PASSED")
	} else {
		fmt.Println("PROOF FAILED")
	}
	return ok, nil
}

// parquetDays sums the published ad_clicks_day partitions per ad.
func parquetDays(ctx context.Context, s *stack, days []time.Time) (map[string]int64, error) {
	out := map[string]int64{}
	err := warehouseRows(ctx, s, "ad_clicks_day", days, func(row any) {
		r := row.(warehouse.AdRow)
		out[r.AdID] += r.Clicks
	})
	return out, err
}

func union(a, b map[time.Time]int64) map[time.Time]bool {
	out := map[time.Time]bool{}
	for k := range a {
		out[k] = true
	}
	for k := range b {
		out[k] = true
	}
	return out
}

func percentiles(ls []latency, from, to time.Time) (normal, during [2]time.Duration) {
	var a, b []time.Duration
	for _, l := range ls {
		if !l.at.Before(from) && l.at.Before(to) {
			b = append(b, l.d)
		} else {
			a = append(a, l.d)
		}
	}
	q := func(ds []time.Duration) [2]time.Duration {
		if len(ds) == 0 {
			return [2]time.Duration{}
		}
		slices.Sort(ds)
		return [2]time.Duration{ds[len(ds)/2].Round(100 * time.Microsecond), ds[min(len(ds)-1, len(ds)*99/100)].Round(100 * time.Microsecond)}
	}
	return q(a), q(b)
}

func fmtDays(days []time.Time) []string {
	var s []string
	for _, d := range days {
		s = append(s, d.Format(time.DateOnly))
	}
	sort.Strings(s)
	return s
}

// bigtableOutage runs while Bigtable is down, for at least d: the reports
// must answer 503 (their reads have a deadline), the nightly must fail
// (its calls have one too) and leave the days as they were. It returns
// what it saw; the proof's end checks that the streaming job caught up
// and that later runs are exact.
func bigtableOutage(ctx context.Context, s *stack, start time.Time, d time.Duration) (string, error) {
	until := time.Now().Add(d)
	get := func() int {
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, s.reportURL+"/v1/ads/acme-trail-1/clicks?granularity=minute", nil)
		req.Header.Set("Authorization", "Bearer "+s.apiKeys["acme"])
		resp, err := (&http.Client{Timeout: 30 * time.Second}).Do(req)
		if err != nil {
			return 0
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		return resp.StatusCode
	}
	if code := get(); code != http.StatusServiceUnavailable {
		return "", fmt.Errorf("the reports answered %d while Bigtable was down, want 503", code)
	}
	days := daysOf(start, time.Now().UTC())
	batchErr := runBatch(s, days, "--bigtable_timeout=3s")
	if batchErr == nil {
		return "", fmt.Errorf("the nightly succeeded while Bigtable was down")
	}
	time.Sleep(time.Until(until))
	s.btProxy.SetDown(false)
	deadline := time.Now().Add(90 * time.Second)
	for get() != http.StatusOK {
		if time.Now().After(deadline) {
			return "", fmt.Errorf("the reports did not recover within 90 s of Bigtable's return")
		}
		time.Sleep(time.Second)
	}
	return "the reports answered 503 and recovered, the nightly failed cleanly (rerun later)", nil
}
