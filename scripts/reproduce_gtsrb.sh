#!/usr/bin/env bash
# The GTSRB part of the paper's evaluation (issue 6): Table 3 (two patterns x two positions x sizes 6-14,
# target 20, benign models) and the translucent trigger, NeuronInspect and Neural Cleanse side by side.
# Resumable. Shard it across machines with: neuroninspect zoo --plan plans/table3-gtsrb.json --out DIR --shard K/N
#   scripts/reproduce_gtsrb.sh [OUT_DIR]        (default: zoo)
set -euo pipefail
cd "$(dirname "$0")/.."
out=${1:-zoo}
swift build -c release >/dev/null
.build/release/neuroninspect zoo --plan plans/table3-gtsrb.json --out "$out/table3-gtsrb"
