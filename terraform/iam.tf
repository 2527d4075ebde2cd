# One service account per workload, each with only what it needs.

resource "google_service_account" "redirect" {
  account_id   = "adclick-redirect"
  display_name = "adclick click service"
  depends_on   = [google_project_service.apis]
}

resource "google_service_account" "reports" {
  account_id   = "adclick-reports"
  display_name = "adclick reports API"
  depends_on   = [google_project_service.apis]
}

resource "google_service_account" "dataflow" {
  account_id   = "adclick-dataflow"
  display_name = "adclick pipelines (Dataflow workers and launchers)"
  depends_on   = [google_project_service.apis]
}

resource "google_service_account" "scheduler" {
  account_id   = "adclick-scheduler"
  display_name = "adclick nightly batch trigger"
  depends_on   = [google_project_service.apis]
}

# Click service: publish clicks, check the topic for readiness, read the catalog.
resource "google_pubsub_topic_iam_member" "redirect_publishes" {
  topic  = google_pubsub_topic.clicks.id
  role   = "roles/pubsub.publisher"
  member = google_service_account.redirect.member
}

resource "google_pubsub_topic_iam_member" "redirect_checks_topic" {
  topic  = google_pubsub_topic.clicks.id
  role   = "roles/pubsub.viewer"
  member = google_service_account.redirect.member
}

resource "google_storage_bucket_iam_member" "catalog_readers" {
  for_each = { redirect = google_service_account.redirect.member, reports = google_service_account.reports.member }
  bucket   = google_storage_bucket.config.name
  role     = "roles/storage.objectViewer"
  member   = each.value
}

# Click service: its Managed Prometheus sidecar writes the service's
# metrics (spool depth among them) to Cloud Monitoring.
resource "google_project_iam_member" "redirect_writes_metrics" {
  project = var.project
  role    = "roles/monitoring.metricWriter"
  member  = google_service_account.redirect.member
}

# Reports: read Bigtable only.
resource "google_bigtable_instance_iam_member" "reports_reads" {
  instance = google_bigtable_instance.adclick.name
  role     = "roles/bigtable.reader"
  member   = google_service_account.reports.member
}

# Pipelines: Dataflow worker; read the streaming subscription; publish dead
# letters; write Bigtable; read the raw archive; write the warehouse and
# staging; load BigQuery.
resource "google_project_iam_member" "dataflow_worker" {
  project = var.project
  role    = "roles/dataflow.worker"
  member  = google_service_account.dataflow.member
}

resource "google_pubsub_subscription_iam_member" "dataflow_reads" {
  subscription = google_pubsub_subscription.streaming.id
  role         = "roles/pubsub.subscriber"
  member       = google_service_account.dataflow.member
}

resource "google_pubsub_subscription_iam_member" "dataflow_views" {
  subscription = google_pubsub_subscription.streaming.id
  role         = "roles/pubsub.viewer"
  member       = google_service_account.dataflow.member
}

# Reading with a timestamp attribute (click_time), Dataflow creates a
# tracking subscription on the subscription's topic to estimate the
# watermark, as the job's account: it needs pubsub.subscriptions.create
# (granted on projects only, so a custom role with just what a tracking
# subscription's life takes) and pubsub.topics.attachSubscription on the
# topic (in roles/pubsub.subscriber, granted on the clicks topic only).
resource "google_project_iam_custom_role" "dataflow_tracking_subscription" {
  role_id     = "adclickDataflowTrackingSubscription"
  title       = "adclick: Dataflow's watermark tracking subscription"
  description = "Create, read, consume and delete the tracking subscription Dataflow makes for a Pub/Sub read with a timestamp attribute."
  permissions = ["pubsub.subscriptions.create", "pubsub.subscriptions.get", "pubsub.subscriptions.consume", "pubsub.subscriptions.delete"]
  depends_on  = [google_project_service.apis]
}

resource "google_project_iam_member" "dataflow_tracking_subscription" {
  project = var.project
  role    = google_project_iam_custom_role.dataflow_tracking_subscription.id
  member  = google_service_account.dataflow.member
}

resource "google_pubsub_topic_iam_member" "dataflow_attaches_tracking" {
  topic  = google_pubsub_topic.clicks.id
  role   = "roles/pubsub.subscriber"
  member = google_service_account.dataflow.member
}

# The Flex Template launchers and the workers run the images pushed to
# the adclick repository as this account.
resource "google_artifact_registry_repository_iam_member" "dataflow_pulls_images" {
  repository = google_artifact_registry_repository.images.name
  location   = google_artifact_registry_repository.images.location
  role       = "roles/artifactregistry.reader"
  member     = google_service_account.dataflow.member
}

resource "google_pubsub_topic_iam_member" "dataflow_dead_letters" {
  topic  = google_pubsub_topic.dead_letter.id
  role   = "roles/pubsub.publisher"
  member = google_service_account.dataflow.member
}

resource "google_bigtable_instance_iam_member" "dataflow_writes" {
  instance = google_bigtable_instance.adclick.name
  role     = "roles/bigtable.user"
  member   = google_service_account.dataflow.member
}

resource "google_storage_bucket_iam_member" "dataflow_reads_raw" {
  bucket = google_storage_bucket.raw.name
  role   = "roles/storage.objectViewer"
  member = google_service_account.dataflow.member
}

resource "google_storage_bucket_iam_member" "dataflow_buckets" {
  for_each = toset([google_storage_bucket.dataflow.name, google_storage_bucket.warehouse.name])
  bucket   = each.key
  role     = "roles/storage.objectAdmin"
  member   = google_service_account.dataflow.member
}

resource "google_bigquery_dataset_iam_member" "dataflow_loads" {
  dataset_id = google_bigquery_dataset.adclick.dataset_id
  role       = "roles/bigquery.dataEditor"
  member     = google_service_account.dataflow.member
}

resource "google_project_iam_member" "dataflow_runs_load_jobs" {
  project = var.project
  role    = "roles/bigquery.jobUser"
  member  = google_service_account.dataflow.member
}

# Scheduler: launch the batch Flex Template as the Dataflow account.
resource "google_project_iam_member" "scheduler_launches" {
  project = var.project
  role    = "roles/dataflow.developer"
  member  = google_service_account.scheduler.member
}

resource "google_service_account_iam_member" "scheduler_acts_as_dataflow" {
  service_account_id = google_service_account.dataflow.name
  role               = "roles/iam.serviceAccountUser"
  member             = google_service_account.scheduler.member
}

resource "google_storage_bucket_iam_member" "scheduler_reads_templates" {
  bucket = google_storage_bucket.dataflow.name
  role   = "roles/storage.objectViewer"
  member = google_service_account.scheduler.member
}

# Analysts, Looker's connection and each advertiser's Looker group read
# the warehouse and run query jobs; row-level policies (bigquery.tf)
# decide which rows each sees.
locals {
  warehouse_readers = toset(concat(
    [for g in var.analyst_groups : "group:${g}"],
    [for g in values(var.looker_advertiser_groups) : "group:${g}"],
    var.looker_service_account == "" ? [] : ["serviceAccount:${var.looker_service_account}"],
  ))
}

resource "google_bigquery_dataset_iam_member" "readers" {
  for_each   = local.warehouse_readers
  dataset_id = google_bigquery_dataset.adclick.dataset_id
  role       = "roles/bigquery.dataViewer"
  member     = each.key
}

resource "google_project_iam_member" "readers_run_queries" {
  for_each = local.warehouse_readers
  project  = var.project
  role     = "roles/bigquery.jobUser"
  member   = each.key
}
