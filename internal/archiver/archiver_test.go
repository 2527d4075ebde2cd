package archiver

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"regexp"
	"strconv"
	"sync/atomic"
	"testing"
	"time"

	"cloud.google.com/go/pubsub/v2"
	"cloud.google.com/go/pubsub/v2/apiv1/pubsubpb"

	"github.com/adclick/adclick/internal/blob"
	"github.com/adclick/adclick/internal/gcpnames"
	"github.com/adclick/adclick/internal/localstack"
	"github.com/adclick/adclick/internal/localstack/lstest"
	"github.com/adclick/adclick/internal/rawarchive"
)

const project = gcpnames.LocalProject

var subName = localstack.SubscriptionName(project, gcpnames.ArchiveSubscription)

// documentedName is the managed subscription's file naming with our
// settings: prefix clicks/, filename_datetime_format YYYY-MM-DD/hh_mm_ssZ,
// then "_", a UUID, and the suffix .avro.
var documentedName = regexp.MustCompile(`^clicks/\d{4}-\d{2}-\d{2}/\d{2}_\d{2}_\d{2}Z_[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}\.avro$`)

type harness struct {
	st    *localstack.Stack
	ps    *pubsub.Client
	store blob.Store
}

func newHarness(t *testing.T) *harness {
	t.Helper()
	st := lstest.Start(t)
	ps, err := pubsub.NewClient(context.Background(), project)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ps.Close() })
	store, err := blob.Open(context.Background(), t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	return &harness{st: st, ps: ps, store: store}
}

// publish sends n messages and returns them by message id.
func (h *harness) publish(t *testing.T, n int) map[string]*pubsubpb.PubsubMessage {
	t.Helper()
	msgs := make([]*pubsubpb.PubsubMessage, n)
	for i := range msgs {
		msgs[i] = &pubsubpb.PubsubMessage{Data: []byte(`{"n":` + strconv.Itoa(i) + `}`), Attributes: map[string]string{"i": strconv.Itoa(i), "click_id": "c" + strconv.Itoa(i)}}
	}
	resp, err := h.ps.TopicAdminClient.Publish(context.Background(), &pubsubpb.PublishRequest{Topic: localstack.TopicName(project, gcpnames.ClicksTopic), Messages: msgs})
	if err != nil {
		t.Fatal(err)
	}
	byID := map[string]*pubsubpb.PubsubMessage{}
	for i, id := range resp.MessageIds {
		byID[id] = msgs[i]
	}
	return byID
}

func (h *harness) start(t *testing.T, cfg Config) (stop func() error) {
	t.Helper()
	cfg.Subscription = subName
	a, err := New(cfg, h.ps, h.store, slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- a.Run(ctx) }()
	return func() error { cancel(); return <-done }
}

