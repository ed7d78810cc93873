#!/usr/bin/env bash
# Lists demo requests, newest first.
# Usage: list-demo-requests.sh [status]   (new | contacted | converted | rejected)
set -euo pipefail
source "$(dirname "$0")/_lib.sh"

[ $# -le 1 ] || die "usage: $(basename "$0") [new|contacted|converted|rejected]"
args=(-G --data-urlencode "limit=200")
if [ $# -eq 1 ]; then
  [[ $1 =~ ^(new|contacted|converted|rejected)$ ]] || die "status must be new, contacted, converted or rejected, got '$1'"
  args+=(--data-urlencode "status=$1")
fi
api GET /superadmin/demo-requests "${args[@]}"
