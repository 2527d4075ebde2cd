# Plan-time logic of the deployment, checked without any Google API: the
# providers are mocked, and every run is a plan (Terraform >= 1.11 for
# override_during = plan; `make tf-test`). Plans, not applies: an apply
# would end in a destroy, which prevent_destroy refuses, as it should.
# What only a real project can check is listed in docs/deploy.md.

mock_provider "google" {
  override_during = plan
  mock_data "google_project" {
    defaults = {
      number = "123456789012"
    }
  }
  mock_data "google_storage_project_service_account" {
    defaults = {
      email_address = "service-123456789012@gs-project-accounts.iam.gserviceaccount.com"
    }
  }
  mock_data "google_bigquery_default_service_account" {
    defaults = {
      email = "bq-123456789012@bigquery-encryption.iam.gserviceaccount.com"
    }
  }
}

mock_provider "google-beta" {
  override_during = plan
  mock_resource "google_project_service_identity" {
    defaults = {
      email  = "service-123456789012@gcp-sa-pubsub.iam.gserviceaccount.com"
      member = "serviceAccount:service-123456789012@gcp-sa-pubsub.iam.gserviceaccount.com"
    }
  }
}

override_resource {
  override_during = plan
  target          = google_service_account.redirect
  values = {
    email  = "adclick-redirect@adclick-test.iam.gserviceaccount.com"
    member = "serviceAccount:adclick-redirect@adclick-test.iam.gserviceaccount.com"
    name   = "projects/adclick-test/serviceAccounts/adclick-redirect@adclick-test.iam.gserviceaccount.com"
  }
}

override_resource {
  override_during = plan
  target          = google_service_account.reports
  values = {
    email  = "adclick-reports@adclick-test.iam.gserviceaccount.com"
    member = "serviceAccount:adclick-reports@adclick-test.iam.gserviceaccount.com"
    name   = "projects/adclick-test/serviceAccounts/adclick-reports@adclick-test.iam.gserviceaccount.com"
  }
}

override_resource {
  override_during = plan
  target          = google_service_account.streaming
  values = {
    email  = "adclick-streaming@adclick-test.iam.gserviceaccount.com"
    member = "serviceAccount:adclick-streaming@adclick-test.iam.gserviceaccount.com"
    name   = "projects/adclick-test/serviceAccounts/adclick-streaming@adclick-test.iam.gserviceaccount.com"
  }
}
override_resource {
  override_during = plan
  target          = google_service_account.batch
  values = {
    email  = "adclick-batch@adclick-test.iam.gserviceaccount.com"
    member = "serviceAccount:adclick-batch@adclick-test.iam.gserviceaccount.com"
    name   = "projects/adclick-test/serviceAccounts/adclick-batch@adclick-test.iam.gserviceaccount.com"
  }
}

override_resource {
  override_during = plan
  target          = google_service_account.scheduler
  values = {
    email  = "adclick-scheduler@adclick-test.iam.gserviceaccount.com"
    member = "serviceAccount:adclick-scheduler@adclick-test.iam.gserviceaccount.com"
    name   = "projects/adclick-test/serviceAccounts/adclick-scheduler@adclick-test.iam.gserviceaccount.com"
  }
}

override_resource {
  override_during = plan
  target          = google_project_iam_custom_role.launch_nightly
  values = {
    id   = "projects/adclick-test/roles/adclickLaunchNightly"
    name = "projects/adclick-test/roles/adclickLaunchNightly"
  }
}

override_resource {
  override_during = plan
  target          = google_project_iam_custom_role.dataflow_tracking_subscription
  values = {
    id   = "projects/adclick-test/roles/adclickDataflowTrackingSubscription"
    name = "projects/adclick-test/roles/adclickDataflowTrackingSubscription"
  }
}

override_resource {
  override_during = plan
  target          = google_pubsub_topic.clicks
  values = {
    id = "projects/adclick-test/topics/clicks"
  }
}

variables {
  project = "adclick-test"
  region  = "europe-west1"
}

