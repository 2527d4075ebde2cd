# The streaming job, from its Flex Template (make images builds and
# stages it). Changing the image or a parameter updates the job in place
# (Dataflow keeps its state: dedupe and window totals); to stop it for
# good, `terraform destroy -target` drains it (on_delete = "drain"), which
# fires every window before the job ends. See docs/deploy.md.
resource "google_dataflow_flex_template_job" "streaming" {
  provider                     = google-beta
  name                         = "adclick-streaming"
  region                       = var.region
  container_spec_gcs_path      = "${local.templates}/streaming-${var.image_tag}.json"
  on_delete                    = "drain"
  skip_wait_on_job_termination = false
  service_account_email        = google_service_account.dataflow.email
  temp_location                = "gs://${google_storage_bucket.dataflow.name}/temp"
  staging_location             = "gs://${google_storage_bucket.dataflow.name}/staging"
  max_workers                  = var.dataflow_max_workers
  enable_streaming_engine      = true
  parameters = {
    subscription      = google_pubsub_subscription.streaming.name
    dead_letter_topic = google_pubsub_topic.dead_letter.name
    bigtable_instance = google_bigtable_instance.adclick.name
    dedupe_shards     = tostring(var.dedupe_shards)
  }
  depends_on = [google_project_iam_member.dataflow_worker, google_bigtable_table.clicks]
}

# The nightly batch: Cloud Scheduler calls the Flex Template launch API.
# Without a date parameter the job reconciles yesterday (UTC); a backfill
# is the same launch with from and to (docs/deploy.md).
resource "google_cloud_scheduler_job" "batch" {
  name      = "adclick-nightly-batch"
  region    = var.region
  schedule  = var.batch_schedule
  time_zone = "Etc/UTC"
  http_target {
    http_method = "POST"
    uri         = "https://dataflow.googleapis.com/v1b3/projects/${var.project}/locations/${var.region}/flexTemplates:launch"
    headers = {
      "Content-Type" = "application/json"
    }
    body = base64encode(jsonencode({
      launchParameter = {
        jobName              = "adclick-batch"
        containerSpecGcsPath = "${local.templates}/batch-${var.image_tag}.json"
        parameters = {
          archive           = "gs://${google_storage_bucket.raw.name}"
          output            = "gs://${google_storage_bucket.warehouse.name}"
          bigtable_instance = google_bigtable_instance.adclick.name
          bigquery_dataset  = google_bigquery_dataset.adclick.dataset_id
        }
        environment = {
          serviceAccountEmail = google_service_account.dataflow.email
          tempLocation        = "gs://${google_storage_bucket.dataflow.name}/temp"
          stagingLocation     = "gs://${google_storage_bucket.dataflow.name}/staging"
          maxWorkers          = 20
        }
      }
    }))
    oauth_token {
      service_account_email = google_service_account.scheduler.email
    }
  }
  retry_config {
    retry_count = 3
  }
  depends_on = [google_project_service.apis]
}
