package btschema

import (
	"context"
	"fmt"
	"testing"
	"time"

	"cloud.google.com/go/bigtable"
	"cloud.google.com/go/bigtable/bttest"
	"google.golang.org/api/option"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
)

var t0 = time.Date(2026, 3, 9, 7, 5, 42, 0, time.UTC)

func TestRowKeysAndQualifiers(t *testing.T) {
	tests := []struct {
		kind     Kind
		wantRow  string
		wantQual string
		start    time.Time
	}{
		{Minute, "m#acme#ad1#2026030907", "05", time.Date(2026, 3, 9, 7, 0, 0, 0, time.UTC)},
		{Hour, "h#acme#ad1#20260309", "07", time.Date(2026, 3, 9, 0, 0, 0, 0, time.UTC)},
		{Day, "d#acme#ad1#202603", "09", time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC)},
	}
	for _, tt := range tests {
		t.Run(string(tt.kind), func(t *testing.T) {
			// Bucket times are UTC whatever zone the caller holds.
			local := t0.In(time.FixedZone("X", -5*3600))
			if got := RowKey(tt.kind, "acme", "ad1", local); got != tt.wantRow {
				t.Errorf("RowKey = %q, want %q", got, tt.wantRow)
			}
			if got := Qualifier(tt.kind, local); got != tt.wantQual {
				t.Errorf("Qualifier = %q, want %q", got, tt.wantQual)
			}
			start := RowStart(tt.kind, t0)
			if !start.Equal(tt.start) {
				t.Errorf("RowStart = %v, want %v", start, tt.start)
			}
			b, err := BucketTime(tt.kind, start, tt.wantQual)
			if err != nil {
				t.Fatal(err)
			}
			if want := map[Kind]time.Duration{Minute: time.Minute, Hour: time.Hour, Day: 24 * time.Hour}[tt.kind]; !b.Equal(t0.Truncate(want)) {
				t.Errorf("BucketTime = %v, want %v", b, t0.Truncate(want))
			}
		})
	}
	if got := TopRowKey("acme", t0); got != "t#acme#202603090705" {
		t.Errorf("TopRowKey = %q", got)
	}
	if _, err := BucketTime(Minute, t0, "5"); err == nil {
		t.Error("BucketTime accepted a one-digit qualifier")
	}
}

func TestSpeedTimestampNearRealTime(t *testing.T) {
	// Age-based GC counts from the version: it must stay near the bucket.
	ts := SpeedTimestamp(t0, 5000).Time()
	if d := ts.Sub(t0); d != 5*time.Second {
		t.Errorf("version of count 5000 is %v after its bucket, want 5s", d)
	}
	if SpeedTimestamp(t0, 3) >= SpeedTimestamp(t0, 4) {
		t.Error("versions must grow with the count")
	}
}

func TestCountCodec(t *testing.T) {
	for _, n := range []int64{0, 1, 255, 1 << 40} {
		got, err := DecodeCount(EncodeCount(n))
		if err != nil || got != n {
			t.Errorf("round trip %d = %d, %v", n, got, err)
		}
	}
	if _, err := DecodeCount([]byte{1, 2}); err == nil {
		t.Error("DecodeCount accepted 2 bytes")
	}
}

// TestHighestCountSurvives checks, on the Bigtable emulator, the property
// the speed layer relies on: with versions growing with the count, an
// earlier (smaller) pane written after a later one does not replace it.
func TestHighestCountSurvives(t *testing.T) {
	ctx := context.Background()
	tbl := emulatorTable(t)
	row, q := RowKey(Minute, "acme", "ad1", t0), Qualifier(Minute, t0)
	for _, n := range []int64{3, 7, 5} { // the pane with 5 arrives last
		m := bigtable.NewMutation()
		m.Set(FamilySpeed, q, SpeedTimestamp(t0.Truncate(time.Minute), n), EncodeCount(n))
		if err := tbl.Apply(ctx, row, m); err != nil {
			t.Fatal(err)
		}
	}
	r, err := tbl.ReadRow(ctx, row, bigtable.RowFilter(bigtable.LatestNFilter(1)))
	if err != nil {
		t.Fatal(err)
	}
	cells := r[FamilySpeed]
	if len(cells) != 1 {
		t.Fatalf("cells = %v", cells)
	}
	if n, _ := DecodeCount(cells[0].Value); n != 7 {
		t.Errorf("surviving count = %d, want 7", n)
	}
}

