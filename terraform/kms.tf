# Optional customer-managed encryption (var.kms_key). Each service encrypts
# with the key as its own service agent, so each agent may use it; the
# agents are looked up only when a key is set (an offline plan without one
# reads nothing).

data "google_storage_project_service_account" "gcs" {
  count = var.kms_key == "" ? 0 : 1
}

data "google_bigquery_default_service_account" "bq" {
  count = var.kms_key == "" ? 0 : 1
}

resource "google_project_service_identity" "kms_agents" {
  for_each   = var.kms_key == "" ? toset([]) : toset(["bigtableadmin.googleapis.com", "dataflow.googleapis.com"])
  provider   = google-beta
  service    = each.key
  depends_on = [google_project_service.apis]
}

locals {
  kms_agents = var.kms_key == "" ? [] : concat(
    [
      "serviceAccount:${data.google_storage_project_service_account.gcs[0].email_address}",
      "serviceAccount:${data.google_bigquery_default_service_account.bq[0].email}",
      local.pubsub_agent,
      # Dataflow's workers are Compute Engine VMs: their disks use the key.
      "serviceAccount:service-${data.google_project.kms[0].number}@compute-system.iam.gserviceaccount.com",
    ],
    [for a in google_project_service_identity.kms_agents : a.member],
  )
}

data "google_project" "kms" {
  count = var.kms_key == "" ? 0 : 1
}

resource "google_kms_crypto_key_iam_member" "agents" {
  for_each      = toset(local.kms_agents)
  crypto_key_id = var.kms_key
  role          = "roles/cloudkms.cryptoKeyEncrypterDecrypter"
  member        = each.key
}
