// Package warehouse defines, once, the authoritative tables the nightly
// batch writes: their names, columns with descriptions, partitioning and
// clustering, the Parquet rows that carry them, the partition layout in
// Cloud Storage (<table>/date=YYYY-MM-DD/part-*.parquet) and the
// BigQuery load of one partition. Terraform, the batch job and the LookML
// all follow it.
package warehouse

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"

	"cloud.google.com/go/bigquery"
	"github.com/xitongsys/parquet-go/source"
	"github.com/xitongsys/parquet-go/writer"

	"github.com/adclick/adclick/internal/btschema"
)

// Dataset is the BigQuery dataset of the tables, as Terraform creates it.
const Dataset = "adclick"

// Period is the span of one partition of a table.
type Period string

const (
	ByDay   Period = "DAY"
	ByMonth Period = "MONTH" // keyed by the month's first day
	ByYear  Period = "YEAR"  // keyed by the year's first day
)

// Table is one authoritative table.
type Table struct {
	Name        string
	Description string
	// Partition is the span of one partition (BigQuery's time
	// partitioning type on the date column).
	Partition Period
	Columns   []Column
	// Clustering columns, in order.
	Clustering []string
	// Row is the Parquet row type.
	Row any
}

// Column is a column with its description.
type Column struct {
	Name        string
	Type        bigquery.FieldType
	Description string
}

var (
	colDate = Column{"date", bigquery.DateFieldType,
		"UTC day of the bucket, the partition column; in month and year tables the first day of the month or year."}
	colBucket = Column{"bucket_start", bigquery.TimestampFieldType,
		"Start of the bucket (minute, hour, day, month or year) in UTC."}
	colAdvertiser = Column{"advertiser_id", bigquery.StringFieldType, "Advertiser, as in the ad catalog."}
	colAd         = Column{"ad_id", bigquery.StringFieldType, "Ad, as in the ad catalog and signed into the impression token."}
	colClicks     = Column{"clicks", bigquery.IntegerFieldType,
		"Countable clicks: authentic, unexpired, human, and the first click of their impression (see docs/batch.md)."}
	colCampaign = Column{"campaign_id", bigquery.StringFieldType,
		"Campaign the click service recorded with each click (the ad's campaign when clicked: an ad that moves keeps its past clicks in the old one)."}
	colOutcome = Column{"outcome", bigquery.StringFieldType,
		"What became of the clicks: counted, duplicate, expired, bot or invalid."}
)

// Granularities of the count tables.
var Granularities = []string{"minute", "hour", "day", "month", "year"}

// periodOf is the partitioning of the count tables of a granularity:
// months and years are rolled up into partitions of their own span, so
// that a rerun replaces a whole bucket and a read of a year touches one
// partition.
func periodOf(granularity string) Period {
	switch granularity {
	case "month":
		return ByMonth
	case "year":
		return ByYear
	}
	return ByDay
}

// Tables lists every table, count tables first.
var Tables = buildTables()

