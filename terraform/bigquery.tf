# The authoritative tables, defined once in internal/warehouse and
# exported to schemas/bigquery.json. The batch job loads them partition by
# partition; it never creates them.
resource "google_bigquery_dataset" "adclick" {
  dataset_id  = local.names.bigquery_dataset
  location    = var.region
  description = "Exact ad clicks from the nightly reconciliation of the raw click archive (adclick)."
  dynamic "default_encryption_configuration" {
    for_each = var.kms_key == "" ? [] : [var.kms_key]
    content {
      kms_key_name = default_encryption_configuration.value
    }
  }
  depends_on = [google_project_service.apis, google_kms_crypto_key_iam_member.agents]
}

resource "google_bigquery_table" "warehouse" {
  for_each            = { for t in local.warehouse_tables : t.name => t }
  dataset_id          = google_bigquery_dataset.adclick.dataset_id
  table_id            = each.key
  description         = each.value.description
  deletion_protection = true
  schema              = jsonencode(each.value.schema)
  clustering          = each.value.clustering
  time_partitioning {
    type  = each.value.partitioning
    field = "date"
  }
}

# Row-level access: each advertiser's Looker group sees only its rows, in
# every table (all have advertiser_id). Once a table has any row access
# policy, whoever no policy names sees no row of it, and BigQuery requires
# the TRUE filter for what is not a query: DML, and the nightly's partition
# deletes and WRITE_TRUNCATE loads (they remove rows of every advertiser).
# So with advertiser policies comes a TRUE-filter policy for the nightly's
# account, the analysts and Looker's connection.
resource "google_bigquery_row_access_policy" "advertiser" {
  for_each = {
    for pair in setproduct(keys(google_bigquery_table.warehouse), keys(var.looker_advertiser_groups)) :
    "${pair[0]}/${pair[1]}" => { table = pair[0], advertiser = pair[1] }
  }
  dataset_id       = google_bigquery_dataset.adclick.dataset_id
  table_id         = google_bigquery_table.warehouse[each.value.table].table_id
  policy_id        = "advertiser_${replace(each.value.advertiser, "-", "_")}"
  filter_predicate = "advertiser_id = \"${each.value.advertiser}\""
  grantees         = ["group:${var.looker_advertiser_groups[each.value.advertiser]}"]
}

resource "google_bigquery_row_access_policy" "all_rows" {
  for_each         = length(var.looker_advertiser_groups) == 0 ? toset([]) : toset(keys(google_bigquery_table.warehouse))
  dataset_id       = google_bigquery_dataset.adclick.dataset_id
  table_id         = google_bigquery_table.warehouse[each.key].table_id
  policy_id        = "all_rows"
  filter_predicate = "TRUE"
  grantees = concat(
    [google_service_account.batch.member],
    [for g in var.analyst_groups : "group:${g}"],
    var.looker_service_account == "" ? [] : ["serviceAccount:${var.looker_service_account}"],
  )
}
