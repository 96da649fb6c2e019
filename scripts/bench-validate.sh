#!/usr/bin/env bash
# Times `tenet validate` on a generated tree: by default 100,000 users and
# 10,000 workspaces (about 110,000 memberships), in TOML and in KDL.
# Usage: scripts/bench-validate.sh [USERS] [WORKSPACES]
set -euo pipefail
cd "$(dirname "$0")/.."
users=${1:-100000}
workspaces=${2:-10000}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

cargo build --release --quiet
for syntax in toml kdl; do
  flag=""
  [ "$syntax" = kdl ] && flag="--kdl"
  python3 scripts/gen-config.py "$work/$syntax" "$users" "$workspaces" $flag
  echo "== $syntax: $users users, $workspaces workspaces ($(du -sh "$work/$syntax" | cut -f1))"
  if command -v hyperfine >/dev/null 2>&1; then
    hyperfine --warmup 1 --runs 3 "./target/release/tenet validate $work/$syntax"
  else
    for run in 1 2 3; do
      /usr/bin/env time -f "run $run: %es wall, %MKB max RSS" ./target/release/tenet validate "$work/$syntax" >/dev/null
    done
  fi
done
