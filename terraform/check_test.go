// Package terraform holds the checks that keep the deployment and the
// code in step, run by `make tf-check` (and so `make test`) without a
// cloud account: every flag Terraform or a Flex Template passes exists in
// the binary, every flag the deployment must set is set, every resource
// name the code expects is the one Terraform creates, and the BigQuery
// schemas are the ones internal/warehouse defines.
package terraform

import (
	"bytes"
	"encoding/json"
	"flag"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strings"
	"testing"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hclparse"
	"github.com/hashicorp/hcl/v2/hclsyntax"

	"github.com/adclick/adclick/internal/btschema"
	"github.com/adclick/adclick/internal/gcpnames"
	"github.com/adclick/adclick/internal/rawarchive"
	"github.com/adclick/adclick/internal/warehouse"
	redirectapp "github.com/adclick/adclick/redirect/app"
	reportsapp "github.com/adclick/adclick/reports/app"
)

// config is every .tf file of this folder, parsed.
type config struct {
	blocks []*hclsyntax.Block
}

func load(t *testing.T) config {
	t.Helper()
	files, _ := filepath.Glob("*.tf")
	if len(files) == 0 {
		t.Fatal("no .tf files")
	}
	p := hclparse.NewParser()
	var c config
	for _, f := range files {
		file, diags := p.ParseHCLFile(f)
		if diags.HasErrors() {
			t.Fatalf("%s: %v", f, diags)
		}
		c.blocks = append(c.blocks, file.Body.(*hclsyntax.Body).Blocks...)
	}
	return c
}

// resource returns the body of resource typ.name.
func (c config) resource(t *testing.T, typ, name string) *hclsyntax.Body {
	t.Helper()
	for _, b := range c.blocks {
		if b.Type == "resource" && len(b.Labels) == 2 && b.Labels[0] == typ && b.Labels[1] == name {
			return b.Body
		}
	}
	t.Fatalf("no resource %s.%s", typ, name)
	return nil
}

// nested walks into nested blocks by type.
func nested(t *testing.T, body *hclsyntax.Body, path ...string) *hclsyntax.Body {
	t.Helper()
	for _, typ := range path {
		var next *hclsyntax.Body
		for _, b := range body.Blocks {
			if b.Type == typ {
				next = b.Body
				break
			}
		}
		if next == nil {
			t.Fatalf("no block %s", typ)
		}
		body = next
	}
	return body
}

// literalPrefix is the leading literal text of a template expression.
func literalPrefix(e hclsyntax.Expression) string {
	switch x := e.(type) {
	case *hclsyntax.TemplateExpr:
		if len(x.Parts) > 0 {
			return literalPrefix(x.Parts[0])
		}
	case *hclsyntax.LiteralValueExpr:
		if x.Val.Type().FriendlyName() == "string" {
			return x.Val.AsString()
		}
	}
	return ""
}

// objectKeys are the literal keys of an object constructor.
func objectKeys(t *testing.T, e hclsyntax.Expression) []string {
	t.Helper()
	obj, ok := e.(*hclsyntax.ObjectConsExpr)
	if !ok {
		t.Fatalf("%T is not an object", e)
	}
	var keys []string
	for _, item := range obj.Items {
		k, diags := item.KeyExpr.Value(nil)
		if diags.HasErrors() {
			t.Fatalf("object key: %v", diags)
		}
		keys = append(keys, k.AsString())
	}
	return keys
}

// objectItem is the value of key in an object constructor.
func objectItem(t *testing.T, e hclsyntax.Expression, key string) hclsyntax.Expression {
	t.Helper()
	obj, ok := e.(*hclsyntax.ObjectConsExpr)
	if !ok {
		t.Fatalf("%T is not an object", e)
	}
	for _, item := range obj.Items {
		if k, _ := item.KeyExpr.Value(nil); k.AsString() == key {
			return item.ValueExpr
		}
	}
	t.Fatalf("no key %s", key)
	return nil
}

