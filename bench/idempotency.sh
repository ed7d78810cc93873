#!/usr/bin/env bash
# Idempotency-Key overhead: POST /api/patients with a fresh Idempotency-Key on every request beside
# the same POST without one, in one run (bench/README.md). Builds the app in Release, starts a
# throwaway PostgreSQL and the app on free loopback ports, runs bench/ClinicFlow.Load against it,
# prints the Markdown result and writes it to bench/results/idempotency-<UTC date>.md. Everything it
# started is stopped and removed on exit.
#   bash bench/idempotency.sh                            8 workers, 10 s warm-up, 4 rounds of 3 s per endpoint
#   bash bench/idempotency.sh --concurrency 16 --seconds 20   any ClinicFlow.Load argument overrides the default
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)

defaults=(--scenario idempotency --concurrency 8 --warmup 10 --seconds 12 --rounds 4)

# shared start-up: Release build, throwaway PostgreSQL, the app on loopback, clean-up on exit
. "$root/bench/lib.sh"
bench_build ClinicFlow.csproj bench/ClinicFlow.Load/ClinicFlow.Load.csproj
bench_start
load_dll="$root/bench/ClinicFlow.Load/bin/Release/net10.0/ClinicFlow.Load.dll"

load_before=$(cut -d ' ' -f 1-3 /proc/loadavg)
started=$(date -u '+%Y-%m-%d %H:%M UTC')
load_rc=0
dotnet "$load_dll" --url "http://127.0.0.1:$app_port" "${defaults[@]}" "$@" >"$tmp/table.md" || load_rc=$?
if [ "$load_rc" != 0 ] && [ "$load_rc" != 3 ]; then
  echo "The load generator failed (exit $load_rc); app log:" >&2
  tail -n 40 "$tmp/app.log" >&2
  exit "$load_rc"
fi

# Every keyed request was a first request: one kept answer per 201 of the keyed target.
kept=$("${psql[@]}" -c "select count(*) from idempotency_keys")
patients=$("${psql[@]}" -c "select count(*) from patients")
kept_bytes=$("${psql[@]}" -c "select coalesce(round(avg(length(body))), 0) from idempotency_keys")
table_size=$("${psql[@]}" -c "select pg_size_pretty(pg_total_relation_size('idempotency_keys'))")

commit=$(git -C "$root" rev-parse --short HEAD 2>/dev/null || echo unknown)
if [ -n "$(git -C "$root" status --porcelain -- ':!bench/results' 2>/dev/null)" ]; then commit="$commit (uncommitted changes)"; fi
cpu=$(grep -m 1 'model name' /proc/cpuinfo | cut -d ':' -f 2 | sed 's/^ *//' || true)
pg_version=$("$bin/postgres" --version | sed -E 's/^[^0-9]*([0-9][0-9.]*).*/\1/')

mkdir -p "$root/bench/results"
result="$root/bench/results/idempotency-$(date -u +%Y-%m-%d).md"
{
  echo "# Idempotency-Key: POST /api/patients with a fresh key beside the same POST without one"
  echo
  echo "$started, commit $commit, app in $environment (Release), PostgreSQL $pg_version with default settings."
  echo "Machine: $(nproc) cores${cpu:+ ($cpu)}, shared by the load generator, the app and PostgreSQL;"
  echo "load average (1, 5, 15 min) just before the run: $load_before."
  echo
  cat "$tmp/table.md"
  echo
  echo "After the run: $patients patients, $kept kept answers (one per keyed 201 over the whole run, warm-up included),"
  echo "$kept_bytes bytes of body per kept answer on average, idempotency_keys $table_size with its indexes."
} | tee "$result"
echo "Written to ${result#"$root"/}" >&2
exit "$load_rc"