func buildTables() []Table {
	var ts []Table
	for _, g := range Granularities {
		ts = append(ts, Table{
			Name:        "ad_clicks_" + g,
			Description: "Exact countable clicks per ad per " + g + " (UTC), from the nightly reconciliation of the raw click archive.",
			Partition:   periodOf(g),
			Columns:     []Column{colDate, colBucket, colAdvertiser, colAd, colClicks},
			Clustering:  []string{"advertiser_id", "ad_id"},
			Row:         AdRow{},
		})
	}
	for _, g := range Granularities {
		ts = append(ts, Table{
			Name:        "advertiser_clicks_" + g,
			Description: "Exact countable clicks per advertiser (all their ads) per " + g + " (UTC), from the nightly reconciliation.",
			Partition:   periodOf(g),
			Columns:     []Column{colDate, colBucket, colAdvertiser, colClicks},
			Clustering:  []string{"advertiser_id"},
			Row:         AdvertiserRow{},
		})
	}
	for _, g := range Granularities {
		ts = append(ts, Table{
			Name:        "campaign_clicks_" + g,
			Description: "Exact countable clicks per campaign (all its ads, as recorded with each click) per " + g + " (UTC), from the nightly reconciliation.",
			Partition:   periodOf(g),
			Columns:     []Column{colDate, colBucket, colAdvertiser, colCampaign, colClicks},
			Clustering:  []string{"advertiser_id", "campaign_id"},
			Row:         CampaignRow{},
		})
	}
	ts = append(ts, Table{
		Name:        PlacementTable,
		Description: "Exact countable clicks per ad per UTC day by the placement the ad was shown in (signed into the impression token): the " + strconv.Itoa(btschema.DefaultMaxPlacements) + " most clicked placements per ad and day, the rest summed as (other); (none) when the token named none, (invalid) for ids that are not printable UTF-8 of at most " + strconv.Itoa(btschema.MaxPlacementLen) + " bytes.",
		Partition:   ByDay,
		Columns: []Column{colDate, colAdvertiser, colAd,
			{"placement_id", bigquery.StringFieldType, "Where the ad was shown, as the ad server named it, or (other), (none), (invalid)."}, colClicks},
		Clustering: []string{"advertiser_id", "ad_id", "placement_id"},
		Row:        PlacementRow{},
	})
	ts = append(ts, Table{
		Name:        "ad_click_outcomes_day",
		Description: "Every archived click of the day per ad by outcome: what was counted and why the rest was not.",
		Partition:   ByDay,
		Columns:     []Column{colDate, colAdvertiser, colAd, colOutcome, colClicks},
		Clustering:  []string{"advertiser_id", "ad_id"},
		Row:         OutcomeRow{},
	})
	return ts
}

// Lookup returns the table named name.
func Lookup(name string) (Table, error) {
	for _, t := range Tables {
		if t.Name == name {
			return t, nil
		}
	}
	return Table{}, fmt.Errorf("warehouse: no table %q", name)
}

// Level is what a count table counts clicks of.
type Level string

const (
	AdLevel         Level = "ad"
	AdvertiserLevel Level = "advertiser"
	CampaignLevel   Level = "campaign"
)

// Levels lists every level of count tables.
var Levels = []Level{AdLevel, AdvertiserLevel, CampaignLevel}

// CountTable names the count table of a level and granularity.
func CountTable(l Level, granularity string) string {
	return string(l) + "_clicks_" + granularity
}

// CountRow is the row of a count table of level l: id is the ad or the
// campaign (ignored for the advertiser level).
func CountRow(l Level, bucket time.Time, partition time.Time, advertiser, id string, clicks int64) any {
	date, start := EpochDay(partition), bucket.UnixMilli()
	switch l {
	case AdvertiserLevel:
		return AdvertiserRow{Date: date, BucketStart: start, AdvertiserID: advertiser, Clicks: clicks}
	case CampaignLevel:
		return CampaignRow{Date: date, BucketStart: start, AdvertiserID: advertiser, CampaignID: id, Clicks: clicks}
	}
	return AdRow{Date: date, BucketStart: start, AdvertiserID: advertiser, AdID: id, Clicks: clicks}
}

// AdRow is a row of an ad_clicks_* table.
type AdRow struct {
	Date         int32  `parquet:"name=date, type=INT32, convertedtype=DATE"`
	BucketStart  int64  `parquet:"name=bucket_start, type=INT64, convertedtype=TIMESTAMP_MILLIS"`
	AdvertiserID string `parquet:"name=advertiser_id, type=BYTE_ARRAY, convertedtype=UTF8"`
	AdID         string `parquet:"name=ad_id, type=BYTE_ARRAY, convertedtype=UTF8"`
	Clicks       int64  `parquet:"name=clicks, type=INT64"`
}

