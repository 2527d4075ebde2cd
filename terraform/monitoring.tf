resource "google_monitoring_notification_channel" "email" {
  count        = var.alert_email == "" ? 0 : 1
  depends_on   = [google_project_service.apis]
  display_name = "adclick on-call"
  type         = "email"
  labels = {
    email_address = var.alert_email
  }
}

locals {
  channels = google_monitoring_notification_channel.email[*].id
  alerts = {
    oldest_unacked = {
      name      = "Clicks waiting in Pub/Sub (streaming subscription)"
      filter    = "resource.type = \"pubsub_subscription\" AND resource.labels.subscription_id = \"${local.names.streaming_subscription}\" AND metric.type = \"pubsub.googleapis.com/subscription/oldest_unacked_message_age\""
      threshold = 120
      aligner   = "ALIGN_MAX"
      doc       = "The streaming job is not keeping up or is down: clicks older than 2 minutes wait unread. Check the job's system lag and workers."
    }
    archive_unacked = {
      name      = "Clicks waiting to be archived"
      filter    = "resource.type = \"pubsub_subscription\" AND resource.labels.subscription_id = \"${local.names.archive_subscription}\" AND metric.type = \"pubsub.googleapis.com/subscription/oldest_unacked_message_age\""
      threshold = 1800
      aligner   = "ALIGN_MAX"
      doc       = "The Cloud Storage subscription is not writing the raw archive (bucket permissions, retention lock?). The nightly batch reads only the archive."
    }
    system_lag = {
      name      = "Streaming job system lag"
      filter    = "resource.type = \"dataflow_job\" AND resource.labels.job_name = \"adclick-streaming\" AND metric.type = \"dataflow.googleapis.com/job/system_lag\""
      threshold = 60
      aligner   = "ALIGN_MAX"
      doc       = "Elements wait over a minute inside the streaming job."
    }
    freshness = {
      name      = "Streaming job data freshness"
      filter    = "resource.type = \"dataflow_job\" AND resource.labels.job_name = \"adclick-streaming\" AND metric.type = \"dataflow.googleapis.com/job/data_watermark_age\""
      threshold = 120
      aligner   = "ALIGN_MAX"
      doc       = "The watermark is over 2 minutes old: minute buckets are not closing."
    }
    redirect_5xx = {
      name      = "Click service 5xx"
      filter    = "resource.type = \"cloud_run_revision\" AND resource.labels.service_name = \"redirect\" AND metric.type = \"run.googleapis.com/request_count\" AND metric.labels.response_code_class = \"5xx\""
      threshold = 1
      aligner   = "ALIGN_RATE"
      doc       = "The click service answers 5xx (503: a click could be neither published nor spooled). Users are not redirected."
    }
    spool_depth = {
      name      = "Click service spool holds clicks"
      filter    = "resource.type = \"prometheus_target\" AND metric.type = \"prometheus.googleapis.com/adclick_redirect_spool_depth/gauge\""
      threshold = 1000
      aligner   = "ALIGN_MAX"
      doc       = "Clicks are piling up in the click service's spool: Pub/Sub has been unreachable. They are replayed when it is back."
    }
    reconciliation = {
      name      = "Nightly reconciliation mismatch"
      filter    = "resource.type = \"dataflow_job\" AND metric.type = \"dataflow.googleapis.com/job/user_counter\" AND metric.labels.metric_name = \"reconciliation_abs_difference\""
      threshold = 1000
      aligner   = "ALIGN_MAX"
      # The counter exists only while a nightly runs (minutes): one point
      # over the threshold is enough.
      duration = "0s"
      doc      = "The speed layer and the nightly batch differ by over 1,000 clicks in a day. Read the day's report: gs://WAREHOUSE/reconciliation/date=YYYY-MM-DD/report.json."
    }
  }
}

resource "google_monitoring_alert_policy" "a" {
  for_each              = local.alerts
  display_name          = "adclick: ${each.value.name}"
  combiner              = "OR"
  notification_channels = local.channels
  documentation {
    content   = each.value.doc
    mime_type = "text/markdown"
  }
  conditions {
    display_name = each.value.name
    condition_threshold {
      filter          = each.value.filter
      comparison      = "COMPARISON_GT"
      threshold_value = each.value.threshold
      duration        = try(each.value.duration, "300s")
      aggregations {
        alignment_period   = "60s"
        per_series_aligner = each.value.aligner
      }
    }
  }
  depends_on = [google_project_service.apis]
}

# The operations dashboard: every alert's metric is on it
# (terraform/check_test.go checks), with the click service's traffic and
# latency, Bigtable's load and the reports' latency.
resource "google_monitoring_dashboard" "operations" {
  dashboard_json = file("${path.module}/dashboard.json")
  depends_on     = [google_project_service.apis]
}
