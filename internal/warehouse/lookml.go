package warehouse

import (
	"fmt"
	"strings"
)

// bucketTimeframes are the LookML timeframes of a count table's
// bucket_start: as fine as the table's granularity, no finer.
var bucketTimeframes = map[string]string{
	"minute": "raw, minute, hour, date, month",
	"hour":   "raw, hour, date, month",
	"day":    "raw, date, month",
	"month":  "raw, date, month",
	"year":   "raw, year",
}

// LookMLViews is looker/adclick.view.lkml: a view per table, generated so
// that Looker follows the tables defined here (go run ./cmd/lookml >
// looker/adclick.view.lkml; a test fails when the file is stale).
func LookMLViews() []byte {
	var b strings.Builder
	for i, t := range Tables {
		if i > 0 {
			b.WriteString("\n")
		}
		switch t.Name {
		case "ad_click_outcomes_day":
			b.WriteString(outcomesView)
			continue
		case PlacementTable:
			b.WriteString(placementsView)
			continue
		}
		g := t.Name[strings.LastIndexByte(t.Name, '_')+1:]
		fmt.Fprintf(&b, countViewHead, t.Name, t.Name, bucketTimeframes[g], g)
		switch t.Row.(type) {
		case AdRow:
			b.WriteString(adDimension)
		case CampaignRow:
			b.WriteString(campaignDimension)
		}
		b.WriteString(clicksMeasure)
	}
	return []byte(b.String())
}

const countViewHead = `view: %s {
  sql_table_name: ` + "`@{BQ_PROJECT}.@{BQ_DATASET}.%s`" + ` ;;
  # Generated from internal/warehouse's table definition (go run ./cmd/lookml); see docs/batch.md.

  dimension_group: date {
    type: time
    timeframes: [date, week, month, year]
    datatype: date
    convert_tz: no
    sql: ${TABLE}.date ;;
    description: "UTC day of the bucket (the partition column; in month and year tables the first day of the month or year). Filter on it: queries then read only those partitions."
  }

  dimension_group: bucket {
    type: time
    timeframes: [%s]
    sql: ${TABLE}.bucket_start ;;
    description: "Start of the %s bucket (UTC)."
  }

  dimension: advertiser_id {
    type: string
    sql: ${TABLE}.advertiser_id ;;
  }
`

const adDimension = `
  dimension: ad_id {
    type: string
    sql: ${TABLE}.ad_id ;;
  }
`

const campaignDimension = `
  dimension: campaign_id {
    type: string
    sql: ${TABLE}.campaign_id ;;
    description: "The campaign recorded with each click: an ad that moved keeps its past clicks in its old campaign."
  }
`

const clicksMeasure = `
  measure: clicks {
    type: sum
    sql: ${TABLE}.clicks ;;
    description: "Countable clicks: authentic, unexpired, human, first of their impression."
  }
}
`

const outcomesView = `view: ad_click_outcomes_day {
  sql_table_name: ` + "`@{BQ_PROJECT}.@{BQ_DATASET}.ad_click_outcomes_day`" + ` ;;
  # Generated from internal/warehouse's table definition (go run ./cmd/lookml); see docs/batch.md.

  dimension_group: date {
    type: time
    timeframes: [date, week, month]
    datatype: date
    convert_tz: no
    sql: ${TABLE}.date ;;
  }

  dimension: advertiser_id {
    type: string
    sql: ${TABLE}.advertiser_id ;;
  }

  dimension: ad_id {
    type: string
    sql: ${TABLE}.ad_id ;;
  }

  dimension: outcome {
    type: string
    sql: ${TABLE}.outcome ;;
    description: "counted, duplicate, expired, bot or invalid."
  }

  measure: clicks {
    type: sum
    sql: ${TABLE}.clicks ;;
  }

  measure: rejected_share {
    type: number
    value_format_name: percent_1
    sql: 1 - SAFE_DIVIDE(SUM(CASE WHEN ${outcome} = 'counted' THEN ${TABLE}.clicks END), SUM(${TABLE}.clicks)) ;;
    description: "Share of archived clicks that did not count."
  }
}
`

const placementsView = `view: ad_placement_clicks_day {
  sql_table_name: ` + "`@{BQ_PROJECT}.@{BQ_DATASET}.ad_placement_clicks_day`" + ` ;;
  # Generated from internal/warehouse's table definition (go run ./cmd/lookml); see docs/batch.md.

  dimension_group: date {
    type: time
    timeframes: [date, week, month, year]
    datatype: date
    convert_tz: no
    sql: ${TABLE}.date ;;
    description: "UTC day (the partition column). Filter on it: queries then read only those partitions."
  }

  dimension: advertiser_id {
    type: string
    sql: ${TABLE}.advertiser_id ;;
  }

  dimension: ad_id {
    type: string
    sql: ${TABLE}.ad_id ;;
  }

  dimension: placement_id {
    type: string
    sql: ${TABLE}.placement_id ;;
    description: "Where the ad was shown, as the ad server named it; (other) past the per-ad daily cap, (none), (invalid)."
  }

  measure: clicks {
    type: sum
    sql: ${TABLE}.clicks ;;
    description: "Countable clicks: authentic, unexpired, human, first of their impression."
  }
}
`
