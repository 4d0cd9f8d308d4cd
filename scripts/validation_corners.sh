#!/usr/bin/env bash
# Session 8's validation zoo (issue 6): six GTSRB models trained fresh (seed offset 8000) after the corner probe
# was committed (99f2aed): 6x6 squares at all four corners (2 seeds), a 6x6 square and a 6x6 checkerboard in one
# corner, 2 benign. Resumable. Then: python3 scripts/results_tables.py OUT_DIR --no-figures
#   scripts/validation_corners.sh [OUT_DIR] [PREVIOUS_BINARY]      (default OUT_DIR: zoo)
# With PREVIOUS_BINARY (neuroninspect built from 37eab10, the session 7 rules:
#   git worktree add /tmp/s7 37eab10 && (cd /tmp/s7 && swift build -c release)  ->  /tmp/s7/.build/release/neuroninspect)
# the same models are also scanned by it, into OUT_DIR/validation-corners-gtsrb-s7 (models and clean images linked).
# About 40 min on two cores of an AMD EPYC (Zen 3) on 2026-12-02: 6 models at 4-5 min training + 1.1 min scans.
set -euo pipefail
cd "$(dirname "$0")/.."
out=${1:-zoo}
prev=${2:-}
plan=validation-corners-gtsrb
swift build -c release >/dev/null
bin=.build/release/neuroninspect
$bin zoo --plan "plans/$plan.json" --out "$out/$plan" \
  --models 'square6-all-corners-*,benign-*,square6-bottom-right-t20-s1,checkerboard6-top-left-t20-s1'
if [ -n "$prev" ]; then
  mkdir -p "$out/$plan-s7"
  ln -sfn "../$plan/models" "$out/$plan-s7/models"; ln -sfn "../$plan/clean" "$out/$plan-s7/clean"
  "$prev" zoo --plan "plans/$plan.json" --out "$out/$plan-s7" --detectors neuroninspect:default \
    --models 'square6-all-corners-*,benign-*,square6-bottom-right-t20-s1,checkerboard6-top-left-t20-s1'
fi
echo "$(basename "$0"): $((SECONDS / 60)) min $((SECONDS % 60)) s"