# Phase 1: everything the workloads need, no workload.
run "first_phase_starts_no_workload" {
  command = plan

  assert {
    condition     = length(google_cloud_run_v2_service.redirect) == 0 && length(google_cloud_run_v2_service.reports) == 0
    error_message = "the first phase must not create the Cloud Run services: their secrets have no version yet"
  }
  assert {
    condition     = length(google_dataflow_flex_template_job.streaming) == 0 && length(google_cloud_scheduler_job.batch) == 0
    error_message = "the first phase must not start the pipelines: their templates are not staged yet"
  }
  assert {
    condition     = google_bigtable_instance.adclick.cluster[0].zone == "europe-west1-b"
    error_message = "the Bigtable zone is derived from the region"
  }
  assert {
    condition     = google_storage_bucket.raw.retention_policy[0].is_locked == false
    error_message = "the raw bucket's retention must not be locked unless asked for"
  }
  assert {
    condition     = contains(keys(google_project_service.apis), "compute.googleapis.com")
    error_message = "Dataflow's workers need the Compute Engine API"
  }
  assert {
    condition     = local.pubsub_agent == "serviceAccount:service-123456789012@gcp-sa-pubsub.iam.gserviceaccount.com"
    error_message = "the Pub/Sub agent's grants use the service identity resource"
  }
  # The archive subscription writes exactly what internal/rawarchive reads.
  assert {
    condition = (
      google_pubsub_subscription.archive.cloud_storage_config[0].avro_config[0].write_metadata == true &&
      google_pubsub_subscription.archive.cloud_storage_config[0].filename_prefix == "clicks/" &&
      google_pubsub_subscription.archive.cloud_storage_config[0].filename_suffix == ".avro" &&
      google_pubsub_subscription.archive.cloud_storage_config[0].filename_datetime_format == "YYYY-MM-DD/hh_mm_ssZ"
    )
    error_message = "the archive subscription's Avro settings drifted from internal/rawarchive"
  }
  assert {
    condition     = length(google_bigquery_row_access_policy.all_rows) == 0
    error_message = "without advertiser policies no row policy may exist (a lone TRUE policy would hide every row from everyone else)"
  }
}

# Least privilege: every project-level grant, by account and role; one
# account per job, and a scheduler that can only launch.
run "project_grants_are_the_documented_ones" {
  command = plan

  assert {
    condition = toset(concat(
      [for b in google_project_iam_member.pipelines_work : "${b.member} ${b.role}"],
      [for b in [
        google_project_iam_member.batch_runs_load_jobs,
        google_project_iam_member.streaming_tracking_subscription,
        google_project_iam_member.scheduler_launches,
        google_project_iam_member.redirect_writes_metrics,
      ] : "${b.member} ${b.role}"],
      )) == toset([
      "${google_service_account.streaming.member} roles/dataflow.worker",
      "${google_service_account.batch.member} roles/dataflow.worker",
      "${google_service_account.batch.member} roles/bigquery.jobUser",
      "${google_service_account.streaming.member} ${google_project_iam_custom_role.dataflow_tracking_subscription.id}",
      "${google_service_account.scheduler.member} ${google_project_iam_custom_role.launch_nightly.id}",
      "${google_service_account.redirect.member} roles/monitoring.metricWriter",
    ])
    error_message = "project-level grants changed: update this table and docs/deploy.md together"
  }
  assert {
    condition = toset(google_project_iam_custom_role.dataflow_tracking_subscription.permissions) == toset([
      "pubsub.subscriptions.create", "pubsub.subscriptions.get", "pubsub.subscriptions.consume", "pubsub.subscriptions.delete",
    ])
    error_message = "the tracking-subscription role holds more (or less) than a tracking subscription needs"
  }
  assert {
    condition     = toset(google_project_iam_custom_role.launch_nightly.permissions) == toset(["dataflow.jobs.create", "dataflow.jobs.get", "dataflow.jobs.list"])
    error_message = "the scheduler may launch the nightly, not cancel or update jobs"
  }
  assert {
    condition = (
      google_service_account_iam_member.scheduler_acts_as_batch.service_account_id == google_service_account.batch.name &&
      google_bigquery_dataset_iam_member.batch_loads.member == google_service_account.batch.member &&
      google_storage_bucket_iam_member.batch_writes_warehouse.member == google_service_account.batch.member &&
      google_pubsub_subscription_iam_member.streaming_reads.member == google_service_account.streaming.member
    )
    error_message = "each job's rights must go to its own account"
  }
  assert {
    condition = alltrue([for m in google_artifact_registry_repository_iam_member.pipelines_pull_images :
    m.role == "roles/artifactregistry.reader"]) && length(google_artifact_registry_repository_iam_member.pipelines_pull_images) == 2
    error_message = "the Flex Template launchers and workers cannot pull their images"
  }
  assert {
    condition = (
      google_pubsub_topic_iam_member.streaming_attaches_tracking.topic == google_pubsub_topic.clicks.id &&
      google_pubsub_topic_iam_member.streaming_attaches_tracking.role == "roles/pubsub.subscriber"
    )
    error_message = "Dataflow needs pubsub.topics.attachSubscription on the clicks topic, and only there"
  }
  assert {
    condition     = google_bigtable_instance_iam_member.reports_reads.role == "roles/bigtable.reader"
    error_message = "the reports only read Bigtable"
  }
}

