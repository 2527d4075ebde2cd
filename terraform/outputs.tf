output "click_url_base" {
  description = "Base of the click URLs the click service mints (ad servers call POST <this>/v1/impressions)."
  value       = local.public_base_url
}

output "redirect_url" {
  description = "The click service's Cloud Run URL (after the second phase, deploy_workloads = true)."
  value       = one(google_cloud_run_v2_service.redirect[*].uri)
}

output "reports_url" {
  description = "The reports API and dashboard (after the second phase)."
  value       = one(google_cloud_run_v2_service.reports[*].uri)
}

output "image_registry" {
  description = "Where make images pushes (REGISTRY=…)."
  value       = local.registry
}

output "templates" {
  description = "Where make images stages the Flex Templates (TEMPLATES=…)."
  value       = local.templates
}

output "raw_bucket" {
  description = "Where the raw click archive lands (gs://…/clicks/YYYY-MM-DD/)."
  value       = "gs://${google_storage_bucket.raw.name}"
}

output "warehouse_bucket" {
  description = "The batch job's Parquet partitions and reconciliation reports."
  value       = "gs://${google_storage_bucket.warehouse.name}"
}

output "catalog_object" {
  description = "Upload the ad catalog here (gsutil cp config/catalog.json …)."
  value       = "gs://${google_storage_bucket.config.name}/catalog.json"
}

output "bigquery_dataset" {
  description = "The authoritative tables."
  value       = "${var.project}.${google_bigquery_dataset.adclick.dataset_id}"
}
