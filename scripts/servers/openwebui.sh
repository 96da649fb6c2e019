#!/usr/bin/env bash
# Installs, starts and stops a throwaway Open WebUI 0.12.4 for tenet's tests
# against a real Open WebUI (see shared/openwebui-api.md).
#
#   scripts/servers/openwebui.sh install
#       Creates the venv $TENET_CI_CACHE/venv-openwebui (TENET_CI_CACHE
#       defaults to ${TMPDIR:-/tmp}/tenet-ci) with open-webui==0.12.4 but
#       without torch/CUDA: the wheel is installed with --no-deps, then its
#       Requires-Dist (from the wheel's METADATA) minus the packages that pull
#       in torch, with every transitive dependency pinned by the constraints
#       below. A marker file holding the pin list, written last, says the venv
#       is complete; a rerun with the same pins reuses it at once.
#   scripts/servers/openwebui.sh start DIR
#       Starts Open WebUI on 127.0.0.1 on a free port with DIR/data as its
#       data directory (log DIR/openwebui.log, pid DIR/openwebui.pid), waits
#       for /health, signs up the first admin (admin@tenet.test, random
#       password) and prints, for eval:
#           OPENWEBUI_URL=http://127.0.0.1:PORT
#           OPENWEBUI_TOKEN=<admin JWT>
#       DIR must not hold a database yet. The server gets a clean
#       environment (nothing leaks in from the caller's). The first start
#       runs the migrations (66 alembic steps) and keeps the migrated, still
#       empty webui.db in the cache; later starts copy it in (~5 s faster).
#   scripts/servers/openwebui.sh stop DIR
#       SIGTERM to the process in DIR/openwebui.pid, waits up to 15 s, quiet.
#
# Needs python3.11 or 3.12 (PYTHON overrides) and PyPI; nothing else.
set -euo pipefail

OWUI_VERSION=0.12.4
# sha256 of open_webui-0.12.4-py3-none-any.whl on PyPI.
OWUI_WHEEL_SHA256=02e9caba96234db3fa17a92e56163b3f7f2b8ca8227fa886b85c178d696483f6
cache=${TENET_CI_CACHE:-${TMPDIR:-/tmp}/tenet-ci}
venv=$cache/venv-openwebui
marker=$venv/.tenet-installed
# The server's settings besides DATA_DIR, WEBUI_SECRET_KEY and the port.
OWUI_ENV=(
  OFFLINE_MODE=true HF_HUB_OFFLINE=1 TRANSFORMERS_OFFLINE=1 USE_SLIM_DOCKER=true
  RAG_EMBEDDING_MODEL= RAG_RERANKING_MODEL= WHISPER_MODEL= ENABLE_OLLAMA_API=false
  ENABLE_VERSION_UPDATE_CHECK=false ANONYMIZED_TELEMETRY=false DO_NOT_TRACK=true
  SCARF_NO_ANALYTICS=true ENABLE_WEBSOCKET_SUPPORT=false
)
# A migrated, empty database kept from the first start. The first start also
# stores config seeded from the environment, so the name carries a checksum
# of OWUI_ENV: changing the settings starts from scratch once.
seed_db=$cache/openwebui-$OWUI_VERSION-$(printf '%s\n' "${OWUI_ENV[@]}" | cksum | cut -d' ' -f1)-migrated.db

# Requirements of the wheel that drag in torch (and with it CUDA wheels).
# Every torch import in Open WebUI is lazy, so the server runs without them.
EXCLUDED="accelerate sentence-transformers"

