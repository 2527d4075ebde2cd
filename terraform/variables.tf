variable "project" {
  description = "Google Cloud project to deploy into (an empty project works: every API is enabled here)."
  type        = string
}

variable "region" {
  description = "Region for Cloud Run, Dataflow, Cloud Storage and Cloud Scheduler."
  type        = string
  default     = "europe-west1"
}

variable "bigtable_zone" {
  description = "Zone of the Bigtable cluster (in var.region)."
  type        = string
  default     = "europe-west1-b"
}

variable "image_registry" {
  description = "Artifact Registry path the images were pushed to by `make images` (REGION-docker.pkg.dev/PROJECT/REPO)."
  type        = string
}

variable "image_tag" {
  description = "Tag of the images and Flex Templates to deploy (make images prints it)."
  type        = string
}

variable "public_base_url" {
  description = "Public base URL of the click service, used in minted click URLs (a custom domain in front of Cloud Run; empty: the Cloud Run URL)."
  type        = string
  default     = ""
}

variable "redirect_min_instances" {
  description = "Click service instances kept warm: redirects must answer in milliseconds, no cold starts."
  type        = number
  default     = 2
}

variable "redirect_max_instances" {
  description = "Upper bound of click service instances (10k clicks/s at about 2k per instance, with headroom for bursts)."
  type        = number
  default     = 20
}

variable "reports_min_instances" {
  description = "Reports instances kept warm."
  type        = number
  default     = 1
}

variable "bigtable_min_nodes" {
  description = "Bigtable autoscaling floor."
  type        = number
  default     = 1
}

variable "bigtable_max_nodes" {
  description = "Bigtable autoscaling ceiling."
  type        = number
  default     = 5
}

variable "bigtable_cpu_target" {
  description = "Bigtable autoscaling CPU target (percent)."
  type        = number
  default     = 60
}

variable "dataflow_max_workers" {
  description = "Maximum workers of the streaming job."
  type        = number
  default     = 10
}

variable "dedupe_shards" {
  description = "Shards of impression ids per epoch of the streaming job's dedupe (raise with workers)."
  type        = number
  default     = 256
}

variable "batch_schedule" {
  description = "Cron (UTC) of the nightly batch; it reconciles the previous UTC day and must run after the 6-hour late margin."
  type        = string
  default     = "30 7 * * *"
}

variable "raw_retention_days" {
  description = "Days raw clicks are locked against deletion (the bucket's retention policy)."
  type        = number
  default     = 400
}

variable "alert_email" {
  description = "Where alerts go (empty: alert policies without a notification channel)."
  type        = string
  default     = ""
}

variable "looker_advertiser_groups" {
  description = "Row-level access in BigQuery: advertiser id => the Google group of that advertiser's Looker users."
  type        = map(string)
  default     = {}
}
