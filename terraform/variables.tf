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
  description = "Zone of the Bigtable cluster (empty: zone b of var.region)."
  type        = string
  default     = ""
  validation {
    condition     = var.bigtable_zone == "" || can(regex("^[a-z]+-[a-z]+[0-9]+-[a-z]$", var.bigtable_zone))
    error_message = "bigtable_zone is a zone such as europe-west1-b, or empty."
  }
}

variable "deploy_workloads" {
  description = "Phase of the deployment (docs/deploy.md). false, the first apply: everything the workloads need (APIs, registry, buckets, secrets, topics, Bigtable, BigQuery, accounts and grants, alerts). true, once the bootstrap has pushed the images, staged the templates, added the secrets' first versions and uploaded the catalog: the Cloud Run services, the streaming job and the nightly schedule."
  type        = bool
  default     = false
}

variable "image_registry" {
  description = "Artifact Registry path of the images (empty: the adclick repository this configuration creates, REGION-docker.pkg.dev/PROJECT/adclick)."
  type        = string
  default     = ""
}

variable "image_tag" {
  description = "Tag of the images and Flex Templates to deploy (make images prints it); required when deploy_workloads is true."
  type        = string
  default     = ""
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
  description = "Upper bound of click service instances: a 2-vCPU instance carries about 12,500 clicks/s, so 100k/s peaks need about 8 (docs/capacity.md); 20 leaves room, since a click service that cannot scale loses clicks."
  type        = number
  default     = 20
}

variable "reports_min_instances" {
  description = "Reports instances kept warm."
  type        = number
  default     = 1
}

variable "bigtable_min_nodes" {
  description = "Bigtable autoscaling floor: 10k clicks/s on average writes about 20,000 rows/s with a long tail of ads (docs/capacity.md)."
  type        = number
  default     = 2
}

variable "bigtable_max_nodes" {
  description = "Bigtable autoscaling ceiling: 100k clicks/s peaks and the nightly's correction burst need 6-10 nodes (docs/capacity.md)."
  type        = number
  default     = 10
}

variable "bigtable_cpu_target" {
  description = "Bigtable autoscaling CPU target (percent, 10-80 as Bigtable allows)."
  type        = number
  default     = 60
  validation {
    condition     = var.bigtable_cpu_target >= 10 && var.bigtable_cpu_target <= 80
    error_message = "bigtable_cpu_target must be between 10 and 80."
  }
}

variable "dataflow_max_workers" {
  description = "Maximum workers of the streaming job (n1-standard-2 with Streaming Engine): 100k clicks/s peaks need about 7 at 83 µs of CPU a click (docs/capacity.md). Passed as the job's max_num_workers parameter, so a change updates the running job in place."
  type        = number
  default     = 10
  validation {
    condition     = var.dataflow_max_workers >= 1 && var.dataflow_max_workers <= 1000
    error_message = "dataflow_max_workers must be between 1 and 1000."
  }
}

variable "batch_machine_type" {
  description = "Machine type of the nightly's workers. A shard is about 1/64 of the day (hot ads are split: docs/batch.md), ~2 GB at 864 M clicks a day; 8 vCPUs settle up to 8 shards at once (docs/capacity.md)."
  type        = string
  default     = "n1-standard-8"
}

variable "batch_max_workers" {
  description = "Maximum workers of each nightly batch job."
  type        = number
  default     = 20
  validation {
    condition     = var.batch_max_workers >= 1 && var.batch_max_workers <= 1000
    error_message = "batch_max_workers must be between 1 and 1000."
  }
}

variable "dedupe_shards" {
  description = "Shards of impression ids per epoch of the streaming job's dedupe (raise with workers). Changing it moves dedupe state to other keys: a replacement in all but name (docs/deploy.md)."
  type        = number
  default     = 256
  validation {
    condition     = var.dedupe_shards >= 1 && var.dedupe_shards <= 65536
    error_message = "dedupe_shards must be between 1 and 65536."
  }
}

variable "dataflow_network" {
  description = "VPC network of the Dataflow workers (empty: the project's default network)."
  type        = string
  default     = ""
}

variable "dataflow_subnetwork" {
  description = "Subnetwork of the Dataflow workers, regions/REGION/subnetworks/NAME (empty: the network's subnet in var.region)."
  type        = string
  default     = ""
}

variable "dataflow_public_ips" {
  description = "Give Dataflow workers external IP addresses. Set false on a subnetwork with Private Google Access (workers then reach Google APIs without leaving Google's network)."
  type        = bool
  default     = true
}

variable "batch_schedule" {
  description = "Cron (UTC) of the nightly batch; it reconciles the previous UTC day and must run after the 6-hour late margin."
  type        = string
  default     = "30 7 * * *"
}

variable "raw_retention_days" {
  description = "Days raw clicks are kept from deletion (the raw bucket's retention policy)."
  type        = number
  default     = 400
}

variable "raw_retention_locked" {
  description = "Lock the raw bucket's retention policy. IRREVERSIBLE: once locked, no one (not even the project owner) can shorten the retention or delete the bucket before every object has aged raw_retention_days. Default off."
  type        = bool
  default     = false
}

variable "alert_email" {
  description = "Where alerts go (empty: alert policies without a notification channel)."
  type        = string
  default     = ""
}

variable "looker_advertiser_groups" {
  description = "Row-level access in BigQuery: advertiser id => the Google group of that advertiser's Looker users. They get read access to the dataset and the right to run query jobs; each sees only its advertiser's rows."
  type        = map(string)
  default     = {}
}

variable "analyst_groups" {
  description = "Google groups of analysts who read every row of the warehouse (BigQuery dataViewer and jobUser, and the TRUE row filter once row-level policies exist)."
  type        = list(string)
  default     = []
}

variable "looker_service_account" {
  description = "Email of the service account of Looker's BigQuery connection, if it reads every row (empty: none)."
  type        = string
  default     = ""
}

variable "gmp_sidecar_image" {
  description = "Image of Google Cloud Managed Service for Prometheus' Cloud Run sidecar, which scrapes the click service's metrics."
  type        = string
  default     = "us-docker.pkg.dev/cloud-ops-agents-artifacts/cloud-run-gmp-sidecar/cloud-run-gmp-sidecar:1.1.1"
}

variable "kms_key" {
  description = "Customer-managed encryption key (projects/P/locations/L/keyRings/R/cryptoKeys/K, in var.region) for the buckets, the BigQuery dataset, Bigtable, the Pub/Sub topics and the Dataflow jobs. Empty (the default): Google-managed keys. Set it before the first apply: most resources cannot switch keys in place. The services' agents get encrypt/decrypt on the key (kms.tf)."
  type        = string
  default     = ""
  validation {
    condition     = var.kms_key == "" || can(regex("^projects/[^/]+/locations/[^/]+/keyRings/[^/]+/cryptoKeys/[^/]+$", var.kms_key))
    error_message = "kms_key is a key's resource name, projects/P/locations/L/keyRings/R/cryptoKeys/K, or empty."
  }
}