// AdvertiserRow is a row of an advertiser_clicks_* table.
type AdvertiserRow struct {
	Date         int32  `parquet:"name=date, type=INT32, convertedtype=DATE"`
	BucketStart  int64  `parquet:"name=bucket_start, type=INT64, convertedtype=TIMESTAMP_MILLIS"`
	AdvertiserID string `parquet:"name=advertiser_id, type=BYTE_ARRAY, convertedtype=UTF8"`
	Clicks       int64  `parquet:"name=clicks, type=INT64"`
}

// CampaignRow is a row of a campaign_clicks_* table.
type CampaignRow struct {
	Date         int32  `parquet:"name=date, type=INT32, convertedtype=DATE"`
	BucketStart  int64  `parquet:"name=bucket_start, type=INT64, convertedtype=TIMESTAMP_MILLIS"`
	AdvertiserID string `parquet:"name=advertiser_id, type=BYTE_ARRAY, convertedtype=UTF8"`
	CampaignID   string `parquet:"name=campaign_id, type=BYTE_ARRAY, convertedtype=UTF8"`
	Clicks       int64  `parquet:"name=clicks, type=INT64"`
}

// PlacementTable is the table of an ad's clicks by placement and day.
const PlacementTable = "ad_placement_clicks_day"

// PlacementRow is a row of ad_placement_clicks_day.
type PlacementRow struct {
	Date         int32  `parquet:"name=date, type=INT32, convertedtype=DATE"`
	AdvertiserID string `parquet:"name=advertiser_id, type=BYTE_ARRAY, convertedtype=UTF8"`
	AdID         string `parquet:"name=ad_id, type=BYTE_ARRAY, convertedtype=UTF8"`
	PlacementID  string `parquet:"name=placement_id, type=BYTE_ARRAY, convertedtype=UTF8"`
	Clicks       int64  `parquet:"name=clicks, type=INT64"`
}

// OutcomeRow is a row of ad_click_outcomes_day.
type OutcomeRow struct {
	Date         int32  `parquet:"name=date, type=INT32, convertedtype=DATE"`
	AdvertiserID string `parquet:"name=advertiser_id, type=BYTE_ARRAY, convertedtype=UTF8"`
	AdID         string `parquet:"name=ad_id, type=BYTE_ARRAY, convertedtype=UTF8"`
	Outcome      string `parquet:"name=outcome, type=BYTE_ARRAY, convertedtype=UTF8"`
	Clicks       int64  `parquet:"name=clicks, type=INT64"`
}

// EpochDay is a DATE column's value: days since 1970-01-01.
func EpochDay(t time.Time) int32 { return int32(t.UTC().Unix() / 86400) }

// DayOf is the inverse of EpochDay.
func DayOf(d int32) time.Time { return time.Unix(int64(d)*86400, 0).UTC() }

// PartitionOf is the partition a bucket belongs to: the first day of its
// day, month or year.
func (t Table) PartitionOf(bucket time.Time) time.Time {
	return t.Partition.Start(bucket)
}

// Start is the first day of the period holding t (UTC).
func (p Period) Start(t time.Time) time.Time {
	t = t.UTC()
	switch p {
	case ByMonth:
		return time.Date(t.Year(), t.Month(), 1, 0, 0, 0, 0, time.UTC)
	case ByYear:
		return time.Date(t.Year(), 1, 1, 0, 0, 0, 0, time.UTC)
	}
	return time.Date(t.Year(), t.Month(), t.Day(), 0, 0, 0, 0, time.UTC)
}

// PartitionDir is the folder of one partition: <table>/date=YYYY-MM-DD/.
func (t Table) PartitionDir(partition time.Time) string {
	return t.Name + "/date=" + partition.UTC().Format(time.DateOnly) + "/"
}

// Decorator is the BigQuery partition decorator: table$YYYYMMDD,
// table$YYYYMM or table$YYYY.
func (t Table) Decorator(partition time.Time) string {
	layout := map[Period]string{ByDay: "20060102", ByMonth: "200601", ByYear: "2006"}[t.Partition]
	return t.Name + "$" + partition.UTC().Format(layout)
}

