# Raw clicks: cheaper classes as they age, and a retention policy so no
# one deletes them early (the nightly batch and any rerun read them).
resource "google_storage_bucket" "raw" {
  name                        = "${var.project}-adclick-raw"
  location                    = var.region
  uniform_bucket_level_access = true
  public_access_prevention    = "enforced"
  dynamic "encryption" {
    for_each = var.kms_key == "" ? [] : [var.kms_key]
    content {
      default_kms_key_name = encryption.value
    }
  }
  # Locking is irreversible (variables.tf): off unless asked for.
  retention_policy {
    retention_period = var.raw_retention_days * 86400
    is_locked        = var.raw_retention_locked
  }
  lifecycle_rule {
    condition {
      age = 30
    }
    action {
      type          = "SetStorageClass"
      storage_class = "NEARLINE"
    }
  }
  lifecycle_rule {
    condition {
      age = 90
    }
    action {
      type          = "SetStorageClass"
      storage_class = "COLDLINE"
    }
  }
  lifecycle_rule {
    condition {
      age = 365
    }
    action {
      type          = "SetStorageClass"
      storage_class = "ARCHIVE"
    }
  }
  depends_on = [google_project_service.apis, google_kms_crypto_key_iam_member.agents]
}

resource "google_storage_bucket_iam_member" "pubsub_writes_raw" {
  bucket = google_storage_bucket.raw.name
  role   = "roles/storage.objectCreator"
  member = local.pubsub_agent
}

resource "google_storage_bucket_iam_member" "pubsub_reads_raw" {
  bucket = google_storage_bucket.raw.name
  role   = "roles/storage.legacyBucketReader"
  member = local.pubsub_agent
}

# Dataflow staging, temp files and the Flex Template specs.
resource "google_storage_bucket" "dataflow" {
  name                        = "${var.project}-adclick-dataflow"
  location                    = var.region
  uniform_bucket_level_access = true
  public_access_prevention    = "enforced"
  dynamic "encryption" {
    for_each = var.kms_key == "" ? [] : [var.kms_key]
    content {
      default_kms_key_name = encryption.value
    }
  }
  lifecycle_rule {
    condition {
      age            = 7
      matches_prefix = ["temp/", "staging/"]
    }
    action {
      type = "Delete"
    }
  }
  depends_on = [google_project_service.apis, google_kms_crypto_key_iam_member.agents]
}

# The batch job's Parquet partitions and reconciliation reports. Each run
# writes into _staging/RUN/ first and removes it after marking its days;
# a failed run's staging is kept a week for inspection, then deleted.
resource "google_storage_bucket" "warehouse" {
  name                        = "${var.project}-adclick-warehouse"
  location                    = var.region
  uniform_bucket_level_access = true
  public_access_prevention    = "enforced"
  dynamic "encryption" {
    for_each = var.kms_key == "" ? [] : [var.kms_key]
    content {
      default_kms_key_name = encryption.value
    }
  }
  lifecycle_rule {
    condition {
      age            = 7
      matches_prefix = ["_staging/"]
    }
    action {
      type = "Delete"
    }
  }
  depends_on = [google_project_service.apis, google_kms_crypto_key_iam_member.agents]
}

# The ad catalog (catalog.json): the click service and the reports poll it.
resource "google_storage_bucket" "config" {
  name                        = "${var.project}-adclick-config"
  location                    = var.region
  uniform_bucket_level_access = true
  public_access_prevention    = "enforced"
  dynamic "encryption" {
    for_each = var.kms_key == "" ? [] : [var.kms_key]
    content {
      default_kms_key_name = encryption.value
    }
  }
  versioning {
    enabled = true
  }
  depends_on = [google_project_service.apis, google_kms_crypto_key_iam_member.agents]
}
