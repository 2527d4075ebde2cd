# The serving store of both layers (docs/bigtable-schema.md).
resource "google_bigtable_instance" "adclick" {
  name                = local.names.bigtable_instance
  deletion_protection = true
  cluster {
    cluster_id   = "${local.names.bigtable_instance}-c1"
    zone         = var.bigtable_zone
    storage_type = "SSD"
    autoscaling_config {
      min_nodes  = var.bigtable_min_nodes
      max_nodes  = var.bigtable_max_nodes
      cpu_target = var.bigtable_cpu_target
    }
  }
  depends_on = [google_project_service.apis]
}

resource "google_bigtable_table" "clicks" {
  name          = local.names.bigtable_table
  instance_name = google_bigtable_instance.adclick.name
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
