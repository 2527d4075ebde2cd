#!/usr/bin/env bash
# The end of docs/deploy.md: one click through the deployed system.
#
#   deploy/smoke.sh AD_ID API_KEY
#
# Mints a click URL for AD_ID with the ad servers' secret, follows it
# (expects a 302 to the ad's landing page), then asks the reports API, as
# the advertiser owning AD_ID (API_KEY), for the ad's clicks in the last
# minutes until the click appears (the speed layer: seconds).
set -euo pipefail
ad=${1:?usage: deploy/smoke.sh AD_ID API_KEY}
key=${2:?usage: deploy/smoke.sh AD_ID API_KEY}
project=$(terraform -chdir=terraform output -raw bigquery_dataset | cut -d. -f1)
base=$(terraform -chdir=terraform output -raw click_url_base)
reports=$(terraform -chdir=terraform output -raw reports_url)
secret=$(gcloud secrets versions access latest --secret=adclick-ad-server-secrets --project="$project" | head -n1)

click=$(curl -fsS -X POST "$base/v1/impressions" -H "Authorization: Bearer $secret" \
	-H 'Content-Type: application/json' -d "{\"ad_id\":\"$ad\",\"placement_id\":\"smoke\"}" |
	sed -n 's/.*"click_url":"\([^"]*\)".*/\1/p')
[ -n "$click" ] || { echo "smoke: no click URL minted" >&2; exit 1; }
code=$(curl -sS -o /dev/null -w '%{http_code} %{redirect_url}' -A 'Mozilla/5.0 (smoke test)' "$click")
echo "smoke: click answered $code"
case $code in 302\ *) ;; *) echo "smoke: want a 302" >&2; exit 1 ;; esac

from=$(date -u -d '-10 minutes' +%Y-%m-%dT%H:%M:00Z)
for _ in $(seq 30); do
	body=$(curl -fsS -H "Authorization: Bearer $key" "$reports/v1/ads/$ad/clicks?granularity=minute&from=$from")
	if echo "$body" | grep -q '"clicks":[1-9]'; then
		echo "smoke: the click is in the reports: $body" | head -c 400; echo
		exit 0
	fi
	sleep 2
done
echo "smoke: the click did not reach the reports within a minute" >&2
exit 1
