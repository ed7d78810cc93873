#!/usr/bin/env bash
# Patient search benchmark (bench/README.md): GET /api/patients?q=…&limit=20 beside the primary-key
# lookup GET /api/patients/{id}, in alternating rounds of one run, on 1 000 000 patients spread
# evenly over 1 000 clinics. Builds in Release, starts a throwaway PostgreSQL and the app
# (bench/lib.sh), registers one clinic through the API, generates 999 more clinics and the patients
# with one set-based insert as the PostgreSQL superuser, runs bench/ClinicFlow.Load in the patients
# scenario and writes bench/results/patients-search-<UTC date>.md (with the EXPLAIN of one search).
#   bash bench/patients-search.sh                       16 workers, 20 s warm-up, 4 rounds of 5 s per endpoint
#   bash bench/patients-search.sh --concurrency 32      any ClinicFlow.Load argument overrides the default
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)
# shellcheck source=bench/lib.sh
. "$root/bench/lib.sh"

defaults=(--concurrency 16 --warmup 20 --seconds 20 --rounds 4)
# Rotated per request: accents and case as typed, two words, a German ß, a phone fragment.
terms="jose,NÚÑEZ,garcia lo,müller,Jürgen,SCHRÖDER,maría fern,peña,weiß,2233"

command -v curl >/dev/null || { echo "curl is needed." >&2; exit 1; }
bench_build ClinicFlow.csproj bench/ClinicFlow.Load/ClinicFlow.Load.csproj
load_dll="$root/bench/ClinicFlow.Load/bin/Release/net10.0/ClinicFlow.Load.dll"
bench_start

email="bench-$RANDOM$RANDOM@bench.clinicflow.local"
token=$(curl -fsS -X POST "$base/api/auth/register" -H 'Content-Type: application/json' \
  -d "{\"email\":\"$email\",\"password\":\"correct horse battery\",\"fullName\":\"Bench Admin\",\"clinicName\":\"Bench Clinic\",\"country\":\"AR\"}" |
  sed -E 's/.*"token":"([^"]+)".*/\1/')
clinic=$("${psql[@]}" -c "select id from clinics")

echo "Generating 999 clinics and 1 000 000 patients…" >&2
gen_started=$(date +%s.%N)
"${psql[@]}" >/dev/null <<'SQL'
insert into clinics (id, name, timezone, country, currency, locale)
select gen_random_uuid(), 'Clinic ' || n,
       case when n % 2 = 0 then 'America/Argentina/Buenos_Aires' else 'Europe/Berlin' end,
       case when n % 2 = 0 then 'AR' else 'DE' end,
       case when n % 2 = 0 then 'ARS' else 'EUR' end,
       case when n % 2 = 0 then 'es' else 'de' end
from generate_series(1, 999) n;

-- Reproducible random choices (one session, no parallel insert).
select setseed(0.42);

-- Patient g goes to clinic g % 1000: exactly 1 000 patients per clinic, the registered one included.
insert into patients (id, clinic_id, full_name, phone, email, birth_date, gender, document_id)
with c as (select id, (row_number() over (order by id) - 1)::int as n from clinics),
     names as (
       select array['José', 'María', 'Juan', 'Lucía', 'Sofía', 'Martín', 'Andrés', 'Inés', 'Ramón', 'Verónica',
                    'Joaquín', 'Begoña', 'Jürgen', 'Jörg', 'Björn', 'Günther', 'Anna', 'Lukas', 'Sören', 'Käthe',
                    'Renée', 'Zoë', 'Hans', 'Élodie'] as first,
              array['García', 'López', 'Martínez', 'Fernández', 'González', 'Rodríguez', 'Pérez', 'Sánchez',
                    'Gómez', 'Núñez', 'Muñoz', 'Peña', 'Ibáñez', 'Álvarez', 'Müller', 'Schröder', 'Weiß', 'Köhler',
                    'Krüger', 'Böhm', 'Jäger', 'Schmidt', 'Hoffmann', 'Fischer'] as last),
     p as (
       select g, f, l1, l2, random() as r
       from names,
            lateral (select g, names.first[1 + floor(random() * 24)::int] as f,
                            names.last[1 + floor(random() * 24)::int] as l1,
                            names.last[1 + floor(random() * 24)::int] as l2
                     from generate_series(0, 999999) g) s)
select gen_random_uuid(), c.id,
       p.f || ' ' || p.l1 || ' ' || p.l2,
       -- E.164: Argentine mobile or German mobile, eight scrambled digits
       case when p.g % 2 = 0 then '+54911' else '+49151' end || lpad(((p.g::bigint * 7919) % 100000000)::text, 8, '0'),
       lower(immutable_unaccent(p.f || '.' || p.l1)) || p.g || '@example.com',
       date '1935-01-01' + floor(p.r * 32000)::int,
       (array['female', 'male', 'other', 'unknown'])[1 + p.g % 4],
       case when p.g % 2 = 0 then 'DNI ' || (20000000 + p.g) else 'ID-' || lpad(p.g::text, 9, '0') end
from p join c on c.n = p.g % 1000;

