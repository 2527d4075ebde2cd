#!/usr/bin/env bash
# The step between the two phases of docs/deploy.md: after the first
# `terraform apply` (deploy_workloads = false) created the registry, the
# buckets and the empty secrets, put in place what the workloads need to
# start, then print the second phase's command.
#
#   deploy/bootstrap.sh CATALOG_JSON [TAG]
#
# Run from the repository root with gcloud authenticated and Terraform's
# state in terraform/. Secrets are generated into a 0700 folder outside
# the repository (ADCLICK_SECRETS, default ~/.adclick-secrets/PROJECT) and
# added as Secret Manager versions only where a secret has none: rerunning
# never rotates anything. Nothing secret passes through Terraform state.
set -euo pipefail
catalog=${1:?usage: deploy/bootstrap.sh CATALOG_JSON [TAG]}
tag=${2:-$(git rev-parse --short HEAD)}
out() { terraform -chdir=terraform output -raw "$1"; }
project=$(terraform -chdir=terraform output -raw bigquery_dataset | cut -d. -f1)
secrets=${ADCLICK_SECRETS:-$HOME/.adclick-secrets/$project}
umask 077
mkdir -p "$secrets"

# hasversion SECRET: the secret has an enabled version.
hasversion() {
	[ -n "$(gcloud secrets versions list "$1" --project="$project" --filter=state=ENABLED --format='value(name)' --limit=1)" ]
}
# addsecret SECRET FILE MAKE...: generate FILE with MAKE unless it exists,
# and add it as SECRET's first version unless SECRET has one.
addsecret() {
	local secret=$1 file=$secrets/$2
	shift 2
	[ -s "$file" ] || "$@" >"$file"
	if hasversion "$secret"; then
		echo "bootstrap: $secret has a version already; left as it is"
	else
		gcloud secrets versions add "$secret" --project="$project" --data-file="$file"
	fi
}
random_hex() { head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n'; echo; }

addsecret adclick-token-keys token-keys.json go run ./cmd/keygen token-keys
addsecret adclick-user-key-pepper user-key-pepper random_hex
addsecret adclick-api-key-pepper api-key-pepper random_hex
addsecret adclick-ad-server-secrets ad-server-secrets random_hex

# The catalog both services poll: they refuse to start without one.
gcloud storage cp "$catalog" "$(out catalog_object)" --project="$project"

# Images and Flex Templates (the templates go to the Dataflow bucket the
# first phase created).
make images REGISTRY="$(out image_registry)" TEMPLATES="$(out templates)" TAG="$tag"

cat <<MSG
bootstrap: done. Secrets are in $secrets (keep them; never commit them).
Advertisers' API keys: go run ./cmd/keygen api-key -pepper-file $secrets/api-key-pepper,
then put each hash in the catalog's api_key_hashes and upload it again.
Second phase:
  terraform -chdir=terraform apply -var deploy_workloads=true -var image_tag=$tag
Then the smoke test: deploy/smoke.sh AD_ID ADVERTISER_API_KEY
MSG
