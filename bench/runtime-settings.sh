#!/usr/bin/env bash
# Runtime and connection settings, one variant at a time: each runs bench/http.sh (GET /api/auth/me
# beside GET /health/ready, a fresh PostgreSQL and app) with one setting changed, and the summary
# lines of every variant are collected into bench/results/runtime-settings-<UTC date>.md.
#   bash bench/runtime-settings.sh                       every variant, 10 s warm-up, 4 rounds of 5 s per endpoint
#   bash bench/runtime-settings.sh --seconds 40          any ClinicFlow.Load argument is passed on
# A variant is "name|app environment|connection-string extra" (see variants below); BENCH_VARIANTS
# replaces the list: variants separated by ';', e.g. BENCH_VARIANTS="pool 8|Database__RequestPoolSize=8|;defaults||".
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)

variants=(
  "defaults (request pool 3 per core, Max Auto Prepare 50, Server GC)||"
  "request pool 100 (every request its own backend)|Database__RequestPoolSize=100|"
  "request pool 4|Database__RequestPoolSize=4|"
  "DOTNET_SYSTEM_NET_SOCKETS_INLINE_COMPLETIONS=1|DOTNET_SYSTEM_NET_SOCKETS_INLINE_COMPLETIONS=1|"
  "DOTNET_ThreadPool_UnfairSemaphoreSpinLimit=0|DOTNET_ThreadPool_UnfairSemaphoreSpinLimit=0|"
  "workstation GC (DOTNET_gcServer=0)|DOTNET_gcServer=0|"
  "Max Auto Prepare=0 (no prepared statements)||Max Auto Prepare=0"
  "defaults again||"
)
if [ -n "${BENCH_VARIANTS:-}" ]; then IFS=';' read -r -a variants <<<"$BENCH_VARIANTS"; fi

out=$(mktemp -d "${TMPDIR:-/tmp}/clinicflow-settings.XXXXXX")
trap 'rm -rf "$out"' EXIT
commit=$(git rev-parse --short HEAD 2>/dev/null || echo unknown)
started=$(date -u '+%Y-%m-%d %H:%M UTC')
rows=()
for variant in "${variants[@]}"; do
  IFS='|' read -r name app_env extra <<<"$variant"
  echo "== $name" >&2
  BENCH_NO_RESULT=1 BENCH_APP_ENV="$app_env" BENCH_CONNECTION_EXTRA="$extra" \
    bash "$root/bench/http.sh" --warmup 10 "$@" >"$out/run.md" || true
  ready=$(grep -m 1 '^| `GET /health/ready`' "$out/run.md" || true)
  me=$(grep -m 1 '^| `GET /api/auth/me`' "$out/run.md" || true)
  ratio=$(grep -m 1 '^| \*\*me / ready\*\*' "$out/run.md" || true)
  if [ -z "$ready" ] || [ -z "$me" ] || [ -z "$ratio" ]; then
    rows+=("| $name | failed | | | | | |")
    continue
  fi
  col() { echo "$1" | awk -F '|' -v c="$2" '{ gsub(/[ *×]/, "", $c); print $c }'; }
  rows+=("| $name | $(col "$ready" 4) | $(col "$me" 4) | **$(col "$ratio" 4)×** | $(col "$me" 5) | $(col "$me" 7) | $(col "$ratio" 7)× |")
done

mkdir -p "$root/bench/results"
result="$root/bench/results/runtime-settings-$(date -u +%Y-%m-%d).md"
{
  echo "# Runtime and connection settings: \`GET /api/auth/me\` beside \`GET /health/ready\`"
  echo
  echo "$started, commit $commit; one \`bench/http.sh\` run per variant (a fresh PostgreSQL and app each),"
  echo "one setting changed from the defaults. Machine: $(nproc) cores shared by the load generator, the app and PostgreSQL."
  echo
  echo "| variant | ready req/s | me req/s | me / ready | me p50 ms | me p99 ms | p99 me / ready |"
  echo "|---|---:|---:|---:|---:|---:|---:|"
  printf '%s\n' "${rows[@]}"
} | tee "$result"
echo "Written to ${result#"$root"/}" >&2
