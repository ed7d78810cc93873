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

pg_bin() { ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1; }

as_pg() {
  if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi
}

# A loopback port nobody answers on (a small race with other starters is acceptable here).
free_port() {
  local port
  for _ in $(seq 1 100); do
    port=$((20000 + RANDOM % 40000))
    if ! (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then
      echo "$port"
      return 0
    fi
  done
  echo "no free loopback port found" >&2
  return 1
}

# 0 when GET $1 on 127.0.0.1:$2 answers 200 (bash only: no curl needed).
http_ok() {
  local status
  status=$( (exec 3<>"/dev/tcp/127.0.0.1/$2" &&
    printf 'GET %s HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n' "$1" >&3 &&
    head -n 1 <&3) 2>/dev/null || true)
  [[ "$status" == *" 200 "* ]]
}

bin=$(pg_bin)
if [ -z "$bin" ] || [ ! -x "$bin/pg_ctl" ]; then
  echo "PostgreSQL server binaries not found under /usr/lib/postgresql/*/bin (Debian: apt-get install postgresql)." >&2
  exit 1
fi

echo "Building the app (Release)…" >&2
for project in ClinicFlow.csproj; do
  if ! build_output=$(dotnet build "$root/$project" -c Release -nologo -v q 2>&1); then
    echo "$build_output" >&2
    exit 1
  fi
done
app_dir="$root/bin/Release/net10.0"

tmp=$(mktemp -d "${TMPDIR:-/tmp}/clinicflow-bench.XXXXXX")
chmod 755 "$tmp"
data="$tmp/pg"
run_dir="$tmp/pg-run"
app_pid=""

cleanup() {
  local rc=$?
  trap - EXIT INT TERM
  if [ -n "$app_pid" ] && kill -0 "$app_pid" 2>/dev/null; then
    kill "$app_pid" 2>/dev/null || true
    for _ in $(seq 1 50); do kill -0 "$app_pid" 2>/dev/null || break; sleep 0.1; done
    kill -9 "$app_pid" 2>/dev/null || true
  fi
  if [ -f "$data/postmaster.pid" ]; then
    as_pg "$bin/pg_ctl" -D "$data" -m fast -w stop >/dev/null 2>&1 || true
  fi
  rm -rf "$tmp"
  exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

mkdir -p "$data" "$run_dir"
if [ "$(id -u)" = 0 ]; then chown postgres:postgres "$data" "$run_dir"; fi
chmod 700 "$data"
pg_port=$(free_port)
echo "Starting a throwaway PostgreSQL on 127.0.0.1:$pg_port…" >&2
as_pg "$bin/initdb" -D "$data" -U postgres --auth=trust -E UTF8 --locale=C.UTF-8 >/dev/null
as_pg "$bin/pg_ctl" -D "$data" -l "$run_dir/server.log" -w -t 60 \
  -o "-p $pg_port -k $run_dir -c listen_addresses=127.0.0.1" start >/dev/null
psql=("$bin/psql" -h 127.0.0.1 -p "$pg_port" -U postgres -d postgres -v ON_ERROR_STOP=1 -qtA)
# A plain role, as in production, so row-level security applies to the app.
"${psql[@]}" -c "create role clinicflow login password 'clinicflow' nosuperuser nobypassrls" >/dev/null
"${psql[@]}" -c "create database clinicflow owner clinicflow" >/dev/null

environment=Production
if key=$(openssl ecparam -name prime256v1 -genkey -noout 2>/dev/null | openssl pkcs8 -topk8 -nocrypt 2>/dev/null) && [ -n "$key" ]; then
  export Jwt__SigningKeys__0="$key"
else
  echo "openssl not available: running the app in Development, which generates its own signing key." >&2
  environment=Development
fi

app_port=$(free_port)
export ASPNETCORE_ENVIRONMENT=$environment
export ConnectionStrings__Postgres="Host=127.0.0.1;Port=$pg_port;Database=clinicflow;Username=clinicflow;Password=clinicflow"
export Superadmin__ApiKey="bench-$RANDOM$RANDOM$RANDOM"
export PublicBaseUrl="http://127.0.0.1:$app_port"
# The limiter would otherwise cut the run after 100 requests; the benchmark measures the rest of the pipeline.
for group in FailedAuth Register Demo Ics PublicLinks General; do
  export "RateLimits__${group}__PermitLimit=100000000"
done

echo "Starting the app ($environment) on http://127.0.0.1:$app_port…" >&2
# Content root = the build output, so appsettings.json is the one shipped with the build.
(cd "$app_dir" && exec dotnet ClinicFlow.dll --urls "http://127.0.0.1:$app_port") >"$tmp/app.log" 2>&1 &
app_pid=$!

for _ in $(seq 1 120); do
  if http_ok /health/ready "$app_port"; then break; fi
  if ! kill -0 "$app_pid" 2>/dev/null; then
    echo "The app exited during start-up:" >&2
    tail -n 40 "$tmp/app.log" >&2
    exit 1
  fi
  sleep 0.5
done
if ! http_ok /health/ready "$app_port"; then
  echo "The app did not become ready within 60 s:" >&2
  tail -n 40 "$tmp/app.log" >&2
  exit 1
fi


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
