# The streaming job, from its Flex Template (make images builds and
# stages it). What a change does (docs/deploy.md, "Changing and stopping
# the pipelines"):
#   - updates the running job in place, keeping its state (dedupe, minute
#     totals): image_tag, parameters (dataflow_max_workers is passed as
#     the max_num_workers parameter for that reason), network, subnetwork,
#     dataflow_public_ips, labels;
#   - replaces it (drain, then a new job without state): name, region,
#     enable_streaming_engine, service account, and any attribute the
#     provider marks ForceNew. prevent_destroy makes such a plan fail
#     instead; docs/deploy.md says how to replace on purpose.
resource "google_dataflow_flex_template_job" "streaming" {
  count                        = local.workloads
  provider                     = google-beta
  name                         = "adclick-streaming"
  region                       = var.region
  container_spec_gcs_path      = "${local.templates}/streaming-${var.image_tag}.json"
  on_delete                    = "drain"
  skip_wait_on_job_termination = false
  service_account_email        = google_service_account.streaming.email
  temp_location                = "gs://${google_storage_bucket.dataflow.name}/temp"
  staging_location             = "gs://${google_storage_bucket.dataflow.name}/staging"
  enable_streaming_engine      = true
  kms_key_name                 = var.kms_key == "" ? null : var.kms_key
  network                      = var.dataflow_network == "" ? null : var.dataflow_network
  subnetwork                   = var.dataflow_subnetwork == "" ? null : var.dataflow_subnetwork
  ip_configuration             = var.dataflow_public_ips ? "WORKER_IP_PUBLIC" : "WORKER_IP_PRIVATE"
  parameters = {
    subscription         = google_pubsub_subscription.streaming.name
    dead_letter_topic    = google_pubsub_topic.dead_letter.name
    bigtable_instance    = google_bigtable_instance.adclick.name
    bigtable_app_profile = google_bigtable_app_profile.p["streaming"].app_profile_id
    dedupe_shards        = tostring(var.dedupe_shards)
    max_num_workers      = tostring(var.dataflow_max_workers)
  }
  lifecycle {
    prevent_destroy = true
    precondition {
      condition     = var.image_tag != ""
      error_message = "deploy_workloads needs image_tag: the tag make images printed."
    }
  }
  # Every grant it uses, the table it writes and the template's bucket:
  # a job started before its rights exist fails its first bundles.
  depends_on = [
    google_project_iam_member.pipelines_work,
    google_artifact_registry_repository_iam_member.pipelines_pull_images,
    google_storage_bucket_iam_member.pipelines_stage,
    google_bigtable_instance_iam_member.pipelines_write_bigtable,
    google_pubsub_subscription_iam_member.streaming_reads,
    google_pubsub_subscription_iam_member.streaming_views,
    google_project_iam_member.streaming_tracking_subscription,
    google_pubsub_topic_iam_member.streaming_attaches_tracking,
    google_pubsub_topic_iam_member.streaming_dead_letters,
    google_bigtable_table.clicks,
    google_bigtable_gc_policy.speed,
    google_bigtable_gc_policy.batch,
  ]
}

# The nightly batch: Cloud Scheduler calls the Flex Template launch API.
# Without a date parameter the job reconciles yesterday (UTC); a backfill
# is the same launch with from and to (docs/deploy.md). The job name is
# fixed on purpose: Dataflow refuses (409) a second active job of one
# name, so two nightlies never run at once; the scheduler retries with
# backoff for up to 6 hours, so a night whose predecessor still runs
# starts when it ends.
resource "google_cloud_scheduler_job" "batch" {
  count     = local.workloads
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
          archive              = "gs://${google_storage_bucket.raw.name}"
          output               = "gs://${google_storage_bucket.warehouse.name}"
          bigtable_instance    = google_bigtable_instance.adclick.name
          bigtable_app_profile = google_bigtable_app_profile.p["batch"].app_profile_id
          bigquery_dataset     = google_bigquery_dataset.adclick.dataset_id
        }
        environment = merge({
          serviceAccountEmail = google_service_account.batch.email
          tempLocation        = "gs://${google_storage_bucket.dataflow.name}/temp"
          stagingLocation     = "gs://${google_storage_bucket.dataflow.name}/staging"
          maxWorkers          = var.batch_max_workers
          machineType         = var.batch_machine_type
          ipConfiguration     = var.dataflow_public_ips ? "WORKER_IP_PUBLIC" : "WORKER_IP_PRIVATE"
          }, var.dataflow_network == "" ? {} : { network = var.dataflow_network },
          var.kms_key == "" ? {} : { kmsKeyName = var.kms_key },
        var.dataflow_subnetwork == "" ? {} : { subnetwork = var.dataflow_subnetwork })
      }
    }))
    oauth_token {
      service_account_email = google_service_account.scheduler.email
    }
  }
  retry_config {
    retry_count          = 0 # unlimited within max_retry_duration
    max_retry_duration   = "21600s"
    min_backoff_duration = "600s"
    max_backoff_duration = "3600s"
  }
  depends_on = [
    google_project_iam_member.scheduler_launches,
    google_service_account_iam_member.scheduler_acts_as_batch,
    google_storage_bucket_iam_member.scheduler_reads_templates,
    google_project_iam_member.pipelines_work,
    google_artifact_registry_repository_iam_member.pipelines_pull_images,
    google_storage_bucket_iam_member.pipelines_stage,
    google_bigtable_instance_iam_member.pipelines_write_bigtable,
    google_storage_bucket_iam_member.batch_reads_raw,
    google_storage_bucket_iam_member.batch_writes_warehouse,
    google_bigquery_dataset_iam_member.batch_loads,
    google_project_iam_member.batch_runs_load_jobs,
  ]
}