// Schema is the table's BigQuery schema.
func (t Table) Schema() bigquery.Schema {
	s := make(bigquery.Schema, len(t.Columns))
	for i, c := range t.Columns {
		s[i] = &bigquery.FieldSchema{Name: c.Name, Type: c.Type, Description: c.Description, Required: true}
	}
	return s
}

// Partitioning is the table's BigQuery time partitioning.
func (t Table) Partitioning() *bigquery.TimePartitioning {
	return &bigquery.TimePartitioning{Type: bigquery.TimePartitioningType(t.Partition), Field: "date"}
}

// ParquetWriter writes rows of one table to w; WriteStop finishes the file.
func (t Table) ParquetWriter(w io.Writer) (*writer.ParquetWriter, error) {
	pw, err := writer.NewParquetWriterFromWriter(w, t.RowPointer(), 1)
	if err != nil {
		return nil, fmt.Errorf("parquet writer for %s: %w", t.Name, err)
	}
	return pw, nil
}

// RowPointer is a new *Row, the form the Parquet library reads schemas from.
func (t Table) RowPointer() any {
	switch t.Row.(type) {
	case AdRow:
		return new(AdRow)
	case AdvertiserRow:
		return new(AdvertiserRow)
	case CampaignRow:
		return new(CampaignRow)
	case PlacementRow:
		return new(PlacementRow)
	case OutcomeRow:
		return new(OutcomeRow)
	}
	panic(fmt.Sprintf("warehouse: table %s has row type %T", t.Name, t.Row))
}

// PartFile is the name of one Parquet file of a partition.
func (t Table) PartFile(partition time.Time, id string) string {
	return t.PartitionDir(partition) + "part-" + id + ".parquet"
}

// IsPartFile reports whether name is a Parquet part of the partition dir.
func IsPartFile(dir, name string) bool {
	return strings.HasPrefix(name, dir+"part-") && strings.HasSuffix(name, ".parquet")
}

// memFile is a Parquet file held in memory, for readers.
type memFile struct{ *bytes.Reader }

// NewMemFile wraps a whole Parquet file for the Parquet reader.
func NewMemFile(data []byte) source.ParquetFile { return memFile{bytes.NewReader(data)} }

func (m memFile) Write([]byte) (int, error) { return 0, fmt.Errorf("read-only parquet file") }
func (m memFile) Close() error              { return nil }
func (m memFile) Open(string) (source.ParquetFile, error) {
	r := *m.Reader
	return memFile{&r}, nil
}
func (m memFile) Create(string) (source.ParquetFile, error) {
	return nil, fmt.Errorf("read-only parquet file")
}

// tfTable is a table as terraform/schemas/bigquery.json holds it.
type tfTable struct {
	Name        string     `json:"name"`
	Description string     `json:"description"`
	Partition   string     `json:"partitioning"`
	Clustering  []string   `json:"clustering"`
	Schema      []tfColumn `json:"schema"`
}

type tfColumn struct {
	Name        string `json:"name"`
	Type        string `json:"type"`
	Mode        string `json:"mode"`
	Description string `json:"description"`
}

// TerraformJSON is every table in the form Terraform reads
// (terraform/schemas/bigquery.json).
func TerraformJSON() ([]byte, error) {
	var out []tfTable
	for _, t := range Tables {
		tt := tfTable{Name: t.Name, Description: t.Description, Partition: string(t.Partition), Clustering: t.Clustering}
		for _, c := range t.Columns {
			tt.Schema = append(tt.Schema, tfColumn{Name: c.Name, Type: string(c.Type), Mode: "REQUIRED", Description: c.Description})
		}
		out = append(out, tt)
	}
	data, err := json.MarshalIndent(out, "", "  ")
	if err != nil {
		return nil, err
	}
	return append(data, '\n'), nil
}
