#!/usr/bin/env bash
# A throwaway SCIM 2.0 endpoint for tests and CI: scim2-server (an in-memory
# Python server speaking RFC 7643/7644) plus the independent conformance
# checker (scim2-tester driven by scim2-cli), each in its own pinned venv.
#
# Usage:
#   scripts/servers/scim.sh install          create or reuse the two venvs
#   eval "$(scripts/servers/scim.sh start DIR)"
#                                            start a server on a free port of
#                                            127.0.0.1 with a random bearer
#                                            token; logs to DIR/scim.log, pid in
#                                            DIR/scim.pid; prints SCIM_URL=...
#                                            and SCIM_TOKEN=... once it answers
#   scripts/servers/scim.sh stop DIR         stop the server started in DIR
#   scripts/servers/scim.sh check URL TOKEN  run the conformance checker; exits
#                                            with its status
#
# The venvs live under ${TENET_CI_CACHE:-${TMPDIR:-/tmp}/tenet-ci}. An install
# counts as present only when its marker file (written after pip succeeded)
# holds the same pin list, so editing a pin below reinstalls on the next run.
# Data lives in the server's memory only: `stop` loses everything.
# Needs python3 (with the venv module) and a reachable PyPI for `install`.

set -euo pipefail

cache=${TENET_CI_CACHE:-${TMPDIR:-/tmp}/tenet-ci}
server_venv=$cache/venv-scim-server
tester_venv=$cache/venv-scim-tester
server_pins=(scim2-server==0.8.3 scim2-models==0.12.3)
tester_pins=(scim2-tester==0.5.2 scim2-cli==0.6.0 scim2-models==0.12.3)
marker_name=.tenet-pins

die() {
  echo "scim.sh: $*" >&2
  exit 1
}

# ensure_venv VENV PIN...: (re)create VENV unless its marker lists the same pins.
ensure_venv() {
  local venv=$1
  shift
  local want
  want=$(printf '%s\n' "$@")
  if [ -f "$venv/$marker_name" ] && [ "$(cat "$venv/$marker_name")" = "$want" ]; then
    return 0
  fi
  echo "scim.sh: installing $* into $venv" >&2
  rm -rf "$venv"
  mkdir -p "$(dirname "$venv")"
  python3 -m venv "$venv"
  "$venv/bin/pip" install --quiet --disable-pip-version-check "$@" >&2
  printf '%s\n' "$want" >"$venv/$marker_name"
}

cmd_install() {
  ensure_venv "$server_venv" "${server_pins[@]}"
  ensure_venv "$tester_venv" "${tester_pins[@]}"
}

cmd_start() {
  local dir=${1:?usage: scim.sh start DIR}
  mkdir -p "$dir"
  dir=$(cd "$dir" && pwd)
  local log=$dir/scim.log pidfile=$dir/scim.pid
  if [ -f "$pidfile" ] && kill -0 "$(cat "$pidfile")" 2>/dev/null; then
    die "a server is already running from $dir (pid $(cat "$pidfile")); stop it first"
  fi
  ensure_venv "$server_venv" "${server_pins[@]}"
  local py=$server_venv/bin/python
  local port token
  port=$("$py" -c 'import socket
s = socket.socket()
s.bind(("127.0.0.1", 0))
print(s.getsockname()[1])
s.close()')
  token=$("$py" -c 'import secrets; print(secrets.token_hex(24))')

  # Detached from our stdout, so `eval "$(scim.sh start DIR)"` returns.
  "$server_venv/bin/scim2-server" --hostname 127.0.0.1 --port "$port" \
    --bearer-token "$token" </dev/null >"$log" 2>&1 &
  local pid=$!
  echo "$pid" >"$pidfile"

  local url=http://127.0.0.1:$port/v2
  # The token goes through the environment, never a command line.
  if ! SCIM_PROBE_URL=$url/ServiceProviderConfig SCIM_PROBE_TOKEN=$token SCIM_PROBE_PID=$pid \
    "$py" - <<'EOF'
import os, time, urllib.request, urllib.error
url, token, pid = os.environ["SCIM_PROBE_URL"], os.environ["SCIM_PROBE_TOKEN"], int(os.environ["SCIM_PROBE_PID"])
deadline = time.monotonic() + 30
while time.monotonic() < deadline:
    try:
        os.kill(pid, 0)
    except OSError:
        raise SystemExit("scim2-server exited during startup")
    req = urllib.request.Request(url, headers={"Authorization": "Bearer " + token})
    try:
        with urllib.request.urlopen(req, timeout=2) as resp:
            if resp.status == 200:
                raise SystemExit(0)
    except (urllib.error.URLError, OSError):
        pass
    time.sleep(0.1)
raise SystemExit("scim2-server did not answer within 30 s")
EOF
  then
    echo "scim.sh: scim2-server failed to start; last lines of $log:" >&2
    tail -n 20 "$log" >&2 || true
    kill "$pid" 2>/dev/null || true
    rm -f "$pidfile"
    exit 1
  fi
  echo "SCIM_URL=$url"
  echo "SCIM_TOKEN=$token"
}

cmd_stop() {
  local dir=${1:?usage: scim.sh stop DIR}
  local pidfile=$dir/scim.pid pid
  [ -f "$pidfile" ] || return 0
  pid=$(cat "$pidfile")
  rm -f "$pidfile"
  [ -n "$pid" ] || return 0
  kill "$pid" 2>/dev/null || return 0
  # Wait up to 5 s for it to go, then insist.
  for _ in $(seq 1 50); do
    kill -0 "$pid" 2>/dev/null || return 0
    sleep 0.1
  done
  kill -9 "$pid" 2>/dev/null || true
}

cmd_check() {
  local url=${1:?usage: scim.sh check URL TOKEN}
  local token=${2:?usage: scim.sh check URL TOKEN}
  ensure_venv "$tester_venv" "${tester_pins[@]}"
  SCIM_CLI_HEADERS="Authorization: Bearer $token" exec "$tester_venv/bin/scim" --url "$url" test
}

case ${1:-} in
  install) cmd_install ;;
  start) shift; cmd_start "$@" ;;
  stop) shift; cmd_stop "$@" ;;
  check) shift; cmd_check "$@" ;;
  *)
    sed -n '2,/^$/s/^# \{0,1\}//p' "$0" >&2
    exit 2
    ;;
esac