// emulatorTable is the clicks table on a fresh Bigtable emulator.
func emulatorTable(t *testing.T) *bigtable.Table {
	t.Helper()
	srv, err := bttest.NewServer("127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(srv.Close)
	ctx := context.Background()
	opts := []option.ClientOption{option.WithEndpoint(srv.Addr), option.WithoutAuthentication(),
		option.WithGRPCDialOption(grpc.WithTransportCredentials(insecure.NewCredentials()))}
	admin, err := bigtable.NewAdminClient(ctx, "p", "i", opts...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { admin.Close() })
	for range 2 { // idempotent
		if err := EnsureTables(ctx, admin); err != nil {
			t.Fatal(err)
		}
	}
	client, err := bigtable.NewClient(ctx, "p", "i", opts...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { client.Close() })
	return client.Open(Table)
}

// TestSpeedIndexReadsTheDayOnly: the day index lists the ads written that
// day, and the speed reads of a day return its cells and no neighbour's
// (an earlier or later day, an ad whose id extends another's).
func TestSpeedIndexReadsTheDayOnly(t *testing.T) {
	ctx := context.Background()
	tbl := emulatorTable(t)
	day := time.Date(2026, 11, 26, 0, 0, 0, 0, time.UTC)
	var b Batch
	put := func(adv, ad string, minute time.Time, n int64) {
		d := minute.Truncate(24 * time.Hour)
		b.Set(ActiveRowKey(d, adv), FamilySpeed, ad, ActiveTimestamp(d), nil)
		b.Set(RowKey(Minute, adv, ad, minute), FamilySpeed, Qualifier(Minute, minute), SpeedTimestamp(minute, n), EncodeCount(n))
	}
	put("acme", "ad", day.Add(10*time.Minute), 3)
	put("acme", "ad", day.Add(23*time.Hour+59*time.Minute), 4)
	put("acme", AllAds, day.Add(10*time.Minute), 3)
	put("acme", "ad", day.Add(-time.Minute), 100)                // the day before
	put("acme", "ad", day.Add(24*time.Hour), 200)                // the day after
	put("acme", "ad-2", day.Add(-24*time.Hour+time.Minute), 300) // another ad, another day
	put("beta", "x", day.Add(time.Hour), 1)
	if err := b.Apply(ctx, tbl); err != nil {
		t.Fatal(err)
	}
	active, err := ReadActive(ctx, tbl, []time.Time{day})
	if err != nil {
		t.Fatal(err)
	}
	if fmt.Sprint(active) != "map[acme:[* ad] beta:[x]]" {
		t.Errorf("ReadActive = %v", active)
	}
	ads, err := ReadActiveAds(ctx, tbl, "acme", []time.Time{day})
	if err != nil || fmt.Sprint(ads) != "[* ad]" {
		t.Errorf("ReadActiveAds = %v, %v", ads, err)
	}
	got := map[string]int64{}
	err = ReadSpeedMinutes(ctx, tbl, "acme", []string{"ad", "ad-2", AllAds}, []time.Time{day}, func(ad string, minute time.Time, n int64) {
		got[ad+"@"+minute.Format("15:04")] = n
	})
	if err != nil {
		t.Fatal(err)
	}
	if want := "map[*@00:10:3 ad@00:10:3 ad@23:59:4]"; fmt.Sprint(got) != want {
		t.Errorf("ReadSpeedMinutes = %v, want %s", got, want)
	}
}

func TestParseRowStart(t *testing.T) {
	at := time.Date(2026, 11, 27, 13, 45, 0, 0, time.UTC)
	for _, tt := range []struct {
		k    Kind
		key  string
		want time.Time
	}{
		{Minute, RowKey(Minute, "acme", "ad#1", at), at.Truncate(time.Hour)},
		{Hour, RowKey(Hour, "acme", "ad", at), time.Date(2026, 11, 27, 0, 0, 0, 0, time.UTC)},
		{Day, RowKey(Day, "acme", AllAds, at), time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC)},
		{Top, TopRowKey("acme", at), at},
	} {
		got, err := ParseRowStart(tt.k, tt.key)
		if err != nil || !got.Equal(tt.want) {
			t.Errorf("ParseRowStart(%c, %s) = %v, %v; want %v", tt.k, tt.key, got, err, tt.want)
		}
	}
	if _, err := ParseRowStart(Minute, "m#acme#ad#2026"); err == nil {
		t.Error("ParseRowStart accepted a short time")
	}
	day, err := ParseReconciledRowKey(ReconciledRowKey(at))
	if err != nil || !day.Equal(at.Truncate(24*time.Hour)) {
		t.Errorf("reconciled marker round trip = %v, %v", day, err)
	}
}
