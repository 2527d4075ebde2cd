// Package btschema owns the Bigtable layout that the streaming pipeline and
// the nightly batch write and the reports read: table, column families,
// garbage-collection rules, row keys and qualifiers. docs/bigtable-schema.md
// explains the reasoning.
//
// One table, "clicks". Two families side by side in every row:
//
//	s  speed layer: provisional counts written by the streaming pipeline
//	b  batch layer: final counts written by the nightly reconciliation
//
// Row kinds (bucket times are UTC):
//
//	m#<advertiser>#<ad>#<yyyymmddhh>   one row per ad-hour; qualifier "mm" (00-59) = clicks in that minute
//	h#<advertiser>#<ad>#<yyyymmdd>     one row per ad-day;  qualifier "hh" (00-23) = clicks in that hour
//	d#<advertiser>#<ad>#<yyyymm>       one row per ad-month; qualifier "dd" (01-31) = clicks on that day
//	t#<advertiser>#<yyyymmddhhmm>      one row per advertiser-minute; qualifier <ad> = clicks of that ad
//	a#<yyyymmdd>#<advertiser>          one row per advertiser-day; qualifier <ad> = the ad has speed cells that day
//
// The a rows are the speed layer's index of its own writes: the nightly
// reads the speed cells of the days it reconciles through them, so its
// cost follows the day, not the table's history.
//
// The ad "*" (never a valid ad id) holds the advertiser's total over all
// its ads in the m, h and d rows, and "@<campaign>" (ids never hold "@")
// a campaign's total (CampaignSeries); the t rows hold campaigns' cells
// beside the ads'. Rows are per series: an ad, AllAds or a campaign.
package btschema

