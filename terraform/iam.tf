# One service account per workload, each with only what it needs.

resource "google_service_account" "redirect" {
  account_id   = "adclick-redirect"
  display_name = "adclick click service"
}

resource "google_service_account" "reports" {
  account_id   = "adclick-reports"
  display_name = "adclick reports API"
}

resource "google_service_account" "dataflow" {
  account_id   = "adclick-dataflow"
  display_name = "adclick pipelines (Dataflow workers and launchers)"
}

resource "google_service_account" "scheduler" {
  account_id   = "adclick-scheduler"
  display_name = "adclick nightly batch trigger"
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