// unwrap strips function calls (base64encode, jsonencode) down to their
// only argument.
func unwrap(e hclsyntax.Expression) hclsyntax.Expression {
	for {
		call, ok := e.(*hclsyntax.FunctionCallExpr)
		if !ok || len(call.Args) != 1 {
			return e
		}
		e = call.Args[0]
	}
}

// argFlags are the flag names of a container's args ("-name=value").
func argFlags(t *testing.T, body *hclsyntax.Body) []string {
	t.Helper()
	list, ok := body.Attributes["args"].Expr.(*hclsyntax.TupleConsExpr)
	if !ok {
		t.Fatal("args is not a list")
	}
	var names []string
	for _, e := range list.Exprs {
		p := literalPrefix(e)
		name, _, ok := strings.Cut(strings.TrimLeft(p, "-"), "=")
		if !ok || !strings.HasPrefix(p, "-") {
			t.Fatalf("arg %q is not -flag=value", p)
		}
		names = append(names, name)
	}
	return names
}

func flagNames(fs *flag.FlagSet) map[string]bool {
	names := map[string]bool{}
	fs.VisitAll(func(f *flag.Flag) { names[f.Name] = true })
	return names
}

// binaryFlags builds a main package and reads the flags its -help lists.
func binaryFlags(t *testing.T, pkg string) map[string]bool {
	t.Helper()
	_, types := buildBinary(t, pkg)
	names := map[string]bool{}
	for n := range types {
		names[n] = true
	}
	return names
}

// buildBinary builds a main package and returns it with its flags' types
// as -help lists them ("string", "int", "duration"; "" for a bool).
func buildBinary(t *testing.T, pkg string) (string, map[string]string) {
	t.Helper()
	bin := filepath.Join(t.TempDir(), filepath.Base(pkg))
	if out, err := exec.Command("go", "build", "-o", bin, "github.com/adclick/adclick/"+pkg).CombinedOutput(); err != nil {
		t.Fatalf("build %s: %v\n%s", pkg, err, out)
	}
	var out bytes.Buffer
	cmd := exec.Command(bin, "-help")
	cmd.Stdout, cmd.Stderr = &out, &out
	cmd.Run() // -help exits 2
	types := map[string]string{}
	for _, m := range regexp.MustCompile(`(?m)^\s+-([A-Za-z0-9_.-]+)(?: ([a-z0-9]+))?$`).FindAllStringSubmatch(out.String(), -1) {
		types[m[1]] = m[2]
	}
	if len(types) == 0 {
		t.Fatalf("%s -help listed no flags:\n%s", pkg, out.String())
	}
	return bin, types
}

func checkFlags(t *testing.T, who string, passed []string, defined map[string]bool, required []string) {
	t.Helper()
	for _, name := range passed {
		if !defined[name] {
			t.Errorf("%s: passes -%s, which the binary does not define", who, name)
		}
	}
	for _, name := range required {
		if !slices.Contains(passed, name) {
			t.Errorf("%s: does not pass -%s, which the deployment needs", who, name)
		}
	}
}

func TestCloudRunArgs(t *testing.T) {
	c := load(t)
	var rf redirectapp.Flags
	checkFlags(t, "cloud run redirect", argFlags(t, nested(t, c.resource(t, "google_cloud_run_v2_service", "redirect"), "template", "containers")),
		flagNames(redirectapp.NewFlagSet(&rf)),
		[]string{"listen", "public-base-url", "project", "topic", "catalog", "token-keys-file", "user-key-pepper-file", "ad-server-secrets-file", "spool-dir"})
	var pf reportsapp.Flags
	checkFlags(t, "cloud run reports", argFlags(t, nested(t, c.resource(t, "google_cloud_run_v2_service", "reports"), "template", "containers")),
		flagNames(reportsapp.NewFlagSet(&pf)),
		[]string{"listen", "project", "bigtable-instance", "catalog", "api-key-pepper-file"})
}

