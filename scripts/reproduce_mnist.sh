#!/usr/bin/env bash
# The MNIST part of the paper's evaluation (issue 6): Table 2 / Figure 3 (square triggers 1-4, benign seeds),
# Figure 4 and the translucent trigger, Table 5's ablation. Resumable: rerun after an interruption.
#   scripts/reproduce_mnist.sh [OUT_DIR]        (default: zoo)
# Each plan writes OUT_DIR/<plan>/results.csv, results.json and index.html; the summaries print at the end.
set -euo pipefail
cd "$(dirname "$0")/.."
out=${1:-zoo}
swift build -c release >/dev/null
bin=.build/release/neuroninspect
for plan in table2-mnist figure4-mnist-multi table5-ablation-mnist; do
  $bin zoo --plan "plans/$plan.json" --out "$out/$plan"
done
