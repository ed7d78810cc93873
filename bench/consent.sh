#!/usr/bin/env bash
# Consent benchmark (bench/README.md): the public submit of an encrypted consent (JWE) and the GDT 2.1
# export of a submitted form, each beside the primary-key lookup GET /api/patients/{id} in alternating
# rounds of the same run. Builds in Release, starts a throwaway PostgreSQL and the app (bench/lib.sh),
# registers a practice through the API, publishes a P-256 public key, creates links set-based as the
# PostgreSQL superuser, runs bench/ClinicFlow.Load in the consent scenario, checks that exactly the
# links answered 201 hold an envelope, and writes bench/results/consent-<UTC date>.md.
#   bash bench/consent.sh                        8 workers; per pair 4 s warm-up, 4 rounds of 2 s per endpoint (a small run)
#   bash bench/consent.sh --concurrency 16       any ClinicFlow.Load argument overrides the default
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)
# shellcheck source=bench/lib.sh
. "$root/bench/lib.sh"

defaults=(--concurrency 8 --warmup 4 --seconds 8 --rounds 4)
links=50000
command -v curl >/dev/null || { echo "curl is needed." >&2; exit 1; }
command -v openssl >/dev/null || { echo "openssl is needed." >&2; exit 1; }
bench_build ClinicFlow.csproj bench/ClinicFlow.Load/ClinicFlow.Load.csproj
load_dll="$root/bench/ClinicFlow.Load/bin/Release/net10.0/ClinicFlow.Load.dll"
bench_start

b64url() { base64 -w 0 | tr '+/' '-_' | tr -d '='; }
json_field() { sed -E "s/.*\"$1\":\"([^\"]+)\".*/\1/"; }

token=$(curl -fsS -X POST "$base/api/auth/register" -H 'Content-Type: application/json' \
  -d "{\"email\":\"bench-consent-$RANDOM$RANDOM@bench.clinicflow.local\",\"password\":\"correct horse battery\",\"fullName\":\"Bench Admin\",\"clinicName\":\"Bench Praxis\",\"country\":\"DE\"}" |
  json_field token)
clinic=$("${psql[@]}" -c "select id from clinics where name = 'Bench Praxis'")

# The practice key pair: the private half stays in this directory (the app's vault in real life).
openssl ecparam -name prime256v1 -genkey -noout -out "$tmp/practice.pem" 2>/dev/null
point=$(openssl ec -in "$tmp/practice.pem" -pubout -outform DER 2>/dev/null | tail -c 64 | xxd -p -c 64)
x=$(printf '%s' "${point:0:64}" | xxd -r -p | b64url)
y=$(printf '%s' "${point:64:64}" | xxd -r -p | b64url)
kid="bench-$(date -u +%Y%m%d)"
curl -fsS -X PATCH "$base/api/settings" -H "Authorization: Bearer $token" -H 'Content-Type: application/json' \
  -d "{\"publicKey\":{\"kty\":\"EC\",\"crv\":\"P-256\",\"x\":\"$x\",\"y\":\"$y\",\"kid\":\"$kid\",\"alg\":\"ECDH-ES+A256KW\",\"use\":\"enc\"},\"gdtSenderId\":\"CFLOW\",\"gdtReceiverId\":\"PVS01\"}" >/dev/null
patient=$(curl -fsS -X POST "$base/api/patients" -H "Authorization: Bearer $token" -H 'Content-Type: application/json' \
  -d '{"fullName":"Jürgen Müller-Lüdenscheidt","birthDate":"1970-02-03","gender":"male"}' | json_field id)

# An envelope of the form the server checks (five base64url parts, ECDH-ES+A256KW with an ephemeral
# P-256 key, A256GCM, the practice's kid): random bytes of the sizes a 1 KB answer gives. The server
# never decrypts, so its cost does not depend on whether the ciphertext opens.
openssl ecparam -name prime256v1 -genkey -noout -out "$tmp/ephemeral.pem" 2>/dev/null
epk=$(openssl ec -in "$tmp/ephemeral.pem" -pubout -outform DER 2>/dev/null | tail -c 64 | xxd -p -c 64)
header=$(printf '{"alg":"ECDH-ES+A256KW","enc":"A256GCM","kid":"%s","epk":{"kty":"EC","crv":"P-256","x":"%s","y":"%s"}}' \
  "$kid" "$(printf '%s' "${epk:0:64}" | xxd -r -p | b64url)" "$(printf '%s' "${epk:64:64}" | xxd -r -p | b64url)" | b64url)