// waitDelivered waits until the archiver has pulled every message.
func (h *harness) waitDelivered(t *testing.T, sent map[string]*pubsubpb.PubsubMessage) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		delivered := 0
		for id := range sent {
			if h.st.PubSub.Message(id).Deliveries > 0 {
				delivered++
			}
		}
		if delivered == len(sent) {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d of %d messages pulled after 10 s", delivered, len(sent))
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func (h *harness) acked(ids map[string]*pubsubpb.PubsubMessage) int {
	n := 0
	for id := range ids {
		if m := h.st.PubSub.Message(id); m != nil && m.Acks > 0 {
			n++
		}
	}
	return n
}

func (h *harness) files(t *testing.T) []string {
	t.Helper()
	now := time.Now()
	files, err := rawarchive.List(context.Background(), h.store, now.Add(-time.Hour), now.Add(time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	return files
}

// TestArchiveMatchesManagedFormat checks the local files against the
// documented contract of a Cloud Storage subscription with Avro and
// metadata: names, schema, and every field of every message, each once.
func TestArchiveMatchesManagedFormat(t *testing.T) {
	h := newHarness(t)
	sent := h.publish(t, 300)
	stop := h.start(t, Config{MaxDuration: time.Minute, MaxBytes: 1024})
	h.waitDelivered(t, sent)
	if err := stop(); err != nil {
		t.Fatal(err)
	}
	files := h.files(t)
	if len(files) < 2 {
		t.Fatalf("%d files for 300 messages with max bytes 1024, want rotation into several", len(files))
	}
	seen := map[string]int{}
	for _, name := range files {
		if !documentedName.MatchString(name) {
			t.Errorf("file name %q does not follow <prefix><YYYY-MM-DD/hh_mm_ssZ>_<uuid><suffix>", name)
		}
		started, err := rawarchive.ParseObjectName(name)
		if err != nil || time.Since(started) > time.Minute || time.Until(started) > time.Second {
			t.Errorf("file %s: start time %v, %v; want within the last minute", name, started, err)
		}
		data := h.read(t, name)
		schema, err := rawarchive.SchemaOf(bytes.NewReader(data))
		if err != nil {
			t.Fatal(err)
		}
		assertDocumentedSchema(t, schema)
		err = rawarchive.Read(bytes.NewReader(data), func(r *rawarchive.Record) error {
			seen[r.MessageID]++
			want, ok := sent[r.MessageID]
			switch {
			case !ok:
				t.Errorf("file %s holds unknown message %s", name, r.MessageID)
			case r.Subscription != subName:
				t.Errorf("message %s: subscription_name %q, want %q", r.MessageID, r.Subscription, subName)
			case string(r.Data) != string(want.Data) || r.Attributes["i"] != want.Attributes["i"] || r.Attributes["click_id"] != want.Attributes["click_id"] || len(r.Attributes) != 2:
				t.Errorf("message %s: data %s attributes %v, want %s %v", r.MessageID, r.Data, r.Attributes, want.Data, want.Attributes)
			case !r.PublishTime.Equal(h.st.PubSub.Message(r.MessageID).PublishTime.Truncate(time.Microsecond)):
				t.Errorf("message %s: publish_time %v, want %v", r.MessageID, r.PublishTime, h.st.PubSub.Message(r.MessageID).PublishTime)
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	for id := range sent {
		if seen[id] != 1 {
			t.Errorf("message %s archived %d times, want once", id, seen[id])
		}
	}
}

func (h *harness) read(t *testing.T, name string) []byte {
	t.Helper()
	r, err := h.store.Open(context.Background(), name)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	data, err := io.ReadAll(r)
	if err != nil {
		t.Fatal(err)
	}
	return data
}

// assertDocumentedSchema compares a file's schema with the documented
// fields of a Cloud Storage subscription's Avro output with metadata.
func assertDocumentedSchema(t *testing.T, schema string) {
	t.Helper()
	var got struct {
		Type   string `json:"type"`
		Fields []struct {
			Name string          `json:"name"`
			Type json.RawMessage `json:"type"`
		} `json:"fields"`
	}
	if err := json.Unmarshal([]byte(schema), &got); err != nil {
		t.Fatalf("schema %s: %v", schema, err)
	}
	want := []struct{ name, typ string }{
		{"subscription_name", `"string"`},
		{"message_id", `"string"`},
		{"publish_time", `{"type":"long","logicalType":"timestamp-micros"}`},
		{"attributes", `{"type":"map","values":"string"}`},
		{"data", `"bytes"`},
	}
	if got.Type != "record" || len(got.Fields) != len(want) {
		t.Fatalf("schema %s: want a record of %d fields", schema, len(want))
	}
	for i, w := range want {
		var a, b any
		json.Unmarshal(got.Fields[i].Type, &a)
		json.Unmarshal([]byte(w.typ), &b)
		ja, _ := json.Marshal(a)
		jb, _ := json.Marshal(b)
		if got.Fields[i].Name != w.name || string(ja) != string(jb) {
			t.Errorf("field %d = %s %s, want %s %s", i, got.Fields[i].Name, ja, w.name, jb)
		}
	}
}

// TestAcksOnlyAfterTheFileIsWritten: messages in an open file stay
// unacknowledged and invisible until the file is closed.
func TestAcksOnlyAfterTheFileIsWritten(t *testing.T) {
	h := newHarness(t)
	sent := h.publish(t, 50)
	// The clock counts the archiver's steps: each reads it while a file
	// is open.
	var steps atomic.Int64
	stop := h.start(t, Config{MaxDuration: 10 * time.Minute, MaxBytes: 1 << 30, Now: func() time.Time { steps.Add(1); return time.Now() }})
	h.waitDelivered(t, sent)
	// Wait until the archiver has gone round its loop a few times with
	// the messages in its open file: had it meant to ack them, it would
	// have.
	deadline := time.Now().Add(30 * time.Second)
	for after := steps.Load() + 6; steps.Load() < after; time.Sleep(10 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("the archiver stopped stepping")
		}
	}
	if n := h.acked(sent); n != 0 {
		t.Errorf("%d messages acknowledged while their file is still open", n)
	}
	if files := h.files(t); len(files) != 0 {
		t.Errorf("files visible before the first closed: %v", files)
	}
	if err := stop(); err != nil {
		t.Fatal(err)
	}
	if n := h.acked(sent); n != len(sent) {
		t.Errorf("%d of %d acknowledged after the file closed", n, len(sent))
	}
	if files := h.files(t); len(files) != 1 {
		t.Errorf("files after stop: %v, want one", files)
	}
}

func TestConfigLimits(t *testing.T) {
	for _, c := range []Config{
		{MaxDuration: 59 * time.Second, MaxBytes: 1024},
		{MaxDuration: 11 * time.Minute, MaxBytes: 1024},
		{MaxDuration: time.Minute, MaxBytes: 1023},
	} {
		if err := c.Validate(); err == nil {
			t.Errorf("Validate(%+v) = nil, want the managed subscription's limits enforced", c)
		}
	}
	if err := (Config{MaxDuration: 10 * time.Minute, MaxBytes: 1024}).Validate(); err != nil {
		t.Errorf("limits themselves refused: %v", err)
	}
}

// TestCrashMidFile: an archiver dies with a file open. Its temporary file
// is removed by the next one, and the messages, never acknowledged, come
// back once their lease lapses and land in exactly one finished file.
func TestCrashMidFile(t *testing.T) {
	h := newHarness(t)
	sent := h.publish(t, 50)
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	cfg := Config{Subscription: subName, MaxDuration: 10 * time.Minute, MaxBytes: 1 << 30, Lease: 10 * time.Second}
	dead, err := New(cfg, h.ps, h.store, log)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	for i := 0; i < 20 && (dead.file == nil || len(dead.file.ackIDs) < len(sent)); i++ {
		if err := dead.step(ctx); err != nil {
			t.Fatal(err)
		}
	}
	if err := dead.step(ctx); err != nil { // renews the lease to 10 s
		t.Fatal(err)
	}
	// The process dies here: no rotate, no acks.
	if n := h.acked(sent); n != 0 {
		t.Fatalf("%d acknowledged before any file was written", n)
	}
	if n, err := blob.RemoveUnfinished(h.store); err != nil || n != 1 {
		t.Fatalf("RemoveUnfinished = %d, %v; want the dead archiver's file", n, err)
	}
	stop := h.start(t, cfg)
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		delivered := 0
		for id := range sent {
			if h.st.PubSub.Message(id).Deliveries > 1 {
				delivered++
			}
		}
		if delivered == len(sent) {
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	if err := stop(); err != nil {
		t.Fatal(err)
	}
	files := h.files(t)
	seen := map[string]int{}
	for _, name := range files {
		rawarchive.Read(bytes.NewReader(h.read(t, name)), func(r *rawarchive.Record) error { seen[r.MessageID]++; return nil })
	}
	for id := range sent {
		if seen[id] != 1 {
			t.Errorf("message %s in %d finished files, want 1", id, seen[id])
		}
	}
	if n := h.acked(sent); n != len(sent) {
		t.Errorf("%d of %d acknowledged in the end", n, len(sent))
	}
}