# Every package of the venv besides open-webui itself, pinned, as resolved on
# a fresh install (pip freeze). The wheel's own requirements are pinned
# already; these fix their transitive dependencies too.
CONSTRAINTS=$(
  cat <<'EOF'
aiocache==0.12.3
aiodns==3.6.1
aiofiles==25.1.0
aiohappyeyeballs==2.7.1
aiohttp==3.14.5
aiosignal==1.4.0
aiosqlite==0.22.1
alembic==1.18.4
annotated-doc==0.0.7
annotated-types==0.8.0
anthropic==0.86.0
anyio==4.16.0
argon2-cffi==25.1.0
argon2-cffi-bindings==26.2.0
asgiref==3.11.1
attrs==26.1.0
Authlib==1.7.2
av==18.1.0
azure-ai-documentintelligence==1.0.2
azure-core==1.41.0
azure-identity==1.25.3
azure-storage-blob==12.29.0
bcrypt==5.0.0
beautifulsoup4==4.14.3
bidict==0.24.1
black==26.5.1
boto3==1.42.62
botocore==1.42.97
brotli==1.2.1
brotlicffi==1.2.1.0
build==1.6.1
certifi==2026.10.19.post1
cffi==2.1.1
chardet==7.4.3
charset-normalizer==3.5.3
chromadb==1.5.9
click==8.5.1
colorlog==6.12.0
cryptography==48.0.1
ctranslate2==4.8.5
ddgs==9.14.4
defusedxml==0.7.1
distro==1.9.0
docstring_parser==0.18.0
docx2txt==0.9
durationpy==0.11
einops==0.8.2
et_xmlfile==2.0.0
Events==0.5
fake-useragent==2.2.0
fastapi==0.136.3
faster-whisper==1.2.1
filelock==4.3.1
flatbuffers==25.12.19
frozenlist==1.8.0
fsspec==2026.9.0
ftfy==6.3.1
google-api-core==2.44.0
google-auth==2.63.0
google-cloud-core==2.8.0
google-cloud-storage==3.9.0
google-crc32c==1.9.0
google-re2==1.1.20251105
google-resumable-media==2.11.0
googleapis-common-protos==1.75.0
greenlet==3.5.6
grpcio==1.85.3
h11==0.16.0
h2==4.4.1
hf-xet==1.8.0
hiredis==3.4.2
hpack==4.2.0
httpcore==1.0.9
httpcore2==2.16.0
httptools==0.9.0
httpx==0.28.1
httpx2==2.16.0
huggingface_hub==1.33.0
hyperframe==6.1.0
idna==3.20
importlib_resources==7.1.0
isodate==0.7.2
itsdangerous==2.2.0
jiter==0.19.0
jmespath==1.1.0
joserfc==1.7.4
jsonpatch==1.48
jsonpointer==3.12
jsonschema==4.26.0
jsonschema-specifications==2025.9.1
kubernetes==36.0.3
langchain-classic==1.0.7
langchain-core==1.4.8
langchain-protocol==0.0.20
langchain-text-splitters==1.1.2
langsmith==0.15.1
ldap3==2.9.1
loguru==0.7.3
lxml==6.1.1
Mako==1.4.3
Markdown==3.10.2
markdown-it-py==4.3.0
MarkupSafe==3.0.4
mcp==2.3.0
mcp-types==2.3.0
mdurl==0.1.2
mmh3==5.3.1
msal==1.39.0
msal-extensions==1.3.1
msoffcrypto-tool==6.0.0
multidict==7.2.1
mypy_extensions==1.2.0
numpy==2.4.6
oauthlib==4.0.1
olefile==0.47
omegaconf==2.4.0
onnxruntime==1.26.0
openai==2.29.0
opencv-python-headless==4.13.0.92
openpyxl==3.1.5
opensearch-protobufs==1.2.0
opensearch-py==3.2.0
opentelemetry-api==1.45.2
opentelemetry-exporter-otlp-common==0.66b2
opentelemetry-exporter-otlp-proto-common==1.45.2
opentelemetry-exporter-otlp-proto-grpc==1.45.2
opentelemetry-proto==1.45.2
opentelemetry-sdk==1.45.2
opentelemetry-semantic-conventions==0.66b2
orjson==3.11.9
overrides==7.7.0
packaging==26.4
pandas==3.0.3
pathspec==1.1.1
pillow==13.0.0
platformdirs==4.14.9
primp==2.0.1
propcache==0.5.4
proto-plus==1.29.0
protobuf==7.36.2
psutil==7.2.2
psycopg==3.3.4
psycopg-binary==3.3.4
pyarrow==20.0.0
pyasn1==0.6.5
pyasn1_modules==0.4.2
pybase64==1.5.1
pycares==4.11.0
pyclipper==1.4.0
pycparser==3.12
pycrdt==0.14.8
pydantic==2.13.4
pydantic-settings==2.16.3
pydantic_core==2.46.4
pydub==0.25.1
Pygments==2.21.0
PyJWT==2.13.0
PyMySQL==1.2.0
pyotp==2.9.0
pypandoc==1.17
pypdf==6.21.2
PyPika==0.51.1
pyproject_hooks==1.3.3
python-dateutil==2.9.0.post0
python-docx==1.2.0
python-dotenv==1.2.4
python-engineio==4.15.1
python-mimeparse==2.0.0
python-multipart==0.0.32
python-pptx==1.0.2
python-socketio==5.16.2
pytokens==0.4.1
pytz==2026.2
pyxlsb==1.0.10
PyYAML==6.0.4
qrcode==8.2
rank-bm25==0.2.2
rapidocr==3.10.0
redis==8.0.1
referencing==0.37.0
regex==2026.5.9
requests==2.34.2
requests-oauthlib==2.0.0
requests-toolbelt==1.0.0
rich==13.9.4
rpds-py==2026.9.1
s3transfer==0.16.1
safetensors==0.8.0
sentencepiece==0.2.1
shapely==2.2.0
shellingham==1.5.4
simple-websocket==1.1.0
six==1.17.0
sniffio==1.3.1
socksio==1.0.0
soundfile==0.13.1
soupsieve==4.1.3
SQLAlchemy==2.0.50
sse-starlette==3.7.0
starlette==1.10.0
starlette-compress==1.7.1
starsessions==2.2.1
tenacity==9.2.1
tiktoken==0.13.0
tokenizers==0.22.2
tqdm==4.70.1
transformers==5.5.4
truststore==0.10.5
typer==0.29.2
typing-inspection==0.4.5
typing_extensions==4.16.0
urllib3==2.8.0
uuid_utils==0.19.0
uvicorn==0.54.0
uvloop==0.23.0
validators==0.35.0
watchfiles==1.3.0
wcwidth==0.9.4
websocket-client==1.9.2
websockets==17.4
wsproto==1.3.2
xlrd==2.0.2
xlsxwriter==3.3.1
xxhash==4.1.0
yarl==1.25.1
youtube-transcript-api==1.2.4
zstandard==0.25.0
EOF
)