// metadataParams are the parameter names of a Flex Template's metadata.
func metadataParams(t *testing.T, file string) []string {
	t.Helper()
	data, err := os.ReadFile(filepath.Join("..", "deploy", file))
	if err != nil {
		t.Fatal(err)
	}
	var md struct{ Parameters []struct{ Name string } }
	if err := json.Unmarshal(data, &md); err != nil {
		t.Fatalf("%s: %v", file, err)
	}
	var names []string
	for _, p := range md.Parameters {
		names = append(names, p.Name)
	}
	return names
}

func TestPipelineParameters(t *testing.T) {
	c := load(t)
	streaming := binaryFlags(t, "pipelines/streaming")
	stream := c.resource(t, "google_dataflow_flex_template_job", "streaming")
	checkFlags(t, "streaming flex template job", objectKeys(t, stream.Attributes["parameters"].Expr), streaming,
		[]string{"subscription", "dead_letter_topic", "bigtable_instance"})
	checkFlags(t, "streaming template metadata", metadataParams(t, "streaming-metadata.json"), streaming,
		[]string{"subscription", "dead_letter_topic", "bigtable_instance", "dedupe_shards"})

	batch := binaryFlags(t, "pipelines/batch")
	body := unwrap(nested(t, c.resource(t, "google_cloud_scheduler_job", "batch"), "http_target").Attributes["body"].Expr)
	params := objectItem(t, objectItem(t, body, "launchParameter"), "parameters")
	checkFlags(t, "nightly batch scheduler", objectKeys(t, params), batch,
		[]string{"archive", "output", "bigtable_instance", "bigquery_dataset"})
	checkFlags(t, "batch template metadata", metadataParams(t, "batch-metadata.json"), batch,
		[]string{"date", "from", "to", "archive", "output", "bigtable_instance", "bigquery_dataset"})
}

// TestNamesMatchCode: the names Terraform creates are the ones the code
// uses.
func TestNamesMatchCode(t *testing.T) {
	c := load(t)
	var names hclsyntax.Expression
	for _, b := range c.blocks {
		if b.Type == "locals" {
			if a, ok := b.Body.Attributes["names"]; ok {
				names = a.Expr
			}
		}
	}
	if names == nil {
		t.Fatal("no locals.names")
	}
	want := map[string]string{
		"clicks_topic":                  gcpnames.ClicksTopic,
		"streaming_subscription":        gcpnames.StreamingSubscription,
		"archive_subscription":          gcpnames.ArchiveSubscription,
		"dead_letter_topic":             gcpnames.DeadLetterTopic,
		"dead_letter_subscription":      gcpnames.DeadLetterSubscription,
		"bigtable_instance":             gcpnames.BigtableInstance,
		"bigtable_table":                btschema.Table,
		"bigquery_dataset":              warehouse.Dataset,
		"archive_filename_prefix":       rawarchive.FilenamePrefix,
		"archive_filename_suffix":       rawarchive.FilenameSuffix,
		"archive_filename_datetime_fmt": rawarchive.FilenameDatetimeFormat,
	}
	keys := objectKeys(t, names)
	for k, v := range want {
		if !slices.Contains(keys, k) {
			t.Errorf("locals.names has no %s (the code uses %q)", k, v)
			continue
		}
		got, diags := objectItem(t, names, k).Value(nil)
		if diags.HasErrors() || got.AsString() != v {
			t.Errorf("locals.names.%s = %v, the code uses %q", k, got.GoString(), v)
		}
	}
	// The Bigtable families and their GC rules are btschema's.
	var families []string
	for _, b := range c.resource(t, "google_bigtable_table", "clicks").Blocks {
		if b.Type == "column_family" {
			v, _ := b.Body.Attributes["family"].Expr.Value(nil)
			families = append(families, v.AsString())
		}
	}
	var code []string
	for f := range btschema.Families() {
		code = append(code, f)
	}
	sort.Strings(families)
	sort.Strings(code)
	if !slices.Equal(families, code) {
		t.Errorf("bigtable families %v, btschema has %v", families, code)
	}
}

