#!/usr/bin/env bash
# Shows one clinic: subscription, limit overrides, effective limits and usage.
# Usage: show-clinic.sh CLINIC_ID
set -euo pipefail
source "$(dirname "$0")/_lib.sh"

[ $# -eq 1 ] || die "usage: $(basename "$0") CLINIC_ID"
is_uuid "$1" || die "CLINIC_ID must be a UUID, got '$1'"
api GET "/superadmin/clinics/$1"
