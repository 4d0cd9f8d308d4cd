#!/usr/bin/env bash
# The GTSRB part of the paper's evaluation (issue 6): Table 3 (two patterns x two positions x sizes 6-14,
# target 20, benign models) and the translucent trigger, NeuronInspect and Neural Cleanse side by side.
# Resumable. Shard it across machines with: neuroninspect zoo --plan plans/table3-gtsrb.json --out DIR --shard K/N
#   scripts/reproduce_gtsrb.sh [OUT_DIR]        (default: zoo)
# CLEANSE_MODELS='square14-*,blend10-*' limits phase 2 (Neural Cleanse) to the models matching those globs.
# Phase 3 trains and scans the third seed of the whole grid (the validation zoo of session 5); SEED2_MODELS='glob,...'
# also runs that subset of the second seed (session 4's validation zoo).
set -euo pipefail
cd "$(dirname "$0")/.."
out=${1:-zoo}
swift build -c release >/dev/null
bin=.build/release/neuroninspect
# Phase 1: train all 26 models and run NeuronInspect (both presets); phase 2: Neural Cleanse, the slow one
# (about 17 minutes per model on 2 cores with the plan's 8 mini-batches per step; docs/RESULTS.md).
$bin zoo --plan plans/table3-gtsrb.json --out "$out/table3-gtsrb" --detectors neuroninspect:default,neuroninspect:paper
$bin zoo --plan plans/table3-gtsrb.json --out "$out/table3-gtsrb" ${CLEANSE_MODELS:+--models "$CLEANSE_MODELS"}
# Phase 3: a third seed of the whole grid (fresh models, NeuronInspect only).
$bin zoo --plan plans/table3-gtsrb-seed3.json --out "$out/table3-gtsrb-seed3"
if [ -n "${SEED2_MODELS:-}" ]; then
  $bin zoo --plan plans/table3-gtsrb-seed2.json --out "$out/table3-gtsrb-seed2" --models "$SEED2_MODELS"
fi
echo "$(basename "$0"): $((SECONDS / 60)) min $((SECONDS % 60)) s"
