#!/usr/bin/env bash
# Moves a clinic to another plan (limits follow the plan unless overridden).
# Usage: change-plan.sh CLINIC_ID basic|pro|enterprise
set -euo pipefail
source "$(dirname "$0")/_lib.sh"

[ $# -eq 2 ] || die "usage: $(basename "$0") CLINIC_ID basic|pro|enterprise"
is_uuid "$1" || die "CLINIC_ID must be a UUID, got '$1'"
is_plan "$2" || die "the plan must be basic, pro or enterprise, got '$2'"
api_json PATCH "/superadmin/clinics/$1" "{\"plan\":\"$2\"}"
