#!/usr/bin/env bash
# Checks the reference platform against its OpenAPI contract with tools that
# share no code with it: openapi-spec-validator on the spec itself, then
# schemathesis exercising every operation of a live `tenet serve`, failing on
# any server error or any response that contradicts the spec.
#
# Usage: scripts/api-conformance.sh [PATH_TO_TENET_BINARY]
# Needs python3; installs pinned tools into a venv (TENET_CI_VENV, default
# under the system temp dir) on first use.
set -euo pipefail
cd "$(dirname "$0")/.."

bin=${1:-target/debug/tenet}
venv=${TENET_CI_VENV:-${TMPDIR:-/tmp}/tenet-ci-venv}
spec=schema/platform-api.openapi.json

if [ ! -x "$venv/bin/schemathesis" ] || [ ! -x "$venv/bin/openapi-spec-validator" ]; then
  python3 -m venv "$venv"
  "$venv/bin/pip" install --quiet --disable-pip-version-check \
    schemathesis==4.32.5 openapi-spec-validator==0.9.0
fi

echo "== openapi-spec-validator $spec"
"$venv/bin/openapi-spec-validator" "$spec"

work=$(mktemp -d)
server_pid=""
cleanup() {
  if [ -n "$server_pid" ]; then kill "$server_pid" 2>/dev/null || true; wait "$server_pid" 2>/dev/null || true; fi
  rm -rf "$work"
}
trap cleanup EXIT

token=$("$bin" serve token create conformance --scope write --db "$work/p.db" 2>/dev/null)
"$bin" serve --db "$work/p.db" --listen 127.0.0.1:0 2>"$work/serve.log" &
server_pid=$!
url=""
for _ in $(seq 1 100); do
  url=$(sed -n 's/^tenet serve: listening on \(http:\/\/[^ ]*\).*/\1/p' "$work/serve.log" | head -n 1)
  [ -n "$url" ] && break
  sleep 0.1
done
if [ -z "$url" ]; then
  echo "the server did not start:"; cat "$work/serve.log"; exit 1
fi
echo "== schemathesis against $url"
"$venv/bin/schemathesis" run "$spec" \
  --url "$url" \
  --header "Authorization: Bearer $token" \
  --checks not_a_server_error,status_code_conformance,content_type_conformance,response_headers_conformance,response_schema_conformance \
  --max-examples "${TENET_CONFORMANCE_EXAMPLES:-25}" \
  --seed 1 \
  --no-color
echo "== the server's log holds no token"
if grep -qF "$token" "$work/serve.log"; then
  echo "the token appears in the server log"; exit 1
fi
