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

func TestParseRowKey(t *testing.T) {
	at := time.Date(2026, 11, 27, 13, 45, 0, 0, time.UTC)
	for _, tt := range []struct {
		key      string
		kind     Kind
		adv, ad  string
		start    time.Time
		whyWrong string
	}{
		{key: RowKey(Minute, "acme", "ad-1", at), kind: Minute, adv: "acme", ad: "ad-1", start: at.Truncate(time.Hour)},
		{key: RowKey(Hour, "acme", AllAds, at), kind: Hour, adv: "acme", ad: AllAds, start: RowStart(Hour, at)},
		{key: RowKey(Day, "acme", "x", at), kind: Day, adv: "acme", ad: "x", start: RowStart(Day, at)},
		{key: TopRowKey("acme", at), kind: Top, adv: "acme", start: at},
		{key: RowKey(PlacementQuarters, "acme", "x", at), kind: PlacementQuarters, adv: "acme", ad: "x", start: RowStart(Hour, at)},
		{key: RowKey(OutcomeQuarters, "acme", "x", at), kind: OutcomeQuarters, adv: "acme", ad: "x", start: RowStart(Hour, at)},
		{key: ActiveRowKey(at, "acme"), whyWrong: "an index row"},
		{key: ReconciledRowKey(at), whyWrong: "a marker row"},
		{key: "m#acme#ad#20261127", whyWrong: "a minute row named by a day"},
		{key: "t#acme#ad#202611271345", whyWrong: "a top row with an ad"},
	} {
		k, adv, ad, start, err := ParseRowKey(tt.key)
		if tt.whyWrong != "" {
			if err == nil {
				t.Errorf("%s (%s) parsed", tt.key, tt.whyWrong)
			}
			continue
		}
		if err != nil || k != tt.kind || adv != tt.adv || ad != tt.ad || !start.Equal(tt.start) {
			t.Errorf("ParseRowKey(%s) = %c %s %s %v %v", tt.key, k, adv, ad, start, err)
		}
	}
}

// TestReadCells writes cells of every kind in both families and reads
// them back through the ranges readers use: each range holds its rows
// and no neighbour's.
func TestReadCells(t *testing.T) {
	ctx := context.Background()
	tbl := emulatorTable(t)
	day := time.Date(2026, 11, 27, 0, 0, 0, 0, time.UTC)
	run := BatchTimestamp(day.AddDate(0, 0, 1))
	var b Batch
	for h := -1; h <= 24; h++ { // an hour either side of the day
		m := day.Add(time.Duration(h)*time.Hour + 7*time.Minute)
		SetSpeedMinute(&b, "acme", "ad1", m, int64(100+h))
		b.Set(RowKey(Minute, "acme", "ad1", m), FamilyBatch, Qualifier(Minute, m), run, EncodeCount(int64(h)))
		SetSpeedMinute(&b, "acme", "ad10", m, 1) // ad1's prefix, another ad
	}
	b.Set(RowKey(Day, "acme", "ad1", day), FamilyBatch, Qualifier(Day, day), run, EncodeCount(77))
	lastQuarter := day.Add(24*time.Hour - Quarter)
	for _, q := range []time.Time{day, day.Add(5*time.Hour + 45*time.Minute), lastQuarter} {
		b.Set(RowKey(PlacementQuarters, "acme", "ad1", q), FamilyBatch, QuarterQualifier(q, "0915 site"), run, EncodeCount(int64(q.Hour())))
	}
	if err := b.Apply(ctx, tbl); err != nil {
		t.Fatal(err)
	}

	var minutes []Cell
	if err := ReadCells(ctx, tbl, SeriesRows(Minute, "acme", "ad1", day, day.AddDate(0, 0, 1)), "", func(c Cell) { minutes = append(minutes, c) }); err != nil {
		t.Fatal(err)
	}
	speed, batch := 0, 0
	for _, c := range minutes {
		if c.Ad != "ad1" || c.Kind != Minute || c.Bucket.Before(day) || !c.Bucket.Before(day.AddDate(0, 0, 1)) || c.Bucket.Minute() != 7 {
			t.Fatalf("day range gave %+v", c)
		}
		h := int64(c.Bucket.Hour())
		switch {
		case c.Family == FamilySpeed && c.N == 100+h:
			speed++
		case c.Family == FamilyBatch && c.N == h:
			batch++
		default:
			t.Errorf("cell %+v", c)
		}
	}
	if speed != 24 || batch != 24 {
		t.Errorf("a day's minute rows gave %d speed and %d batch cells, want 24 each", speed, batch)
	}

	var top []Cell
	if err := ReadCells(ctx, tbl, TopRows("acme", day.Add(7*time.Minute), day.Add(8*time.Minute)), FamilySpeed, func(c Cell) { top = append(top, c) }); err != nil {
		t.Fatal(err)
	}
	if len(top) != 2 || top[0].Kind != Top || top[0].Ad != "ad1" || top[0].N != 100 || top[1].Ad != "ad10" || !top[0].Bucket.Equal(day.Add(7*time.Minute)) {
		t.Errorf("top row of 00:07 = %+v, want ad1=100 and ad10=1", top)
	}

	if n, ok, err := ReadCount(ctx, tbl, Day, FamilyBatch, "acme", "ad1", day); err != nil || !ok || n != 77 {
		t.Errorf("ReadCount of the day cell = %d, %v, %v; want 77", n, ok, err)
	}
	if _, ok, err := ReadCount(ctx, tbl, Day, FamilySpeed, "acme", "ad1", day); err != nil || ok {
		t.Errorf("ReadCount of a missing cell: ok %v, err %v", ok, err)
	}
	var quarters []Cell
	if err := ReadCells(ctx, tbl, SeriesRows(PlacementQuarters, "acme", "ad1", day, day.Add(time.Hour)), FamilyBatch, func(c Cell) { quarters = append(quarters, c) }); err != nil {
		t.Fatal(err)
	}
	if len(quarters) != 3 {
		t.Fatalf("a day's placement quarters: %+v, want 3 cells", quarters)
	}
	for i, want := range []time.Time{day, day.Add(5*time.Hour + 45*time.Minute), lastQuarter} {
		if c := quarters[i]; !c.Bucket.Equal(want) || c.Column != "0915 site" || c.N != int64(want.Hour()) || c.Kind != PlacementQuarters {
			t.Errorf("quarter cell %d = %+v, want %v of \"0915 site\"", i, c, want)
		}
	}
	var all int
	if err := ReadCells(ctx, tbl, AdRows(Minute, "acme", "ad1"), FamilySpeed, func(Cell) { all++ }); err != nil || all != 26 {
		t.Errorf("every minute row of ad1: %d cells (%v), want 26", all, err)
	}
}
