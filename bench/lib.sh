#!/usr/bin/env bash
# Shared start-up of the benchmark scripts: Release build, a
# throwaway PostgreSQL cluster and the app on free loopback ports, everything stopped and removed on
# exit. Source it from a script that ran `set -euo pipefail` and set `root` to the repository root:
#   bench_build ClinicFlow.csproj bench/ClinicFlow.Load/ClinicFlow.Load.csproj
#   bench_start        sets bin, tmp, pg_port, app_port, base, environment and psql (superuser, -d clinicflow)
# A script may define bench_before_app: bench_start calls it once the database exists, before the app
# starts (server settings every connection of the app must see, such as preloaded libraries).

pg_bin() { ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1; }

as_pg() {
  if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi
}

# A loopback port nobody answers on (a small race with other starters is acceptable here).
free_port() {
  local port
  for _ in $(seq 1 100); do
    port=$((20000 + RANDOM % 40000))
    if ! (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then
      echo "$port"
      return 0
    fi
  done
  echo "no free loopback port found" >&2
  return 1
}

# 0 when GET $1 on 127.0.0.1:$2 answers 200 (bash only: no curl needed).
http_ok() {
  local status
  status=$( (exec 3<>"/dev/tcp/127.0.0.1/$2" &&
    printf 'GET %s HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n' "$1" >&3 &&
    head -n 1 <&3) 2>/dev/null || true)
  [[ "$status" == *" 200 "* ]]
}

# Release build of the given projects (paths relative to the repository root).
bench_build() {
  local project build_output
  echo "Building $* (Release)…" >&2
  for project in "$@"; do
    if ! build_output=$(dotnet build "$root/$project" -c Release -nologo -v q 2>&1); then
      echo "$build_output" >&2
      exit 1
    fi
  done
  app_dir="$root/bin/Release/net10.0"
}

bench_cleanup() {
  local rc=$?
  trap - EXIT INT TERM
  if [ -n "${app_pid:-}" ] && kill -0 "$app_pid" 2>/dev/null; then
    kill "$app_pid" 2>/dev/null || true
    for _ in $(seq 1 50); do kill -0 "$app_pid" 2>/dev/null || break; sleep 0.1; done
    kill -9 "$app_pid" 2>/dev/null || true
  fi
  if [ -n "${data:-}" ] && [ -f "$data/postmaster.pid" ]; then
    as_pg "$bin/pg_ctl" -D "$data" -m fast -w stop >/dev/null 2>&1 || true
  fi
  if [ -n "${tmp:-}" ]; then rm -rf "$tmp"; fi
  exit "$rc"
}

# Throwaway PostgreSQL (a plain role clinicflow owns the database, as in production, so row-level
# security applies to the app) and the app in Production with a fresh ES256 key and every rate
# limit raised, started from its build output and waited for on /health/ready.
bench_start() {
  bin=$(pg_bin)
  if [ -z "$bin" ] || [ ! -x "$bin/pg_ctl" ]; then
    echo "PostgreSQL server binaries not found under /usr/lib/postgresql/*/bin (Debian: apt-get install postgresql)." >&2
    exit 1
  fi

  tmp=$(mktemp -d "${TMPDIR:-/tmp}/clinicflow-bench.XXXXXX")
  chmod 755 "$tmp"
  data="$tmp/pg"
  run_dir="$tmp/pg-run"
  app_pid=""
  trap bench_cleanup EXIT
  trap 'exit 130' INT TERM

  mkdir -p "$data" "$run_dir"
  if [ "$(id -u)" = 0 ]; then chown postgres:postgres "$data" "$run_dir"; fi
  chmod 700 "$data"
  pg_port=$(free_port)
  echo "Starting a throwaway PostgreSQL on 127.0.0.1:$pg_port…" >&2
  as_pg "$bin/initdb" -D "$data" -U postgres --auth=trust -E UTF8 --locale=C.UTF-8 >/dev/null
  as_pg "$bin/pg_ctl" -D "$data" -l "$run_dir/server.log" -w -t 60 \
    -o "-p $pg_port -k $run_dir -c listen_addresses=127.0.0.1" start >/dev/null
  psql=("$bin/psql" -h 127.0.0.1 -p "$pg_port" -U postgres -d postgres -v ON_ERROR_STOP=1 -qtA)
  "${psql[@]}" -c "create role clinicflow login password 'clinicflow' nosuperuser nobypassrls" >/dev/null
  "${psql[@]}" -c "create database clinicflow owner clinicflow" >/dev/null
  psql=("$bin/psql" -h 127.0.0.1 -p "$pg_port" -U postgres -d clinicflow -v ON_ERROR_STOP=1 -qtA)
  if declare -F bench_before_app >/dev/null; then bench_before_app; fi

  environment=Production
  local key
  if key=$(openssl ecparam -name prime256v1 -genkey -noout 2>/dev/null | openssl pkcs8 -topk8 -nocrypt 2>/dev/null) && [ -n "$key" ]; then
    export Jwt__SigningKeys__0="$key"
    Secrets__EncryptionKey=$(openssl rand -base64 32)
    export Secrets__EncryptionKey
  else
    echo "openssl not available: running the app in Development, which generates its own signing and encryption keys." >&2
    environment=Development
  fi

  app_port=$(free_port)
  base="http://127.0.0.1:$app_port"
  export ASPNETCORE_ENVIRONMENT=$environment
  # BENCH_CONNECTION_EXTRA adds connection-string settings under test (e.g. "No Reset On Close=true").
  export ConnectionStrings__Postgres="Host=127.0.0.1;Port=$pg_port;Database=clinicflow;Username=clinicflow;Password=clinicflow${BENCH_CONNECTION_EXTRA:+;$BENCH_CONNECTION_EXTRA}"
  export Superadmin__ApiKey="bench-$RANDOM$RANDOM$RANDOM"
  export PublicBaseUrl="$base"
  # The limiter would otherwise cut the run after 100 requests; the benchmark measures the rest of the pipeline.
  local group
  for group in FailedAuth Register Demo Ics PublicLinks General; do
    export "RateLimits__${group}__PermitLimit=100000000"
  done

  echo "Starting the app ($environment) on $base…" >&2
  # Content root = the build output, so appsettings.json is the one shipped with the build.
  # BENCH_APP_ENV: space-separated NAME=value pairs for the app process only (runtime settings under
  # test, e.g. "DOTNET_gcServer=0"), so the load generator keeps its own defaults.
  local app_env=()
  if [ -n "${BENCH_APP_ENV:-}" ]; then read -r -a app_env <<<"$BENCH_APP_ENV"; fi
  (cd "$app_dir" && exec env ${app_env[@]+"${app_env[@]}"} dotnet ClinicFlow.dll --urls "$base") >"$tmp/app.log" 2>&1 &
  app_pid=$!

  for _ in $(seq 1 120); do
    if http_ok /health/ready "$app_port"; then return 0; fi
    if ! kill -0 "$app_pid" 2>/dev/null; then
      echo "The app exited during start-up:" >&2
      tail -n 40 "$tmp/app.log" >&2
      exit 1
    fi
    sleep 0.5
  done
  echo "The app did not become ready within 60 s:" >&2
  tail -n 40 "$tmp/app.log" >&2
  exit 1
}
