#!/usr/bin/env bash
# The MNIST part of the paper's evaluation (issue 6): Table 2 / Figure 3 (square triggers 1-4, benign seeds),
# Figure 4 and the translucent trigger (with Neural Cleanse), Table 5's ablation, the number of clean images
# (5-200) and Table 1's own training recipe. Resumable: rerun after an interruption. Then the tables and
# figures of docs/RESULTS.md: python3 scripts/results_tables.py OUT_DIR
#   scripts/reproduce_mnist.sh [OUT_DIR]        (default: zoo)
# Each plan writes OUT_DIR/<plan>/results.csv, results.json and index.html; the summaries print at the end.
set -euo pipefail
cd "$(dirname "$0")/.."
out=${1:-zoo}
swift build -c release >/dev/null
bin=.build/release/neuroninspect
for plan in table2-mnist figure4-mnist-multi table5-ablation-mnist image-count-mnist table1-recipe-mnist; do
  $bin zoo --plan "plans/$plan.json" --out "$out/$plan"
done
echo "$(basename "$0"): $((SECONDS / 60)) min $((SECONDS % 60)) s"
