#!/usr/bin/env bash
# Scheduling benchmark (bench/README.md): a clinic's day, a doctor's week of availability, an ICS feed
# of 5 000 appointments and concurrent bookings with a known share of conflicts, each beside the
# primary-key lookup GET /api/patients/{id} in alternating rounds of the same run, on 1 000 000
# appointments in 1 000 clinics. Builds in Release, starts a throwaway PostgreSQL and the app
# (bench/lib.sh), registers three clinics through the API, generates the rest with set-based inserts
# as the PostgreSQL superuser, runs bench/ClinicFlow.Load in the scheduling scenario, checks the
# database for overlaps, records the plans the app ran (auto_explain) and writes
# bench/results/scheduling-<UTC date>.md.
#   bash bench/scheduling.sh                         16 workers; per pair 10 s warm-up, 4 rounds of 3 s per endpoint
#   bash bench/scheduling.sh --only list,booking     any ClinicFlow.Load argument overrides the default
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)
# shellcheck source=bench/lib.sh
. "$root/bench/lib.sh"

defaults=(--concurrency 16 --warmup 10 --seconds 12 --rounds 4)
zone=America/Argentina/Buenos_Aires
# Bookings: 16 doctors open every day 06:00-22:00 in slots of 15 minutes, room for 100 000 requests.
booking_doctors=16
slot_minutes=15
slots_per_day=64
capacity=100000

command -v curl >/dev/null || { echo "curl is needed." >&2; exit 1; }
bench_build ClinicFlow.csproj bench/ClinicFlow.Load/ClinicFlow.Load.csproj
load_dll="$root/bench/ClinicFlow.Load/bin/Release/net10.0/ClinicFlow.Load.dll"

# auto_explain is loaded into every session from the start but logs nothing until the load has run;
# then it logs the plans of a few requests sent one by one (see explain_requests below).
bench_before_app() {
  "${psql[@]}" >/dev/null <<'SQL'
load 'auto_explain';
alter system set session_preload_libraries = 'auto_explain';
alter system set auto_explain.log_min_duration = -1;
alter system set auto_explain.log_analyze = on;
alter system set auto_explain.log_buffers = on;
alter system set auto_explain.log_timing = on;
alter system set auto_explain.log_format = 'text';
select pg_reload_conf();
SQL
}
bench_start
server_log="$run_dir/server.log"

# Registers a clinic through the API; prints its admin's token.
register() {
  curl -fsS -X POST "$base/api/auth/register" -H 'Content-Type: application/json' \
    -d "{\"email\":\"bench-$1-$RANDOM$RANDOM@bench.clinicflow.local\",\"password\":\"correct horse battery\",\"fullName\":\"Bench Admin\",\"clinicName\":\"Bench $1\",\"country\":\"AR\",\"timezone\":\"$zone\"}" |
    sed -E 's/.*"token":"([^"]+)".*/\1/'
}
token_a=$(register Reception)
token_b=$(register Feed)
token_c=$(register Booking)
clinic_of() { "${psql[@]}" -c "select id from clinics where name = 'Bench $1'"; }
clinic_a=$(clinic_of Reception)
clinic_b=$(clinic_of Feed)
clinic_c=$(clinic_of Booking)

