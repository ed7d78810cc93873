#!/usr/bin/env bash
# WhatsApp benchmark (bench/README.md): the webhook's acknowledge latency and the outbox's dispatch
# rate to a fake Graph API, each beside the primary-key lookup GET /api/patients/{id}. Builds in
# Release, starts a throwaway PostgreSQL and the app (bench/lib.sh) pointed at the fake, runs
# bench/ClinicFlow.WhatsAppBench and writes bench/results/whatsapp-<UTC date>.md.
#   bash bench/whatsapp.sh                                  8 workers, 10 s warm-up and 10 s per endpoint, 2 000 messages
#   bash bench/whatsapp.sh --concurrency 16 --messages 5000
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)
# shellcheck source=bench/lib.sh
. "$root/bench/lib.sh"

bench_build ClinicFlow.csproj bench/ClinicFlow.WhatsAppBench/ClinicFlow.WhatsAppBench.csproj
bench_dll="$root/bench/ClinicFlow.WhatsAppBench/bin/Release/net10.0/ClinicFlow.WhatsAppBench.dll"

fake_port=$(free_port)
app_secret="bench-app-secret-$RANDOM$RANDOM"
export WhatsApp__GraphBaseUrl="http://127.0.0.1:$fake_port"
export WhatsApp__AppSecret="$app_secret"
export WhatsApp__VerifyToken="bench-verify-$RANDOM"
# The bench queues its messages with SQL, which does not wake the dispatcher: poll often.
export Outbox__PollSeconds=0.2
export WhatsApp__InboxPollSeconds=0.2
bench_start

load_before=$(cut -d ' ' -f 1-3 /proc/loadavg)
started=$(date -u '+%Y-%m-%d %H:%M UTC')
dotnet "$bench_dll" --url "$base" --fake-port "$fake_port" --app-secret "$app_secret" \
  --db "Host=127.0.0.1;Port=$pg_port;Database=clinicflow;Username=postgres" "$@" >"$tmp/table.md"

commit=$(git -C "$root" rev-parse --short HEAD 2>/dev/null || echo unknown)
if [ -n "$(git -C "$root" status --porcelain -- ':!bench/results' 2>/dev/null)" ]; then commit="$commit (uncommitted changes)"; fi
pg_version=$("$bin/postgres" --version | sed -E 's/^[^0-9]*([0-9][0-9.]*).*/\1/')
mkdir -p "$root/bench/results"
result="$root/bench/results/whatsapp-$(date -u +%Y-%m-%d).md"
{
  echo "# WhatsApp: webhook acknowledge and outbox dispatch beside the primary-key lookup"
  echo
  echo "$started, commit $commit, app in $environment (Release), PostgreSQL $pg_version with default settings."
  echo "Machine: $(nproc) cores, shared by the bench (load generator and fake Graph API), the app and PostgreSQL;"
  echo "load average (1, 5, 15 min) just before the run: $load_before."
  echo
  cat "$tmp/table.md"
} | tee "$result"
echo "Written to ${result#"$root"/}" >&2
