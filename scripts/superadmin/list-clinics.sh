#!/usr/bin/env bash
# Lists clinics, newest first, with plan, subscription, expiry and user counts.
# Usage: list-clinics.sh [query]   (query matches the name, ignoring case and accents)
set -euo pipefail
source "$(dirname "$0")/_lib.sh"

[ $# -le 1 ] || die "usage: $(basename "$0") [query]"
args=(-G --data-urlencode "limit=200")
if [ $# -eq 1 ] && [ -n "$1" ]; then
  args+=(--data-urlencode "q=$1")
fi
api GET /superadmin/clinics "${args[@]}"
