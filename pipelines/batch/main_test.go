package main

import (
	"context"
	"flag"
	"io"
	"log/slog"
	"net"
	"os"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/apache/beam/sdks/v2/go/pkg/beam"
	"github.com/apache/beam/sdks/v2/go/pkg/beam/core/runtime/graphx"
	pipepb "github.com/apache/beam/sdks/v2/go/pkg/beam/model/pipeline_v1"
	"github.com/apache/beam/sdks/v2/go/pkg/beam/options/jobopts"
	"google.golang.org/protobuf/proto"

	"github.com/adclick/adclick/internal/blob"
	"github.com/adclick/adclick/internal/dataflowjob"
	"github.com/adclick/adclick/internal/rawarchive"
)

func TestMain(m *testing.M) {
	flag.Parse()
	beam.Init()
	os.Exit(m.Run())
}

// TestDataflowDryRun runs the nightly's launcher as the Flex Template
// would, with --dry_run: it translates a batch job whose last stages
// publish and then mark the days, and touches nothing: no output, no
// connection to Bigtable.
func TestDataflowDryRun(t *testing.T) {
	ctx := context.Background()
	archive, output := t.TempDir(), t.TempDir()
	writeArchiveFile(t, archive, time.Date(2026, 11, 26, 12, 0, 0, 0, time.UTC))
	dials := bigtableListener(t)
	async := *jobopts.Async
	t.Cleanup(func() { *jobopts.Async = async })

	r, err := dataflowjob.Capture(map[string]string{
		"date": "2026-11-26", "archive": archive, "output": output,
		"bigtable_instance": "adclick", "bigquery_dataset": "adclick",
	}, func() error { return run(ctx, slog.New(slog.NewTextHandler(io.Discard, nil))) })
	if err != nil {
		t.Fatal(err)
	}
	if !*jobopts.Async {
		t.Error("a Dataflow launch would wait for the batch: --execute_async not set")
	}
	if r.Job.Type != "JOB_TYPE_BATCH" {
		t.Errorf("job type %s, want JOB_TYPE_BATCH", r.Job.Type)
	}
	if slices.Contains(r.Job.Environment.Experiments, "enable_streaming_engine") {
		t.Errorf("batch job with streaming experiments %v", r.Job.Environment.Experiments)
	}
	if err := r.DecodeUserFns(); err != nil {
		t.Error(err)
	}
	if names, _ := os.ReadDir(output); len(names) != 0 {
		t.Errorf("dry run wrote %d entries into the output folder", len(names))
	}
	if n := dials.Load(); n != 0 {
		t.Errorf("dry run connected to Bigtable %d times", n)
	}
	checkFinishOrder(t, r)
}

// checkFinishOrder: the marker stage reads the publish stage's output and
// the Bigtable writer's as side inputs, and the publish stage reads every
// staged file name: the data order that makes the marker the last effect.
func checkFinishOrder(t *testing.T, r *dataflowjob.Result) {
	t.Helper()
	producer := map[string]string{} // PCollection id -> transform name
	var publish, mark *pipepb.PTransform
	for name, tr := range r.Transforms() {
		for _, pc := range tr.GetOutputs() {
			producer[pc] = name
		}
		switch {
		case strings.HasSuffix(name, "publish/nightly.publishFn"):
			publish = tr
		case strings.HasSuffix(name, "mark/nightly.markFn"):
			mark = tr
		}
	}
	if publish == nil || mark == nil {
		t.Fatalf("no publish or mark stage among %d transforms", len(r.Transforms()))
	}
	sides := func(tr *pipepb.PTransform) []string {
		var pardo pipepb.ParDoPayload
		if err := proto.Unmarshal(tr.GetSpec().GetPayload(), &pardo); err != nil || tr.GetSpec().GetUrn() != graphx.URNParDo {
			t.Fatalf("%s: not a ParDo (%v)", tr.GetUniqueName(), err)
		}
		var from []string
		for tag := range pardo.GetSideInputs() {
			from = append(from, producer[tr.GetInputs()[tag]])
		}
		slices.Sort(from)
		return from
	}
	has := func(from []string, suffix string) bool {
		return slices.ContainsFunc(from, func(s string) bool { return strings.HasSuffix(s, suffix) })
	}
	if got := sides(mark); len(got) != 2 || !has(got, "publish/nightly.publishFn") || !has(got, "nightly.writeBigtableFn") {
		t.Errorf("mark stage's side inputs come from %v, want the publish stage and the Bigtable writer", got)
	}
	if got := sides(publish); len(got) != 1 || !strings.Contains(got[0], "Flatten") {
		t.Errorf("publish stage's side input comes from %v, want the flattened staged file names", got)
	}
}

func writeArchiveFile(t *testing.T, dir string, start time.Time) {
	t.Helper()
	store, err := blob.Open(context.Background(), dir)
	if err != nil {
		t.Fatal(err)
	}
	out, err := store.Create(context.Background(), rawarchive.ObjectName(start, "00000000-0000-0000-0000-000000000001"))
	if err != nil {
		t.Fatal(err)
	}
	w, err := rawarchive.NewWriter(out)
	if err != nil {
		t.Fatal(err)
	}
	if err := w.Append([]rawarchive.Record{{Subscription: "projects/p/subscriptions/s", MessageID: "1", PublishTime: start, Data: []byte("{}")}}); err != nil {
		t.Fatal(err)
	}
	if err := out.Close(); err != nil {
		t.Fatal(err)
	}
}

// bigtableListener stands where the Bigtable emulator would and counts
// the connections made to it.
func bigtableListener(t *testing.T) *atomic.Int64 {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	var n atomic.Int64
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			n.Add(1)
			c.Close()
		}
	}()
	t.Setenv("BIGTABLE_EMULATOR_HOST", l.Addr().String())
	return &n
}
