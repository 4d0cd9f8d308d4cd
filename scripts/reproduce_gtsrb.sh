#!/usr/bin/env bash
# The GTSRB part of the paper's evaluation (issue 6): Table 3 (two patterns x two positions x sizes 6-14,
# target 20, benign models) and the translucent trigger, NeuronInspect and Neural Cleanse side by side.
# Resumable. Shard it across machines with: neuroninspect zoo --plan plans/table3-gtsrb.json --out DIR --shard K/N
#   scripts/reproduce_gtsrb.sh [OUT_DIR]        (default: zoo)
# CLEANSE_MODELS='square14-*,blend10-*' limits phase 2 to the models matching those globs; SEED2_MODELS does the
# same for phase 3 (the second seed).
set -euo pipefail
cd "$(dirname "$0")/.."
out=${1:-zoo}
swift build -c release >/dev/null
bin=.build/release/neuroninspect
# Phase 1: train all 26 models and run NeuronInspect (both presets); phase 2: Neural Cleanse, the slow one
# (about 17 minutes per model on 2 cores with the plan's 8 mini-batches per step; docs/RESULTS.md).
$bin zoo --plan plans/table3-gtsrb.json --out "$out/table3-gtsrb" --detectors neuroninspect:default,neuroninspect:paper
$bin zoo --plan plans/table3-gtsrb.json --out "$out/table3-gtsrb" ${CLEANSE_MODELS:+--models "$CLEANSE_MODELS"}
# Phase 3: a second seed of the grid (fresh models, NeuronInspect only); SEED2_MODELS='glob,...' limits it.
$bin zoo --plan plans/table3-gtsrb-seed2.json --out "$out/table3-gtsrb-seed2" ${SEED2_MODELS:+--models "$SEED2_MODELS"}
echo "$(basename "$0"): $((SECONDS / 60)) min $((SECONDS % 60)) s"
