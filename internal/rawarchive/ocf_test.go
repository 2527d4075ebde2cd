package rawarchive

import (
	"bytes"
	"fmt"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/linkedin/goavro/v2"
)

// sampleRecords are records as the archiver writes them, with an odd
// attribute and an empty body among them.
func sampleRecords(n int) []Record {
	recs := make([]Record, n)
	for i := range recs {
		recs[i] = Record{Subscription: "projects/p/subscriptions/clicks-archive", MessageID: fmt.Sprint(i),
			PublishTime: time.UnixMicro(1764244800123456 + int64(i)*997).UTC(),
			Attributes:  map[string]string{"click_id": fmt.Sprintf("%032x", i), "é": strings.Repeat("v", i%70)},
			Data:        []byte(fmt.Sprintf(`{"v":1,"n":%d}`, i))}
	}
	recs[n/2].Data, recs[n/2].Attributes = []byte{}, map[string]string{}
	return recs
}

// goavroFile writes recs with goavro under schema and codec.
func goavroFile(t testing.TB, schema, codec string, recs []Record) []byte {
	c, err := goavro.NewCodec(schema)
	if err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	w, err := goavro.NewOCFWriter(goavro.OCFConfig{W: &buf, Codec: c, CompressionName: codec})
	if err != nil {
		t.Fatal(err)
	}
	for start := 0; start < len(recs); start += 300 { // several blocks
		var native []any
		for _, r := range recs[start:min(start+300, len(recs))] {
			attrs := map[string]any{}
			for k, v := range r.Attributes {
				attrs[k] = v
			}
			native = append(native, map[string]any{"subscription_name": r.Subscription, "message_id": r.MessageID,
				"publish_time": r.PublishTime, "attributes": attrs, "data": r.Data, "ordering_key": "k"})
		}
		if err := w.Append(native); err != nil {
			t.Fatal(err)
		}
	}
	return buf.Bytes()
}

func readAll(t testing.TB, read func([]byte, func(*Record) error) error, data []byte) ([]Record, error) {
	var got []Record
	err := read(data, func(r *Record) error {
		c := *r
		c.Data = append([]byte(nil), r.Data...)
		got = append(got, c)
		return nil
	})
	return got, err
}

func viaRead(data []byte, fn func(*Record) error) error { return Read(bytes.NewReader(data), fn) }
func viaGoavro(data []byte, fn func(*Record) error) error {
	return readGeneric(bytes.NewReader(data), fn)
}

// TestFixedReaderMatchesGoavro: the fixed decoder reads what goavro
// reads, uncompressed and deflated; files of another codec or with more
// fields go to goavro and read the same.
func TestFixedReaderMatchesGoavro(t *testing.T) {
	recs := sampleRecords(1000)
	var ours bytes.Buffer
	w, err := NewWriter(&ours)
	if err != nil {
		t.Fatal(err)
	}
	if err := w.Append(recs); err != nil {
		t.Fatal(err)
	}
	withOrderingKey := strings.Replace(Schema, `{"name": "data", "type": "bytes"}`, `{"name": "data", "type": "bytes"}, {"name": "ordering_key", "type": "string"}`, 1)
	for _, tt := range []struct {
		name  string
		data  []byte
		fixed bool
	}{
		{"the archiver's file", ours.Bytes(), true},
		{"deflated", goavroFile(t, Schema, goavro.CompressionDeflateLabel, recs), true},
		{"snappy (goavro reads it)", goavroFile(t, Schema, goavro.CompressionSnappyLabel, recs), false},
		{"a field more (goavro reads it)", goavroFile(t, withOrderingKey, goavro.CompressionNullLabel, recs), false},
	} {
		want, err := readAll(t, viaGoavro, tt.data)
		if err != nil || len(want) != len(recs) {
			t.Fatalf("%s: goavro read %d records, %v", tt.name, len(want), err)
		}
		got, err := readAll(t, viaRead, tt.data)
		if err != nil || !reflect.DeepEqual(got, want) {
			t.Errorf("%s: Read gave %d records (%v), goavro %d; first %+v vs %+v", tt.name, len(got), err, len(want), got[:min(1, len(got))], want[0])
		}
		rec := &recorder{r: bytes.NewReader(tt.data), on: true}
		err = readFixed(rec, func(*Record) error { return nil })
		if fixed := err == nil; fixed != tt.fixed {
			t.Errorf("%s: the fixed decoder took it: %v (%v), want %v", tt.name, fixed, err, tt.fixed)
		}
	}
}

// FuzzFixedReader: on any bytes the fixed decoder returns, and whatever
// it reads goavro reads the same. Files it leaves to goavro are goavro's
// to read: on corrupt ones goavro can loop for minutes or exhaust memory
// (testdata's first and third cases, a corrupt metadata count and a
// corrupt block of another schema), which is why our own files no longer
// go through it.
func FuzzFixedReader(f *testing.F) {
	var buf bytes.Buffer
	w, _ := NewWriter(&buf)
	w.Append(sampleRecords(3))
	f.Add(buf.Bytes())
	f.Add(goavroFile(f, Schema, goavro.CompressionDeflateLabel, sampleRecords(2)))
	f.Fuzz(func(t *testing.T, data []byte) {
		var got []Record
		err := readFixed(&recorder{r: bytes.NewReader(data), on: true}, func(r *Record) error {
			c := *r
			c.Data = append([]byte(nil), r.Data...)
			got = append(got, c)
			return nil
		})
		if err != nil {
			return
		}
		want, wantErr := readAll(t, viaGoavro, data)
		if wantErr != nil || !reflect.DeepEqual(got, want) {
			t.Fatalf("the fixed decoder: %d records; goavro: %d records, %v", len(got), len(want), wantErr)
		}
	})
}

func BenchmarkRead(b *testing.B) {
	var buf bytes.Buffer
	w, _ := NewWriter(&buf)
	w.Append(sampleRecords(10000))
	for _, tt := range []struct {
		name string
		read func([]byte, func(*Record) error) error
	}{{"fixed", viaRead}, {"goavro", viaGoavro}} {
		b.Run(tt.name, func(b *testing.B) {
			for b.Loop() {
				if err := tt.read(buf.Bytes(), func(*Record) error { return nil }); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*10000), "ns/record")
		})
	}
}
