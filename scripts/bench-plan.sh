#!/usr/bin/env bash
# Times `tenet plan` with no changes on a large organisation, next to its
# floors, on the embedded platform (sandbox) and over HTTP (`tenet serve` on
# this machine), at 1x and 2x a size. By default 1x is 10,000 workspaces,
# 100,000 users and 1,000,000 memberships (each user in 10 workspaces).
#
# For each size it prints the median of 3 runs of:
#   - the floors (benches/floor.rs): parsing the files alone, reading the
#     platform's SQLite rows alone, a raw paginated fetch over HTTP;
#   - `tenet validate` (wall, peak memory) and its ratio to parsing alone;
#   - `tenet plan` on the sandbox and its ratio to parse + rows;
#   - `tenet plan` over HTTP and its ratio to the raw fetch;
# and, from 1x to 2x, the growth of plan time and memory.
#
# A size's tree and platform are made once (generated, then created with
# `tenet apply`, which is timed) and kept under $TENET_BENCH_DIR (default
# target/bench-plan), so later runs measure plans only. Remove the folder to
# start again.
#
# Usage: scripts/bench-plan.sh [USERS] [WORKSPACES] [MEMBERSHIPS_PER_USER] [SCALES]
#   SCALES is a comma-separated list of multiples (default "1,2").
#   For a quick smoke run: scripts/bench-plan.sh 2000 200 5 1
set -euo pipefail
cd "$(dirname "$0")/.."
users=${1:-100000}
workspaces=${2:-10000}
per_user=${3:-10}
scales=${4:-1,2}
root=${TENET_BENCH_DIR:-$PWD/target/bench-plan}
mkdir -p "$root"

cargo build --release --quiet
cargo bench --bench floor --no-run --quiet 2>/dev/null
bin=$PWD/target/release/tenet
floor=$(ls -t target/release/deps/floor-* | grep -v '\.d$' | head -n 1)
runs=3
server_pid=""
trap '[ -n "$server_pid" ] && kill "$server_pid" 2>/dev/null; true' EXIT

