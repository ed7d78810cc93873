#!/usr/bin/env bash
# FHIR export benchmark (bench/README.md): GET /api/patients/{id}/fhir, the record of a patient with
# 200 appointments (5 doctors), 10 consent forms (5 with a 1.5 KB envelope) and 2 treatment plans as a
# FHIR R4 Bundle, beside the primary-key lookup GET /api/patients/{id} of the same patient, in
# alternating rounds of the same run. Builds in Release, starts a throwaway PostgreSQL and the app
# (bench/lib.sh), registers a practice through the API, generates the rest set-based as the PostgreSQL
# superuser (and 20 000 appointments of 2 000 other patients of the same practice around it), checks
# the bundle's entries, runs bench/ClinicFlow.Load in the fhir scenario and writes
# bench/results/fhir-<UTC date>.md.
#   bash bench/fhir.sh                           8 workers, 6 s warm-up, 4 rounds of 2 s per endpoint
#   bash bench/fhir.sh --concurrency 16 --seconds 20   any ClinicFlow.Load argument overrides the default
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)
# shellcheck source=bench/lib.sh
. "$root/bench/lib.sh"

defaults=(--concurrency 8 --warmup 6 --seconds 8 --rounds 4)
appointments=200
others=20000
command -v curl >/dev/null || { echo "curl is needed." >&2; exit 1; }
bench_build ClinicFlow.csproj bench/ClinicFlow.Load/ClinicFlow.Load.csproj
load_dll="$root/bench/ClinicFlow.Load/bin/Release/net10.0/ClinicFlow.Load.dll"
bench_start

json_field() { sed -E "s/.*\"$1\":\"([^\"]+)\".*/\1/"; }

token=$(curl -fsS -X POST "$base/api/auth/register" -H 'Content-Type: application/json' \
  -d "{\"email\":\"bench-fhir-$RANDOM$RANDOM@bench.clinicflow.local\",\"password\":\"correct horse battery\",\"fullName\":\"Bench Admin\",\"clinicName\":\"Bench FHIR Praxis\",\"country\":\"DE\"}" |
  json_field token)
auth=(-H "Authorization: Bearer $token")
clinic=$("${psql[@]}" -c "select id from clinics where name = 'Bench FHIR Praxis'")
patient=$(curl -fsS "${auth[@]}" -X POST "$base/api/patients" -H 'Content-Type: application/json' \
  -d '{"fullName":"Jürgen Müller-Lüdenscheidt","phone":"+4915123456789","email":"juergen@example.com","birthDate":"1970-02-03","gender":"male","documentId":"X1234567"}' |
  json_field id)
