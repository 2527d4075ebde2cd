package main

import (
	"context"
	"flag"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"testing"

	"github.com/apache/beam/sdks/v2/go/pkg/beam"
	pipepb "github.com/apache/beam/sdks/v2/go/pkg/beam/model/pipeline_v1"
	"google.golang.org/protobuf/proto"

	"github.com/adclick/adclick/internal/clickevent"
	"github.com/adclick/adclick/internal/dataflowjob"
	"github.com/adclick/adclick/internal/gcpnames"
)

var update = flag.Bool("update_golden", false, "rewrite testdata/dataflow-steps.golden from the translated job")

func TestMain(m *testing.M) {
	flag.Parse()
	beam.Init()
	os.Exit(m.Run())
}

// TestDataflowJob translates the job exactly as `streaming --runner=dataflow
// --dry_run` does and checks what Dataflow would receive.
func TestDataflowJob(t *testing.T) {
	r, err := dataflowjob.Translate(context.Background(), nil, pipeline)
	if err != nil {
		t.Fatal(err)
	}
	if r.Job.Type != "JOB_TYPE_STREAMING" {
		t.Errorf("job type %s, want JOB_TYPE_STREAMING", r.Job.Type)
	}
	for _, e := range []string{"enable_streaming_engine", "use_runner_v2"} {
		if !slices.Contains(r.Job.Environment.Experiments, e) {
			t.Errorf("experiments %v lack %s", r.Job.Environment.Experiments, e)
		}
	}

	reads := r.ByURN("beam:transform:pubsub_read:v1")
	if len(reads) != 1 {
		t.Fatalf("%d Pub/Sub reads, want 1", len(reads))
	}
	var read pipepb.PubSubReadPayload
	if err := proto.Unmarshal(reads[0].GetSpec().GetPayload(), &read); err != nil {
		t.Fatal(err)
	}
	want := &pipepb.PubSubReadPayload{
		Subscription:       "projects/" + dataflowjob.DryRunFlags["project"] + "/subscriptions/" + gcpnames.StreamingSubscription,
		IdAttribute:        clickevent.AttrClickID,
		TimestampAttribute: clickevent.AttrClickTime,
		WithAttributes:     true,
	}
	if !proto.Equal(&read, want) {
		t.Errorf("Pub/Sub read %v, want %v", &read, want)
	}
	// Dataflow dedupes by the id attribute before the pipeline: it must be
	// the click's own id, never the impression's (see clickevent).
	if read.IdAttribute == clickevent.AttrImpressionID {
		t.Error("id attribute is the impression id: Dataflow would drop every second click of an impression")
	}

	if err := r.DecodeUserFns(); err != nil {
		t.Error(err)
	}
	checkStepNames(t, r)
}

// checkStepNames compares the transforms' unique names with the golden
// list. An in-place update of the running job (terraform apply with a new
// image) matches steps by these names: a rename (a function, a scope)
// must be a decision, with a transform name mapping, not a surprise.
func checkStepNames(t *testing.T, r *dataflowjob.Result) {
	t.Helper()
	var names []string
	for n := range r.Transforms() {
		names = append(names, n)
	}
	sort.Strings(names)
	got := strings.Join(names, "\n") + "\n"
	golden := filepath.Join("testdata", "dataflow-steps.golden")
	if *update {
		if err := os.WriteFile(golden, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(golden)
	if err != nil {
		t.Fatal(err)
	}
	if got != string(want) {
		t.Errorf("the streaming job's step names changed; an in-place update would not find the running job's steps.\n"+
			"If intended, map old names to new in terraform's transform_name_mapping and run go test ./pipelines/streaming -update_golden.\ngot:\n%swant:\n%s", got, want)
	}
}
