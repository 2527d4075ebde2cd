# The click service and the reports API on Cloud Run.

resource "google_cloud_run_v2_service" "redirect" {
  count               = local.workloads
  name                = "redirect"
  location            = var.region
  ingress             = "INGRESS_TRAFFIC_ALL"
  deletion_protection = false
  template {
    service_account                  = google_service_account.redirect.email
    max_instance_request_concurrency = 250
    scaling {
      min_instance_count = var.redirect_min_instances
      max_instance_count = var.redirect_max_instances
    }
    containers {
      name  = "redirect"
      image = format(local.image, "redirect")
      args = [
        "-listen=:8080",
        "-admin-listen=127.0.0.1:9090",
        "-public-base-url=${local.public_base_url}",
        "-project=${var.project}",
        "-topic=${google_pubsub_topic.clicks.name}",
        "-catalog=gs://${google_storage_bucket.config.name}/catalog.json",
        "-token-keys-file=/secrets/token-keys/value",
        "-user-key-pepper-file=/secrets/user-key-pepper/value",
        "-ad-server-secrets-file=/secrets/ad-server-secrets/value",
        "-spool-dir=/spool",
        "-trusted-proxies=169.254.0.0/16,35.191.0.0/16,130.211.0.0/22",
      ]
      ports {
        container_port = 8080
      }
      resources {
        limits = {
          cpu    = "2"
          memory = "1Gi"
        }
        cpu_idle          = false # the publisher and the spool replay work between requests
        startup_cpu_boost = true
      }
      startup_probe {
        http_get {
          path = "/readyz"
        }
        period_seconds    = 2
        failure_threshold = 30
      }
      liveness_probe {
        http_get {
          path = "/healthz"
        }
      }
      volume_mounts {
        name       = "spool"
        mount_path = "/spool"
      }
      dynamic "volume_mounts" {
        for_each = toset(["token-keys", "user-key-pepper", "ad-server-secrets"])
        content {
          name       = volume_mounts.key
          mount_path = "/secrets/${volume_mounts.key}"
        }
      }
    }
    # Google Cloud Managed Service for Prometheus: scrapes the service's
    # admin listener (localhost:9090/metrics, run-monitoring.yaml) and
    # writes the metrics to Cloud Monitoring as prometheus.googleapis.com/...,
    # which the spool-depth alert and the dashboard read. The admin port is
    # not routed from outside.
    containers {
      name       = "collector"
      image      = var.gmp_sidecar_image
      depends_on = ["redirect"]
      resources {
        limits = {
          cpu    = "1"
          memory = "512Mi"
        }
      }
      volume_mounts {
        name       = "run-monitoring"
        mount_path = "/etc/rungmp"
      }
    }
    volumes {
      name = "run-monitoring"
      secret {
        secret = google_secret_manager_secret.run_monitoring.secret_id
        items {
          version = "latest"
          path    = "config.yaml"
        }
      }
    }
    # Holds clicks while Pub/Sub is unreachable. In memory on Cloud Run: it
    # rides out Pub/Sub outages, not the loss of the instance during one;
    # mount a Filestore NFS volume here for that too.
    volumes {
      name = "spool"
      empty_dir {
        medium     = "MEMORY"
        size_limit = "256Mi"
      }
    }
    dynamic "volumes" {
      for_each = {
        "token-keys"        = google_secret_manager_secret.s["token_keys"].secret_id
        "user-key-pepper"   = google_secret_manager_secret.s["user_key_pepper"].secret_id
        "ad-server-secrets" = google_secret_manager_secret.s["ad_server_secrets"].secret_id
      }
      content {
        name = volumes.key
        secret {
          secret = volumes.value
          items {
            version = "latest"
            path    = "value"
          }
        }
      }
    }
  }
  lifecycle {
    precondition {
      condition     = var.image_tag != ""
      error_message = "deploy_workloads needs image_tag: the tag make images printed."
    }
  }
  depends_on = [google_project_service.apis, google_secret_manager_secret_iam_member.redirect, google_pubsub_topic_iam_member.redirect_publishes,
    google_secret_manager_secret_version.run_monitoring, google_secret_manager_secret_iam_member.redirect_reads_run_monitoring,
  google_pubsub_topic_iam_member.redirect_checks_topic, google_storage_bucket_iam_member.catalog_readers, google_project_iam_member.redirect_writes_metrics]
}

resource "google_cloud_run_v2_service" "reports" {
  count               = local.workloads
  name                = "reports"
  location            = var.region
  ingress             = "INGRESS_TRAFFIC_ALL"
  deletion_protection = false
  template {
    service_account                  = google_service_account.reports.email
    max_instance_request_concurrency = 80
    scaling {
      min_instance_count = var.reports_min_instances
      max_instance_count = 10
    }
    containers {
      name  = "reports"
      image = format(local.image, "reports")
      args = [
        "-listen=:8080",
        "-project=${var.project}",
        "-bigtable-instance=${google_bigtable_instance.adclick.name}",
        "-catalog=gs://${google_storage_bucket.config.name}/catalog.json",
        "-api-key-pepper-file=/secrets/api-key-pepper/value",
        "-bigtable-app-profile=${google_bigtable_app_profile.p["reports"].app_profile_id}",
      ]
      ports {
        container_port = 8080
      }
      resources {
        limits = {
          cpu    = "1"
          memory = "512Mi"
        }
      }
      startup_probe {
        http_get {
          path = "/readyz"
        }
        period_seconds    = 2
        failure_threshold = 30
      }
      liveness_probe {
        http_get {
          path = "/healthz"
        }
      }
      volume_mounts {
        name       = "api-key-pepper"
        mount_path = "/secrets/api-key-pepper"
      }
    }
    volumes {
      name = "api-key-pepper"
      secret {
        secret = google_secret_manager_secret.s["api_key_pepper"].secret_id
        items {
          version = "latest"
          path    = "value"
        }
      }
    }
  }
  lifecycle {
    precondition {
      condition     = var.image_tag != ""
      error_message = "deploy_workloads needs image_tag: the tag make images printed."
    }
  }
  depends_on = [google_project_service.apis, google_secret_manager_secret_iam_member.reports, google_bigtable_instance_iam_member.reports_reads,
  google_storage_bucket_iam_member.catalog_readers]
}

# Both are public (once created: deploy_workloads): clicks come from anyone's browser, and the reports API
# authenticates advertisers itself (API keys).
resource "google_cloud_run_v2_service_iam_member" "public" {
  for_each = var.deploy_workloads ? toset(["redirect", "reports"]) : toset([])
  name     = each.key
  location = var.region
  role     = "roles/run.invoker"
  member   = "allUsers"
}