for plan in 1 2; do
  curl -fsS "${auth[@]}" -X POST "$base/api/treatment-plans" -H 'Content-Type: application/json' -d "{\"patientId\":\"$patient\",\"title\":\"Plan $plan\",\"status\":\"accepted\",\"notes\":\"Bench\",\"items\":[
    {\"description\":\"Füllung\",\"code\":\"F1\",\"tooth\":36,\"quantity\":2,\"unitPriceCents\":12500},
    {\"description\":\"Krone\",\"code\":\"K2\",\"tooth\":46,\"quantity\":1,\"unitPriceCents\":65000},
    {\"description\":\"Reinigung\",\"quantity\":1,\"unitPriceCents\":8000},
    {\"description\":\"Röntgen\",\"code\":\"R\",\"quantity\":1,\"unitPriceCents\":3500},
    {\"description\":\"Kontrolle\",\"quantity\":1,\"unitPriceCents\":0}]}" >/dev/null
done

echo "Generating $appointments appointments of the patient and $others of 2 000 others…" >&2
"${psql[@]}" -v clinic="$clinic" -v patient="$patient" -v appointments="$appointments" -v others="$others" >/dev/null <<'SQL'
insert into doctors (id, clinic_id, full_name) select gen_random_uuid(), :'clinic', 'Dr. Bench ' || d from generate_series(1, 5) d;
insert into patients (id, clinic_id, full_name) select gen_random_uuid(), :'clinic', 'Patient ' || p from generate_series(1, 2000) p;
-- The others first: doctor g mod 5 takes half hour g div 5 from 400 days ago (about 6 weeks for 20 000).
with docs as (select id, row_number() over (order by id) - 1 as n from doctors where clinic_id = :'clinic'),
     pats as (select id, row_number() over (order by id) - 1 as n from patients where clinic_id = :'clinic' and id <> :'patient')
insert into appointments (id, clinic_id, doctor_id, patient_id, starts_at, ends_at, status)
select gen_random_uuid(), :'clinic', docs.id, pats.id, s.t, s.t + interval '30 minutes', 'completed'
from generate_series(0, :others - 1) g
join docs on docs.n = g % 5
join pats on pats.n = (g / 5) % 2000
cross join lateral (select date_trunc('day', now()) - interval '400 days' + (g / 5) * interval '30 minutes' as t) s;
-- The patient's: one a day at 09:00 UTC from 300 days ago, the doctors in turn, statuses of a real record.
with docs as (select id, row_number() over (order by id) - 1 as n from doctors where clinic_id = :'clinic')
insert into appointments (id, clinic_id, doctor_id, patient_id, starts_at, ends_at, status, reason, notes)
select gen_random_uuid(), :'clinic', docs.id, :'patient', s.t, s.t + interval '30 minutes',
       (array['completed', 'completed', 'completed', 'no_show', 'cancelled', 'confirmed'])[1 + i % 6],
       'Kontrolle', case when i % 3 = 0 then 'Befund unauffällig' end
from generate_series(0, :appointments - 1) i
join docs on docs.n = i % 5
cross join lateral (select date_trunc('day', now()) - interval '300 days' + i * interval '1 day' + interval '9 hours' as t) s;
-- A public key row and 10 forms, 5 submitted with an envelope of the size a 1 KB answer gives (the
-- parts' bytes from md5 of random numbers: the server never decrypts, only the size matters here).
insert into practice_keys (clinic_id, kid, alg, jwk)
values (:'clinic', 'bench', 'ECDH-ES+A256KW', '{"kty":"EC","crv":"P-256","x":"AQ","y":"Ag","kid":"bench"}');
create function pg_temp.b64url(bytes int) returns text language sql as $$
  select translate(replace(encode(string_agg(decode(md5(random()::text), 'hex'), ''::bytea), 'base64'), E'\n', ''), '+/=', '-_')
  from generate_series(1, (bytes + 15) / 16) $$;
insert into consent_forms (id, clinic_id, patient_id, type, title, body, kid, expires_at, submitted_at, signed_at, encrypted_payload, retain_until)
select gen_random_uuid(), :'clinic', :'patient', (array['treatment', 'photo'])[1 + n % 2], 'Aufklärung ' || n,
       'Ich willige in die Behandlung ein.', 'bench', now() + interval '7 days',
       case when n < 5 then now() end, case when n < 5 then now() end,
       case when n < 5 then 'eyJhbGciOiJFQ0RILUVTK0EyNTZLVyIsImVuYyI6IkEyNTZHQ00iLCJraWQiOiJiZW5jaCJ9.'
            || pg_temp.b64url(40) || '.' || pg_temp.b64url(12) || '.' || pg_temp.b64url(1024) || '.' || pg_temp.b64url(16) end,
       case when n < 5 then now() + interval '10 years' end
from generate_series(0, 9) n;
analyze;
SQL

# The export as a client gets it: its size, and one entry per resource of the record.
export_file="$tmp/bundle.json"
curl -fsS "${auth[@]}" -o "$export_file" "$base/api/patients/$patient/fhir"
entries=$(grep -o '"fullUrl"' "$export_file" | wc -l)
expected=$((1 + 5 + appointments + 10 + 2))
if [ "$entries" != "$expected" ]; then
  echo "The bundle holds $entries entries, expected $expected." >&2
  exit 1
fi
bundle_bytes=$(wc -c <"$export_file")
patient_bytes=$(curl -fsS "${auth[@]}" "$base/api/patients/$patient" | wc -c)

load_before=$(cut -d ' ' -f 1-3 /proc/loadavg)
started=$(date -u '+%Y-%m-%d %H:%M UTC')
load_rc=0
dotnet "$load_dll" --url "$base" "${defaults[@]}" --scenario fhir --token "$token" --patient-id "$patient" "$@" >"$tmp/table.md" || load_rc=$?
if [ "$load_rc" != 0 ] && [ "$load_rc" != 3 ]; then
  echo "The load generator failed (exit $load_rc); app log:" >&2
  tail -n 40 "$tmp/app.log" >&2
  exit "$load_rc"
fi
load_after=$(cut -d ' ' -f 1-3 /proc/loadavg)
audited=$("${psql[@]}" -c "select count(*) from audit_log where clinic_id = '$clinic' and action = 'patient.fhir_export'")
commit=$(git -C "$root" rev-parse --short HEAD 2>/dev/null || echo unknown)
if [ -n "$(git -C "$root" status --porcelain -- ':!bench/results' 2>/dev/null)" ]; then commit="$commit (uncommitted changes)"; fi
cpu=$(grep -m 1 'model name' /proc/cpuinfo | cut -d ':' -f 2 | sed 's/^ *//' || true)
pg_version=$("$bin/postgres" --version | sed -E 's/^[^0-9]*([0-9][0-9.]*).*/\1/')

mkdir -p "$root/bench/results"
result="$root/bench/results/fhir-$(date -u +%Y-%m-%d).md"
{
  echo "# FHIR R4 export beside the primary-key lookup"
  echo
  echo "$started, commit $commit, app in $environment (Release), PostgreSQL $pg_version with default settings."
  echo "Machine: $(nproc) cores${cpu:+ ($cpu)}, shared by the load generator, the app, PostgreSQL and whatever else"
  echo "runs on the machine; load average (1, 5, 15 min) just before the run: $load_before, just after: $load_after."
  echo "Absolute numbers depend on that; the ratio compares two endpoints measured in the same minutes."
  echo
  echo "Data: one practice; the measured patient with $appointments appointments with 5 doctors, 10 consent forms (5 submitted,"
  echo "each with an envelope of about 1.5 KB) and 2 accepted treatment plans of 5 items; around them $others appointments of"
  echo "2 000 other patients of the practice. The bundle: $entries entries, $bundle_bytes bytes (the patient alone: $patient_bytes bytes)."
  echo
  cat "$tmp/table.md"
  echo
  echo "Exports audited over the whole run (check and warm-up included): $audited \`patient.fhir_export\` entries."
} | tee "$result"
echo "Written to ${result#"$root"/}" >&2
exit "$load_rc"