pins() {
  printf 'open-webui==%s sha256:%s\nexcluded: %s\n%s\n' "$OWUI_VERSION" "$OWUI_WHEEL_SHA256" "$EXCLUDED" "$CONSTRAINTS"
}

log() { printf 'openwebui.sh: %s\n' "$*" >&2; }
die() { log "$*"; exit 1; }

pick_python() {
  local p
  for p in ${PYTHON:-} python3.12 python3.11 python3; do
    if command -v "$p" >/dev/null 2>&1 &&
      "$p" -c 'import sys; sys.exit(not ((3, 11) <= sys.version_info[:2] < (3, 13)))' 2>/dev/null; then
      echo "$p"
      return
    fi
  done
  die "needs python 3.11 or 3.12 (open-webui $OWUI_VERSION requires it); set PYTHON"
}

sha256() {
  [ -f "$1" ] || return 0
  "$venv/bin/python" -c 'import hashlib, sys; print(hashlib.sha256(open(sys.argv[1], "rb").read()).hexdigest())' "$1"
}

cmd_install() {
  local start=$SECONDS
  if [ -f "$marker" ] && [ "$(cat "$marker")" = "$(pins)" ] && [ -x "$venv/bin/open-webui" ]; then
    log "venv $venv is present (open-webui $OWUI_VERSION), reused in $((SECONDS - start)) s"
    return
  fi
  local py
  py=$(pick_python)
  log "installing open-webui $OWUI_VERSION without torch into $venv (several minutes)"
  rm -rf "$venv" "$cache"/openwebui-"$OWUI_VERSION"-*-migrated.db
  mkdir -p "$cache"
  "$py" -m venv "$venv"
  local pip=("$venv/bin/python" -m pip --disable-pip-version-check --no-input)
  local dl=$cache/dl-openwebui
  mkdir -p "$dl"
  local wheel=$dl/open_webui-$OWUI_VERSION-py3-none-any.whl
  if [ "$(sha256 "$wheel")" != "$OWUI_WHEEL_SHA256" ]; then
    rm -f "$wheel"
    "${pip[@]}" download --quiet --no-deps "open-webui==$OWUI_VERSION" -d "$dl"
    [ "$(sha256 "$wheel")" = "$OWUI_WHEEL_SHA256" ] || die "$wheel does not have the pinned sha256"
  fi

  # The wheel's unconditional Requires-Dist, minus the excluded ones. They go
  # in first, the wheel last with --no-deps, so that pip's resolver never
  # sees (and complains about) the missing excluded requirements.
  local reqs=$venv/tenet-requirements.txt cons=$venv/tenet-constraints.txt
  EXCLUDED=$EXCLUDED "$venv/bin/python" - "$wheel" >"$reqs" <<'PY'
import os, re, sys, zipfile
from email.parser import Parser
from pip._vendor.packaging.requirements import Requirement

def norm(name):
    return re.sub(r"[-_.]+", "-", name).lower()

excluded = {norm(n) for n in os.environ["EXCLUDED"].split()}
with zipfile.ZipFile(sys.argv[1]) as z:
    meta = next(n for n in z.namelist() if n.endswith(".dist-info/METADATA"))
    msg = Parser().parsestr(z.read(meta).decode())
for line in msg.get_all("Requires-Dist") or []:
    req = Requirement(line)
    if norm(req.name) in excluded:
        continue
    if req.marker is not None and not req.marker.evaluate({"extra": ""}):
        continue
    print(str(req).split(";")[0].strip())
PY
  printf '%s\n' "$CONSTRAINTS" | grep -v '^[[:space:]]*$' >"$cons" || true
  "${pip[@]}" install --quiet -r "$reqs" -c "$cons"
  "${pip[@]}" install --quiet --no-deps "$wheel"

  local heavy
  heavy=$("$venv/bin/python" -m pip list --disable-pip-version-check 2>/dev/null | grep -i -E 'torch|nvidia' || true)
  [ -z "$heavy" ] || die "torch/CUDA got into the venv, remove what pulls it in: $heavy"
  # pip check must report nothing but the excluded packages.
  local broken
  broken=$("$venv/bin/python" -m pip check --disable-pip-version-check 2>&1 |
    grep -v -i -E "^open-webui $OWUI_VERSION requires ($(echo "$EXCLUDED" | tr ' ' '|'))[=, ]" |
    grep -v '^No broken requirements' || true)
  [ -z "$broken" ] || die "pip check found broken requirements: $broken"
  pins >"$marker"
  log "installed in $((SECONDS - start)) s"
}

