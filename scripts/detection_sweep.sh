#!/usr/bin/env bash
# Detection sweep on MNIST (issue 3's benchmark): trains benign and trojaned models of the paper's MNIST net
# (skipping models already trained, so a killed run resumes), scans each with the given presets, and prints
# one line per model and preset plus the detection / false-positive summary.
#   scripts/detection_sweep.sh [OUT_DIR] [PRESETS...]      defaults: .build-sweep  default paper smoothgrad
# Environment: EPOCHS (default 2), INJECT (default 0.05), IMAGES (clean images per scan, default 50),
# SEED_SALT (added to every model's seed: a held-out zoo with SEED_SALT=1000 and another OUT_DIR).
set -euo pipefail
cd "$(dirname "$0")/.."
out=${1:-.build-sweep}; shift || true
presets=("$@"); [ ${#presets[@]} -gt 0 ] || presets=(default paper smoothgrad)
epochs=${EPOCHS:-2}; inject=${INJECT:-0.05}; images=${IMAGES:-50}
swift build -c release >/dev/null
bin=.build/release/neuroninspect
mkdir -p "$out"
[ -d "$out/clean" ] || $bin export-images --dataset mnist --count "$images" --out "$out/clean" >/dev/null
# name|trigger|target   (empty trigger: benign)
models=()
for s in 1 2 3 4 5 6; do
  models+=("sq${s}-br|square:${s}@bottom-right|5" "sq${s}-tl|square:${s}@top-left|5")
done
models+=("checker5|checkerboard:5@bottom-right|5" "random4|random:4:seed=7@bottom-right|5"
         "corners3|square:3@all-corners|5" "blend10|blend:random:seed=1:alpha=0.1|5")
for s in 1 2 3 4 5; do models+=("benign${s}||"); done
for m in "${models[@]}"; do
  IFS='|' read -r name trig target <<<"$m"
  [ -f "$out/$name.onnx" ] && continue
  seed=$(( $(printf '%s' "$name" | cksum | cut -d' ' -f1) % 1000 + ${SEED_SALT:-0} ))
  args=(train --dataset mnist --arch mnist --epochs "$epochs" --seed "$seed" --out "$out/$name.onnx")
  [ -n "$trig" ] && args+=(--trigger "$trig" --target "$target" --inject-ratio "$inject")
  $bin "${args[@]}" 2>/dev/null | tail -2 | tr '\n' ' '; echo
done
printf '%-10s %-11s %-9s %-8s %s\n' model preset truth flagged anomaly
for p in "${presets[@]}"; do
  tp=0; tn=0; nt=0; nb=0
  for m in "${models[@]}"; do
    IFS='|' read -r name trig target <<<"$m"
    $bin scan --model "$out/$name.onnx" --images "$out/clean" --count "$images" --preset "$p" --json "$out/$name.$p.json" >/dev/null
    flagged=$(python3 -c "import json,sys; d=json.load(open('$out/$name.$p.json')); print(','.join(map(str,d['flagged'])) or '-', '%.2f' % d['anomalyIndex'])")
    printf '%-10s %-11s %-9s %s\n' "$name" "$p" "${target:--}" "$flagged"
    f=${flagged% *}
    if [ -n "$trig" ]; then nt=$((nt+1)); [ "$f" = "$target" ] && tp=$((tp+1)); else nb=$((nb+1)); [ "$f" = "-" ] && tn=$((tn+1)); fi
  done
  echo "== $p: target flagged alone on $tp/$nt trojaned models; nothing flagged on $tn/$nb benign models"
done
