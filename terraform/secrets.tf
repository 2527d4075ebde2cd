# Secrets live in Secret Manager; their values never pass through
# Terraform state. The bootstrap (deploy/bootstrap.sh, docs/deploy.md)
# adds their first versions between the two phases; the services mount
# version "latest", which must exist before they are created.
locals {
  secrets = {
    token_keys        = "adclick-token-keys"        # redirect: signing and verifying keys (JSON keyring)
    user_key_pepper   = "adclick-user-key-pepper"   # redirect: pepper of the privacy-safe user key
    ad_server_secrets = "adclick-ad-server-secrets" # redirect: bearer secrets of ad servers, one per line
    api_key_pepper    = "adclick-api-key-pepper"    # reports: pepper of the advertisers' API key hashes
  }
}

resource "google_secret_manager_secret" "s" {
  for_each  = local.secrets
  secret_id = each.value
  replication {
    auto {}
  }
  deletion_protection = true
  depends_on          = [google_project_service.apis]
}

resource "google_secret_manager_secret_iam_member" "redirect" {
  for_each  = toset(["token_keys", "user_key_pepper", "ad_server_secrets"])
  secret_id = google_secret_manager_secret.s[each.key].id
  role      = "roles/secretmanager.secretAccessor"
  member    = google_service_account.redirect.member
}

resource "google_secret_manager_secret_iam_member" "reports" {
  secret_id = google_secret_manager_secret.s["api_key_pepper"].id
  role      = "roles/secretmanager.secretAccessor"
  member    = google_service_account.reports.member
}

# The Managed Prometheus sidecar's configuration (not a secret: Cloud Run
# mounts files from Secret Manager only). Its one version comes from
# run-monitoring.yaml, so it exists before the service.
resource "google_secret_manager_secret" "run_monitoring" {
  secret_id = "adclick-redirect-run-monitoring"
  replication {
    auto {}
  }
  depends_on = [google_project_service.apis]
}

resource "google_secret_manager_secret_version" "run_monitoring" {
  secret      = google_secret_manager_secret.run_monitoring.id
  secret_data = file("${path.module}/run-monitoring.yaml")
}

resource "google_secret_manager_secret_iam_member" "redirect_reads_run_monitoring" {
  secret_id = google_secret_manager_secret.run_monitoring.id
  role      = "roles/secretmanager.secretAccessor"
  member    = google_service_account.redirect.member
}