# Phase 2: the workloads, from the tag the bootstrap pushed.
run "second_phase_deploys_the_workloads" {
  command = plan
  variables {
    deploy_workloads     = true
    image_tag            = "abc1234"
    dataflow_max_workers = 7
    dataflow_public_ips  = false
    dataflow_subnetwork  = "regions/europe-west1/subnetworks/dataflow"
  }

  assert {
    condition     = google_dataflow_flex_template_job.streaming[0].container_spec_gcs_path == "gs://adclick-test-adclick-dataflow/templates/streaming-abc1234.json"
    error_message = "the streaming job's template path is not the staged one"
  }
  assert {
    condition     = google_dataflow_flex_template_job.streaming[0].parameters["max_num_workers"] == "7"
    error_message = "max workers must travel as a parameter (in-place update; terraform/check_test.go checks the ForceNew max_workers attribute is not set)"
  }
  assert {
    condition     = google_dataflow_flex_template_job.streaming[0].ip_configuration == "WORKER_IP_PRIVATE" && google_dataflow_flex_template_job.streaming[0].subnetwork == "regions/europe-west1/subnetworks/dataflow"
    error_message = "the network variables do not reach the streaming job"
  }
  assert {
    condition     = google_dataflow_flex_template_job.streaming[0].parameters["bigtable_app_profile"] == "streaming"
    error_message = "the streaming job writes through its own app profile"
  }
  assert {
    condition = (
      jsondecode(base64decode(google_cloud_scheduler_job.batch[0].http_target[0].body)).launchParameter.containerSpecGcsPath == "gs://adclick-test-adclick-dataflow/templates/batch-abc1234.json" &&
      jsondecode(base64decode(google_cloud_scheduler_job.batch[0].http_target[0].body)).launchParameter.jobName == "adclick-batch" &&
      jsondecode(base64decode(google_cloud_scheduler_job.batch[0].http_target[0].body)).launchParameter.parameters.bigtable_app_profile == "batch" &&
      jsondecode(base64decode(google_cloud_scheduler_job.batch[0].http_target[0].body)).launchParameter.environment.ipConfiguration == "WORKER_IP_PRIVATE" &&
      jsondecode(base64decode(google_cloud_scheduler_job.batch[0].http_target[0].body)).launchParameter.environment.subnetwork == "regions/europe-west1/subnetworks/dataflow" &&
      jsondecode(base64decode(google_cloud_scheduler_job.batch[0].http_target[0].body)).launchParameter.environment.machineType == "n1-standard-8"
    )
    error_message = "the scheduler's launch body is not the nightly's (machine type: docs/capacity.md, eight shards of a day at once)"
  }
  assert {
    condition     = google_cloud_scheduler_job.batch[0].retry_config[0].max_retry_duration == "21600s"
    error_message = "a night whose predecessor still runs must retry for hours, not give up"
  }
  assert {
    condition     = length(google_cloud_run_v2_service.redirect[0].template[0].containers) == 2 && google_cloud_run_v2_service.redirect[0].template[0].containers[1].name == "collector"
    error_message = "the click service needs its Managed Prometheus sidecar for the spool alert"
  }
  assert {
    condition     = google_cloud_run_v2_service.redirect[0].template[0].containers[0].image == "europe-west1-docker.pkg.dev/adclick-test/adclick/redirect:abc1234"
    error_message = "the click service's image is not the one pushed to the project's repository"
  }
  assert {
    condition     = toset(keys(google_cloud_run_v2_service_iam_member.public)) == toset(["redirect", "reports"])
    error_message = "both services are public"
  }
}

run "second_phase_needs_an_image_tag" {
  command = plan
  variables {
    deploy_workloads = true
  }
  expect_failures = [
    google_dataflow_flex_template_job.streaming,
    google_cloud_run_v2_service.redirect,
    google_cloud_run_v2_service.reports,
  ]
}