# The first booking slot: tomorrow 06:00 in the booking clinic's zone (no DST there: a day is 24 h).
booking_start=$("${psql[@]}" -c "select to_char(((current_date + 1) + time '06:00') at time zone '$zone' at time zone 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"')")

echo "Generating 997 clinics, 5 000 doctors, 50 000 patients and 1 000 000 appointments…" >&2
gen_started=$(date +%s.%N)
"${psql[@]}" -v clinic_a="$clinic_a" -v clinic_b="$clinic_b" -v clinic_c="$clinic_c" -v zone="$zone" \
  -v booking_doctors="$booking_doctors" -v slot_minutes="$slot_minutes" -v slots_per_day="$slots_per_day" \
  -v capacity="$capacity" -v booking_start="$booking_start" >/dev/null <<'SQL'
set work_mem = '256MB';
set timezone = 'UTC';
-- Reproducible random choices (one session, no parallel insert).
select setseed(0.42);

insert into clinics (id, name, timezone, country, currency, locale)
select gen_random_uuid(), 'Clinic ' || n,
       case when n % 2 = 0 then 'America/Argentina/Buenos_Aires' else 'Europe/Berlin' end,
       case when n % 2 = 0 then 'AR' else 'DE' end,
       case when n % 2 = 0 then 'ARS' else 'EUR' end,
       case when n % 2 = 0 then 'es' else 'de' end
from generate_series(1, 997) n;
-- Clinic C books as much as the run asks for; no plan limit in the way.
update clinics set plan = 'enterprise' where id = :'clinic_c';

-- n = 0, 1, 2 for the registered clinics (reception, feed, booking), then the others.
create temp table bench_clinic as
select id, timezone,
       (row_number() over (order by case id when :'clinic_a'::uuid then 0 when :'clinic_b'::uuid then 1
                                             when :'clinic_c'::uuid then 2 else 3 end, id) - 1)::int as n
from clinics;

-- Five doctors per clinic, Monday to Friday 09:00-13:00 and 14:00-18:00 in the clinic's zone, slots of 30 minutes.
create temp table bench_doctor as
select gen_random_uuid() as id, c.id as clinic_id, c.n, c.timezone, k
from bench_clinic c, generate_series(0, 4) k;
insert into doctors (id, clinic_id, full_name, specialty, slot_minutes)
select id, clinic_id,
       (array['Dra. Ana', 'Dr. Jorge', 'Dra. Lucía', 'Dr. Jürgen', 'Dra. Sofía', 'Dr. Martín', 'Dra. Käthe'])[1 + (n + k) % 7]
         || ' ' || (array['García', 'Müller', 'Núñez', 'Schröder', 'Pérez'])[1 + k],
       (array['Clínica general', 'Odontología', 'Pediatría', 'Kardiologie', 'Dermatología'])[1 + k], 30
from bench_doctor;
insert into doctor_weekly_hours (clinic_id, doctor_id, weekday, starts_at, ends_at)
select d.clinic_id, d.id, w, r.s, r.e
from bench_doctor d, generate_series(1, 5) w, (values (time '09:00', time '13:00'), (time '14:00', time '18:00')) r(s, e);

-- Fifty patients per clinic.
create temp table bench_patient as
select gen_random_uuid() as id, c.id as clinic_id, c.n, k
from bench_clinic c, generate_series(0, 49) k;
insert into patients (id, clinic_id, full_name, phone, email, birth_date, gender, document_id)
select id, clinic_id,
       (array['José', 'María', 'Lucía', 'Jürgen', 'Inés', 'Björn', 'Zoë', 'Ramón'])[1 + (n + k) % 8] || ' '
         || (array['García', 'López', 'Núñez', 'Müller', 'Weiß', 'Peña', 'Köhler'])[1 + k % 7] || ' ' || k,
       '+54911' || lpad(((n * 50 + k)::bigint * 7919 % 100000000)::text, 8, '0'),
       'p' || n || '.' || k || '@example.com',
       date '1940-01-01' + ((n * 50 + k) * 37 % 30000),
       (array['female', 'male', 'other', 'unknown'])[1 + k % 4],
       'DNI ' || (20000000 + n * 50 + k)
from bench_patient;

-- The exclusion constraint and the three secondary indexes are dropped for the bulk insert and built
-- again from their own definitions (pg_get_constraintdef, pg_get_indexdef) once every row is in:
-- about 30 s instead of about 120 s of row-by-row GiST and B-tree inserts on 2 busy cores. Built in
-- one go they are denser than indexes grown by bookings; the result file gives their sizes.
-- The primary key and the (clinic_id, id) key stay (other tables may reference them).
set maintenance_work_mem = '256MB';
create temp table bench_rebuild as
select 1 as step, format('alter table appointments add constraint %I %s', conname, pg_get_constraintdef(oid)) as ddl,
       format('alter table appointments drop constraint %I', conname) as undo
from pg_constraint where conrelid = 'appointments'::regclass and contype = 'x'
union all
select 2, pg_get_indexdef(i.indexrelid), format('drop index %s', i.indexrelid::regclass)
from pg_index i
where i.indrelid = 'appointments'::regclass and not i.indisprimary and not i.indisunique
  and not exists (select 1 from pg_constraint k where k.conindid = i.indexrelid);
select undo from bench_rebuild order by step \gexec

-- 1 000 000 appointments: in every clinic each doctor works back to back (8 slots of 30 minutes from
-- 09:00 local) on one weekday every second week, 25 such days spread over about ±175 days; the
-- clinic's five doctors share the day, so a busy day of a clinic holds 40 appointments. The weekday
-- differs per clinic (n mod 10 over two working weeks), so every calendar day holds some clinics' days.
-- Rows go in in booking order (1 to 30 days before the appointment, ids time-ordered like UUIDv7),
-- so a clinic's rows are interleaved with every other clinic's, as bookings arrive in production.
insert into appointments (id, clinic_id, doctor_id, patient_id, starts_at, ends_at, status, reason,
                          created_at, updated_at, status_changed_at)
with slots as (
  select d.clinic_id, d.id as doctor_id, d.k, b, j,
         ((date_trunc('week', current_date - 175)::date + b * 14 + (array[0, 1, 2, 3, 4, 7, 8, 9, 10, 11])[1 + d.n % 10])
          + time '09:00' + j * interval '30 minutes') at time zone d.timezone as starts_at,
         random() as r, random() as lead
  from bench_doctor d, generate_series(0, 24) b, generate_series(0, 7) j
), booked as (
  select s.*, least(s.starts_at - (1 + s.lead * 29) * interval '1 day', now()) as booked_at from slots s
)
select encode(set_bit(set_bit(overlay(uuid_send(gen_random_uuid())
                placing substring(int8send((extract(epoch from s.booked_at) * 1000)::bigint) from 3) from 1 for 6),
              52, 1), 53, 1), 'hex')::uuid,
       s.clinic_id, s.doctor_id, p.id, s.starts_at, s.starts_at + interval '30 minutes',
       case when s.starts_at < now()
            then case when s.r < 0.05 then 'cancelled' when s.r < 0.10 then 'no_show' else 'completed' end
            else case when s.r < 0.05 then 'cancelled' when s.r < 0.50 then 'confirmed' else 'scheduled' end end,
       (array['Control', 'Limpieza', 'Consulta', 'Revisión', 'Kontrolle'])[1 + (s.j + s.b) % 5],
       s.booked_at, s.booked_at, s.booked_at
from booked s
join bench_patient p on p.clinic_id = s.clinic_id and p.k = (s.k * 8 + s.j + s.b * 3) % 50
order by s.booked_at;

-- The feed doctor of clinic B: 5 000 appointments of 20 minutes, 24 a day from 08:00 local, from 29
-- days ago on: all inside the feed's window (30 days back, 180 ahead).
insert into doctors (id, clinic_id, full_name, specialty, slot_minutes)
values (gen_random_uuid(), :'clinic_b', 'Dra. Feed Bench', 'Calendario', 20);
insert into doctor_weekly_hours (clinic_id, doctor_id, weekday, starts_at, ends_at)
select :'clinic_b', d.id, w, time '08:00', time '16:00'
from doctors d, generate_series(1, 7) w
where d.clinic_id = :'clinic_b' and d.full_name = 'Dra. Feed Bench';
insert into appointments (id, clinic_id, doctor_id, patient_id, starts_at, ends_at, status, reason)
select gen_random_uuid(), :'clinic_b', d.id, p.id, t.starts_at, t.starts_at + interval '20 minutes',
       case when t.starts_at < now() then 'completed' else 'scheduled' end, 'Control'
from doctors d,
     lateral (select i, j, ((current_date - 29 + i) + time '08:00' + j * interval '20 minutes') at time zone :'zone' as starts_at
              from generate_series(0, 208) i, generate_series(0, 23) j where i * 24 + j < 5000) t
join bench_patient p on p.clinic_id = :'clinic_b' and p.k = (t.i + t.j) % 50
where d.clinic_id = :'clinic_b' and d.full_name = 'Dra. Feed Bench';

-- The booking doctors of clinic C, open every day 06:00-22:00, and the slots taken before the run:
-- request n asks for slot 9 (n div 10) + (0, 1, 2, 2, 3, …, 8)[n mod 10] (ClinicFlow.Load/SchedulingPlan.cs);
-- slots 9b and 9b + 1 hold a 5-minute appointment starting 5 minutes into the slot (a partial overlap).
insert into doctors (id, clinic_id, full_name, specialty, slot_minutes)
select gen_random_uuid(), :'clinic_c', 'Booking ' || lpad(i::text, 2, '0'), 'Bench', :slot_minutes
from generate_series(1, :booking_doctors) i;
insert into doctor_weekly_hours (clinic_id, doctor_id, weekday, starts_at, ends_at)
select :'clinic_c', d.id, w, time '06:00', time '06:00' + :slots_per_day * :slot_minutes * interval '1 minute'
from doctors d, generate_series(1, 7) w
where d.clinic_id = :'clinic_c' and d.full_name like 'Booking %';
insert into appointments (id, clinic_id, doctor_id, patient_id, starts_at, ends_at, status, reason)
with d as (select id, (row_number() over (order by full_name) - 1)::int as i
           from doctors where clinic_id = :'clinic_c' and full_name like 'Booking %'),
     taken as (select (b * 9 + r)::bigint as s from generate_series(0, :capacity / 10 - 1) b, generate_series(0, 1) r),
     at as (select s, ((s / :booking_doctors) / :slots_per_day * 1440 + (s / :booking_doctors) % :slots_per_day * :slot_minutes + 5)
                      * interval '1 minute' + :'booking_start'::timestamptz as starts_at from taken)
select gen_random_uuid(), :'clinic_c', d.id, p.id, at.starts_at, at.starts_at + interval '5 minutes', 'scheduled', 'Bench taken'
from at
join d on d.i = at.s % :booking_doctors
join bench_patient p on p.clinic_id = :'clinic_c' and p.k = at.s % 50;

select ddl from bench_rebuild order by step \gexec

analyze clinics;
analyze doctors;
analyze doctor_weekly_hours;
analyze patients;
analyze appointments;
SQL
gen_seconds=$(awk -v a="$gen_started" -v b="$(date +%s.%N)" 'BEGIN { printf "%.0f", b - a }')
data_summary=$("${psql[@]}" -F '|' -c "
  select count(*), count(distinct clinic_id), pg_size_pretty(pg_table_size('appointments')),
         pg_size_pretty(pg_relation_size('ix_appointments_clinic_day')), pg_size_pretty(pg_relation_size('ix_appointments_doctor')),
         pg_size_pretty(pg_relation_size('ex_appointments_no_overlap'))
  from appointments")
IFS='|' read -r appt_total appt_clinics table_size day_index_size doctor_index_size gist_size <<<"$data_summary"
echo "Generated in ${gen_seconds} s: $appt_total appointments in $appt_clinics clinics; table $table_size" >&2

feed_doctor=$("${psql[@]}" -c "select id from doctors where clinic_id = '$clinic_b' and full_name = 'Dra. Feed Bench'")
ics_path=""
if ics_json=$(curl -fsS "$base/api/doctors/$feed_doctor/ics-url" -H "Authorization: Bearer $token_b" 2>/dev/null); then
  ics_url=$(sed -E 's/.*"url":"([^"]+)".*/\1/' <<<"$ics_json")
  ics_path=${ics_url#"$base"}
else
  echo "GET /api/doctors/{id}/ics-url did not answer 200: the ICS pair will not be measured." >&2
fi

# The plan the generator follows: tokens, ids and instants (each clinic's local days as UTC instants).
plan="$tmp/plan.json"
"${psql[@]}" -v clinic_a="$clinic_a" -v clinic_b="$clinic_b" -v clinic_c="$clinic_c" -v zone="$zone" \
  -v token_a="$token_a" -v token_c="$token_c" -v ics_path="$ics_path" -v feed_doctor="$feed_doctor" \
  -v slot_minutes="$slot_minutes" -v slots_per_day="$slots_per_day" -v capacity="$capacity" \
  -v booking_start="$booking_start" >"$plan" <<'SQL'
set timezone = 'UTC';
with days as (
  select distinct (starts_at at time zone :'zone')::date as day from appointments where clinic_id = :'clinic_a'
), week as (
  select min(day) as day from days where day >= current_date + 2
)
select json_build_object(
  'token', :'token_a',
  'patientId', (select id from patients where clinic_id = :'clinic_a' order by full_name, id limit 1),
  'appointmentId', (select a.id from appointments a, week w
                    where a.clinic_id = :'clinic_a' and a.starts_at >= (w.day + time '09:00') at time zone :'zone'
                    order by a.starts_at, a.id limit 1),
  'days', (select json_agg(json_build_object('from', (day + time '00:00') at time zone :'zone',
                                             'to', (day + 1 + time '00:00') at time zone :'zone') order by day) from days),
  'dayItems', (select count(*) / count(distinct (starts_at at time zone :'zone')::date) from appointments where clinic_id = :'clinic_a'),
  'availabilityDoctors', (select json_agg(id order by full_name, id) from doctors where clinic_id = :'clinic_a'),
  'week', (select json_build_object('from', (day + time '00:00') at time zone :'zone', 'to', (day + 7 + time '00:00') at time zone :'zone') from week),
  'availabilityMinutes', 30,
  'icsPath', nullif(:'ics_path', ''),
  'icsEvents', (select count(*) from appointments where clinic_id = :'clinic_b' and doctor_id = :'feed_doctor'),
  'booking', json_build_object(
    'token', :'token_c',
    'doctors', (select json_agg(id order by full_name) from doctors where clinic_id = :'clinic_c' and full_name like 'Booking %'),
    -- in generation order (document ids are numbered), as the taken slots were given patients
    'patients', (select json_agg(id order by document_id) from patients where clinic_id = :'clinic_c'),
    'start', :'booking_start',
    'slotMinutes', :slot_minutes, 'slotsPerDay', :slots_per_day, 'capacity', :capacity));
SQL

load_before=$(cut -d ' ' -f 1-3 /proc/loadavg)
started=$(date -u '+%Y-%m-%d %H:%M UTC')
load_rc=0
dotnet "$load_dll" --url "$base" "${defaults[@]}" --scenario scheduling --plan "$plan" "$@" >"$tmp/table.md" || load_rc=$?
if [ "$load_rc" != 0 ] && [ "$load_rc" != 3 ]; then
  echo "The load generator failed (exit $load_rc); app log:" >&2
  cat "$tmp/table.md" >&2
  tail -n 40 "$tmp/app.log" >&2
  exit "$load_rc"
fi
load_after=$(cut -d ' ' -f 1-3 /proc/loadavg)
if grep -qE 'other × [1-9]|\| [1-9][0-9]* \|$' "$tmp/table.md"; then
  echo "Some requests were answered with an unexpected status; the app's log says:" >&2
  grep -iE 'fail|exception|error' "$tmp/app.log" | tail -n 20 >&2 || true
fi

# What PostgreSQL refused during the run (the 409s are its exclusion violations) and, when there was
# one, the first deadlock as it logged it (the log is only read up to here: the plans come later).
log_end=$(stat -c %s "$server_log")
head -c "$log_end" "$server_log" | grep -oE 'ERROR:  .*' | sort | uniq -c | sort -rn >"$tmp/pg-errors.txt" || true
head -c "$log_end" "$server_log" | awk '
  /ERROR:  deadlock detected/ && !found { found = 1; match($0, /\[[0-9]+\]/); pid = substr($0, RSTART, RLENGTH) }
  !found { next }
  /^[0-9][0-9][0-9][0-9]-/ && index($0, pid) == 0 { exit }
  { sub(/^[0-9][0-9][0-9][0-9]-[^[]*\[[0-9]+\] /, ""); print; if (++n >= 60) exit }' >"$tmp/deadlock.txt" || true

# No two appointments of a doctor that hold their slot overlap, anywhere in the table (each row
# against the latest end among the doctor's earlier rows), and the clinic that booked holds exactly
# the bookings that were answered 201.
checks=$("${psql[@]}" -F '|' -v clinic_c="$clinic_c" <<'SQL'
select (select count(*) from (
          select starts_at < max(ends_at) over (partition by clinic_id, doctor_id order by starts_at, id
                                                rows between unbounded preceding and 1 preceding) as overlapping
          from appointments where status not in ('cancelled', 'no_show')) o where overlapping),
       (select count(*) from appointments where clinic_id = :'clinic_c' and reason = 'Bench booking'),
       (select count(*) from appointments);
SQL
)
IFS='|' read -r overlaps booked appt_after <<<"$checks"
created=$(grep -oE '201 × [0-9]+' "$tmp/table.md" | grep -oE '[0-9]+$' || true)

# The plans of what the app runs, from auto_explain: each request is sent 6 times one after the
# other and the statements of the last one are kept (the load has already prepared every statement
# on every pooled connection, so these are the plans the load ran).
explain_log() {
  "${psql[@]}" -c "alter system set auto_explain.log_min_duration = $1" -c "select pg_reload_conf()" >/dev/null
  sleep 1
}
explain_request() {
  local method=$1 path=$2 token=$3 filter=$4 body=${5:-} before=${6:-} offset i
  local args=(-sS -o /dev/null -X "$method" "$base$path")
  if [ -n "$token" ]; then args+=(-H "Authorization: Bearer $token"); fi
  if [ -n "$body" ]; then args+=(-H 'Content-Type: application/json' -d "$body"); fi
  if [ "$method" = GET ]; then
    for i in 1 2 3 4 5; do curl "${args[@]}" || true; done
  fi
  if [ -n "$before" ]; then "${psql[@]}" -c "$before" >/dev/null; fi
  offset=$(stat -c %s "$server_log")
  status=$(curl -w '%{http_code}, %{size_download} bytes in %{time_total} s' "${args[@]}" || true)
  sleep 0.3
  echo "$method $path → $status (alone, while auto_explain timed every plan node)"
  echo
  tail -c +$((offset + 1)) "$server_log" | awk -v filter="$filter" '
    function flush() { if (entry != "" && entry ~ filter) printf "%s\n", entry; entry = "" }
    /^[0-9][0-9][0-9][0-9]-.* LOG:  duration: / { flush(); sub(/^.* LOG:  /, ""); entry = $0; next }
    /^\t/ { if (entry != "") { sub(/^\t/, ""); entry = entry "\n" $0 }; next }
    { flush() }
    END { flush() }'
}
first_day=$("${psql[@]}" -v plan="$(cat "$plan")" <<'SQL'
select to_char(w.f, 'YYYY-MM-DD"T"HH24:MI:SS"Z"') || '|' || to_char(w.f + interval '1 day', 'YYYY-MM-DD"T"HH24:MI:SS"Z"')
       || '|' || to_char(w.t, 'YYYY-MM-DD"T"HH24:MI:SS"Z"') || '|' || (:'plan'::json->'availabilityDoctors'->>0)
from (select (:'plan'::json->'week'->>'from')::timestamptz at time zone 'UTC' as f,
             (:'plan'::json->'week'->>'to')::timestamptz at time zone 'UTC' as t) w;
SQL
)
IFS='|' read -r week_from day_to week_to availability_doctor <<<"$first_day"
# Pages and feeds are kept per version of what they show, so the load measured the kept copies after
# the first request. What a change costs: the version raised as a booking would (the same update the
# database's trigger makes), then one request, alone; COUNT times, then the median and p99 of the time
# to the first byte (the body is made whole before it is sent, so this is the server's time) and of
# the total. The load above made each body only a few times, so that code still runs as the JIT's
# first tier: the first ones take 2-4 times as long until the runtime has compiled it again (tiered
# compilation, after some 30 calls). WARMUP requests go first and are reported apart; a running
# service makes them often enough to have long done it.
# read_anew NAME PATH TOKEN BEFORE COUNT WARMUP (TOKEN may be empty) prints the summary.
read_anew() {
  local name=$1 path=$2 token=$3 before=$4 count=$5 warmup=$6 samples="$tmp/$1-anew.txt"
  local args=(-sS -o /dev/null "$base$path")
  if [ -n "$token" ]; then args+=(-H "Authorization: Bearer $token"); fi
  for _ in $(seq 1 "$warmup"); do
    "${psql[@]}" -c "$before" >/dev/null
    curl "${args[@]}" -w '%{time_starttransfer}\n' || echo 0
  done >"$tmp/$name-warmup.txt"
  for _ in $(seq 1 "$count"); do
    "${psql[@]}" -c "$before" >/dev/null
    curl "${args[@]}" -w '%{http_code} %{time_starttransfer} %{time_total} %{size_download}\n' || echo '000 0 0 0'
  done >"$samples"
  # q-quantile (nearest rank) in ms of column $1 of the samples.
  quantile() { cut -d ' ' -f "$1" "$samples" | sort -g | awk -v q="$2" '{ v[NR] = $1 } END { i = int(q * NR + 0.999999); if (i < 1) i = 1; printf "%.1f", v[i] * 1000 }'; }
  local bad size warm
  bad=$(awk '$1 != 200' "$samples" | wc -l)
  size=$(tail -n 1 "$samples" | cut -d ' ' -f 4)
  warm=$(sort -g "$tmp/$name-warmup.txt" | awk '{ v[NR] = $1 } END { if (NR) printf "median %.1f ms, max %.1f ms", v[int(0.5 * NR + 0.999999)] * 1000, v[NR] * 1000 }')
  echo "$count requests ($bad not 200), $size bytes each: time to first byte median $(quantile 2 0.5) ms, p99 $(quantile 2 0.99) ms, max $(quantile 2 1) ms; total median $(quantile 3 0.5) ms, p99 $(quantile 3 0.99) ms (after $warmup warm-up requests: ${warm:-none})"
}
bump_feed="update doctors set calendar_version = calendar_version + 1 where id = '$feed_doctor'"
ics_render=""
if [ -n "$ics_path" ]; then
  ics_render=$(read_anew ics "$ics_path" "" "$bump_feed" "${ICS_RENDERS:-100}" "${ICS_WARMUP:-30}")
fi
# A clinic's day: one of the reception clinic's doctors with a raised version, as a booking of theirs does.
bump_day="update doctors set calendar_version = calendar_version + 1 where id = (select id from doctors where clinic_id = '$clinic_a' order by id limit 1)"
day_anew=$(read_anew day "/api/appointments?from=$week_from&to=$day_to" "$token_a" "$bump_day" "${DAY_READS:-100}" "${DAY_WARMUP:-30}")
explain_log 0
{
  echo "#### A clinic's day (the first day of the measured week, 40 appointments), read anew: a doctor's calendar version raised just before"
  echo
  echo '```'
  explain_request GET "/api/appointments?from=$week_from&to=$day_to" "$token_a" 'appointments' "" "$bump_day"
  echo '```'
  echo
  echo "#### A doctor's week of availability"
  echo
  echo '```'
  explain_request GET "/api/appointments/availability?doctorId=$availability_doctor&from=$week_from&to=$week_to&durationMinutes=30" "$token_a" 'appointments|doctor_weekly_hours|doctor_time_off'
  echo '```'
  echo
  echo "#### The same week of availability for the feed doctor (5 000 appointments over 7 months; fully booked in its hours)"
  echo
  echo '```'
  explain_request GET "/api/appointments/availability?doctorId=$feed_doctor&from=$week_from&to=$week_to&durationMinutes=20" "$token_b" 'from appointments'
  echo '```'
  if [ -n "$ics_path" ]; then
    echo
    echo "#### The ICS feed (5 000 appointments), rendered anew: the doctor's calendar version raised just before"
    echo
    echo '```'
    explain_request GET "$ics_path" "" 'appointments|doctors' "" "$bump_feed"
    echo '```'
  fi
} >"$tmp/explain.md" 2>&1 || true
explain_log -1

commit=$(git -C "$root" rev-parse --short HEAD 2>/dev/null || echo unknown)
if [ -n "$(git -C "$root" status --porcelain -- ':!bench/results' 2>/dev/null)" ]; then commit="$commit (uncommitted changes)"; fi
cpu=$(grep -m 1 'model name' /proc/cpuinfo | cut -d ':' -f 2 | sed 's/^ *//' || true)
pg_version=$("$bin/postgres" --version | sed -E 's/^[^0-9]*([0-9][0-9.]*).*/\1/')

mkdir -p "$root/bench/results"
result="$root/bench/results/scheduling-$(date -u +%Y-%m-%d).md"
{
  echo "# Scheduling beside the primary-key lookup"
  echo
  echo "$started, commit $commit, app in $environment (Release), PostgreSQL $pg_version with default settings"
  echo "(\`auto_explain\` preloaded, logging nothing during the load)."
  echo "Machine: $(nproc) cores${cpu:+ ($cpu)}, shared by the load generator, the app and PostgreSQL;"
  echo "load average (1, 5, 15 min) just before the run: $load_before; just after: $load_after."
  echo
  echo "Data: $appt_total appointments in $appt_clinics clinics, generated set-based in ${gen_seconds} s"
  echo "(997 clinics, 5 000 doctors with weekly hours, 50 000 patients, 1 000 000 appointments, the feed"
  echo "doctor's 5 000 and the booking clinic's taken slots; the exclusion constraint and the three secondary"
  echo "indexes dropped for the inserts and built again from their definitions afterwards; \`analyze\`"
  echo "included). Table $table_size; \`ix_appointments_clinic_day\` $day_index_size, \`ix_appointments_doctor\`"
  echo "$doctor_index_size, \`ex_appointments_no_overlap\` (GiST) $gist_size (built in one go: denser than grown by inserts)."
  echo "The lookup (\`get\`) reads one patient of the reception clinic by id, with that clinic's admin token."
  echo
  cat "$tmp/table.md"
  echo
  echo "### Database after the run"
  echo
  echo "- Overlapping appointments of a doctor (statuses that hold the slot), whole table: **${overlaps:-?}**."
  echo "- Bookings in the booking clinic: ${booked:-?} rows, ${created:-?} answers 201 over the whole run$(
    [ -n "$created" ] && [ "$created" = "$booked" ] && echo ' (equal)' || echo ' (**not equal**)'
  ); $appt_after appointments in all."
  echo
  echo "### A clinic's day read anew"
  echo
  echo "The first day of the measured week right after a doctor's calendar version was raised, as a booking"
  echo "of theirs does, then the request, one after the other (no kept page, no ETag): $day_anew."
  echo
  if [ -n "$ics_render" ]; then
    echo "### The ICS feed rendered anew"
    echo
    echo "One feed of 5 000 appointments right after its calendar changed (its version raised, as any booking"
    echo "of the doctor does, then the request, one after the other, no cache or ETag hit): $ics_render."
    echo
  fi
  echo "### PostgreSQL errors during the run"
  echo
  if [ -s "$tmp/pg-errors.txt" ]; then
    echo '```'
    cat "$tmp/pg-errors.txt"
    echo '```'
  else
    echo "None."
  fi
  if [ -s "$tmp/deadlock.txt" ]; then
    echo
    echo "The first deadlock, as PostgreSQL logged it:"
    echo
    echo '```'
    cat "$tmp/deadlock.txt"
    echo '```'
  fi
  echo
  echo "### Plans the app ran (auto_explain: ANALYZE, BUFFERS)"
  echo
  cat "$tmp/explain.md"
} | tee "$result"
echo "Written to ${result#"$root"/}" >&2
if [ "${overlaps:-1}" != 0 ]; then echo "Overlapping appointments found." >&2; exit 4; fi
exit "$load_rc"
