view: ad_clicks_minute {
  sql_table_name: `@{BQ_PROJECT}.@{BQ_DATASET}.ad_clicks_minute` ;;
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
    timeframes: [raw, minute, hour, date, month]
    sql: ${TABLE}.bucket_start ;;
    description: "Start of the minute bucket (UTC)."
  }

  dimension: advertiser_id {
    type: string
    sql: ${TABLE}.advertiser_id ;;
  }

  dimension: ad_id {
    type: string
    sql: ${TABLE}.ad_id ;;
  }

  measure: clicks {
    type: sum
    sql: ${TABLE}.clicks ;;
    description: "Countable clicks: authentic, unexpired, human, first of their impression."
  }
}

view: ad_clicks_hour {
  sql_table_name: `@{BQ_PROJECT}.@{BQ_DATASET}.ad_clicks_hour` ;;
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
    timeframes: [raw, hour, date, month]
    sql: ${TABLE}.bucket_start ;;
    description: "Start of the hour bucket (UTC)."
  }

  dimension: advertiser_id {
    type: string
    sql: ${TABLE}.advertiser_id ;;
  }

  dimension: ad_id {
    type: string
    sql: ${TABLE}.ad_id ;;
  }

  measure: clicks {
    type: sum
    sql: ${TABLE}.clicks ;;
    description: "Countable clicks: authentic, unexpired, human, first of their impression."
  }
}

view: ad_clicks_day {
  sql_table_name: `@{BQ_PROJECT}.@{BQ_DATASET}.ad_clicks_day` ;;
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
    timeframes: [raw, date, month]
    sql: ${TABLE}.bucket_start ;;
    description: "Start of the day bucket (UTC)."
  }

  dimension: advertiser_id {
    type: string
    sql: ${TABLE}.advertiser_id ;;
  }

  dimension: ad_id {
    type: string
    sql: ${TABLE}.ad_id ;;
  }

  measure: clicks {
    type: sum
    sql: ${TABLE}.clicks ;;
    description: "Countable clicks: authentic, unexpired, human, first of their impression."
  }
}

view: ad_clicks_month {
  sql_table_name: `@{BQ_PROJECT}.@{BQ_DATASET}.ad_clicks_month` ;;
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
    timeframes: [raw, date, month]
    sql: ${TABLE}.bucket_start ;;
    description: "Start of the month bucket (UTC)."
  }

  dimension: advertiser_id {
    type: string
    sql: ${TABLE}.advertiser_id ;;
  }

  dimension: ad_id {
    type: string
    sql: ${TABLE}.ad_id ;;
  }

  measure: clicks {
    type: sum
    sql: ${TABLE}.clicks ;;
    description: "Countable clicks: authentic, unexpired, human, first of their impression."
  }
}

view: ad_clicks_year {
  sql_table_name: `@{BQ_PROJECT}.@{BQ_DATASET}.ad_clicks_year` ;;
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
    timeframes: [raw, year]
    sql: ${TABLE}.bucket_start ;;
    description: "Start of the year bucket (UTC)."
  }

  dimension: advertiser_id {
    type: string
    sql: ${TABLE}.advertiser_id ;;
  }

  dimension: ad_id {
    type: string
    sql: ${TABLE}.ad_id ;;
  }

  measure: clicks {
    type: sum
    sql: ${TABLE}.clicks ;;
    description: "Countable clicks: authentic, unexpired, human, first of their impression."
  }
}

view: advertiser_clicks_minute {
  sql_table_name: `@{BQ_PROJECT}.@{BQ_DATASET}.advertiser_clicks_minute` ;;
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
    timeframes: [raw, minute, hour, date, month]
    sql: ${TABLE}.bucket_start ;;
    description: "Start of the minute bucket (UTC)."
  }

  dimension: advertiser_id {
    type: string
    sql: ${TABLE}.advertiser_id ;;
  }

  measure: clicks {
    type: sum
    sql: ${TABLE}.clicks ;;
    description: "Countable clicks: authentic, unexpired, human, first of their impression."
  }
}

view: advertiser_clicks_hour {
  sql_table_name: `@{BQ_PROJECT}.@{BQ_DATASET}.advertiser_clicks_hour` ;;
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
    timeframes: [raw, hour, date, month]
    sql: ${TABLE}.bucket_start ;;
    description: "Start of the hour bucket (UTC)."
  }

  dimension: advertiser_id {
    type: string
    sql: ${TABLE}.advertiser_id ;;
  }

  measure: clicks {
    type: sum
    sql: ${TABLE}.clicks ;;
    description: "Countable clicks: authentic, unexpired, human, first of their impression."
  }
}

view: advertiser_clicks_day {
  sql_table_name: `@{BQ_PROJECT}.@{BQ_DATASET}.advertiser_clicks_day` ;;
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
    timeframes: [raw, date, month]
    sql: ${TABLE}.bucket_start ;;
    description: "Start of the day bucket (UTC)."
  }

  dimension: advertiser_id {
    type: string
    sql: ${TABLE}.advertiser_id ;;
  }

  measure: clicks {
    type: sum
    sql: ${TABLE}.clicks ;;
    description: "Countable clicks: authentic, unexpired, human, first of their impression."
  }
}

