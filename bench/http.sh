#!/usr/bin/env bash
# HTTP load benchmark: GET /api/auth/me beside GET /health/ready in one run (bench/README.md).
# Builds the app in Release, starts a throwaway PostgreSQL and the app on free loopback ports,
# runs bench/ClinicFlow.Load against it, prints the Markdown result and writes it to
# bench/results/http-<UTC date>.md. Everything it started is stopped and removed on exit.
#   bash bench/http.sh                                  16 workers, 20 s warm-up, 4 rounds of 5 s per endpoint
#   bash bench/http.sh --concurrency 32 --seconds 30    any ClinicFlow.Load argument overrides the default
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)

defaults=(--concurrency 16 --warmup 20 --seconds 20 --rounds 4)

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

commit=$(git -C "$root" rev-parse --short HEAD 2>/dev/null || echo unknown)
if [ -n "$(git -C "$root" status --porcelain -- ':!bench/results' 2>/dev/null)" ]; then commit="$commit (uncommitted changes)"; fi
cpu=$(grep -m 1 'model name' /proc/cpuinfo | cut -d ':' -f 2 | sed 's/^ *//' || true)
pg_version=$("$bin/postgres" --version | sed -E 's/^[^0-9]*([0-9][0-9.]*).*/\1/')

# BENCH_NO_RESULT=1: print only (runtime-settings.sh collects the runs itself).
result=/dev/null
if [ -z "${BENCH_NO_RESULT:-}" ]; then
  mkdir -p "$root/bench/results"
  result="$root/bench/results/http-$(date -u +%Y-%m-%d).md"
fi
{
  echo "# HTTP load: GET /api/auth/me beside GET /health/ready"
  echo
  echo "$started, commit $commit, app in $environment (Release), PostgreSQL $pg_version with default settings."
  echo "Machine: $(nproc) cores${cpu:+ ($cpu)}, shared by the load generator, the app and PostgreSQL;"
  echo "load average (1, 5, 15 min) just before the run: $load_before."
  echo
  cat "$tmp/table.md"
} | tee "$result"
if [ "$result" != /dev/null ]; then echo "Written to ${result#"$root"/}" >&2; fi
exit "$load_rc"
