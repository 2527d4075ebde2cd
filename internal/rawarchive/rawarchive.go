// Package rawarchive is the raw click archive's format: the files a Pub/Sub
// Cloud Storage subscription writes in production, which the local
// archiver reproduces and the nightly batch reads.
//
// The subscription (see terraform/) writes Avro with metadata
// (avro_config.write_metadata = true): one Avro object container file per
// rotation, each record a message with these fields, in this order:
//
//	subscription_name  string   the subscription's full resource name
//	message_id         string   Pub/Sub's message id
//	publish_time       long     timestamp-micros, when Pub/Sub accepted it
//	attributes         map      string values; the click's attributes
//	data               bytes    the click event (JSON, see clickevent)
//
// Objects are named <prefix><UTC date time>_<uuid><suffix>, with the date
// time in the subscription's filename_datetime_format; ours puts each day
// in its own folder: clicks/2026-11-27/13_05_00Z_<uuid>.avro. The date time
// is when the file was started. A file holds the messages received within
// its max duration (1 to 10 minutes) or until max bytes, whichever comes
// first.
package rawarchive

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"regexp"
	"time"

	"github.com/linkedin/goavro/v2"

	"github.com/adclick/adclick/internal/blob"
)

// Schema is the Avro schema of a Cloud Storage subscription's records
// with write_metadata.
const Schema = `{
  "type": "record",
  "name": "PubsubMessage",
  "fields": [
    {"name": "subscription_name", "type": "string"},
    {"name": "message_id", "type": "string"},
    {"name": "publish_time", "type": {"type": "long", "logicalType": "timestamp-micros"}},
    {"name": "attributes", "type": {"type": "map", "values": "string"}},
    {"name": "data", "type": "bytes"}
  ]
}`

// Naming, as the subscription is configured in terraform/pubsub.tf.
const (
	FilenamePrefix         = "clicks/"
	FilenameSuffix         = ".avro"
	FilenameDatetimeFormat = "YYYY-MM-DD/hh_mm_ssZ"
	// goLayout is FilenameDatetimeFormat in Go's notation.
	goLayout = "2006-01-02/15_04_05Z"
)

// Rotation limits of the managed subscription, which the local archiver
// enforces on its flags too.
const (
	MinDuration = time.Minute
	MaxDuration = 10 * time.Minute
	MinBytes    = 1024
)

// Record is one archived message.
type Record struct {
	Subscription string
	MessageID    string
	PublishTime  time.Time
	Attributes   map[string]string
	Data         []byte
}

var codec = mustCodec()

func mustCodec() *goavro.Codec {
	c, err := goavro.NewCodec(Schema)
	if err != nil {
		panic(fmt.Sprintf("rawarchive schema: %v", err))
	}
	return c
}

var nameRE = regexp.MustCompile(`^` + regexp.QuoteMeta(FilenamePrefix) + `(\d{4}-\d{2}-\d{2}/\d{2}_\d{2}_\d{2}Z)_([0-9a-f-]{36})` + regexp.QuoteMeta(FilenameSuffix) + `$`)

// ObjectName is the name of a file started at created, with a random id.
func ObjectName(created time.Time, id string) string {
	return FilenamePrefix + created.UTC().Format(goLayout) + "_" + id + FilenameSuffix
}

// ParseObjectName returns the time a file was started, from its name.
func ParseObjectName(name string) (time.Time, error) {
	m := nameRE.FindStringSubmatch(name)
	if m == nil {
		return time.Time{}, fmt.Errorf("archive object %q: not <prefix>%s_<uuid>%s", name, FilenameDatetimeFormat, FilenameSuffix)
	}
	return time.Parse(goLayout, m[1])
}

// List returns the archive files started in [from, to), sorted by name.
func List(ctx context.Context, store blob.Store, from, to time.Time) ([]string, error) {
	var files []string
	for day := from.UTC().Truncate(24 * time.Hour); day.Before(to); day = day.Add(24 * time.Hour) {
		names, err := store.List(ctx, FilenamePrefix+day.Format("2006-01-02")+"/")
		if err != nil {
			return nil, err
		}
		for _, n := range names {
			t, err := ParseObjectName(n)
			if err != nil {
				continue // not an archive file (a stray upload, say)
			}
			if !t.Before(from) && t.Before(to) {
				files = append(files, n)
			}
		}
	}
	return files, nil
}

