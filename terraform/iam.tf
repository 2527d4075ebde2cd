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

resource "google_service_account" "streaming" {
  account_id   = "adclick-streaming"
  display_name = "adclick streaming job (Dataflow launcher and workers)"
  depends_on   = [google_project_service.apis]
}

resource "google_service_account" "batch" {
  account_id   = "adclick-batch"
  display_name = "adclick nightly batch (Dataflow launcher and workers)"
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


# The two Dataflow jobs run as two accounts, each with what it uses. Both
# are Dataflow workers and pull their images from the adclick repository
# (the Flex Template launcher runs the image as the job's account).
locals {
  pipeline_accounts = {
    streaming = google_service_account.streaming.member
    batch     = google_service_account.batch.member
  }
}

resource "google_project_iam_member" "pipelines_work" {
  for_each = local.pipeline_accounts
  project  = var.project
  role     = "roles/dataflow.worker"
  member   = each.value
}

resource "google_artifact_registry_repository_iam_member" "pipelines_pull_images" {
  for_each   = local.pipeline_accounts
  repository = google_artifact_registry_repository.images.name
  location   = google_artifact_registry_repository.images.location
  role       = "roles/artifactregistry.reader"
  member     = each.value
}

# Staging, temp files and the templates live in the Dataflow bucket.
resource "google_storage_bucket_iam_member" "pipelines_stage" {
  for_each = local.pipeline_accounts
  bucket   = google_storage_bucket.dataflow.name
  role     = "roles/storage.objectAdmin"
  member   = each.value
}

# Both write Bigtable (the nightly also reads the speed cells of its days).
resource "google_bigtable_instance_iam_member" "pipelines_write_bigtable" {
  for_each = local.pipeline_accounts
  instance = google_bigtable_instance.adclick.name
  role     = "roles/bigtable.user"
  member   = each.value
}

# Streaming: read its subscription, publish dead letters.
resource "google_pubsub_subscription_iam_member" "streaming_reads" {
  subscription = google_pubsub_subscription.streaming.id
  role         = "roles/pubsub.subscriber"
  member       = google_service_account.streaming.member
}

resource "google_pubsub_subscription_iam_member" "streaming_views" {
  subscription = google_pubsub_subscription.streaming.id
  role         = "roles/pubsub.viewer"
  member       = google_service_account.streaming.member
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

resource "google_project_iam_member" "streaming_tracking_subscription" {
  project = var.project
  role    = google_project_iam_custom_role.dataflow_tracking_subscription.id
  member  = google_service_account.streaming.member
}

resource "google_pubsub_topic_iam_member" "streaming_attaches_tracking" {
  topic  = google_pubsub_topic.clicks.id
  role   = "roles/pubsub.subscriber"
  member = google_service_account.streaming.member
}

resource "google_pubsub_topic_iam_member" "streaming_dead_letters" {
  topic  = google_pubsub_topic.dead_letter.id
  role   = "roles/pubsub.publisher"
  member = google_service_account.streaming.member
}

# Batch: read the raw archive, write the warehouse, load BigQuery.
resource "google_storage_bucket_iam_member" "batch_reads_raw" {
  bucket = google_storage_bucket.raw.name
  role   = "roles/storage.objectViewer"
  member = google_service_account.batch.member
}

resource "google_storage_bucket_iam_member" "batch_writes_warehouse" {
  bucket = google_storage_bucket.warehouse.name
  role   = "roles/storage.objectAdmin"
  member = google_service_account.batch.member
}

resource "google_bigquery_dataset_iam_member" "batch_loads" {
  dataset_id = google_bigquery_dataset.adclick.dataset_id
  role       = "roles/bigquery.dataEditor"
  member     = google_service_account.batch.member
}

resource "google_project_iam_member" "batch_runs_load_jobs" {
  project = var.project
  role    = "roles/bigquery.jobUser"
  member  = google_service_account.batch.member
}

# Scheduler: launch the nightly's Flex Template as the batch account, and
# nothing else (roles/dataflow.developer could also cancel or update the
# streaming job).
resource "google_project_iam_custom_role" "launch_nightly" {
  role_id     = "adclickLaunchNightly"
  title       = "adclick: launch the nightly Flex Template"
  description = "Create a Dataflow job from a Flex Template and read its state; no cancel, update or drain."
  permissions = ["dataflow.jobs.create", "dataflow.jobs.get", "dataflow.jobs.list"]
  depends_on  = [google_project_service.apis]
}

resource "google_project_iam_member" "scheduler_launches" {
  project = var.project
  role    = google_project_iam_custom_role.launch_nightly.id
  member  = google_service_account.scheduler.member
}

resource "google_service_account_iam_member" "scheduler_acts_as_batch" {
  service_account_id = google_service_account.batch.name
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
