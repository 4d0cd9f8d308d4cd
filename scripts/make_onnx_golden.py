#!/usr/bin/env python3
"""Golden ONNX fixture for Tests/NIONNXTests: a small model trained and exported by `neuroninspect train`,
run by onnxruntime on a fixed input; our loader must reproduce onnxruntime's logits.

Usage (from the package root, after `swift build -c release`):
    python3 scripts/make_onnx_golden.py
Writes Tests/NIONNXTests/Fixtures/golden_small.onnx and golden_small.json.
"""
import json, os, subprocess, sys
import numpy as np
import onnx, onnxruntime as ort

root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
fix = os.path.join(root, "Tests", "NIONNXTests", "Fixtures")
model = os.path.join(fix, "golden_small.onnx")
spec = ("input(1,28,28) conv(4,5,pad=2) relu maxpool(2) bn conv(6,3,stride=2,pad=1) leakyrelu(0.1) "
        "avgpool(2) flatten dense(16) relu dropout(0.3) dense(10)")
exe = os.path.join(root, ".build", "release", "neuroninspect")
subprocess.run([exe, "train", "--dataset", "mnist", "--arch", spec, "--epochs", "1", "--limit", "512",
                "--test-limit", "64", "--seed", "5", "--out", model, "--checkpoint", "/tmp/golden_small.ckpt"],
               check=True)
os.remove(os.path.join(fix, "golden_small.json")) if os.path.exists(os.path.join(fix, "golden_small.json")) else None
onnx.checker.check_model(onnx.load(model))
rng = np.random.default_rng(0)
x = rng.random((2, 1, 28, 28), dtype=np.float32)
sess = ort.InferenceSession(model, providers=["CPUExecutionProvider"])
(y,) = sess.run(None, {"input": x})
with open(os.path.join(fix, "golden_small.json"), "w") as f:
    json.dump({"input": x.ravel().tolist(), "inputShape": list(x.shape), "logits": y.ravel().tolist(),
               "onnxruntime": ort.__version__, "onnx": onnx.__version__,
               "script": "scripts/make_onnx_golden.py"}, f)
print("logits", y)
