# Names the code expects (internal/gcpnames, internal/btschema,
# internal/rawarchive, internal/warehouse); terraform/check_test.go fails
# when they drift apart.
locals {
  names = {
    clicks_topic                  = "clicks"
    streaming_subscription        = "clicks-streaming"
    archive_subscription          = "clicks-archive"
    dead_letter_topic             = "clicks-dead-letter"
    dead_letter_subscription      = "clicks-dead-letter-hold"
    archive_dead_letter_topic     = "clicks-archive-dead-letter"
    archive_dead_letter_hold      = "clicks-archive-dead-letter-hold"
    bigtable_instance             = "adclick"
    bigtable_table                = "clicks"
    bigquery_dataset              = "adclick"
    archive_filename_prefix       = "clicks/"
    archive_filename_suffix       = ".avro"
    archive_filename_datetime_fmt = "YYYY-MM-DD/hh_mm_ssZ"
  }
  # BigQuery tables, generated from internal/warehouse (go run ./cmd/tfschemas).
  warehouse_tables = jsondecode(file("${path.module}/schemas/bigquery.json"))
  image            = "${var.image_registry}/%s:${var.image_tag}"
  templates        = "gs://${google_storage_bucket.dataflow.name}/templates"
  # Cloud Run's deterministic URL unless a custom domain is given.
  public_base_url = var.public_base_url != "" ? var.public_base_url : "https://redirect-${data.google_project.this.number}.${var.region}.run.app"
}

data "google_project" "this" {}

resource "google_project_service" "apis" {
  for_each = toset([
    "pubsub.googleapis.com", "storage.googleapis.com", "bigtableadmin.googleapis.com", "bigquery.googleapis.com",
    "run.googleapis.com", "dataflow.googleapis.com", "cloudscheduler.googleapis.com", "secretmanager.googleapis.com",
    "monitoring.googleapis.com", "artifactregistry.googleapis.com", "iam.googleapis.com",
  ])
  service            = each.key
  disable_on_destroy = false
}
