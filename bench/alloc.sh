#!/usr/bin/env bash
# Managed allocation per request (bench/README.md): the app's own allocated bytes, read with
# dotnet-counters (System.Runtime dotnet.gc.heap.total_allocated), over a fixed number of keep-alive
# requests of one endpoint at a time, minus what the idle app allocates in the same time.
# Endpoints: GET /health/ready (baseline), GET /api/auth/me, GET /api/patients/{id}, POST /api/patients.
#   bash bench/alloc.sh            3000 requests per endpoint
#   bash bench/alloc.sh 10000      any count
# Needs what http.sh needs plus curl; dotnet-counters is installed into the run's temporary
# directory when it is not on PATH (NuGet access needed then).
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)
requests=${1:-3000}
command -v curl >/dev/null || { echo "curl is needed." >&2; exit 1; }

. "$root/bench/lib.sh"
bench_build ClinicFlow.csproj
bench_start

counters=$(command -v dotnet-counters || true)
if [ -z "$counters" ]; then
  echo "Installing dotnet-counters into the run directory…" >&2
  dotnet tool install --tool-path "$tmp/tools" dotnet-counters >/dev/null
  counters="$tmp/tools/dotnet-counters"
fi

token=$(curl -fsS -X POST "$base/api/auth/register" -H 'Content-Type: application/json' \
  -d "{\"email\":\"alloc-$RANDOM$RANDOM@bench.clinicflow.local\",\"password\":\"correct horse battery\",\"fullName\":\"Bench Admin\",\"clinicName\":\"Bench Alloc\",\"country\":\"AR\"}" |
  sed -E 's/.*"token":"([^"]+)".*/\1/')
patient=$(curl -fsS -X POST "$base/api/patients" -H "Authorization: Bearer $token" -H 'Content-Type: application/json' \
  -d '{"fullName":"Ana Alloc"}' | sed -E 's/.*"id":"([^"]+)".*/\1/')

# A curl config of N requests on one keep-alive connection.
config() { # name method path [body]
  local file="$tmp/$1.curl" i
  : >"$file"
  for i in $(seq 1 "$requests"); do
    {
      echo "url = \"$base$3\""
      echo "output = /dev/null"
      [ "$2" = POST ] && echo "data = \"{\\\"fullName\\\":\\\"Paciente $i\\\"}\"" && echo 'header = "Content-Type: application/json"'
      [ "$1" != ready ] && echo "header = \"Authorization: Bearer $token\""
      echo "next"
    } >>"$file"
  done
  sed -i '$ d' "$file"
}

# Bytes the app allocated during a window in which the command runs, from the counter's per-second
# increments (the idle part of the window is subtracted by the caller). The window is the warm-up's
# duration with room to spare, plus 3 s before and after.
declare -A warmup_seconds
allocated_during() { # name command...
  local name=$1 csv="$tmp/$1.csv"
  shift
  local window
  window=$(printf '%.0f' "$(echo "${warmup_seconds[$name]:-0} * 2 + 8" | bc -l)")
  setsid "$counters" collect -p "$app_pid" --counters 'System.Runtime[dotnet.gc.heap.total_allocated]' \
    --refresh-interval 1 --format csv --duration "$(printf '00:%02d:%02d' $((window / 60)) $((window % 60)))" -o "$csv" >/dev/null 2>&1 &
  local collector=$!
  sleep 3
  "$@"
  wait "$collector" || true
  awk -F, -v name="$name" 'NR > 1 && $3 ~ /total_allocated/ { sum += $5; n++ } END { printf "%s %.0f %d\n", name, sum, n }' "$csv"
}

run_curl() { curl -s -K "$1" >/dev/null; }

for ep in ready:GET:/health/ready me:GET:/api/auth/me patient:GET:/api/patients/$patient create:POST:/api/patients; do
  IFS=: read -r name method path <<<"$ep"
  config "$name" "$method" "$path"
  started=$(date +%s.%N)
  run_curl "$tmp/$name.curl"   # warm-up: JIT, pools, caches
  warmup_seconds[$name]=$(echo "$(date +%s.%N) - $started" | bc -l)
done

warmup_seconds[idle]=10
idle=$(allocated_during idle true)
results=()
for name in ready me patient create; do
  results+=("$(allocated_during "$name" run_curl "$tmp/$name.curl")")
done

commit=$(git -C "$root" rev-parse --short HEAD 2>/dev/null || echo unknown)
if [ -n "$(git -C "$root" status --porcelain -- ':!bench/results' 2>/dev/null)" ]; then commit="$commit (uncommitted changes)"; fi
mkdir -p "$root/bench/results"
result="$root/bench/results/alloc-$(date -u +%Y-%m-%d).md"
read -r _ idle_bytes idle_samples _ <<<"$idle"
{
  echo "# Managed allocation per request"
  echo
  echo "$(date -u '+%Y-%m-%d %H:%M UTC'), commit $commit, app in $environment (Release); $requests keep-alive requests per endpoint"
  echo "(curl, one connection), after a warm-up of as many. Allocated bytes of the app process from"
  echo "\`dotnet.gc.heap.total_allocated\` (dotnet-counters, 1 s increments), minus the idle app's rate over the same samples."
  echo
  echo "| endpoint | allocated | per request | vs \`/health/ready\` |"
  echo "|---|---:|---:|---:|"
  ready_per=""
  for line in "${results[@]}"; do
    read -r name bytes samples _ <<<"$line"
    net=$(echo "$bytes - $idle_bytes / $idle_samples * $samples" | bc -l)
    per=$(echo "$net / $requests" | bc -l)
    [ "$name" = ready ] && ready_per=$per
    label=$(case $name in ready) echo 'GET /health/ready';; me) echo 'GET /api/auth/me';; patient) echo 'GET /api/patients/{id}';; create) echo 'POST /api/patients';; esac)
    printf '| `%s` | %.1f MB | %.1f KB | %.2f× |\n' "$label" "$(echo "$net / 1048576" | bc -l)" "$(echo "$per / 1024" | bc -l)" "$(echo "$per / $ready_per" | bc -l)"
  done
} | tee "$result"
echo "Written to ${result#"$root"/}" >&2