view: advertiser_clicks_month {
  sql_table_name: `@{BQ_PROJECT}.@{BQ_DATASET}.advertiser_clicks_month` ;;
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
    timeframes: [raw, date, month]
    sql: ${TABLE}.bucket_start ;;
    description: "Start of the month bucket (UTC)."
  }

  dimension: advertiser_id {
    type: string
    sql: ${TABLE}.advertiser_id ;;
  }

  measure: clicks {
    type: sum
    sql: ${TABLE}.clicks ;;
    description: "Countable clicks: authentic, unexpired, human, first of their impression."
  }
}

view: advertiser_clicks_year {
  sql_table_name: `@{BQ_PROJECT}.@{BQ_DATASET}.advertiser_clicks_year` ;;
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
    timeframes: [raw, year]
    sql: ${TABLE}.bucket_start ;;
    description: "Start of the year bucket (UTC)."
  }

  dimension: advertiser_id {
    type: string
    sql: ${TABLE}.advertiser_id ;;
  }

  measure: clicks {
    type: sum
    sql: ${TABLE}.clicks ;;
    description: "Countable clicks: authentic, unexpired, human, first of their impression."
  }
}

view: campaign_clicks_minute {
  sql_table_name: `@{BQ_PROJECT}.@{BQ_DATASET}.campaign_clicks_minute` ;;
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
    timeframes: [raw, minute, hour, date, month]
    sql: ${TABLE}.bucket_start ;;
    description: "Start of the minute bucket (UTC)."
  }

  dimension: advertiser_id {
    type: string
    sql: ${TABLE}.advertiser_id ;;
  }

  dimension: campaign_id {
    type: string
    sql: ${TABLE}.campaign_id ;;
    description: "The campaign recorded with each click: an ad that moved keeps its past clicks in its old campaign."
  }

  measure: clicks {
    type: sum
    sql: ${TABLE}.clicks ;;
    description: "Countable clicks: authentic, unexpired, human, first of their impression."
  }
}

view: campaign_clicks_hour {
  sql_table_name: `@{BQ_PROJECT}.@{BQ_DATASET}.campaign_clicks_hour` ;;
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
    timeframes: [raw, hour, date, month]
    sql: ${TABLE}.bucket_start ;;
    description: "Start of the hour bucket (UTC)."
  }

  dimension: advertiser_id {
    type: string
    sql: ${TABLE}.advertiser_id ;;
  }

  dimension: campaign_id {
    type: string
    sql: ${TABLE}.campaign_id ;;
    description: "The campaign recorded with each click: an ad that moved keeps its past clicks in its old campaign."
  }

  measure: clicks {
    type: sum
    sql: ${TABLE}.clicks ;;
    description: "Countable clicks: authentic, unexpired, human, first of their impression."
  }
}

view: campaign_clicks_day {
  sql_table_name: `@{BQ_PROJECT}.@{BQ_DATASET}.campaign_clicks_day` ;;
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
    timeframes: [raw, date, month]
    sql: ${TABLE}.bucket_start ;;
    description: "Start of the day bucket (UTC)."
  }

  dimension: advertiser_id {
    type: string
    sql: ${TABLE}.advertiser_id ;;
  }

  dimension: campaign_id {
    type: string
    sql: ${TABLE}.campaign_id ;;
    description: "The campaign recorded with each click: an ad that moved keeps its past clicks in its old campaign."
  }

  measure: clicks {
    type: sum
    sql: ${TABLE}.clicks ;;
    description: "Countable clicks: authentic, unexpired, human, first of their impression."
  }
}

view: campaign_clicks_month {
  sql_table_name: `@{BQ_PROJECT}.@{BQ_DATASET}.campaign_clicks_month` ;;
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
    timeframes: [raw, date, month]
    sql: ${TABLE}.bucket_start ;;
    description: "Start of the month bucket (UTC)."
  }

  dimension: advertiser_id {
    type: string
    sql: ${TABLE}.advertiser_id ;;
  }

  dimension: campaign_id {
    type: string
    sql: ${TABLE}.campaign_id ;;
    description: "The campaign recorded with each click: an ad that moved keeps its past clicks in its old campaign."
  }

  measure: clicks {
    type: sum
    sql: ${TABLE}.clicks ;;
    description: "Countable clicks: authentic, unexpired, human, first of their impression."
  }
}

view: campaign_clicks_year {
  sql_table_name: `@{BQ_PROJECT}.@{BQ_DATASET}.campaign_clicks_year` ;;
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
    timeframes: [raw, year]
    sql: ${TABLE}.bucket_start ;;
    description: "Start of the year bucket (UTC)."
  }

  dimension: advertiser_id {
    type: string
    sql: ${TABLE}.advertiser_id ;;
  }

  dimension: campaign_id {
    type: string
    sql: ${TABLE}.campaign_id ;;
    description: "The campaign recorded with each click: an ad that moved keeps its past clicks in its old campaign."
  }

  measure: clicks {
    type: sum
    sql: ${TABLE}.clicks ;;
    description: "Countable clicks: authentic, unexpired, human, first of their impression."
  }
}

view: ad_placement_clicks_day {
  sql_table_name: `@{BQ_PROJECT}.@{BQ_DATASET}.ad_placement_clicks_day` ;;
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

view: ad_click_outcomes_day {
  sql_table_name: `@{BQ_PROJECT}.@{BQ_DATASET}.ad_click_outcomes_day` ;;
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
