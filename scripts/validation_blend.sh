#!/usr/bin/env bash
# Session 9's validation zoos (issue 6): models trained fresh (seed offset 9000) after the full-image translucent
# probe was committed (9e75460). MNIST: 1x1 and 3x3 squares at two corners, three 10% blends, 4 benign. GTSRB:
# three 10% blends (three patterns, one to label 7), a 14x14 square and a 12x12 checkerboard at the top left,
# 6x6 squares at all corners, 3 benign. Resumable. Then: python3 scripts/results_tables.py OUT_DIR --no-figures
#   scripts/validation_blend.sh [OUT_DIR] [PREVIOUS_BINARY] [cleanse]      (default OUT_DIR: zoo)
# With PREVIOUS_BINARY (neuroninspect built from a1984ff, the session 8 rules:
#   git worktree add /tmp/s8 a1984ff && (cd /tmp/s8 && swift build -c release)  ->  /tmp/s8/.build/release/neuroninspect)
# the same models are also scanned by it, into OUT_DIR/<plan>-s8 (models and clean images linked).
# With a third argument `cleanse`, Neural Cleanse (8 mini-batches a step) runs last on the GTSRB blends, the
# 14x14 square and the all-corners model.
set -euo pipefail
cd "$(dirname "$0")/.."
out=${1:-zoo}
prev=${2:-}
swift build -c release >/dev/null
bin=.build/release/neuroninspect
for plan in validation-blend-mnist validation-blend-gtsrb; do
  $bin zoo --plan "plans/$plan.json" --out "$out/$plan" --detectors neuroninspect:default,neuroninspect:paper
done
if [ -n "$prev" ]; then
  for plan in validation-blend-mnist validation-blend-gtsrb; do
    mkdir -p "$out/$plan-s8"
    ln -sfn "../$plan/models" "$out/$plan-s8/models"; ln -sfn "../$plan/clean" "$out/$plan-s8/clean"
    "$prev" zoo --plan "plans/$plan.json" --out "$out/$plan-s8" --detectors neuroninspect:default
  done
fi
if [ "${3:-}" = cleanse ]; then
  $bin zoo --plan plans/validation-blend-gtsrb.json --out "$out/validation-blend-gtsrb" --detectors neural-cleanse \
    --models 'blend10*,square14-*,square6-all-corners-*'
fi
echo "$(basename "$0"): $((SECONDS / 60)) min $((SECONDS % 60)) s"
