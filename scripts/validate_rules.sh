#!/usr/bin/env bash
# Validates the detector's current rules on zoos trained after they were committed (issue 6), beside an earlier
# build's rules on the same models. Resumable. Then: python3 scripts/results_tables.py OUT_DIR --no-figures
#   scripts/validate_rules.sh OUT_DIR PREVIOUS_BINARY SUFFIX PLAN [PLAN ...]
# Each plan (plans/PLAN.json) is trained and scanned by this build's neuroninspect:default and :paper into
# OUT_DIR/PLAN; PREVIOUS_BINARY (e.g. built from an earlier commit: git worktree add /tmp/old REV && (cd /tmp/old &&
# swift build -c release)) scans the same models (models and clean images linked) into OUT_DIR/PLAN-SUFFIX.
# Session 10: scripts/validate_rules.sh zoo /tmp/s9/.build/release/neuroninspect s9 validation-s10-gtsrb
set -euo pipefail
cd "$(dirname "$0")/.."
[ $# -ge 4 ] || { echo "usage: $0 OUT_DIR PREVIOUS_BINARY SUFFIX PLAN [PLAN ...]" >&2; exit 2; }
out=$1 prev=$2 suffix=$3; shift 3
swift build -c release >/dev/null
bin=.build/release/neuroninspect
for plan in "$@"; do
  $bin zoo --plan "plans/$plan.json" --out "$out/$plan" --detectors neuroninspect:default,neuroninspect:paper
done
for plan in "$@"; do
  mkdir -p "$out/$plan-$suffix"
  ln -sfn "../$plan/models" "$out/$plan-$suffix/models"; ln -sfn "../$plan/clean" "$out/$plan-$suffix/clean"
  "$prev" zoo --plan "plans/$plan.json" --out "$out/$plan-$suffix" --detectors neuroninspect:default
done
echo "$(basename "$0"): $((SECONDS / 60)) min $((SECONDS % 60)) s"
