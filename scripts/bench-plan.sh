#!/usr/bin/env bash
# Times `tenet plan` with no changes on a large organisation on the embedded
# platform: by default 10,000 workspaces, 100,000 users and 1,000,000
# memberships (each user in 10 workspaces). The tree is created first with
# `tenet apply` (also timed). Reports wall time, peak memory, and the split
# between reading live state and diffing/planning (from `tenet -v`).
# Usage: scripts/bench-plan.sh [USERS] [WORKSPACES] [MEMBERSHIPS_PER_USER]
set -euo pipefail
cd "$(dirname "$0")/.."
users=${1:-100000}
workspaces=${2:-10000}
per_user=${3:-10}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

cargo build --release --quiet
bin=$PWD/target/release/tenet
python3 scripts/gen-config.py "$work/org" "$users" "$workspaces" "--members-per-user=$per_user"
echo "== $users users, $workspaces workspaces, ~$((users * per_user)) memberships ($(du -sh "$work/org" | cut -f1) of config)"

echo "== apply (creates everything on the sandbox)"
/usr/bin/env time -f "apply: %es wall, %MKB peak RSS" "$bin" apply "$work/org" --auto-approve >"$work/apply.out" 2>"$work/apply.err" || {
  tail -20 "$work/apply.err"; exit 1; }
tail -n 1 "$work/apply.out"
grep "apply:" "$work/apply.err"

echo "== plan with no changes (3 runs)"
for run in 1 2 3; do
  set +e
  /usr/bin/env time -f "plan run $run: %es wall, %MKB peak RSS" "$bin" -v plan "$work/org" >"$work/plan.out" 2>"$work/plan.err"
  code=$?
  set -e
  if [ "$code" != 0 ]; then echo "plan exited $code (expected 0: no changes)"; tail -5 "$work/plan.out"; exit 1; fi
  grep "plan run" "$work/plan.err"
  sed -n 's/.*planned objects=\([0-9]*\) changes=\([0-9]*\) read_ms=\([0-9]*\) diff_and_plan_ms=\([0-9]*\).*/  objects \1, changes \2: reading live \3 ms, diff+plan \4 ms/p' "$work/plan.err"
done
