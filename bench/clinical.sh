#!/usr/bin/env bash
# Clinical records benchmark (bench/README.md): a 20 MB encrypted photo uploaded (POST /api/photos,
# multipart, streamed into 256 KB chunk rows) and downloaded (GET /api/photos/{id}/download) in MB/s,
# beside a COPY of the same bytes into and out of a bytea table; then the analytics dashboard
# (GET /api/analytics, 30 days) over generated appointments beside the primary-key lookup
# (GET /api/appointments/{id}). Sequential curl requests, medians of N runs. Writes
# bench/results/clinical-<UTC date>.md.
#   bash bench/clinical.sh                        5 photo rounds, 100 000 appointments, 20 dashboard requests
#   bash bench/clinical.sh 5 1000000 20           rounds, appointments, requests
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)
# shellcheck source=bench/lib.sh
. "$root/bench/lib.sh"

rounds=${1:-5}
appointments=${2:-100000}
requests=${3:-20}
command -v curl >/dev/null || { echo "curl is needed." >&2; exit 1; }
bench_build ClinicFlow.csproj
bench_start
load_before=$(cut -d' ' -f1-3 /proc/loadavg)

email="bench-$RANDOM$RANDOM@bench.clinicflow.local"
token=$(curl -fsS -X POST "$base/api/auth/register" -H 'Content-Type: application/json' \
  -d "{\"email\":\"$email\",\"password\":\"correct horse battery\",\"fullName\":\"Bench Admin\",\"clinicName\":\"Bench Clinic\",\"country\":\"DE\"}" |
  sed -E 's/.*"token":"([^"]+)".*/\1/')
auth=(-H "Authorization: Bearer $token")
patient=$(curl -fsS "${auth[@]}" -X POST "$base/api/patients" -H 'Content-Type: application/json' -d '{"fullName":"Bench Patient"}' |
  sed -E 's/.*"id":"([^"]+)".*/\1/')

file="$tmp/photo.bin"
head -c $((20 * 1024 * 1024)) /dev/urandom >"$file"
od -An -v -tx1 "$file" | tr -d ' \n' | sed 's/^/\\\\x/' >"$tmp/photo.hex"
echo >>"$tmp/photo.hex"
envelope="$(printf '{"alg":"ECDH-ES+A256KW","enc":"A256GCM","kid":"bench"}' | base64 -w0 | tr '+/' '-_' | tr -d '=').a2V5.aXY.Y3Q.dGFn"
"${psql[@]}" -c "create table copy_bench (data bytea)" >/dev/null

median() { sort -n | awk '{a[NR]=$1} END {print (NR % 2) ? a[(NR + 1) / 2] : (a[NR / 2] + a[NR / 2 + 1]) / 2}'; }
mbps() { awk -v s="$1" 'BEGIN {printf "%.1f", 20 / s}'; }

up=(); down=(); cin=(); cout=()
for i in $(seq 1 "$rounds"); do
  t0=$(date +%s.%N)
  id=$(curl -fsS "${auth[@]}" -X POST "$base/api/photos" -F "file=@$file;type=application/octet-stream" -F "patientId=$patient" \
    -F "keyEnvelope=$envelope" -F "mimeType=image/jpeg" -F "category=before" | sed -E 's/^\{"id":"([^"]+)".*/\1/')
  t1=$(date +%s.%N)
  curl -fsS "${auth[@]}" -o "$tmp/down.bin" "$base/api/photos/$id/download"
  t2=$(date +%s.%N)
  cmp -s "$file" "$tmp/down.bin" || { echo "download differs from upload" >&2; exit 1; }
  "${psql[@]}" -c "\\copy copy_bench (data) from '$tmp/photo.hex'" >/dev/null
  t3=$(date +%s.%N)
  "${psql[@]}" -c "\\copy (select data from copy_bench limit 1) to '$tmp/copy.out'" >/dev/null
  t4=$(date +%s.%N)
  "${psql[@]}" -c "truncate copy_bench" >/dev/null
  up+=("$(echo "$t1 - $t0" | bc)"); down+=("$(echo "$t2 - $t1" | bc)")
  cin+=("$(echo "$t3 - $t2" | bc)"); cout+=("$(echo "$t4 - $t3" | bc)")
