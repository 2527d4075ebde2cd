# The adclick model: explores over the authoritative tables the nightly
# batch loads into BigQuery (internal/warehouse defines them). Point the
# connection at the project and dataset Terraform creates; row-level access
# policies there limit each advertiser's Looker users to their rows.
connection: "adclick_bigquery"

include: "/looker/*.view.lkml"

explore: ad_clicks_day {
  label: "Ad clicks by day"
  description: "Exact clicks per ad per UTC day, with the outcomes of every archived click."
  always_filter: { filters: [ad_clicks_day.date_date: "30 days"] }
  join: ad_click_outcomes_day {
    type: left_outer
    relationship: one_to_many
    sql_on: ${ad_clicks_day.date_date} = ${ad_click_outcomes_day.date_date}
        AND ${ad_clicks_day.advertiser_id} = ${ad_click_outcomes_day.advertiser_id}
        AND ${ad_clicks_day.ad_id} = ${ad_click_outcomes_day.ad_id} ;;
  }
}

explore: ad_clicks_hour {
  label: "Ad clicks by hour"
  always_filter: { filters: [ad_clicks_hour.date_date: "7 days"] }
}

explore: ad_clicks_minute {
  label: "Ad clicks by minute"
  always_filter: { filters: [ad_clicks_minute.date_date: "1 day"] }
}

explore: ad_clicks_month {
  label: "Ad clicks by month"
}

explore: ad_placement_clicks_day {
  label: "Ad clicks by placement"
  description: "Which placements bring an ad's clicks, per UTC day (final, from the nightly)."
  always_filter: { filters: [ad_placement_clicks_day.date_date: "30 days"] }
}

explore: ad_clicks_year {
  label: "Ad clicks by year"
  description: "Rolled up by the nightly from the month table, never from raw."
}

explore: advertiser_clicks_year {
  label: "Advertiser clicks by year"
}

explore: advertiser_clicks_day {
  label: "Advertiser clicks by day"
  always_filter: { filters: [advertiser_clicks_day.date_date: "90 days"] }
}