# median of the numbers on stdin
median() { sort -g | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
# `timed OUT CMD...`: runs CMD, appends "SECONDS KB" to OUT; fails on exit > 2
timed() {
  local out=$1; shift
  local code=0
  /usr/bin/env time -f "%e %M" -o "$out.one" "$@" >"$out.stdout" 2>"$out.stderr" || code=$?
  if [ "$code" -gt 2 ] || [ "$code" = 1 ]; then
    echo "failed ($code): $*"; tail -5 "$out.stderr"; exit 1
  fi
  tail -n 1 "$out.one" >>"$out"
}
ms() { awk '{printf "%d", $1 * 1000}'; }
mib() { awk '{printf "%d", $1 / 1024}'; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (b > 0) printf "%.2f", a / b; else print "-" }'; }

declare -A plan_ms plan_mib
for scale in ${scales//,/ }; do
  u=$((users * scale)); w=$((workspaces * scale))
  dir="$root/u$u-w$w-k$per_user"
  org="$dir/org"
  db="$org/.tenet/bench.db"
  echo "== ${scale}x: $u users, $w workspaces, ~$((u * per_user)) memberships"
  if [ ! -f "$dir/applied" ]; then
    rm -rf "$dir"
    python3 scripts/gen-config.py "$org" "$u" "$w" "--members-per-user=$per_user"
    /usr/bin/env time -f "%e %M" -o "$dir/apply.time" "$bin" apply "$org" --auto-approve \
      >"$dir/apply.out" 2>"$dir/apply.err" || { tail -20 "$dir/apply.err"; exit 1; }
    read -r s kb <"$dir/apply.time"
    echo "apply (creates it all on the sandbox): $(echo "$s" | ms) ms, $(echo "$kb" | mib) MiB peak; $(tail -n 1 "$dir/apply.out")"
    touch "$dir/applied"
  fi
  echo "config: $(du -sh --exclude=.tenet "$org" | cut -f1) in $(find "$org" -name '*.toml' -o -name '*.kdl' | wc -l) files"
  t=$(mktemp -d)
  for _ in $(seq $runs); do
    "$floor" parse "$org" | sed 's/.*: \([0-9]*\) ms.*/\1/' >>"$t/parse"
    "$floor" rows "$db" | sed 's/.*: \([0-9]*\) ms.*/\1/' >>"$t/rows"
    timed "$t/validate" "$bin" validate "$org"
    timed "$t/plan" "$bin" plan "$org"
  done
  parse=$(median <"$t/parse"); rows=$(median <"$t/rows")
  v_ms=$(cut -d' ' -f1 "$t/validate" | median | ms); v_mib=$(cut -d' ' -f2 "$t/validate" | median | mib)
  p_ms=$(cut -d' ' -f1 "$t/plan" | median | ms); p_mib=$(cut -d' ' -f2 "$t/plan" | median | mib)
  plan_ms[$scale]=$p_ms; plan_mib[$scale]=$p_mib
  printf '%-34s %7s ms\n' "floor: parse the files alone" "$parse"
  printf '%-34s %7s ms\n' "floor: read the SQLite rows alone" "$rows"
  printf '%-34s %7s ms %6s MiB   %sx parse (goal: 2 s and at most 2x)\n' "validate" "$v_ms" "$v_mib" "$(ratio "$v_ms" "$parse")"
  printf '%-34s %7s ms %6s MiB   %sx parse + rows (goal: at most 1.5x)\n' "plan, sandbox" "$p_ms" "$p_mib" "$(ratio "$p_ms" $((parse + rows)))"

  # The same platform over HTTP.
  token=$("$bin" serve token create "bench-$$-$scale-$RANDOM" --scope read --db "$db" 2>/dev/null)
  "$bin" serve --db "$db" --listen 127.0.0.1:0 2>"$t/serve.err" &
  server_pid=$!
  for _ in $(seq 100); do grep -q "listening on" "$t/serve.err" && break; sleep 0.1; done
  url=$(sed -n 's/.*listening on \(http:[^ ]*\).*/\1/p' "$t/serve.err" | head -n 1)
  [ -n "$url" ] || { echo "tenet serve did not start"; cat "$t/serve.err"; exit 1; }
  for _ in $(seq $runs); do
    TENET_TOKEN=$token "$floor" fetch "$url" | sed 's/.*: \([0-9]*\) ms.*/\1/' >>"$t/fetch"
    TENET_TOKEN=$token timed "$t/http" "$bin" plan "$org" --endpoint "$url"
  done
  kill "$server_pid"; wait "$server_pid" 2>/dev/null || true; server_pid=""
  fetch=$(median <"$t/fetch")
  h_ms=$(cut -d' ' -f1 "$t/http" | median | ms); h_mib=$(cut -d' ' -f2 "$t/http" | median | mib)
  printf '%-34s %7s ms\n' "floor: raw paginated fetch, HTTP" "$fetch"
  printf '%-34s %7s ms %6s MiB   %sx fetch (goal: at most 1.2x)\n' "plan, HTTP" "$h_ms" "$h_mib" "$(ratio "$h_ms" "$fetch")"
  rm -rf "$t"
done

first=${scales%%,*}
for scale in ${scales//,/ }; do
  [ "$scale" = "$first" ] && continue
  printf 'growth %sx -> %sx: plan time %sx, memory %sx (goal: at most %s)\n' "$first" "$scale" \
    "$(ratio "${plan_ms[$scale]}" "${plan_ms[$first]}")" "$(ratio "${plan_mib[$scale]}" "${plan_mib[$first]}")" \
    "$(awk -v s="$scale" -v f="$first" 'BEGIN { printf "%.2fx", 1.05 * s / f }')"
done
