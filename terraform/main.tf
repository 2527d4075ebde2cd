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
  registry         = var.image_registry != "" ? var.image_registry : "${var.region}-docker.pkg.dev/${var.project}/${google_artifact_registry_repository.images.repository_id}"
  image            = "${local.registry}/%s:${var.image_tag}"
  bigtable_zone    = var.bigtable_zone != "" ? var.bigtable_zone : "${var.region}-b"
  # Phase 2 of docs/deploy.md: the workloads, once their inputs exist.
  workloads = var.deploy_workloads ? 1 : 0
  templates = "gs://${google_storage_bucket.dataflow.name}/templates"
  # Cloud Run's deterministic URL unless a custom domain is given.
  public_base_url = var.public_base_url != "" ? var.public_base_url : "https://redirect-${one(data.google_project.this[*].number)}.${var.region}.run.app"
}

# The project number, for Cloud Run's deterministic URL; not read when a
# public_base_url is given (and so not by an offline plan that gives one).
data "google_project" "this" {
  count = var.public_base_url == "" ? 1 : 0
}

# Every API the deployment uses, enabled before anything that needs it
# (every resource below depends on this, directly or through another).
# Dataflow workers are Compute Engine VMs: compute is enabled explicitly.
resource "google_project_service" "apis" {
  for_each = toset([
    "pubsub.googleapis.com", "storage.googleapis.com", "bigtableadmin.googleapis.com", "bigquery.googleapis.com",
    "run.googleapis.com", "dataflow.googleapis.com", "cloudscheduler.googleapis.com", "secretmanager.googleapis.com",
    "monitoring.googleapis.com", "artifactregistry.googleapis.com", "iam.googleapis.com", "compute.googleapis.com",
    "logging.googleapis.com",
  ])
  service            = each.key
  disable_on_destroy = false
}

# The Pub/Sub service agent exists only once something asks for it; it is
# granted rights below (archive writes, dead-letter forwarding), so make
# sure it exists first.
resource "google_project_service_identity" "pubsub" {
  provider   = google-beta
  service    = "pubsub.googleapis.com"
  depends_on = [google_project_service.apis]
}

# The images of the four workloads (make images pushes them).
resource "google_artifact_registry_repository" "images" {
  repository_id = "adclick"
  location      = var.region
  format        = "DOCKER"
  description   = "adclick images: redirect, reports, and the two Flex Template launchers"
  depends_on    = [google_project_service.apis]
}
