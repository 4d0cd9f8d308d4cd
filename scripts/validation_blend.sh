#!/usr/bin/env bash
# Session 9's validation zoos (issue 6): models trained fresh (seed offset 9000) after the full-image translucent
# probe was committed (9e75460). MNIST: 1x1 and 3x3 squares at two corners, three 10% blends, 4 benign. GTSRB:
# three 10% blends (three patterns, one to label 7), a 14x14 square and a 12x12 checkerboard at the top left,
# 6x6 squares at all corners, 3 benign. Resumable. Then: python3 scripts/results_tables.py OUT_DIR --no-figures
#   scripts/validation_blend.sh OUT_DIR PREVIOUS_BINARY [cleanse]
# PREVIOUS_BINARY: neuroninspect built from a1984ff, the session 8 rules (git worktree add /tmp/s8 a1984ff &&
# (cd /tmp/s8 && swift build -c release) -> /tmp/s8/.build/release/neuroninspect); it scans the same models into
# OUT_DIR/<plan>-s8. With `cleanse`, Neural Cleanse (8 mini-batches a step) runs last on the GTSRB blends.
# Session 9 ran this with `cleanse` (the 14x14 and all-corners models were dropped from the Neural Cleanse run
# for time) on 2026-12-07: about 55 min of training and scans, then 12 min of rescans.
set -euo pipefail
cd "$(dirname "$0")/.."
[ $# -ge 2 ] || { echo "usage: $0 OUT_DIR PREVIOUS_BINARY [cleanse]" >&2; exit 2; }
scripts/validate_rules.sh "$1" "$2" s8 validation-blend-mnist validation-blend-gtsrb
if [ "${3:-}" = cleanse ]; then
  .build/release/neuroninspect zoo --plan plans/validation-blend-gtsrb.json --out "$1/validation-blend-gtsrb" \
    --detectors neural-cleanse --models 'blend10-t20-s1,blend10-p2-*,blend10-p3-*'
fi
