# The clicks topic and its subscriptions. Retention of 7 days everywhere:
# a pipeline stopped for days loses nothing.

resource "google_pubsub_topic" "clicks" {
  name                       = local.names.clicks_topic
  message_retention_duration = "604800s"
  kms_key_name               = var.kms_key == "" ? null : var.kms_key
  depends_on                 = [google_project_service.apis, google_kms_crypto_key_iam_member.agents]
  # Every click passes here: deleting it would drop clicks until recreated.
  lifecycle {
    prevent_destroy = true
  }
}

# The streaming job reads this one (Dataflow's native Pub/Sub source).
resource "google_pubsub_subscription" "streaming" {
  name                       = local.names.streaming_subscription
  topic                      = google_pubsub_topic.clicks.id
  ack_deadline_seconds       = 60
  message_retention_duration = "604800s"
  expiration_policy {
    ttl = ""
  }
}

# The raw archive: every message as Avro with metadata into the raw bucket,
# one folder per UTC day (internal/rawarchive reads exactly this layout).
resource "google_pubsub_subscription" "archive" {
  name                       = local.names.archive_subscription
  topic                      = google_pubsub_topic.clicks.id
  ack_deadline_seconds       = 600
  message_retention_duration = "604800s"
  expiration_policy {
    ttl = ""
  }
  # Deleting it would stop the raw archive, the nightly's only input.
  lifecycle {
    prevent_destroy = true
  }
  cloud_storage_config {
    bucket                   = google_storage_bucket.raw.name
    filename_prefix          = local.names.archive_filename_prefix
    filename_suffix          = local.names.archive_filename_suffix
    filename_datetime_format = local.names.archive_filename_datetime_fmt
    max_duration             = "300s"
    max_bytes                = 100000000
    avro_config {
      write_metadata = true
    }
  }
  dead_letter_policy {
    dead_letter_topic     = google_pubsub_topic.archive_dead_letter.id
    max_delivery_attempts = 20
  }
  depends_on = [google_storage_bucket_iam_member.pubsub_writes_raw, google_storage_bucket_iam_member.pubsub_reads_raw]
}

# Messages the streaming job cannot read, with the reason attached; held
# for inspection and replay (bin/deadletters).
resource "google_pubsub_topic" "dead_letter" {
  name                       = local.names.dead_letter_topic
  message_retention_duration = "604800s"
  kms_key_name               = var.kms_key == "" ? null : var.kms_key
  depends_on                 = [google_project_service.apis, google_kms_crypto_key_iam_member.agents]
}

resource "google_pubsub_subscription" "dead_letter_hold" {
  name                       = local.names.dead_letter_subscription
  topic                      = google_pubsub_topic.dead_letter.id
  message_retention_duration = "604800s"
  expiration_policy {
    ttl = ""
  }
}

# Messages the archive could not write after 20 attempts.
resource "google_pubsub_topic" "archive_dead_letter" {
  name                       = local.names.archive_dead_letter_topic
  message_retention_duration = "604800s"
  kms_key_name               = var.kms_key == "" ? null : var.kms_key
  depends_on                 = [google_project_service.apis, google_kms_crypto_key_iam_member.agents]
}

resource "google_pubsub_subscription" "archive_dead_letter_hold" {
  name                       = local.names.archive_dead_letter_hold
  topic                      = google_pubsub_topic.archive_dead_letter.id
  message_retention_duration = "604800s"
  expiration_policy {
    ttl = ""
  }
}

locals {
  pubsub_agent = google_project_service_identity.pubsub.member
}

# The Pub/Sub service agent forwards to the archive's dead-letter topic and
# acknowledges what it forwarded.
resource "google_pubsub_topic_iam_member" "agent_publishes_archive_dead_letters" {
  topic  = google_pubsub_topic.archive_dead_letter.id
  role   = "roles/pubsub.publisher"
  member = local.pubsub_agent
}

resource "google_pubsub_subscription_iam_member" "agent_acks_archive" {
  subscription = google_pubsub_subscription.archive.id
  role         = "roles/pubsub.subscriber"
  member       = local.pubsub_agent
}
