# The serving store of both layers (docs/bigtable-schema.md).
resource "google_bigtable_instance" "adclick" {
  name                = local.names.bigtable_instance
  deletion_protection = true
  cluster {
    cluster_id   = "${local.names.bigtable_instance}-c1"
    zone         = local.bigtable_zone
    storage_type = "SSD"
    kms_key_name = var.kms_key == "" ? null : var.kms_key
    autoscaling_config {
      min_nodes  = var.bigtable_min_nodes
      max_nodes  = var.bigtable_max_nodes
      cpu_target = var.bigtable_cpu_target
    }
  }
  depends_on = [google_project_service.apis, google_kms_crypto_key_iam_member.agents]
}

resource "google_bigtable_table" "clicks" {
  name                = local.names.bigtable_table
  instance_name       = google_bigtable_instance.adclick.name
  deletion_protection = "PROTECTED"
  column_family {
    family = "s" # speed layer
  }
  column_family {
    family = "b" # batch layer
  }
}

# s: the latest version only, and nothing older than 90 days.
resource "google_bigtable_gc_policy" "speed" {
  instance_name   = google_bigtable_instance.adclick.name
  table           = google_bigtable_table.clicks.name
  column_family   = "s"
  deletion_policy = "ABANDON"
  gc_rules = jsonencode({
    mode  = "union"
    rules = [{ max_version = 1 }, { max_age = "2160h" }]
  })
}

# b: the latest version only (the latest reconciliation run), kept.
resource "google_bigtable_gc_policy" "batch" {
  instance_name   = google_bigtable_instance.adclick.name
  table           = google_bigtable_table.clicks.name
  column_family   = "b"
  deletion_policy = "ABANDON"
  gc_rules = jsonencode({
    rules = [{ max_version = 1 }]
  })
}

# One app profile per workload, so each one's traffic is seen (and, with
# priorities, shaped) on its own: the nightly's bulk writes run at low
# priority and never crowd out the reports' reads or the streaming job's
# writes. Single-cluster routing: the instance has one cluster.
locals {
  bigtable_app_profiles = {
    streaming = { description = "streaming job: speed-layer writes", priority = "PRIORITY_HIGH" }
    batch     = { description = "nightly batch: reconciliation reads and batch-cell writes", priority = "PRIORITY_LOW" }
    reports   = { description = "reports API: advertisers' reads", priority = "PRIORITY_HIGH" }
  }
}

resource "google_bigtable_app_profile" "p" {
  for_each        = local.bigtable_app_profiles
  instance        = google_bigtable_instance.adclick.name
  app_profile_id  = each.key
  description     = each.value.description
  ignore_warnings = true
  single_cluster_routing {
    cluster_id                 = "${local.names.bigtable_instance}-c1"
    allow_transactional_writes = false
  }
  standard_isolation {
    priority = each.value.priority
  }
}
