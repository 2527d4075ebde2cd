package rawarchive

import (
	"bytes"
	"context"
	"testing"
	"time"

	"github.com/adclick/adclick/internal/blob"
)

func TestObjectNames(t *testing.T) {
	at := time.Date(2026, 11, 27, 13, 5, 9, 500e6, time.FixedZone("CET", 3600))
	name := ObjectName(at, "0b8e2f3c-8f8a-4a55-9d0c-5a1b9f2b7e11")
	if want := "clicks/2026-11-27/12_05_09Z_0b8e2f3c-8f8a-4a55-9d0c-5a1b9f2b7e11.avro"; name != want {
		t.Errorf("ObjectName = %s, want %s", name, want)
	}
	got, err := ParseObjectName(name)
	if err != nil || !got.Equal(at.Truncate(time.Second)) {
		t.Errorf("ParseObjectName(%s) = %v, %v", name, got, err)
	}
	for _, bad := range []string{
		"clicks/2026-11-27/12_05_09Z_0b8e2f3c.avro",
		"other/2026-11-27/12_05_09Z_0b8e2f3c-8f8a-4a55-9d0c-5a1b9f2b7e11.avro",
		"clicks/2026-11-27/12_05_09Z_0b8e2f3c-8f8a-4a55-9d0c-5a1b9f2b7e11.json",
	} {
		if _, err := ParseObjectName(bad); err == nil {
			t.Errorf("ParseObjectName(%s) accepted", bad)
		}
	}
}

func TestListByStartTime(t *testing.T) {
	ctx := context.Background()
	s, err := blob.Open(ctx, t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	day := time.Date(2026, 11, 27, 0, 0, 0, 0, time.UTC)
	var names []string
	for _, at := range []time.Duration{-time.Hour, -time.Second, 0, 12 * time.Hour, 24*time.Hour - time.Second, 24 * time.Hour, 30 * time.Hour} {
		n := ObjectName(day.Add(at), "00000000-0000-0000-0000-00000000000"+string(rune('0'+len(names))))
		names = append(names, n)
		w, _ := s.Create(ctx, n)
		if err := w.Close(); err != nil {
			t.Fatal(err)
		}
	}
	got, err := List(ctx, s, day, day.Add(24*time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	want := names[2:5]
	if len(got) != len(want) {
		t.Fatalf("List = %v, want %v", got, want)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Errorf("List[%d] = %s, want %s", i, got[i], want[i])
		}
	}
}

func TestRoundTrip(t *testing.T) {
	recs := []Record{
		{Subscription: "projects/p/subscriptions/s", MessageID: "1", PublishTime: time.UnixMicro(1764244800123456).UTC(), Attributes: map[string]string{"a": "b"}, Data: []byte("x")},
		{Subscription: "projects/p/subscriptions/s", MessageID: "2", PublishTime: time.UnixMicro(1764244800123457).UTC(), Attributes: map[string]string{}, Data: []byte{}},
	}
	var buf bytes.Buffer
	w, err := NewWriter(&buf)
	if err != nil {
		t.Fatal(err)
	}
	if err := w.Append(recs[:1]); err != nil {
		t.Fatal(err)
	}
	if err := w.Append(recs[1:]); err != nil {
		t.Fatal(err)
	}
	var got []Record
	err = Read(bytes.NewReader(buf.Bytes()), func(r *Record) error { got = append(got, *r); return nil })
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 2 {
		t.Fatalf("read %d records, want 2", len(got))
	}
	for i := range recs {
		g, w := got[i], recs[i]
		if g.Subscription != w.Subscription || g.MessageID != w.MessageID || !g.PublishTime.Equal(w.PublishTime) || string(g.Data) != string(w.Data) || len(g.Attributes) != len(w.Attributes) {
			t.Errorf("record %d = %+v, want %+v", i, g, w)
		}
	}
	if err := Read(bytes.NewReader(buf.Bytes()[:buf.Len()-3]), func(*Record) error { return nil }); err == nil {
		t.Error("a truncated file read without error")
	}
}