import (
	"context"
	"encoding/binary"
	"fmt"
	"sort"
	"strconv"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"cloud.google.com/go/bigtable"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// Table is the serving table of click counts.
const Table = "clicks"

// Column families.
const (
	FamilySpeed = "s"
	FamilyBatch = "b"
)

// AllAds is the pseudo ad id of an advertiser's totals. Catalog ids start
// with a letter or digit, so it cannot collide with a real ad.
const AllAds = "*"

// campaignPrefix starts a campaign's series; ids never contain it.
const campaignPrefix = "@"

// CampaignSeries is the series (the ad part of a row key, a top row's
// column) that counts a campaign's clicks over all its ads.
func CampaignSeries(campaign string) string { return campaignPrefix + campaign }

// CampaignOf is the campaign a series counts, if it is a campaign's.
func CampaignOf(series string) (campaign string, ok bool) {
	return strings.CutPrefix(series, campaignPrefix)
}

// Kind is a row kind: the granularity of the buckets its cells hold.
type Kind byte

const (
	Minute Kind = 'm' // row = hour, cell = minute
	Hour   Kind = 'h' // row = day, cell = hour
	Day    Kind = 'd' // row = month, cell = day
	Top    Kind = 't' // row = advertiser-minute, cell = ad
	// Placement rows hold one ad's clicks of one UTC day by the placement
	// it was shown in: cell = placement (batch family only; the nightly
	// writes them, capped per ad and day).
	Placement Kind = 'p'
	// Outcomes rows hold one ad's archived clicks of one UTC day by
	// outcome (countable.Outcomes): cell = outcome (batch family only).
	Outcomes Kind = 'o'
	// PlacementQuarters and OutcomeQuarters rows hold the same counts as
	// Placement and Outcomes rows, per quarter hour of the UTC day: cell
	// = QuarterQualifier (the quarter's start, then the placement or
	// outcome). Every zone in use starts its days on a quarter hour of
	// UTC, so a day in any zone is a sum of quarters; the day rows keep
	// UTC days at one cell per column.
	PlacementQuarters Kind = 'P'
	OutcomeQuarters   Kind = 'O'
)

// Quarter is the bucket of PlacementQuarters and OutcomeQuarters rows.
const Quarter = 15 * time.Minute

// Quarters is the kind holding k's counts per quarter hour (k Placement
// or Outcomes).
func Quarters(k Kind) Kind {
	switch k {
	case Placement:
		return PlacementQuarters
	case Outcomes:
		return OutcomeQuarters
	}
	panic(fmt.Sprintf("btschema: kind %q has no quarter rows", k))
}

// QuarterQualifier is the column of column's clicks in the quarter hour
// starting at t: "hhmm" (UTC) followed by column.
func QuarterQualifier(t time.Time, column string) string {
	return t.UTC().Format("1504") + column
}

// parseQuarterQualifier splits a QuarterQualifier into the quarter's
// start (in the row starting at rowStart) and the column.
func parseQuarterQualifier(rowStart time.Time, q string) (time.Time, string, error) {
	if len(q) >= 4 {
		if t, err := time.Parse("1504", q[:4]); err == nil && t.Minute()%15 == 0 {
			return rowStart.Add(time.Duration(t.Hour())*time.Hour + time.Duration(t.Minute())*time.Minute), q[4:], nil
		}
	}
	return time.Time{}, "", fmt.Errorf("btschema: qualifier %q is not a quarter hour (hhmm) and a column", q)
}

// SpeedRetention is how long speed cells are kept: older days have batch
// cells (once reconciled) or nothing.
const SpeedRetention = 90 * 24 * time.Hour

// Families maps each family to its garbage-collection rule. Both keep a
// single version. A speed cell's timestamp grows with its count (see
// SpeedTimestamp), so the surviving version is always the largest count: a
// retried or late-arriving earlier pane can never replace a later one. Batch cells carry the reconciliation run's time, so the latest run
// wins even when it lowers a count.
func Families() map[string]bigtable.GCPolicy {
	return map[string]bigtable.GCPolicy{
		FamilySpeed: bigtable.UnionPolicy(bigtable.MaxVersionsPolicy(1), bigtable.MaxAgePolicy(SpeedRetention)),
		FamilyBatch: bigtable.MaxVersionsPolicy(1),
	}
}

// rowTimeLayout per kind: the part of the bucket time that names the row.
func rowTimeLayout(k Kind) string {
	switch k {
	case Minute:
		return "2006010215"
	case Hour:
		return "20060102"
	case Day:
		return "200601"
	case Top:
		return "200601021504"
	case Placement, Outcomes, PlacementQuarters, OutcomeQuarters:
		return "20060102"
	}
	panic(fmt.Sprintf("btschema: unknown row kind %q", k))
}

// RowKey is the row holding bucket t of a series (an ad, AllAds or a
// campaign) at kind Minute, Hour or Day, or an ad's placements or
// outcomes of the UTC day holding t (kinds Placement, Outcomes and their
// Quarters).
func RowKey(k Kind, advertiser, ad string, t time.Time) string {
	return string(k) + "#" + advertiser + "#" + ad + "#" + t.UTC().Format(rowTimeLayout(k))
}

// TopRowKey is the row holding every ad's count for one minute.
func TopRowKey(advertiser string, minute time.Time) string {
	return "t#" + advertiser + "#" + minute.UTC().Format(rowTimeLayout(Top))
}

// Qualifier is the column of bucket t within its row.
func Qualifier(k Kind, t time.Time) string {
	t = t.UTC()
	switch k {
	case Minute:
		return twoDigits(t.Minute())
	case Hour:
		return twoDigits(t.Hour())
	case Day:
		return twoDigits(t.Day())
	}
	panic(fmt.Sprintf("btschema: kind %q has no time qualifier", k))
}

func twoDigits(n int) string {
	if n < 10 {
		return "0" + strconv.Itoa(n)
	}
	return strconv.Itoa(n)
}

// RowStart is the first bucket of the row holding t.
func RowStart(k Kind, t time.Time) time.Time {
	t = t.UTC()
	switch k {
	case Minute:
		return t.Truncate(time.Hour)
	case Hour, Placement, Outcomes, PlacementQuarters, OutcomeQuarters:
		return time.Date(t.Year(), t.Month(), t.Day(), 0, 0, 0, 0, time.UTC)
	case Day:
		return time.Date(t.Year(), t.Month(), 1, 0, 0, 0, 0, time.UTC)
	case Top:
		return t.Truncate(time.Minute)
	}
	panic(fmt.Sprintf("btschema: unknown row kind %q", k))
}

// BucketTime is the start of the bucket named by qualifier q in the row
// starting at rowStart.
func BucketTime(k Kind, rowStart time.Time, q string) (time.Time, error) {
	n, err := strconv.Atoi(q)
	if err != nil || len(q) != 2 {
		return time.Time{}, fmt.Errorf("btschema: qualifier %q is not two digits", q)
	}
	switch k {
	case Minute:
		return rowStart.Add(time.Duration(n) * time.Minute), nil
	case Hour:
		return rowStart.Add(time.Duration(n) * time.Hour), nil
	case Day:
		return rowStart.AddDate(0, 0, n-1), nil
	}
	return time.Time{}, fmt.Errorf("btschema: kind %q has no time qualifier", k)
}

// EncodeCount is a cell value: a big-endian int64, the encoding Bigtable's
// own counters (ReadModifyWrite increments) use.
func EncodeCount(n int64) []byte {
	return binary.BigEndian.AppendUint64(nil, uint64(n))
}

// DecodeCount reads a cell value written by EncodeCount.
func DecodeCount(b []byte) (int64, error) {
	if len(b) != 8 {
		return 0, fmt.Errorf("btschema: count cell of %d bytes, want 8", len(b))
	}
	return int64(binary.BigEndian.Uint64(b)), nil
}

// SpeedTimestamp is the version of a speed cell holding count n of the
// bucket starting at bucket: the bucket's start plus n milliseconds.
// Within a cell the version grows with the count, so the highest count
// survives whatever order panes arrive in; and the version stays close to
// real time, so the family's age-based garbage collection works (a bare
// count would date the cell to 1970 and have it collected at once).
// Milliseconds, because Bigtable's default timestamp granularity is
// milliseconds (microsecond values must be multiples of 1000).
func SpeedTimestamp(bucket time.Time, n int64) bigtable.Timestamp {
	return bigtable.Timestamp((bucket.UnixMilli() + n) * 1000)
}

// ActiveRowKey is the row listing the ads (and AllAds) of advertiser that
// have speed cells on day: the speed writer sets column <ad> (family s,
// empty value) before or with the ad's first minute cell of the day.
func ActiveRowKey(day time.Time, advertiser string) string {
	return "a#" + day.UTC().Format("20060102") + "#" + advertiser
}

// ActiveTimestamp is the version of an index cell: the day, so rewriting
// it changes nothing.
func ActiveTimestamp(day time.Time) bigtable.Timestamp {
	return bigtable.Timestamp(day.UTC().Truncate(24*time.Hour).UnixMilli() * 1000)
}

// SetSpeedMinute adds a speed pane's absolute count n of a series' minute
// (an ad, AllAds or a campaign) to b: the minute cell and, for an ad or a
// campaign, its cell in the advertiser's top row.
func SetSpeedMinute(b *Batch, advertiser, ad string, minute time.Time, n int64) {
	ts, val := SpeedTimestamp(minute, n), EncodeCount(n)
	b.Set(RowKey(Minute, advertiser, ad, minute), FamilySpeed, Qualifier(Minute, minute), ts, val)
	if ad != AllAds {
		b.Set(TopRowKey(advertiser, minute), FamilySpeed, ad, ts, val)
	}
}

// SetActive adds to b the day index cell saying that ad (or AllAds) of
// advertiser has speed cells on the UTC day holding t. Writers add it
// with the ad's first minute cell of the day; rewriting it is harmless.
func SetActive(b *Batch, advertiser, ad string, t time.Time) {
	day := t.UTC().Truncate(24 * time.Hour)
	b.Set(ActiveRowKey(day, advertiser), FamilySpeed, ad, ActiveTimestamp(day), nil)
}

// ReadActive returns the ads with speed cells on each of days, by
// advertiser: one prefix scan of the index per day.
func ReadActive(ctx context.Context, tbl *bigtable.Table, days []time.Time) (map[string][]string, error) {
	seen := map[string]map[string]bool{}
	for _, day := range days {
		prefix := "a#" + day.UTC().Format("20060102") + "#"
		err := tbl.ReadRows(ctx, bigtable.PrefixRange(prefix), func(r bigtable.Row) bool {
			adv := strings.TrimPrefix(r.Key(), prefix)
			if seen[adv] == nil {
				seen[adv] = map[string]bool{}
			}
			for _, c := range r[FamilySpeed] {
				seen[adv][strings.TrimPrefix(c.Column, FamilySpeed+":")] = true
			}
			return true
		}, bigtable.RowFilter(bigtable.ChainFilters(bigtable.FamilyFilter("^"+FamilySpeed+"$"), bigtable.StripValueFilter())))
		if err != nil {
			return nil, fmt.Errorf("read the speed index of %s: %w", day.Format("2006-01-02"), err)
		}
	}
	out := map[string][]string{}
	for adv, ads := range seen {
		for ad := range ads {
			out[adv] = append(out[adv], ad)
		}
		sort.Strings(out[adv])
	}
	return out, nil
}

// ReadActiveAds returns the ads of one advertiser with speed cells on any
// of days: one row per day.
func ReadActiveAds(ctx context.Context, tbl *bigtable.Table, advertiser string, days []time.Time) ([]string, error) {
	var keys bigtable.RowList
	for _, day := range days {
		keys = append(keys, ActiveRowKey(day, advertiser))
	}
	seen := map[string]bool{}
	err := tbl.ReadRows(ctx, keys, func(r bigtable.Row) bool {
		for _, c := range r[FamilySpeed] {
			seen[strings.TrimPrefix(c.Column, FamilySpeed+":")] = true
		}
		return true
	}, bigtable.RowFilter(bigtable.ChainFilters(bigtable.FamilyFilter("^"+FamilySpeed+"$"), bigtable.StripValueFilter())))
	if err != nil {
		return nil, fmt.Errorf("read the speed index of %s: %w", advertiser, err)
	}
	ads := make([]string, 0, len(seen))
	for ad := range seen {
		ads = append(ads, ad)
	}
	sort.Strings(ads)
	return ads, nil
}

// ReadSpeedMinutes calls fn with every speed minute cell of advertiser's
// ads (AllAds included, if listed) on days: one row range per ad and day,
// so it reads the days' rows and no others.
func ReadSpeedMinutes(ctx context.Context, tbl *bigtable.Table, advertiser string, ads []string, days []time.Time, fn func(ad string, minute time.Time, n int64)) error {
	var ranges bigtable.RowRangeList
	for _, ad := range ads {
		for _, day := range days {
			day = day.UTC().Truncate(24 * time.Hour)
			ranges = append(ranges, SeriesRows(Minute, advertiser, ad, day, day.AddDate(0, 0, 1)))
		}
	}
	if len(ranges) == 0 {
		return nil
	}
	err := ReadCells(ctx, tbl, ranges, FamilySpeed, func(c Cell) { fn(c.Ad, c.Bucket, c.N) })
	if err != nil {
		return fmt.Errorf("read speed minutes of %s: %w", advertiser, err)
	}
	return nil
}

// ReconciledRowKey is the row that marks a UTC day as reconciled: the
// nightly batch writes it (family b, column ReconciledColumn, the run's
// time as value) once every batch cell of the day is written. Readers
// treat every bucket of a marked day as final.
func ReconciledRowKey(day time.Time) string { return "r#" + day.UTC().Format("20060102") }

// ReconciledColumn is the marker's column.
const ReconciledColumn = "run"

// BatchTimestamp is the version of batch cells written by a reconciliation
// run that started at run: a later run's cells replace an earlier one's,
// even where it lowers a count.
func BatchTimestamp(run time.Time) bigtable.Timestamp {
	return bigtable.Timestamp(run.UnixMilli() * 1000)
}

// Dial connects to the clicks table's instance through app profile
// appProfile (empty: the instance's default profile). Each workload has
// its own profile in production (terraform/bigtable.tf), so its traffic
// is seen and prioritised apart. The client honours
// BIGTABLE_EMULATOR_HOST.
func Dial(ctx context.Context, project, instance, appProfile string) (*bigtable.Client, error) {
	c, err := bigtable.NewClientWithConfig(ctx, project, instance, bigtable.ClientConfig{AppProfile: appProfile})
	if err != nil {
		return nil, fmt.Errorf("bigtable client %s/%s (app profile %q): %w", project, instance, appProfile, err)
	}
	return c, nil
}

// EnsureTables creates the tables and families if missing. Production
// tables are created by Terraform; this is for emulators and tests.
func EnsureTables(ctx context.Context, admin *bigtable.AdminClient) error {
	if err := admin.CreateTable(ctx, Table); err != nil && status.Code(err) != codes.AlreadyExists {
		return fmt.Errorf("create table %s: %w", Table, err)
	}
	info, err := admin.TableInfo(ctx, Table)
	if err != nil {
		return fmt.Errorf("describe table %s: %w", Table, err)
	}
	have := map[string]bool{}
	for _, f := range info.Families {
		have[f] = true
	}
	for fam, policy := range Families() {
		if !have[fam] {
			if err := admin.CreateColumnFamily(ctx, Table, fam); err != nil && status.Code(err) != codes.AlreadyExists {
				return fmt.Errorf("create family %s:%s: %w", Table, fam, err)
			}
		}
		if err := admin.SetGCPolicy(ctx, Table, fam, policy); err != nil {
			return fmt.Errorf("set gc policy %s:%s: %w", Table, fam, err)
		}
	}
	return nil
}

// ParseRowStart parses the bucket time that ends a row key of kind k (the
// first bucket of the row), as RowKey and TopRowKey write it.
func ParseRowStart(k Kind, key string) (time.Time, error) {
	i := strings.LastIndexByte(key, '#')
	t, err := time.Parse(rowTimeLayout(k), key[i+1:])
	if err != nil {
		return time.Time{}, fmt.Errorf("btschema: row key %q: %w", key, err)
	}
	return t, nil
}

// EarliestReconciled is the first day the nightly marked reconciled: no
// batch cell is older. ok is false when no day is marked yet.
func EarliestReconciled(ctx context.Context, tbl *bigtable.Table) (day time.Time, ok bool, err error) {
	var key string
	err = tbl.ReadRows(ctx, bigtable.PrefixRange("r#"), func(r bigtable.Row) bool {
		key = r.Key()
		return false
	}, bigtable.LimitRows(1), bigtable.RowFilter(bigtable.StripValueFilter()))
	if err != nil || key == "" {
		return time.Time{}, false, err
	}
	day, err = ParseReconciledRowKey(key)
	return day, err == nil, err
}

// ReadReconciled returns the UTC days in [from, to) that carry the
// reconciled marker, with the marker's version (the run that wrote it):
// one range scan.
func ReadReconciled(ctx context.Context, tbl *bigtable.Table, from, to time.Time) (map[time.Time]bigtable.Timestamp, error) {
	out := map[time.Time]bigtable.Timestamp{}
	first := from.UTC().Truncate(24 * time.Hour)
	if !first.Before(to) {
		return out, nil
	}
	rng := bigtable.NewRange(ReconciledRowKey(first), ReconciledRowKey(to.Add(-time.Nanosecond))+"\x00")
	var bad error
	err := tbl.ReadRows(ctx, rng, func(row bigtable.Row) bool {
		day, err := ParseReconciledRowKey(row.Key())
		if err != nil {
			bad = err
			return false
		}
		for _, c := range row[FamilyBatch] {
			out[day] = c.Timestamp
		}
		return true
	}, bigtable.RowFilter(bigtable.ChainFilters(bigtable.FamilyFilter("^"+FamilyBatch+"$"), bigtable.LatestNFilter(1), bigtable.StripValueFilter())))
	if err != nil {
		return nil, fmt.Errorf("read reconciled markers: %w", err)
	}
	return out, bad
}

// ParseReconciledRowKey is the day a ReconciledRowKey marks.
func ParseReconciledRowKey(key string) (time.Time, error) {
	t, err := time.Parse("20060102", strings.TrimPrefix(key, "r#"))
	if err != nil {
		return time.Time{}, fmt.Errorf("btschema: marker row %q: %w", key, err)
	}
	return t, nil
}

// Batch gathers mutations by row so a writer sends a bundle's cells in
// few ApplyBulk calls.
type Batch struct {
	rows map[string]*bigtable.Mutation
}

// Set adds a cell to row.
func (b *Batch) Set(row, family, column string, ts bigtable.Timestamp, value []byte) {
	if b.rows == nil {
		b.rows = map[string]*bigtable.Mutation{}
	}
	m, ok := b.rows[row]
	if !ok {
		m = bigtable.NewMutation()
		b.rows[row] = m
	}
	m.Set(family, column, ts, value)
}

// maxRowsPerBulk keeps each MutateRows request well under gRPC's message
// limit (the emulator's in particular).
const maxRowsPerBulk = 1000

// Apply sends the gathered rows to tbl, at most maxRowsPerBulk a request,
// and empties the batch. An error names the first row that failed.
func (b *Batch) Apply(ctx context.Context, tbl *bigtable.Table) error {
	keys := make([]string, 0, len(b.rows))
	muts := make([]*bigtable.Mutation, 0, len(b.rows))
	for k, m := range b.rows {
		keys, muts = append(keys, k), append(muts, m)
	}
	b.rows = nil
	for start := 0; start < len(keys); start += maxRowsPerBulk {
		end := min(start+maxRowsPerBulk, len(keys))
		ctx, cancel := context.WithTimeout(ctx, time.Minute)
		errs, err := tbl.ApplyBulk(ctx, keys[start:end], muts[start:end])
		cancel()
		if err != nil {
			return fmt.Errorf("write %d rows: %w", end-start, err)
		}
		for i, e := range errs {
			if e != nil {
				return fmt.Errorf("write row %s: %w", keys[start+i], e)
			}
		}
	}
	return nil
}

// Cell is one count read back from the table.
type Cell struct {
	Kind       Kind
	Advertiser string
	// Ad is the row's ad (m, h, d rows; AllAds for the advertiser's
	// total) or the cell's column (t rows).
	Ad     string
	Bucket time.Time // the bucket's start, UTC
	// Column is the cell's column in a placement row (the placement) or
	// an outcome row (the outcome), of a day or of a quarter hour.
	Column string
	Family string // FamilySpeed or FamilyBatch
	N      int64
	// Version is the cell's timestamp: for batch cells, the run that
	// wrote it (BatchTimestamp).
	Version bigtable.Timestamp
}

// ParseRowKey splits a count row's key (RowKey or TopRowKey) into its
// kind, advertiser, ad (empty for t rows) and first bucket.
func ParseRowKey(key string) (k Kind, advertiser, ad string, start time.Time, err error) {
	parts := strings.Split(key, "#")
	if len(parts) < 3 || len(parts[0]) != 1 {
		return 0, "", "", time.Time{}, fmt.Errorf("btschema: row key %q is not a count row", key)
	}
	k = Kind(parts[0][0])
	switch {
	case k == Top && len(parts) == 3:
		advertiser = parts[1]
	case (k == Minute || k == Hour || k == Day || k == Placement || k == Outcomes || k == PlacementQuarters || k == OutcomeQuarters) && len(parts) == 4:
		advertiser, ad = parts[1], parts[2]
	default:
		return 0, "", "", time.Time{}, fmt.Errorf("btschema: row key %q is not a count row", key)
	}
	start, err = time.Parse(rowTimeLayout(k), parts[len(parts)-1])
	if err != nil {
		return 0, "", "", time.Time{}, fmt.Errorf("btschema: row key %q: %w", key, err)
	}
	return k, advertiser, ad, start, nil
}

// DecodeRow calls fn with every count cell of a count row, in both
// families (read it with a latest-version filter: GC is lazy).
func DecodeRow(row bigtable.Row, fn func(Cell)) error {
	k, advertiser, ad, start, err := ParseRowKey(row.Key())
	if err != nil {
		return err
	}
	for _, family := range []string{FamilySpeed, FamilyBatch} {
		for _, item := range row[family] {
			c := Cell{Kind: k, Advertiser: advertiser, Ad: ad, Bucket: start, Family: family, Version: item.Timestamp}
			q := strings.TrimPrefix(item.Column, family+":")
			switch k {
			case Top:
				c.Ad = q
			case Placement, Outcomes:
				c.Column = q
			case PlacementQuarters, OutcomeQuarters:
				c.Bucket, c.Column, err = parseQuarterQualifier(start, q)
			default:
				c.Bucket, err = BucketTime(k, start, q)
			}
			if err != nil {
				return fmt.Errorf("row %s: %w", row.Key(), err)
			}
			if c.N, err = DecodeCount(item.Value); err != nil {
				return fmt.Errorf("row %s cell %s: %w", row.Key(), item.Column, err)
			}
			fn(c)
		}
	}
	return nil
}

// ReadCells reads the count rows in rows and calls fn with every cell's
// latest version, of family only (FamilySpeed or FamilyBatch) or of both
// ("").
func ReadCells(ctx context.Context, tbl *bigtable.Table, rows bigtable.RowSet, family string, fn func(Cell)) error {
	filter := bigtable.LatestNFilter(1)
	if family != "" {
		filter = bigtable.ChainFilters(bigtable.FamilyFilter("^"+family+"$"), filter)
	}
	var bad error
	err := tbl.ReadRows(ctx, rows, func(row bigtable.Row) bool {
		bad = DecodeRow(row, fn)
		return bad == nil
	}, bigtable.RowFilter(filter))
	if err != nil {
		return fmt.Errorf("read count rows: %w", err)
	}
	return bad
}

// SeriesRows is the range of ad's rows of kind k (Minute, Hour or Day)
// that hold the buckets of [from, to).
func SeriesRows(k Kind, advertiser, ad string, from, to time.Time) bigtable.RowRange {
	last := RowStart(k, to.Add(-time.Nanosecond))
	return bigtable.NewRange(RowKey(k, advertiser, ad, from), RowKey(k, advertiser, ad, last)+"\x00")
}

// TopRows is the range of advertiser's top rows of the minutes of
// [from, to).
func TopRows(advertiser string, from, to time.Time) bigtable.RowRange {
	return bigtable.NewRange(TopRowKey(advertiser, from), TopRowKey(advertiser, to.Add(-time.Nanosecond))+"\x00")
}

// AdRows is every row of ad at kind k.
func AdRows(k Kind, advertiser, ad string) bigtable.RowRange {
	return bigtable.PrefixRange(string(k) + "#" + advertiser + "#" + ad + "#")
}

// KindRows is every row of kind k.
func KindRows(k Kind) bigtable.RowRange {
	return bigtable.PrefixRange(string(k) + "#")
}

// ReadCount reads the count of one bucket of ad (kind Minute, Hour or
// Day) in family; ok is false when the cell does not exist.
func ReadCount(ctx context.Context, tbl *bigtable.Table, k Kind, family, advertiser, ad string, bucket time.Time) (n int64, ok bool, err error) {
	row, err := tbl.ReadRow(ctx, RowKey(k, advertiser, ad, bucket), bigtable.RowFilter(bigtable.ChainFilters(
		bigtable.FamilyFilter("^"+family+"$"), bigtable.ColumnFilter("^"+Qualifier(k, bucket)+"$"), bigtable.LatestNFilter(1))))
	if err != nil {
		return 0, false, fmt.Errorf("read %s: %w", RowKey(k, advertiser, ad, bucket), err)
	}
	for _, item := range row[family] {
		n, err = DecodeCount(item.Value)
		return n, err == nil, err
	}
	return 0, false, nil
}

// Placement labels: what the nightly records instead of a placement id
// it cannot keep.
const (
	NoPlacement      = "(none)"    // the token named none
	OtherPlacements  = "(other)"   // past the cap of placements per ad and day
	InvalidPlacement = "(invalid)" // not printable UTF-8 of at most MaxPlacementLen bytes
)

// DefaultMaxPlacements is how many placements the nightly keeps per ad and
// day, the rest summed into OtherPlacements: placement ids are free text
// from ad servers, so their number is bounded here, not by the sender.
const DefaultMaxPlacements = 100

// MaxPlacementLen bounds a placement id kept as a column.
const MaxPlacementLen = 128

// PlacementLabel is the column a click's placement id is counted under:
// the id itself, or NoPlacement or InvalidPlacement. Placement ids are
// free text from ad servers.
func PlacementLabel(id string) string {
	if id == "" {
		return NoPlacement
	}
	if len(id) > MaxPlacementLen || !utf8.ValidString(id) {
		return InvalidPlacement
	}
	for _, r := range id {
		if unicode.IsControl(r) {
			return InvalidPlacement
		}
	}
	return id
}

// PlacementRows is the range of ad's placement rows of the UTC days in
// [from, to).
func PlacementRows(advertiser, ad string, from, to time.Time) bigtable.RowRange {
	return SeriesRows(Placement, advertiser, ad, from, to)
}
