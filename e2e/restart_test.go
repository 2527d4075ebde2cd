package e2e

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"syscall"
	"testing"
	"time"

	"cloud.google.com/go/pubsub/v2/apiv1/pubsubpb"

	"github.com/adclick/adclick/internal/btschema"
	"github.com/adclick/adclick/internal/clickevent"
	"github.com/adclick/adclick/internal/gcpnames"
	"github.com/adclick/adclick/internal/localstack"
	"github.com/adclick/adclick/internal/token"
	"github.com/adclick/adclick/pipelines/prismopts"
	"github.com/adclick/adclick/pipelines/speed"
)

// buildStreaming builds bin/streaming into a temporary folder, so the test
// can kill it the way a machine failure would.
func buildStreaming(t *testing.T) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "streaming")
	cmd := exec.Command("go", "build", "-o", bin, "github.com/adclick/adclick/pipelines/streaming")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("build streaming: %v\n%s", err, out)
	}
	return bin
}

// job is a streaming job process.
type job struct {
	cmd   *exec.Cmd
	drain string // its --drain_file
	logs  *syncBuffer
}

// startJob starts the streaming job on Prism against the stack, reading
// Pub/Sub directly (not through the fault proxy).
func (s *stack) startJob(t *testing.T, bin string) *job {
	t.Helper()
	j := &job{drain: filepath.Join(t.TempDir(), "drain"), logs: &syncBuffer{}}
	j.cmd = exec.Command(bin, "--runner=prism", "--experiments="+prismopts.Experiments, "--project="+project, "--drain_file="+j.drain)
	j.cmd.Env = append(os.Environ(), "PUBSUB_EMULATOR_HOST="+s.emu.PubSubAddr, "BIGTABLE_EMULATOR_HOST="+s.emu.BigtableAddr)
	j.cmd.Stdout, j.cmd.Stderr = j.logs, j.logs
	if err := j.cmd.Start(); err != nil {
		t.Fatalf("start streaming job: %v", err)
	}
	t.Cleanup(func() {
		j.cmd.Process.Kill()
		j.cmd.Wait()
		if t.Failed() {
			t.Logf("streaming job %d output:\n%s", j.cmd.Process.Pid, j.logs.String())
		}
	})
	return j
}

// stop drains the job with SIGTERM, as a deployment stops it, waits until
// it has exited (every window and timer fired, every pane written), and
// returns the counters it printed.
func (j *job) stop(t *testing.T) map[string]int64 {
	t.Helper()
	if err := j.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	exited := make(chan error, 1)
	go func() { exited <- j.cmd.Wait() }()
	select {
	case err := <-exited:
		if err != nil {
			t.Fatalf("streaming job exited with %v", err)
		}
	case <-time.After(2 * time.Minute):
		t.Fatal("streaming job did not drain in 2 minutes")
	}
	counters, err := speed.ParseCounterLog(j.logs.String())
	if err != nil {
		t.Fatal(err)
	}
	return counters
}

// publishClicks publishes n countable clicks on ad of advertiser acme, each
// on its own impression, all clicked at clickTime.
func (s *stack) publishClicks(t *testing.T, ad string, n int, clickTime time.Time) {
	t.Helper()
	msgs := make([]*pubsubpb.PubsubMessage, n)
	for i := range msgs {
		ev := &clickevent.Event{SchemaVersion: 1, ClickID: token.NewImpressionID().String(), ImpressionID: token.NewImpressionID().String(),
			AdID: ad, AdvertiserID: "acme", CampaignID: "c", ImpressionTime: clickTime.Add(-time.Minute),
			ExpiresAt: clickTime.Add(time.Hour), ClickTime: clickTime, UserKey: "u" + strconv.Itoa(i), UAClass: clickevent.UABrowser}
		data, _ := clickevent.Marshal(ev)
		msgs[i] = &pubsubpb.PubsubMessage{Data: data, Attributes: clickevent.Attributes(ev)}
	}
	_, err := s.ps.TopicAdminClient.Publish(context.Background(), &pubsubpb.PublishRequest{
		Topic: localstack.TopicName(project, gcpnames.ClicksTopic), Messages: msgs,
	})
	if err != nil {
		t.Fatalf("publish %d clicks on %s: %v", n, ad, err)
	}
}

// waitSpeedCount waits until the speed cell of (acme, ad, minute) is want.
func (s *stack) waitSpeedCount(t *testing.T, ad string, minute time.Time, want int64, within time.Duration) {
	t.Helper()
	deadline := time.Now().Add(within)
	for {
		got := s.speedCount(t, "acme", ad, minute)
		if got == want {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("speed count of %s at %s = %d after %v, want %d", ad, minute.Format("15:04"), got, within, want)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// TestStreamingJobCrash is what the local mode guarantees when the job
// dies (SIGKILL) and is started again; Prism keeps all job state in
// memory, so a new process starts with none:
//   - clicks published while the job is down are counted by the next one;
//   - a cell never goes backwards: the new job's smaller total for a minute
//     the old job already wrote does not replace the larger one (cell
//     versions grow with the count), so such a minute shows the larger
//     of the two jobs' totals until the nightly batch writes the exact one;
//   - clicks the old job had counted and acknowledged are not counted
//     again by the new one (its total is its own clicks only);
//   - a drained job's counters give every click it read one outcome.
func TestStreamingJobCrash(t *testing.T) {
	bin := buildStreaming(t)
	s := newStack(t)
	clickTime := time.Now().UTC()
	minute := clickTime.Truncate(time.Minute)

	first := s.startJob(t, bin)
	s.publishClicks(t, "adA", 40, clickTime)
	s.waitSpeedCount(t, "adA", minute, 40, time.Minute)
	if err := first.cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	first.cmd.Wait()

	s.publishClicks(t, "adA", 5, clickTime)
	s.publishClicks(t, "adB", 10, clickTime)
	second := s.startJob(t, bin)
	s.waitSpeedCount(t, "adB", minute, 10, time.Minute)
	// Drained, the new job has written every pane: its total of 5 for
	// adA must not have replaced the 40.
	counters := second.stop(t)
	if err := speed.CheckOutcomes(counters); err != nil {
		t.Error(err)
	}
	if counters["clicks_counted"] < 15 {
		t.Errorf("the second job counted %d clicks, want at least its 15", counters["clicks_counted"])
	}
	if got := s.speedCount(t, "acme", "adA", minute); got != 40 {
		t.Errorf("adA after the restart = %d, want 40 (the first job's total; the new job's 5 is smaller)", got)
	}
	if got := s.speedCount(t, "acme", btschema.AllAds, minute); got != 40 {
		t.Errorf("advertiser total after the restart = %d, want 40 (max of 40 and 15)", got)
	}
	// Once a new job's own total passes the old one, it shows.
	s.startJob(t, bin)
	s.publishClicks(t, "adA", 45, clickTime)
	s.waitSpeedCount(t, "adA", minute, 45, time.Minute)
	s.waitSpeedCount(t, btschema.AllAds, minute, 45, 10*time.Second)
}