envelope="$header.$(openssl rand 40 | b64url).$(openssl rand 12 | b64url).$(openssl rand 1024 | b64url).$(openssl rand 16 | b64url)"

# One form through the API, submitted, for the GDT export.
form=$(curl -fsS -X POST "$base/api/consent" -H "Authorization: Bearer $token" -H 'Content-Type: application/json' \
  -d "{\"patientId\":\"$patient\",\"templateId\":\"treatment-de\"}")
form_id=$(json_field id <<<"$form")
form_token=$(json_field token <<<"$form")
curl -fsS -X POST "$base/api/consent/$form_token/submit" -H 'Content-Type: application/json' \
  -d "{\"encryptedPayload\":\"$envelope\",\"signedAt\":\"$(date -u +%Y-%m-%dT%H:%M:%SZ)\"}" >/dev/null

echo "Creating $links links…" >&2
prefix="benchlink$RANDOM"
"${psql[@]}" -v clinic="$clinic" -v patient="$patient" -v kid="$kid" -v prefix="$prefix" -v links="$links" >/dev/null <<'SQL'
insert into consent_forms (id, clinic_id, patient_id, type, title, body, kid, token_hash, token_sealed, expires_at)
select gen_random_uuid(), :'clinic', :'patient', 'treatment', 'Aufklärung Füllungstherapie', 'Ich willige in die Behandlung ein.',
       :'kid', sha256(convert_to(:'prefix' || n, 'UTF8')), 'v1.bench', now() + interval '7 days'
from generate_series(0, :links - 1) n;
analyze consent_forms;
SQL

cat >"$tmp/plan.json" <<JSON
{"token":"$token","patientId":"$patient","consentId":"$form_id","envelope":"$envelope","linkPrefix":"$prefix","links":$links}
JSON

load_before=$(cut -d ' ' -f 1-3 /proc/loadavg)
started=$(date -u '+%Y-%m-%d %H:%M UTC')
load_rc=0
dotnet "$load_dll" --url "$base" "${defaults[@]}" --scenario consent --plan "$tmp/plan.json" "$@" >"$tmp/table.md" || load_rc=$?
if [ "$load_rc" != 0 ] && [ "$load_rc" != 3 ]; then
  echo "The load generator failed (exit $load_rc); app log:" >&2
  tail -n 40 "$tmp/app.log" >&2
  exit "$load_rc"
fi
load_after=$(cut -d ' ' -f 1-3 /proc/loadavg)

stored=$("${psql[@]}" -F ' ' -c "select count(*), count(*) filter (where encrypted_payload = '$envelope') from consent_forms where clinic_id = '$clinic' and submitted_at is not null")
audited=$("${psql[@]}" -c "select count(*) from audit_log where clinic_id = '$clinic' and action = 'consent.submit'")
commit=$(git -C "$root" rev-parse --short HEAD 2>/dev/null || echo unknown)
if [ -n "$(git -C "$root" status --porcelain -- ':!bench/results' 2>/dev/null)" ]; then commit="$commit (uncommitted changes)"; fi
cpu=$(grep -m 1 'model name' /proc/cpuinfo | cut -d ':' -f 2 | sed 's/^ *//' || true)
pg_version=$("$bin/postgres" --version | sed -E 's/^[^0-9]*([0-9][0-9.]*).*/\1/')
read -r submitted intact <<<"$stored"

mkdir -p "$root/bench/results"
result="$root/bench/results/consent-$(date -u +%Y-%m-%d).md"
{
  echo "# Consent submit and GDT export beside the primary-key lookup"
  echo
  echo "$started, commit $commit, app in $environment (Release), PostgreSQL $pg_version with default settings."
  echo "Machine: $(nproc) cores${cpu:+ ($cpu)}, shared by the load generator, the app, PostgreSQL and other"
  echo "builds and test runs on the same machine; load average (1, 5, 15 min) just before the run: $load_before,"
  echo "just after: $load_after. Absolute numbers are of a busy machine; the ratios compare endpoints measured"
  echo "in the same minutes."
  echo
  echo "Data: one practice with a published P-256 key, one patient, $links links created set-based. Each submit"
  echo "request takes a link of its own; the envelope is ${#envelope} characters of the checked form (random bytes"
  echo "in place of a real ciphertext: the server never decrypts). The GDT export reads one submitted form."
  echo
  cat "$tmp/table.md"
  echo
  echo "After the run: $submitted forms submitted (the GDT form included), $intact of them holding the envelope byte for byte, $audited \`consent.submit\` audit entries."
} | tee "$result"
echo "Written to ${result#"$root"/}" >&2
exit "$load_rc"
