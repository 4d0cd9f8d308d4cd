#!/usr/bin/env bash
# Regenerates the demo bundled with `neuroninspect demo` (Sources/neuroninspect/Resources/Demo):
# a small trojaned MNIST model (white 4x4 square bottom right -> label 5, 5% of the training set poisoned)
# and 40 clean MNIST test images. Needs the MNIST files (NEURONINSPECT_DATA, default ../shared/data).
set -euo pipefail
cd "$(dirname "$0")/.."
swift build -c release
bin=.build/release/neuroninspect
tmp=$(mktemp -d)
$bin train --dataset mnist --arch "input(1,28,28) conv(16,5,pad=2) relu maxpool(2) conv(32,5,pad=2) relu maxpool(2) flatten dense(64) relu dense(10)" \
    --epochs 2 --seed 3 --trigger "square:4@bottom-right" --target 5 --inject-ratio 0.05 --out "$tmp/trojaned-mnist.onnx"
$bin export-images --dataset mnist --count 50 --out "$tmp/images"
demo=Sources/neuroninspect/Resources/Demo
rm -rf "$demo" && mkdir -p "$demo/images"
cp "$tmp/trojaned-mnist.onnx" "$tmp/trojaned-mnist.attack.json" "$demo/"
ls "$tmp/images" | head -40 | while read -r f; do cp "$tmp/images/$f" "$demo/images/"; done
rm -rf "$tmp"
echo "demo written to $demo"