done
m_up=$(printf '%s\n' "${up[@]}" | median); m_down=$(printf '%s\n' "${down[@]}" | median)
m_cin=$(printf '%s\n' "${cin[@]}" | median); m_cout=$(printf '%s\n' "${cout[@]}" | median)

echo "Generating $appointments appointments in 100 clinics…" >&2
clinic=$("${psql[@]}" -c "select clinic_id from users where email = '$email'")
"${psql[@]}" >/dev/null <<SQL
insert into clinics (id, name, timezone, country, currency, locale)
select gen_random_uuid(), 'Clinic ' || n, 'Europe/Berlin', 'DE', 'EUR', 'de' from generate_series(1, 99) n;
insert into doctors (id, clinic_id, full_name)
select gen_random_uuid(), c.id, 'Dr. ' || d from clinics c, generate_series(1, 5) d;
insert into doctor_weekly_hours (clinic_id, doctor_id, weekday, starts_at, ends_at)
select clinic_id, id, w, '08:00', '18:00' from doctors, generate_series(1, 5) w;
insert into patients (id, clinic_id, full_name, created_at)
select gen_random_uuid(), c.id, 'Patient ' || p, now() - (p % 400) * interval '1 day' from clinics c, generate_series(1, 200) p;
-- Appointments of 30 minutes on the doctors' half hours, spread over the last 400 days, per clinic.
insert into appointments (id, clinic_id, doctor_id, patient_id, starts_at, ends_at, status)
select gen_random_uuid(), d.clinic_id, d.id,
       (select id from patients p where p.clinic_id = d.clinic_id offset (g % 200) limit 1),
       date_trunc('day', now()) - (g / 20) * interval '1 day' + interval '8 hours' + (g % 20) * interval '30 minutes',
       date_trunc('day', now()) - (g / 20) * interval '1 day' + interval '8 hours' + (g % 20) * interval '30 minutes' + interval '30 minutes',
       (array['completed', 'completed', 'no_show', 'cancelled', 'checked_in', 'scheduled'])[1 + g % 6]
from doctors d, generate_series(0, ($appointments / 500) - 1) g;
analyze;
SQL
count=$("${psql[@]}" -c "select count(*) from appointments")
appointment=$("${psql[@]}" -c "select id from appointments where clinic_id = '$clinic' limit 1")

time_requests() {
  local url=$1 times=()
  for _ in $(seq 1 "$requests"); do
    times+=("$(curl -fsS "${auth[@]}" -o /dev/null -w '%{time_total}' "$base$url")")
  done
  printf '%s\n' "${times[@]}" | median
}
time_requests /api/analytics >/dev/null
m_dash=$(time_requests /api/analytics)
m_pk=$(time_requests "/api/appointments/$appointment")

out="$root/bench/results/clinical-$(date -u +%F).md"
cat >"$out" <<MD
# Clinical records benchmark, $(date -u +%F)

Commit $(git rev-parse --short HEAD), $(nproc) cores, load average before the run: $load_before.
Sequential curl requests against the Release build on a throwaway PostgreSQL (bench/clinical.sh);
medians of $rounds photo rounds and $requests dashboard requests.

| 20 MB photo | seconds | MB/s | vs COPY |
|---|---|---|---|
| upload (POST /api/photos, multipart, 256 KB chunk rows) | $m_up | $(mbps "$m_up") | $(awk -v a="$m_cin" -v b="$m_up" 'BEGIN {printf "%.2f×", a / b}') |
| COPY of the same bytes into a bytea column (psql \\copy, hex text) | $m_cin | $(mbps "$m_cin") | 1× |
| download (GET …/download, streamed) | $m_down | $(mbps "$m_down") | $(awk -v a="$m_cout" -v b="$m_down" 'BEGIN {printf "%.2f×", a / b}') |
| COPY out of the same bytes (psql \\copy, hex text) | $m_cout | $(mbps "$m_cout") | 1× |

| dashboard over $count appointments in 100 clinics | median seconds | vs PK lookup |
|---|---|---|
| GET /api/analytics (30 days, one clinic of ~$((count / 100)) appointments) | $m_dash | $(awk -v a="$m_dash" -v b="$m_pk" 'BEGIN {printf "%.1f×", a / b}') slower |
| GET /api/appointments/{id} (primary key) | $m_pk | 1× |
MD
cat "$out"