analyze clinics;
-- As autovacuum leaves a table that is mostly read: statistics and the visibility map (without it an
-- index-only scan still visits the heap for every row).
vacuum (analyze) patients;
SQL
gen_seconds=$(awk -v a="$gen_started" -v b="$(date +%s.%N)" 'BEGIN { printf "%.0f", b - a }')
counts=$("${psql[@]}" -F ' ' -c "select count(*), count(distinct clinic_id), count(*) filter (where clinic_id = '$clinic') from patients")
patient=$("${psql[@]}" -c "select id from patients where clinic_id = '$clinic' order by id limit 1")
sizes=$("${psql[@]}" -F '|' -c "select pg_size_pretty(pg_table_size('patients')), pg_size_pretty(pg_relation_size('ix_patients_clinic_search'))")
echo "Generated in ${gen_seconds} s: patients, clinics, in the registered clinic = $counts; table, search index = $sizes" >&2

# The search as the app runs it: plain role, tenant set for the transaction, the handler's SQL
# prepared and planned generic (what the app's prepared statement runs after its fifth execution),
# run twice (the first loads the unaccent dictionary into the session), the second shown.
explain=$("$bin/psql" -h 127.0.0.1 -p "$pg_port" -U clinicflow -d clinicflow -v ON_ERROR_STOP=1 -qtA <<SQL | sed -n '/^-- second$/,$p' | tail -n +2
begin;
select set_config('app.clinic_id', '$clinic', true) \g /dev/null
set local plan_cache_mode = force_generic_plan;
prepare search (uuid, uuid, text[], text[], boolean, int) as
with hits as materialized (
    select id
    from patients
    where clinic_id = \$1 and erased_at is null and id > \$2
      and (\$3::text[] is null
           or search_text like all (array(select '%' || lower(immutable_unaccent(w)) || '%' from unnest(\$3::text[]) w))
           or search_text like any (\$4::text[]))
      and (\$5::boolean is null or blocked = \$5::boolean)
    order by id
    limit \$6
)
select p.id, p.full_name, p.phone, p.email::text as email, p.birth_date, p.gender, p.document_id, p.notes, p.blocked,
       p.blocked_reason, p.lookup_hash, p.encrypted_data, p.created_at
from hits h
join patients p on p.clinic_id = \$1 and p.id = h.id
order by p.id;
explain (analyze, buffers, costs off) execute search('$clinic', '00000000-0000-0000-0000-000000000000', '{garcia,lo}', '{}', null, 21) \g /dev/null
select '-- second';
explain (analyze, buffers, costs off) execute search('$clinic', '00000000-0000-0000-0000-000000000000', '{garcia,lo}', '{}', null, 21);
commit;
SQL
)

load_before=$(cut -d ' ' -f 1-3 /proc/loadavg)
started=$(date -u '+%Y-%m-%d %H:%M UTC')
load_rc=0
dotnet "$load_dll" --url "$base" "${defaults[@]}" --scenario patients --token "$token" --patient-id "$patient" \
  --search-terms "$terms" "$@" >"$tmp/table.md" || load_rc=$?
if [ "$load_rc" != 0 ] && [ "$load_rc" != 3 ]; then
  echo "The load generator failed (exit $load_rc); app log:" >&2
  tail -n 40 "$tmp/app.log" >&2
  exit "$load_rc"
fi

commit=$(git -C "$root" rev-parse --short HEAD 2>/dev/null || echo unknown)
if [ -n "$(git -C "$root" status --porcelain -- ':!bench/results' 2>/dev/null)" ]; then commit="$commit (uncommitted changes)"; fi
cpu=$(grep -m 1 'model name' /proc/cpuinfo | cut -d ':' -f 2 | sed 's/^ *//' || true)
pg_version=$("$bin/postgres" --version | sed -E 's/^[^0-9]*([0-9][0-9.]*).*/\1/')
read -r total clinics mine <<<"$counts"
IFS='|' read -r table_size index_size <<<"$sizes"
used=$(grep -oE 'Index (Only )?Scan (on|using) [a-z_]+' <<<"$explain" | sed -E 's/.* (on|using) //' | sort -u | paste -sd ',' - || true)

mkdir -p "$root/bench/results"
result="$root/bench/results/patients-search-$(date -u +%Y-%m-%d).md"
{
  echo "# Patient search beside the primary-key lookup"
  echo
  echo "$started, commit $commit, app in $environment (Release), PostgreSQL $pg_version with default settings."
  echo "Machine: $(nproc) cores${cpu:+ ($cpu)}, shared by the load generator, the app and PostgreSQL;"
  echo "load average (1, 5, 15 min) just before the run: $load_before."
  echo
  echo "Data: $total patients in $clinics clinics ($mine in the measured clinic), generated with one"
  echo "\`insert … select\` in ${gen_seconds} s (999 clinics included, \`analyze\` of clinics and \`vacuum (analyze)\` of patients included); table $table_size,"
  echo "search index \`ix_patients_clinic_search\` $index_size (grown by the insert, not built in one go). Search terms, rotated per request:"
  echo "\`${terms//,/\`, \`}\` (\`limit=20\`). The lookup reads one patient of the same clinic by id."
  echo
  cat "$tmp/table.md"
  echo
  echo "One search (\`q=garcia lo\`) as the app runs it (role \`clinicflow\`, tenant set, generic plan); index chosen: \`${used:-none}\`:"
  echo
  echo '```'
  echo "$explain"
  echo '```'
} | tee "$result"
echo "Written to ${result#"$root"/}" >&2
exit "$load_rc"
