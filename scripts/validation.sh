#!/usr/bin/env bash
# Session 7's validation zoos (issue 6): models trained fresh (seed offset 7000) after the detector's rules were
# committed: MNIST Table 2 cells, Figure 4 cells + the 10% blend (with Neural Cleanse), and ten GTSRB cells.
# Resumable: rerun after an interruption. Then: python3 scripts/results_tables.py OUT_DIR
#   scripts/validation.sh [OUT_DIR] [PREVIOUS_BINARY]      (default OUT_DIR: zoo)
# With PREVIOUS_BINARY (neuroninspect built from an earlier commit; c1c7a06 has the session 5/6 rules:
#   git worktree add /tmp/s6 c1c7a06 && (cd /tmp/s6 && swift build -c release)  ->  /tmp/s6/.build/release/neuroninspect)
# the same models are also scanned by it, into OUT_DIR/<plan>-s6 (models and clean images linked, not copied).
set -euo pipefail
cd "$(dirname "$0")/.."
out=${1:-zoo}
prev=${2:-}
swift build -c release >/dev/null
bin=.build/release/neuroninspect
for plan in validation-table2-mnist validation-figure4-mnist validation-gtsrb validation-gtsrb-b; do
  $bin zoo --plan "plans/$plan.json" --out "$out/$plan"
done
if [ -n "$prev" ]; then
  for plan in validation-table2-mnist validation-figure4-mnist validation-gtsrb validation-gtsrb-b; do
    mkdir -p "$out/$plan-s6"
    ln -sfn "../$plan/models" "$out/$plan-s6/models"; ln -sfn "../$plan/clean" "$out/$plan-s6/clean"
    "$prev" zoo --plan "plans/$plan.json" --out "$out/$plan-s6" --detectors neuroninspect:default
  done
fi
echo "$(basename "$0"): $((SECONDS / 60)) min $((SECONDS % 60)) s"