run "advertiser_policies_bring_the_true_filter" {
  command = plan
  variables {
    looker_advertiser_groups = { "acme" = "acme-looker@example.com" }
    analyst_groups           = ["analysts@example.com"]
  }

  assert {
    condition     = length(google_bigquery_row_access_policy.all_rows) == length(google_bigquery_table.warehouse)
    error_message = "every table with advertiser policies needs a TRUE-filter policy"
  }
  assert {
    condition = alltrue([for p in google_bigquery_row_access_policy.all_rows :
      p.filter_predicate == "TRUE" && contains(p.grantees, google_service_account.batch.member) && contains(p.grantees, "group:analysts@example.com")
    ])
    error_message = "the nightly's loads and partition deletes, and the analysts, need the TRUE filter"
  }
  assert {
    condition     = toset(keys(google_bigquery_dataset_iam_member.readers)) == toset(["group:analysts@example.com", "group:acme-looker@example.com"])
    error_message = "analysts and Looker groups need read access to the dataset"
  }
  assert {
    condition     = alltrue([for m in google_project_iam_member.readers_run_queries : m.role == "roles/bigquery.jobUser"])
    error_message = "readers need to run query jobs"
  }
}

run "cpu_target_is_validated" {
  command = plan
  variables {
    bigtable_cpu_target = 95
  }
  expect_failures = [var.bigtable_cpu_target]
}

run "customer_managed_key_reaches_every_store" {
  command = plan
  override_resource {
    override_during = plan
    target          = google_project_service_identity.kms_agents["bigtableadmin.googleapis.com"]
    values = {
      member = "serviceAccount:service-123456789012@gcp-sa-bigtable.iam.gserviceaccount.com"
    }
  }
  override_resource {
    override_during = plan
    target          = google_project_service_identity.kms_agents["dataflow.googleapis.com"]
    values = {
      member = "serviceAccount:service-123456789012@dataflow-service-producer-prod.iam.gserviceaccount.com"
    }
  }
  variables {
    kms_key          = "projects/keys/locations/europe-west1/keyRings/adclick/cryptoKeys/data"
    deploy_workloads = true
    image_tag        = "abc1234"
  }

  assert {
    condition = alltrue([for b in [google_storage_bucket.raw, google_storage_bucket.dataflow, google_storage_bucket.warehouse, google_storage_bucket.config] :
    b.encryption[0].default_kms_key_name == var.kms_key])
    error_message = "every bucket encrypts with the key"
  }
  assert {
    condition = (
      google_bigquery_dataset.adclick.default_encryption_configuration[0].kms_key_name == var.kms_key &&
      google_bigtable_instance.adclick.cluster[0].kms_key_name == var.kms_key &&
      google_pubsub_topic.clicks.kms_key_name == var.kms_key &&
      google_dataflow_flex_template_job.streaming[0].kms_key_name == var.kms_key &&
      jsondecode(base64decode(google_cloud_scheduler_job.batch[0].http_target[0].body)).launchParameter.environment.kmsKeyName == var.kms_key
    )
    error_message = "BigQuery, Bigtable, Pub/Sub and both Dataflow jobs use the key"
  }
  assert {
    condition     = length(google_kms_crypto_key_iam_member.agents) == 6
    error_message = "the Storage, BigQuery, Pub/Sub, Compute, Bigtable and Dataflow agents need the key"
  }
}

run "no_key_no_kms_grants" {
  command = plan
  assert {
    condition     = length(google_kms_crypto_key_iam_member.agents) == 0 && length(google_storage_bucket.raw.encryption) == 0
    error_message = "without kms_key nothing uses or grants a key"
  }
}

run "tables_are_partitioned_by_their_span" {
  command = plan

  assert {
    condition = alltrue([
      google_bigquery_table.warehouse["ad_clicks_day"].time_partitioning[0].type == "DAY",
      google_bigquery_table.warehouse["ad_clicks_month"].time_partitioning[0].type == "MONTH",
      google_bigquery_table.warehouse["ad_clicks_year"].time_partitioning[0].type == "YEAR",
      google_bigquery_table.warehouse["advertiser_clicks_year"].time_partitioning[0].type == "YEAR",
    ])
    error_message = "day, month and year tables must be partitioned by DAY, MONTH and YEAR on their date column"
  }
}
