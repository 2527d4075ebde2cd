// Package dataflowjob translates a pipeline into the job Dataflow would
// receive, offline, through the Dataflow runner's own dry run: the same
// code path as `--runner=dataflow --dry_run`, so tests can assert on
// what a deployment submits (read configuration, job type, experiments,
// step names) without a cloud account.
package dataflowjob

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"strings"
	"sync"

	"github.com/apache/beam/sdks/v2/go/pkg/beam"
	"github.com/apache/beam/sdks/v2/go/pkg/beam/core/runtime/graphx"
	v1pb "github.com/apache/beam/sdks/v2/go/pkg/beam/core/runtime/graphx/v1"
	"github.com/apache/beam/sdks/v2/go/pkg/beam/core/util/protox"
	"github.com/apache/beam/sdks/v2/go/pkg/beam/log"
	pipepb "github.com/apache/beam/sdks/v2/go/pkg/beam/model/pipeline_v1"
	"github.com/apache/beam/sdks/v2/go/pkg/beam/runners/dataflow"
	df "google.golang.org/api/dataflow/v1b3"
	"google.golang.org/protobuf/encoding/prototext"
	"google.golang.org/protobuf/proto"
)

// DryRunFlags are the flags a dry run needs besides the job's own.
var DryRunFlags = map[string]string{
	"runner": "dataflow", "dry_run": "true", "project": "adclick-test",
	"region": "us-central1", "staging_location": "gs://adclick-test-dataflow/staging",
}

// Result is what a dry run printed: the Dataflow job (environment, type,
// experiments) and the Beam pipeline it carries (with portable job
// submission the steps travel as this model, not as v1b3 steps).
type Result struct {
	Job      *df.Job
	Pipeline *pipepb.Pipeline
}

// Translate sets flags (DryRunFlags, then extra) on the process's flag set,
// builds the pipeline with build, runs it on the Dataflow runner as a dry
// run, and returns what it printed. Flags are restored afterwards.
// Flags are process-wide: do not call it from parallel tests.
func Translate(ctx context.Context, extra map[string]string, build func() *beam.Pipeline) (*Result, error) {
	return Capture(extra, func() error {
		_, err := dataflow.Execute(ctx, build())
		return err
	})
}

// Capture is Translate for a program that runs its pipeline itself: with
// the flags set, run calls beamx.Run (or dataflow.Execute) on its own.
func Capture(extra map[string]string, run func() error) (*Result, error) {
	restore, err := setFlags(DryRunFlags, extra)
	defer restore()
	if err != nil {
		return nil, err
	}
	c := &capture{}
	log.SetLogger(c)
	defer log.SetLogger(&log.Standard{})
	if err := run(); err != nil {
		return nil, fmt.Errorf("dry run on the dataflow runner: %w", err)
	}
	return c.result()
}

// Transforms returns the pipeline's leaf transforms by unique name: the
// names Dataflow matches steps by when a job is updated in place.
func (r *Result) Transforms() map[string]*pipepb.PTransform {
	out := map[string]*pipepb.PTransform{}
	for _, t := range r.Pipeline.GetComponents().GetTransforms() {
		if len(t.GetSubtransforms()) == 0 {
			out[t.GetUniqueName()] = t
		}
	}
	return out
}

// ByURN returns the leaf transforms of one kind (graphx.URNParDo, ...).
func (r *Result) ByURN(urn string) []*pipepb.PTransform {
	var out []*pipepb.PTransform
	for _, t := range r.Transforms() {
		if t.GetSpec().GetUrn() == urn {
			out = append(out, t)
		}
	}
	return out
}

// DecodeUserFns decodes every DoFn and CombineFn as a worker does before
// it runs a bundle (the type and function lookups included): an
// unregistered function or type fails here instead of on Dataflow.
func (r *Result) DecodeUserFns() error {
	for name, t := range r.Transforms() {
		var data string
		switch t.GetSpec().GetUrn() {
		case graphx.URNParDo:
			var pardo pipepb.ParDoPayload
			if err := proto.Unmarshal(t.GetSpec().GetPayload(), &pardo); err != nil {
				return fmt.Errorf("%s: ParDo payload: %w", name, err)
			}
			if pardo.GetDoFn().GetUrn() != graphx.URNDoFn {
				continue // a runner-provided function (an SDF's expansion etc.)
			}
			data = string(pardo.GetDoFn().GetPayload())
		case graphx.URNCombinePerKey:
			var cmb pipepb.CombinePayload
			if err := proto.Unmarshal(t.GetSpec().GetPayload(), &cmb); err != nil {
				return fmt.Errorf("%s: combine payload: %w", name, err)
			}
			data = string(cmb.GetCombineFn().GetPayload())
		default:
			continue
		}
		var tp v1pb.TransformPayload
		if err := protox.DecodeBase64(data, &tp); err != nil {
			return fmt.Errorf("%s: transform payload: %w", name, err)
		}
		if _, _, _, _, _, err := graphx.DecodeMultiEdge(tp.GetEdge()); err != nil {
			return fmt.Errorf("%s: a worker could not decode its function: %w", name, err)
		}
	}
	return nil
}

func setFlags(sets ...map[string]string) (func(), error) {
	old := map[string]string{}
	restore := func() {
		for name, v := range old {
			flag.Set(name, v)
		}
	}
	for _, set := range sets {
		for name, v := range set {
			f := flag.Lookup(name)
			if f == nil {
				return restore, fmt.Errorf("no flag --%s in this program", name)
			}
			if _, seen := old[name]; !seen {
				old[name] = f.Value.String()
			}
			if err := flag.Set(name, v); err != nil {
				return restore, fmt.Errorf("--%s=%s: %w", name, v, err)
			}
		}
	}
	return restore, nil
}

// capture keeps what the runner logs; the dry run logs the job as JSON.
type capture struct {
	mu   sync.Mutex
	msgs []string
}

func (c *capture) Log(_ context.Context, _ log.Severity, _ int, msg string) {
	c.mu.Lock()
	c.msgs = append(c.msgs, msg)
	c.mu.Unlock()
}

func (c *capture) result() (*Result, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	r := &Result{}
	for _, m := range c.msgs {
		var j df.Job
		var p pipepb.Pipeline
		switch {
		case strings.HasPrefix(strings.TrimSpace(m), "{"):
			if err := json.Unmarshal([]byte(m), &j); err == nil && j.Name != "" {
				r.Job = &j
			}
		case strings.Contains(m, "components"):
			if err := prototext.Unmarshal([]byte(m), &p); err == nil && len(p.GetComponents().GetTransforms()) > 0 {
				r.Pipeline = &p
			}
		}
	}
	if r.Job == nil || r.Pipeline == nil {
		return nil, fmt.Errorf("the dry run printed no job or no pipeline (%d messages)", len(c.msgs))
	}
	return r, nil
}
