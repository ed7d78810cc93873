#!/usr/bin/env bash
# Patient CSV import benchmark (bench/patients-import.md): POST /api/patients/import of a generated
# file of N rows (default 100 000) into a fresh clinic, timed with curl, beside its floor: a binary COPY
# of the same rows into a table with the same indexes as patients, timed by psql.
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
# Every statement is logged with its duration (not its parameters): the script sums the batch inserts.
bench_before_app() {
  "${psql[@]}" -c "alter system set log_min_duration_statement = 0" -c "alter system set log_parameter_max_length = 0" -c "select pg_reload_conf()" >/dev/null
}
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

# Warm-up, as every other benchmark has one: a first import of 5 000 rows into another clinic, so the
# timed import does not pay for start-up work (JIT, the phone number metadata), which a running
# service has long done. Its time is reported apart.
warm_token=$(curl -fsS -X POST "$base/api/auth/register" -H 'Content-Type: application/json' \
  -d "{\"email\":\"warm-$email\",\"password\":\"correct horse battery\",\"fullName\":\"Bench Admin\",\"clinicName\":\"Warm-up Clinic\",\"country\":\"AR\"}" |
  sed -E 's/.*"token":"([^"]+)".*/\1/')
head -n 5001 "$csv" >"$tmp/warm.csv"
warm_seconds=$(curl -fsS -X POST "$base/api/patients/import" -H "Authorization: Bearer $warm_token" \
  -F "file=@$tmp/warm.csv;type=text/csv" -o /dev/null -w '%{time_total}')

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

# The floor: the same rows (as the import stored them, ids included) written back with one binary
# COPY into a table made like patients with every index, constraint, default and generated column
# (`like … including all`, so the trigram search index too; no row-level security, no foreign key,
# no duplicate checks). Timed by psql around the COPY alone.
clinic=$("${psql[@]}" -c "select clinic_id from patients group by clinic_id order by count(*) desc limit 1")
floor_file="$tmp/floor.bin"
"${psql[@]}" -c "\copy (select id, clinic_id, full_name, phone, email, birth_date, document_id, notes from patients where clinic_id = '$clinic') to '$floor_file' with (format binary)"
"${psql[@]}" -c "create table import_floor (like patients including all)"
floor_ms=$("$bin/psql" -h 127.0.0.1 -p "$pg_port" -U postgres -d clinicflow -v ON_ERROR_STOP=1 -qtA <<SQL | sed -nE 's/^Time: ([0-9.]+) ms.*/\1/p' | tail -n 1
\timing on
\copy import_floor (id, clinic_id, full_name, phone, email, birth_date, document_id, notes) from '$floor_file' with (format binary)
SQL
)
floor_rows=$("${psql[@]}" -c "select count(*) from import_floor")
floor_seconds=$(awk -v ms="$floor_ms" 'BEGIN { printf "%.3f", ms / 1000 }')
ratio=$(awk -v s="$seconds" -v f="$floor_seconds" 'BEGIN { printf "%.2f", s / f }')
indexes=$("${psql[@]}" -c "select string_agg(indexrelid::regclass::text, ', ' order by indexrelid::regclass::text) from pg_index where indrelid = 'patients'::regclass")
pg_version=$("$bin/postgres" --version | sed -E 's/^[^0-9]*([0-9][0-9.]*).*/\1/')
commit=$(git -C "$root" rev-parse --short HEAD 2>/dev/null || echo unknown)
if [ -n "$(git -C "$root" status --porcelain -- ':!bench/results' 2>/dev/null)" ]; then commit="$commit (uncommitted changes)"; fi
echo "$(date -u '+%Y-%m-%d %H:%M UTC'), commit $commit: $rows rows ($size), imported $imported in ${seconds} s = $rate rows/s;" \
  "floor (binary COPY of the same $floor_rows rows into a table like patients) ${floor_seconds} s; import / floor = ${ratio}x;" \
  "app in $environment (Release), PostgreSQL $pg_version, $(nproc) cores, load average before: $load_before"
echo "Indexes of patients (and of the floor's table): $indexes"
echo "Warm-up before it: 5 000 rows into another clinic, the first import after start-up, in ${warm_seconds} s."
# The import's batch inserts as PostgreSQL timed them (every statement is logged with its duration).
phases=$(grep -oE 'duration: [0-9.]+ ms  execute [^:]*: +insert into patients' "$run_dir/server.log" |
  sed -E 's/duration: ([0-9.]+) ms .*/\1/' |
  awk '{ n++; total += $1; if ($1 > longest) longest = $1 } END { if (n) printf "%d batch inserts, %.2f s in PostgreSQL together (longest %.0f ms)", n, total / 1000, longest }')
echo "Import phases: ${phases:-not logged}"
