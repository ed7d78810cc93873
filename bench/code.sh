#!/usr/bin/env bash
# Code benchmarks (bench/README.md): BenchmarkDotNet comparisons of the app's hot-path code against
# the baseline it replaced or the library's plain path, in the same run, as ratios. No database, no
# app process. Builds bench/ClinicFlow.Benchmarks in Release (and the app with it), runs it from the
# repository root and writes bench/results/code-<UTC date>.md: the GitHub-markdown summary of each
# class with a line on what it compares, the commit, the time and the machine.
#   bash bench/code.sh                                          every class, job TwoCore (about 3-4 minutes on 2 cores)
#   bash bench/code.sh --filter '*IcsFeed*'                     one class (also *TokenValidation*, *RowMapping*)
#   bash bench/code.sh --filter '*TokenValidation*' '*RowMapping*'
#   bash bench/code.sh --job short                              a quick look (3 + 3 iterations); --job dry proves the set-up only
#   bash bench/code.sh --iterationCount 20                      any BenchmarkDotNet argument is passed on
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)
project=bench/ClinicFlow.Benchmarks

echo "Building $project (Release)…" >&2
if ! build_output=$(dotnet build "$project/ClinicFlow.Benchmarks.csproj" -c Release -nologo -v q 2>&1); then
  echo "$build_output" >&2
  exit 1
fi

tmp=$(mktemp -d "${TMPDIR:-/tmp}/clinicflow-code-bench.XXXXXX")
trap 'rm -rf "$tmp"' EXIT

commit=$(git rev-parse --short HEAD)
if [ -n "$(git status --porcelain --untracked-files=no 2>/dev/null)" ]; then commit="$commit (tracked files changed since)"; fi
started=$(date -u '+%Y-%m-%d %H:%M')
cores=$(nproc)
load=$(cut -d ' ' -f 1-3 /proc/loadavg)
shown=""
for arg in "$@"; do
  case $arg in *[!A-Za-z0-9_./=-]*) shown+=" '$arg'" ;; *) shown+=" $arg" ;; esac
done

# BenchmarkDotNet finds the harness project from the working directory (the repository root).
status=0
dotnet "$project/bin/Release/net10.0/ClinicFlow.Benchmarks.dll" --artifacts "$tmp/artifacts" "$@" || status=$?

shopt -s nullglob
reports=("$tmp"/artifacts/results/*-report-github.md)
if [ ${#reports[@]} -eq 0 ]; then
  echo "No BenchmarkDotNet summary was written (exit code $status); nothing to record." >&2
  exit $((status == 0 ? 1 : status))
fi

explain() {
  case "$1" in
    TokenValidationBenchmarks) echo "The bearer check of a request: \`CachingTokenHandler\` answering from its cache (a token it already validated) against a plain \`JsonWebTokenHandler\` checking the ES256 signature, issuer, audience and lifetime anew; token, key and \`TokenValidationParameters\` from the app's own \`AddClinicAuth\` and \`JwtIssuer\`." ;;
    IcsFeedBenchmarks) echo "A doctor's ICS feed rendered anew (the first request after a change): the app's \`GetIcsFeed.WriteAsync\`, RFC 5545 written directly, against the Ical.Net serialization it replaced (commit 09160cb), both reading the same rows through Dapper from an in-memory reader; \`ShowNames\` is the clinic's setting (off: initials, on: names and reasons)." ;;
    RowMappingBenchmarks) echo "Mapping one 13-column row of the appointment list: Dapper's row parser building the app's \`ListAppointments.Row\` (as \`DbScope\` asks for it) against a hand-written mapper with typed getters; per row, from an in-memory \`DataTableReader\` (its cost is in both)." ;;
    *) echo "(no description: add one to bench/code.sh)" ;;
  esac
}

mkdir -p bench/results
out="bench/results/code-$(date -u +%Y-%m-%d).md"
{
  echo "# Code benchmarks (BenchmarkDotNet)"
  echo
  echo "$started UTC, commit $commit, \`nproc\` $cores, load average $load just before the run;"
  echo "\`bash bench/code.sh$shown\`. Each table compares its rows with its baseline row (\`Ratio\`: \`baseline\`)"
  echo "in the same run: the ratios are the comparable figures, the absolute times depend on the machine and what else ran on it."
  for report in "${reports[@]}"; do
    name=$(basename "$report" -report-github.md)
    name=${name##*.}
    echo
    echo "## $name"
    echo
    explain "$name"
    echo
    cat "$report"
  done
} >"$out"

cat "$out"
echo >&2
echo "Written: $out" >&2
exit "$status"
