#!/usr/bin/env bash
# Sets a clinic's subscription expiry to the end of the given day (23:59:59 UTC).
# Usage: extend-subscription.sh CLINIC_ID YYYY-MM-DD [status]
#   status (optional): trialing | active | past_due | canceled | expired; left unchanged when omitted.
set -euo pipefail
source "$(dirname "$0")/_lib.sh"

[ $# -eq 2 ] || [ $# -eq 3 ] || die "usage: $(basename "$0") CLINIC_ID YYYY-MM-DD [status]"
is_uuid "$1" || die "CLINIC_ID must be a UUID, got '$1'"
[[ $2 =~ ^[0-9]{4}-[0-9]{2}-[0-9]{2}$ ]] || die "the date must be YYYY-MM-DD, got '$2'"
body="\"subscriptionExpiresAt\":\"$2T23:59:59Z\""
if [ $# -eq 3 ]; then
  [[ $3 =~ ^(trialing|active|past_due|canceled|expired)$ ]] || die "status must be trialing, active, past_due, canceled or expired"
  body="$body,\"subscriptionStatus\":\"$3\""
fi
api_json PATCH "/superadmin/clinics/$1" "{$body}"