func TestBigQuerySchemasAreWarehouses(t *testing.T) {
	f, err := os.Open(filepath.Join("schemas", "bigquery.json"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	got, _ := io.ReadAll(f)
	want, err := warehouse.TerraformJSON()
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, want) {
		t.Error("terraform/schemas/bigquery.json is stale: go run ./cmd/tfschemas > terraform/schemas/bigquery.json")
	}
}

// TestParametersTranslateForDataflow launches each binary the way the
// deployment does (the streaming job's parameters, the scheduler's launch
// body) but with --dry_run: the values must parse and the job must
// translate, offline. Interpolated values get a placeholder of the flag's
// type; the nightly's archive and output become local folders, since
// listing a bucket needs the network.
func TestParametersTranslateForDataflow(t *testing.T) {
	c := load(t)
	bin, types := buildBinary(t, "pipelines/streaming")
	stream := c.resource(t, "google_dataflow_flex_template_job", "streaming")
	out := dryRun(t, bin, paramArgs(t, stream.Attributes["parameters"].Expr, types, nil))
	if !strings.Contains(out, "JOB_TYPE_STREAMING") || !strings.Contains(out, "enable_streaming_engine") {
		t.Errorf("streaming dry run printed no streaming job with Streaming Engine:\n%.3000s", out)
	}

	bin, types = buildBinary(t, "pipelines/batch")
	body := unwrap(nested(t, c.resource(t, "google_cloud_scheduler_job", "batch"), "http_target").Attributes["body"].Expr)
	params := objectItem(t, objectItem(t, body, "launchParameter"), "parameters")
	archive, output := t.TempDir(), t.TempDir()
	out = dryRun(t, bin, append(paramArgs(t, params, types, map[string]string{"archive": archive, "output": output}), "--date=2026-11-26"))
	if !strings.Contains(out, "JOB_TYPE_BATCH") {
		t.Errorf("batch dry run printed no batch job:\n%.3000s", out)
	}
	if names, _ := os.ReadDir(output); len(names) != 0 {
		t.Errorf("the batch dry run wrote %d entries into its output", len(names))
	}
}

// paramArgs turns a parameters object into --name=value arguments.
func paramArgs(t *testing.T, params hclsyntax.Expression, types map[string]string, override map[string]string) []string {
	t.Helper()
	placeholder := map[string]string{"": "true", "int": "1", "duration": "1m", "float": "1", "string": "placeholder"}
	var args []string
	for _, name := range objectKeys(t, params) {
		v, ok := override[name]
		if !ok {
			if lit, diags := objectItem(t, params, name).Value(nil); !diags.HasErrors() && lit.Type().FriendlyName() == "string" {
				v = lit.AsString()
			} else {
				v = placeholder[types[name]]
			}
		}
		args = append(args, "--"+name+"="+v)
	}
	return args
}

// dryRun runs a pipeline binary for Dataflow with --dry_run and returns
// what it printed.
func dryRun(t *testing.T, bin string, args []string) string {
	t.Helper()
	cmd := exec.Command(bin, append([]string{"--runner=dataflow", "--dry_run", "--project=adclick-test", "--region=us-central1",
		"--staging_location=gs://adclick-test-dataflow/staging"}, args...)...)
	// Nothing may be dialled; an unreachable emulator address would show it.
	cmd.Env = append(os.Environ(), "BIGTABLE_EMULATOR_HOST=127.0.0.1:1", "PUBSUB_EMULATOR_HOST=127.0.0.1:1")
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("%s %v: %v\n%s", filepath.Base(bin), args, err, out)
	}
	return string(out)
}

