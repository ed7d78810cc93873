#!/usr/bin/env bash
# Patient CSV import benchmark (bench/patients-import.md): POST /api/patients/import of a generated
# file of N rows (default 100 000) into a fresh clinic, timed with curl.
# Builds the app in Release, starts a throwaway PostgreSQL and the app on free loopback ports (the
# start-up is the one of bench/http.sh), registers a clinic, generates the CSV with awk, uploads it
# and prints rows/s. Everything it started is stopped and removed on exit.
#   bash bench/patients-import.sh            100 000 rows
#   bash bench/patients-import.sh 500000     any row count
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)
rows=${1:-100000}

# shared start-up: Release build, throwaway PostgreSQL, the app on loopback, clean-up on exit
. "$root/bench/lib.sh"
bench_build ClinicFlow.csproj
bench_start


command -v curl >/dev/null || { echo "curl is needed." >&2; exit 1; }
base="http://127.0.0.1:$app_port"
email="bench-$RANDOM$RANDOM@bench.clinicflow.local"
token=$(curl -fsS -X POST "$base/api/auth/register" -H 'Content-Type: application/json' \
  -d "{\"email\":\"$email\",\"password\":\"correct horse battery\",\"fullName\":\"Bench Admin\",\"clinicName\":\"Bench Clinic\",\"country\":\"AR\"}" |
  sed -E 's/.*"token":"([^"]+)".*/\1/')

# Every row valid and distinct: name, an Argentine mobile number, email, birth date, document id, notes.
csv="$tmp/patients.csv"
awk -v n="$rows" 'BEGIN {
  print "fullName,phone,email,birthDate,documentId,notes"
  for (i = 1; i <= n; i++) {
    printf "Patient %d Example,+54911%08d,patient%d@example.com,%04d-%02d-%02d,DOC-%d,\"imported, row %d\"\n",
      i, i, i, 1940 + i % 80, 1 + i % 12, 1 + i % 28, i, i
  }
}' >"$csv"
size=$(du -h "$csv" | cut -f 1)

load_before=$(cut -d ' ' -f 1-3 /proc/loadavg)
echo "Uploading $rows rows ($size)…" >&2
out=$(curl -sS -X POST "$base/api/patients/import" -H "Authorization: Bearer $token" \
  -F "file=@$csv;type=text/csv" -o "$tmp/response.json" -w '%{http_code} %{time_total}')
status=${out% *}
seconds=${out#* }
if [ "$status" != 200 ]; then
  echo "The import answered $status:" >&2
  cat "$tmp/response.json" >&2
  tail -n 40 "$tmp/app.log" >&2
  exit 1
fi
imported=$(sed -E 's/.*"imported":([0-9]+).*/\1/' "$tmp/response.json")
rate=$(awk -v r="$imported" -v s="$seconds" 'BEGIN { printf "%.0f", r / s }')
pg_version=$("$bin/postgres" --version | sed -E 's/^[^0-9]*([0-9][0-9.]*).*/\1/')
echo "$(date -u '+%Y-%m-%d %H:%M UTC'): $rows rows ($size), imported $imported in ${seconds} s = $rate rows/s;" \
  "app in $environment (Release), PostgreSQL $pg_version, $(nproc) cores, load average before: $load_before"