// Writer appends records to one archive file.
type Writer struct {
	ocf *goavro.OCFWriter
}

// NewWriter starts a file on w.
func NewWriter(w io.Writer) (*Writer, error) {
	ocf, err := goavro.NewOCFWriter(goavro.OCFConfig{W: w, Codec: codec, CompressionName: goavro.CompressionNullLabel})
	if err != nil {
		return nil, fmt.Errorf("start archive file: %w", err)
	}
	return &Writer{ocf: ocf}, nil
}

// Append writes recs as one block.
func (w *Writer) Append(recs []Record) error {
	native := make([]any, len(recs))
	for i, r := range recs {
		attrs := make(map[string]any, len(r.Attributes))
		for k, v := range r.Attributes {
			attrs[k] = v
		}
		native[i] = map[string]any{
			"subscription_name": r.Subscription,
			"message_id":        r.MessageID,
			"publish_time":      r.PublishTime.UTC(),
			"attributes":        attrs,
			"data":              r.Data,
		}
	}
	if err := w.ocf.Append(native); err != nil {
		return fmt.Errorf("append %d records: %w", len(recs), err)
	}
	return nil
}

// Read calls fn for each record of an archive file.
func Read(r io.Reader, fn func(*Record) error) error {
	// The fixed decoder reads the header first: keep the bytes read
	// until it decides, for goavro should the file be of another schema
	// or codec.
	rec := &recorder{r: r, on: true}
	err := readFixed(rec, fn)
	if !errors.Is(err, errNotFixed) {
		return err
	}
	return readGeneric(io.MultiReader(&rec.buf, r), fn)
}

// recorder keeps what is read through it while on.
type recorder struct {
	r   io.Reader
	buf bytes.Buffer
	on  bool
}

func (r *recorder) Read(p []byte) (int, error) {
	n, err := r.r.Read(p)
	if r.on {
		r.buf.Write(p[:n])
	}
	return n, err
}

// stop stops recording and drops what was kept.
func (r *recorder) stop() { r.on, r.buf = false, bytes.Buffer{} }

// readGeneric reads any Avro object container file through goavro,
// resolving the fields by name.
func readGeneric(r io.Reader, fn func(*Record) error) error {
	ocf, err := goavro.NewOCFReader(r)
	if err != nil {
		return fmt.Errorf("read archive file: %w", err)
	}
	var rec Record
	for ocf.Scan() {
		datum, err := ocf.Read()
		if err != nil {
			return fmt.Errorf("read archive record: %w", err)
		}
		if err := fromNative(datum, &rec); err != nil {
			return err
		}
		if err := fn(&rec); err != nil {
			return err
		}
	}
	if err := ocf.Err(); err != nil {
		return fmt.Errorf("read archive file: %w", err)
	}
	return nil
}

// SchemaOf returns the schema a file declares in its header.
func SchemaOf(r io.Reader) (string, error) {
	ocf, err := goavro.NewOCFReader(r)
	if err != nil {
		return "", fmt.Errorf("read archive header: %w", err)
	}
	return ocf.Codec().Schema(), nil
}

func fromNative(datum any, rec *Record) error {
	m, ok := datum.(map[string]any)
	if !ok {
		return fmt.Errorf("archive record is %T, want a record", datum)
	}
	var okS, okID, okT, okA, okD bool
	rec.Subscription, okS = m["subscription_name"].(string)
	rec.MessageID, okID = m["message_id"].(string)
	rec.PublishTime, okT = m["publish_time"].(time.Time)
	attrs, okA := m["attributes"].(map[string]any)
	rec.Data, okD = m["data"].([]byte)
	if !okS || !okID || !okT || !okA || !okD {
		return fmt.Errorf("archive record %v: missing or mistyped fields", m["message_id"])
	}
	rec.Attributes = make(map[string]string, len(attrs))
	for k, v := range attrs {
		s, ok := v.(string)
		if !ok {
			return fmt.Errorf("archive record %s: attribute %s is %T", rec.MessageID, k, v)
		}
		rec.Attributes[k] = s
	}
	return nil
}