// TestDashboardShowsEveryAlert: each alert's metric is on the operations
// dashboard, so whoever is paged finds it there.
func TestDashboardShowsEveryAlert(t *testing.T) {
	tf, err := os.ReadFile("monitoring.tf")
	if err != nil {
		t.Fatal(err)
	}
	dash, err := os.ReadFile("dashboard.json")
	if err != nil {
		t.Fatal(err)
	}
	var d struct {
		MosaicLayout struct {
			Tiles []struct {
				Widget struct {
					XYChart struct {
						DataSets []struct {
							TimeSeriesQuery struct {
								TimeSeriesFilter struct{ Filter string }
							}
						}
					}
				}
			}
		}
	}
	if err := json.Unmarshal(dash, &d); err != nil {
		t.Fatalf("dashboard.json: %v", err)
	}
	onDashboard := map[string]bool{}
	metric := regexp.MustCompile(`metric\.type\s*=\s*\\?"([^"\\]+)\\?"`)
	for _, tile := range d.MosaicLayout.Tiles {
		for _, ds := range tile.Widget.XYChart.DataSets {
			for _, m := range metric.FindAllStringSubmatch(ds.TimeSeriesQuery.TimeSeriesFilter.Filter, -1) {
				onDashboard[m[1]] = true
			}
		}
	}
	alerts := metric.FindAllStringSubmatch(string(tf), -1)
	if len(alerts) < 7 || len(onDashboard) == 0 {
		t.Fatalf("%d alert metrics, %d dashboard metrics: the parse found too few", len(alerts), len(onDashboard))
	}
	for _, m := range alerts {
		if !onDashboard[m[1]] {
			t.Errorf("alert metric %s is not on the dashboard", m[1])
		}
	}
}

// TestStreamingJobWaitsForItsGrants: every grant to the streaming job's
// account (a resource whose member is google_service_account.streaming,
// or the pipelines' shared grants) is in the streaming job's depends_on,
// so the job never starts before its rights exist.
func TestStreamingJobWaitsForItsGrants(t *testing.T) {
	c := load(t)
	job := c.resource(t, "google_dataflow_flex_template_job", "streaming")
	deps := map[string]bool{}
	list, ok := job.Attributes["depends_on"].Expr.(*hclsyntax.TupleConsExpr)
	if !ok {
		t.Fatal("the streaming job has no depends_on list")
	}
	for _, e := range list.Exprs {
		tr, ok := e.(*hclsyntax.ScopeTraversalExpr)
		if !ok {
			t.Fatalf("depends_on entry %T is not a resource", e)
		}
		var name []string
		for _, step := range tr.Traversal {
			switch s := step.(type) {
			case hcl.TraverseRoot:
				name = append(name, s.Name)
			case hcl.TraverseAttr:
				name = append(name, s.Name)
			}
		}
		deps[strings.Join(name, ".")] = true
	}
	var grants int
	for _, b := range c.blocks {
		if b.Type != "resource" || len(b.Labels) != 2 || !strings.Contains(b.Labels[0], "iam_member") {
			continue
		}
		m, ok := b.Body.Attributes["member"]
		if !ok {
			continue
		}
		mine := strings.HasPrefix(b.Labels[1], "pipelines_") // for_each over both jobs' accounts
		for _, ref := range m.Expr.Variables() {
			if ref.RootName() == "google_service_account" {
				if attr, ok := ref[1].(hcl.TraverseAttr); ok && attr.Name == "streaming" {
					mine = true
				}
			}
		}
		if !mine {
			continue
		}
		grants++
		if name := b.Labels[0] + "." + b.Labels[1]; !deps[name] {
			t.Errorf("the streaming job does not depend on %s", name)
		}
	}
	if grants < 8 {
		t.Fatalf("found %d grants to the streaming job's account: the parse is off", grants)
	}
}

// TestStreamingJobSetsNoReplacingAttribute: the provider replaces a Flex
// Template job (losing its state) when max_workers or num_workers change
// (ForceNew at v7.45.0); the configuration passes max workers as the
// max_num_workers parameter instead, which updates in place.
func TestStreamingJobSetsNoReplacingAttribute(t *testing.T) {
	job := load(t).resource(t, "google_dataflow_flex_template_job", "streaming")
	for _, name := range []string{"max_workers", "num_workers"} {
		if _, ok := job.Attributes[name]; ok {
			t.Errorf("the streaming job sets %s, which replaces the job on any change; pass it as a parameter", name)
		}
	}
	if !slices.Contains(objectKeys(t, job.Attributes["parameters"].Expr), "max_num_workers") {
		t.Error("the streaming job's parameters lack max_num_workers")
	}
}