free_port() {
  "$venv/bin/python" -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1]); s.close()'
}

random_hex() {
  "$venv/bin/python" -c 'import secrets, sys; print(secrets.token_hex(int(sys.argv[1])))' "$1"
}

cmd_start() {
  local dir=${1:?usage: openwebui.sh start DIR}
  [ -f "$marker" ] || die "not installed: run '$0 install' first"
  mkdir -p "$dir/data"
  dir=$(cd "$dir" && pwd)
  local pidfile=$dir/openwebui.pid logfile=$dir/openwebui.log
  if [ -f "$pidfile" ] && kill -0 "$(cat "$pidfile")" 2>/dev/null; then
    die "already running in $dir (pid $(cat "$pidfile")); stop it first"
  fi
  # The admin signup below needs an empty database.
  [ ! -e "$dir/data/webui.db" ] ||
    die "$dir/data already holds a database: start needs a fresh DIR (or remove $dir/data)"
  local start=$SECONDS seeded=0
  if [ -f "$seed_db" ]; then
    cp "$seed_db" "$dir/data/webui.db"
    seeded=1
  fi
  local port
  port=$(free_port)
  local url=http://127.0.0.1:$port
  (
    cd "$dir"
    # A clean environment: Open WebUI seeds its config from many variables
    # (OPENAI_API_KEY, DATABASE_URL, ...) that must not leak in from the caller.
    exec env -i PATH="$PATH" HOME="${HOME:-$dir}" LANG=C.UTF-8 TMPDIR="${TMPDIR:-/tmp}" \
      DATA_DIR="$dir/data" WEBUI_SECRET_KEY="$(random_hex 32)" "${OWUI_ENV[@]}" \
      "$venv/bin/open-webui" serve --host 127.0.0.1 --port "$port"
  ) </dev/null >"$logfile" 2>&1 &
  local pid=$!
  echo "$pid" >"$pidfile"

  trap 'cmd_stop "$dir"; exit 130' INT TERM
  # One python polls /health every 0.2 s until {"status":true} (exit 0),
  # the process dies (exit 2), or 180 s pass (exit 1).
  local waited=0
  "$venv/bin/python" - "$url/health" "$pid" 180 <<'PY' || waited=$?
import json, os, sys, time, urllib.request
url, pid, deadline = sys.argv[1], int(sys.argv[2]), time.monotonic() + float(sys.argv[3])
while time.monotonic() < deadline:
    try:
        os.kill(pid, 0)
    except OSError:
        sys.exit(2)
    try:
        with urllib.request.urlopen(url, timeout=2) as r:
            if json.load(r) == {"status": True}:
                sys.exit(0)
    except Exception:
        pass
    time.sleep(0.2)
sys.exit(1)
PY
  if [ "$waited" != 0 ]; then
    if [ "$waited" = 2 ]; then
      log "Open WebUI exited before it became healthy; the end of $logfile:"
    else
      log "Open WebUI did not become healthy on $url within 180 s; the end of $logfile:"
    fi
    tail -n 40 "$logfile" >&2 || true
    cmd_stop "$dir"
    exit 1
  fi

  # Keep the freshly migrated, still empty database for the next start.
  # The server has written it already; SQLite's backup API gives a
  # consistent copy even while the server holds it open.
  if [ "$seeded" = 0 ] && [ ! -f "$seed_db" ]; then
    if "$venv/bin/python" - "$dir/data/webui.db" "$seed_db.$$.tmp" <<'PY'; then
import sqlite3, sys
src = sqlite3.connect(sys.argv[1])
if src.execute("select count(*) from user").fetchone()[0] != 0:
    sys.exit(1)
dst = sqlite3.connect(sys.argv[2])
src.backup(dst)
dst.close()
src.close()
PY
      mv "$seed_db.$$.tmp" "$seed_db"
    else
      rm -f "$seed_db.$$.tmp"
    fi
  fi

  # The password is made and used inside python only: never in argv or logs.
  local token
  token=$("$venv/bin/python" - "$url/api/v1/auths/signup" <<'PY'
import json, secrets, sys, urllib.error, urllib.request
body = {"name": "tenet admin", "email": "admin@tenet.test", "password": secrets.token_urlsafe(32)}
req = urllib.request.Request(sys.argv[1], data=json.dumps(body).encode(), method="POST",
                             headers={"Content-Type": "application/json"})
try:
    with urllib.request.urlopen(req, timeout=60) as r:
        print(json.load(r)["token"])
except urllib.error.HTTPError as e:
    sys.exit(f"HTTP {e.code}: {e.read().decode(errors='replace')[:300]}")
except Exception as e:
    sys.exit(str(e))
PY
  ) || {
    log "the admin signup on $url failed; the end of $logfile:"
    tail -n 20 "$logfile" >&2 || true
    cmd_stop "$dir"
    exit 1
  }
  trap - INT TERM
  log "Open WebUI $OWUI_VERSION ready on $url (pid $pid) in $((SECONDS - start)) s$([ "$seeded" = 1 ] && echo ', pre-migrated db')"
  printf 'OPENWEBUI_URL=%s\nOPENWEBUI_TOKEN=%s\n' "$url" "$token"
}

cmd_stop() {
  local dir=${1:?usage: openwebui.sh stop DIR}
  local pidfile=$dir/openwebui.pid pid
  [ -f "$pidfile" ] || return 0
  pid=$(cat "$pidfile")
  if kill -0 "$pid" 2>/dev/null; then
    kill -TERM "$pid" 2>/dev/null || true
    for _ in $(seq 1 150); do
      kill -0 "$pid" 2>/dev/null || break
      sleep 0.1
    done
    kill -KILL "$pid" 2>/dev/null || true
  fi
  rm -f "$pidfile"
}

case ${1:-} in
  install) cmd_install ;;
  start) shift; cmd_start "$@" ;;
  stop) shift; cmd_stop "$@" ;;
  *)
    echo "usage: $0 install | start DIR | stop DIR" >&2
    exit 2
    ;;
esac
