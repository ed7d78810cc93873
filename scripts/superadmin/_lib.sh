# Shared by the superadmin scripts (sourced, not run): base URL, admin key, request, output.
# CLINICFLOW_URL       the API's base URL without /api (default http://localhost:3001)
# CLINICFLOW_ADMIN_KEY the service's Superadmin:ApiKey, sent as X-Admin-Key (required)

CLINICFLOW_URL="${CLINICFLOW_URL:-http://localhost:3001}"
CLINICFLOW_URL="${CLINICFLOW_URL%/}"

if [ -z "${CLINICFLOW_ADMIN_KEY:-}" ]; then
  echo "error: CLINICFLOW_ADMIN_KEY is not set; export the service's Superadmin:ApiKey first:" >&2
  echo "  export CLINICFLOW_ADMIN_KEY='...'" >&2
  exit 2
fi

die() {
  echo "error: $*" >&2
  exit 2
}

# Pretty-prints JSON with jq when it is installed, else passes it through.
pretty() {
  if command -v jq >/dev/null 2>&1; then
    jq .
  else
    cat
    echo
  fi
}

# api METHOD PATH [extra curl arguments...]
api() {
  local method=$1 path=$2
  shift 2
  curl -fsS -X "$method" \
    -H "X-Admin-Key: ${CLINICFLOW_ADMIN_KEY}" \
    -H "Accept: application/json" \
    "$@" \
    "${CLINICFLOW_URL}/api${path}" | pretty
}

# api_json METHOD PATH JSON
api_json() {
  api "$1" "$2" -H "Content-Type: application/json" --data "$3"
}

is_uuid() {
  [[ $1 =~ ^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$ ]]
}

is_plan() {
  [[ $1 == basic || $1 == pro || $1 == enterprise ]]
}
