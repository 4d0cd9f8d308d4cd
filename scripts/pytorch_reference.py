#!/usr/bin/env python3
"""PyTorch CPU reference numbers for NeuronInspect's `bench` command.

Prints exactly ONE JSON object on stdout (everything else goes to stderr), so the Swift side can run
this as a subprocess and decode its output. On failure it prints {"error": "..."} and exits 1.

Subcommands (see scripts/README.md for the JSON each one prints):
  versions                       library versions, thread count, CPU model
  gemm     --shapes MxNxK,...    C[M,N] = A[M,K] @ B[K,N] (float32, contiguous, preallocated output)
  train    --arch A --batch B --optimizer adam|rmsprop|sgd --lr L
                                 full training steps: forward, cross-entropy, backward, optimizer step
  saliency --arch A --batch B [--class-index C]
                                 forward + backward of logits[:, C].sum() to the input
  forward  --arch A --batch B    inference forward under torch.no_grad()
  cleanse  --arch A --batch B    one Neural Cleanse step: stamp mask + pattern (tanh space), forward,
                                 cross-entropy (sum) towards label 0 + B * 1e-3 * |mask|_1, backward,
                                 Adam (lr 0.1, betas 0.5/0.9, eps 1e-7) on mask and pattern
  all      [--shapes ...] [--batch B]
                                 versions + gemm + train (mnist adam 1e-3, gtsrb rmsprop 1e-3)
                                 + saliency (both archs) + forward (both archs), merged

Global options (accepted before or after the subcommand):
  --threads T      torch.set_num_threads(T) (default 2)
  --seconds S      time budget per measurement (default 1.0): warm up, then repeat until the budget
                   is spent (at least 3 timed repetitions), report the median
  --peak-memory    add the process's peak RSS so far (ru_maxrss, MiB) to each result
  --seed N         RNG seed for weights and inputs (default 0)

Only torch and numpy are needed (onnxruntime / onnx versions are reported when installed).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import statistics
import sys
import time
import traceback

DEFAULT_SHAPES = "16x784x25,32x196x400,64x512x1568,1024x1024x1024"
ARCHS = ("mnist", "gtsrb")
OPTIMIZERS = ("adam", "rmsprop", "sgd")


def log(*args: object) -> None:
    print(*args, file=sys.stderr, flush=True)


# ---------------------------------------------------------------------------------------------
# Timing and memory helpers
# ---------------------------------------------------------------------------------------------

def measure(fn, seconds: float, min_reps: int = 3, min_warmup: int = 2) -> tuple[float, int]:
    """Warm up, then call fn() repeatedly until `seconds` are spent; return (median seconds, reps).

    Warm-up: at least `min_warmup` calls, continued until 20% of the budget (at most 1 s) is spent.
    Measurement: at least `min_reps` calls, continued until the budget is spent.
    """
    warm_budget = min(0.2 * seconds, 1.0)
    start = time.perf_counter()
    n = 0
    while n < min_warmup or time.perf_counter() - start < warm_budget:
        fn()
        n += 1
    times: list[float] = []
    start = time.perf_counter()
    while len(times) < min_reps or time.perf_counter() - start < seconds:
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times), len(times)


def peak_rss_mib() -> float:
    # Linux reports ru_maxrss in KiB (macOS in bytes).
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    if sys.platform == "darwin":
        return round(rss / (1024.0 * 1024.0), 1)
    return round(rss / 1024.0, 1)


def with_memory(result: dict, args) -> dict:
    if args.peak_memory:
        result["peak_rss_mib"] = peak_rss_mib()
    return result


# ---------------------------------------------------------------------------------------------
# Models
# ---------------------------------------------------------------------------------------------

def build_model(arch: str):
    import torch.nn as nn

    if arch == "mnist":
        return nn.Sequential(
            nn.Conv2d(1, 16, 5, padding=2), nn.ReLU(), nn.MaxPool2d(2),
            nn.Conv2d(16, 32, 5, padding=2), nn.ReLU(), nn.MaxPool2d(2),
            nn.Flatten(),
            nn.Linear(1568, 512), nn.ReLU(),
            nn.Linear(512, 10),
        )
    if arch == "gtsrb":
        return nn.Sequential(
            nn.Conv2d(3, 32, 3, padding=1), nn.ReLU(),
            nn.Conv2d(32, 32, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
            nn.Conv2d(32, 64, 3, padding=1), nn.ReLU(),
            nn.Conv2d(64, 64, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
            nn.Conv2d(64, 128, 3, padding=1), nn.ReLU(),
            nn.Conv2d(128, 128, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
            nn.Flatten(),
            nn.Linear(2048, 512), nn.ReLU(),
            nn.Linear(512, 43),
        )
    raise ValueError(f"unknown arch {arch!r} (expected one of {ARCHS})")


def input_shape(arch: str, batch: int) -> tuple[int, int, int, int]:
    return (batch, 1, 28, 28) if arch == "mnist" else (batch, 3, 32, 32)


def num_classes(arch: str) -> int:
    return 10 if arch == "mnist" else 43


def make_optimizer(name: str, params, lr: float):
    import torch

    if name == "adam":
        return torch.optim.Adam(params, lr=lr)
    if name == "rmsprop":
        return torch.optim.RMSprop(params, lr=lr)
    if name == "sgd":
        return torch.optim.SGD(params, lr=lr)
    raise ValueError(f"unknown optimizer {name!r} (expected one of {OPTIMIZERS})")


# ---------------------------------------------------------------------------------------------
# Subcommands
# ---------------------------------------------------------------------------------------------

def cpu_model_name() -> str:
    try:
        with open("/proc/cpuinfo", encoding="utf-8", errors="replace") as f:
            for line in f:
                if line.lower().startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def run_versions(args) -> dict:
    import numpy
    import torch

    try:
        import onnxruntime

        ort_version = onnxruntime.__version__
    except Exception:  # noqa: BLE001 - any import failure means "not available"
        ort_version = None
    try:
        import onnx

        onnx_version = onnx.__version__
    except Exception:  # noqa: BLE001
        onnx_version = None
    try:
        capability = torch.backends.cpu.get_cpu_capability()
    except Exception:  # noqa: BLE001
        capability = None
    return with_memory({
        "torch": torch.__version__,
        "numpy": numpy.__version__,
        "onnxruntime": ort_version,
        "onnx": onnx_version,
        "python": platform.python_version(),
        "threads": torch.get_num_threads(),
        "cpu": cpu_model_name(),
        "cpu_capability": capability,
        "mkl": bool(torch.backends.mkl.is_available()),
        "mkldnn": bool(torch.backends.mkldnn.is_available()),
        # 1/5/15-minute load averages at start: above ~0.5 other work competes for the 2 cores and
        # multi-threaded numbers (tiny GEMMs especially) can be far too low.
        "loadavg": [round(v, 2) for v in os.getloadavg()] if hasattr(os, "getloadavg") else None,
    }, args)


def parse_shapes(text: str) -> list[tuple[int, int, int]]:
    shapes = []
    for item in text.split(","):
        item = item.strip()
        if not item:
            continue
        parts = item.lower().split("x")
        if len(parts) != 3:
            raise ValueError(f"bad shape {item!r}: expected MxNxK, e.g. 1024x1024x1024")
        m, n, k = (int(p) for p in parts)
        if min(m, n, k) <= 0:
            raise ValueError(f"bad shape {item!r}: dimensions must be positive")
        shapes.append((m, n, k))
    if not shapes:
        raise ValueError("no shapes given")
    return shapes


def run_gemm(args) -> list[dict]:
    import torch

    results = []
    for m, n, k in parse_shapes(args.shapes):
        a = torch.randn(m, k, dtype=torch.float32)
        b = torch.randn(k, n, dtype=torch.float32)
        c = torch.empty(m, n, dtype=torch.float32)
        secs, reps = measure(lambda: torch.matmul(a, b, out=c), args.seconds)
        gflops = 2.0 * m * n * k / secs / 1e9
        log(f"gemm {m}x{n}x{k}: {secs * 1e3:.4f} ms, {gflops:.2f} GFLOP/s ({reps} reps)")
        results.append(with_memory({
            "m": m, "n": n, "k": k,
            "seconds": secs, "gflops": round(gflops, 3), "reps": reps,
        }, args))
        del a, b, c
    return results


def run_train(args, arch: str, batch: int, optimizer: str, lr: float) -> dict:
    import torch
    import torch.nn.functional as F

    model = build_model(arch)
    model.train()
    opt = make_optimizer(optimizer, model.parameters(), lr)
    x = torch.randn(*input_shape(arch, batch))
    y = torch.randint(0, num_classes(arch), (batch,))

    def step():
        opt.zero_grad(set_to_none=True)
        loss = F.cross_entropy(model(x), y)
        loss.backward()
        opt.step()
        return loss

    secs, reps = measure(step, args.seconds)
    log(f"train {arch} b{batch} {optimizer} lr={lr}: {secs * 1e3:.3f} ms/step, "
        f"{batch / secs:.1f} img/s ({reps} reps)")
    return with_memory({
        "arch": arch, "batch": batch, "optimizer": optimizer, "lr": lr,
        "img_per_s": round(batch / secs, 2), "ms_per_step": round(secs * 1e3, 4), "reps": reps,
    }, args)


def run_saliency(args, arch: str, batch: int, class_index: int) -> dict:
    import torch

    if not 0 <= class_index < num_classes(arch):
        raise ValueError(f"--class-index {class_index} out of range for {arch}")
    model = build_model(arch)
    model.eval()  # no dropout/batchnorm, so identical to train mode; stated for clarity
    for p in model.parameters():
        p.requires_grad_(False)
    x = torch.randn(*input_shape(arch, batch)).requires_grad_(True)

    def step():
        x.grad = None
        out = model(x)
        out[:, class_index].sum().backward()
        return x.grad

    secs, reps = measure(step, args.seconds)
    log(f"saliency {arch} b{batch}: {secs * 1e3:.3f} ms, {batch / secs:.1f} img/s ({reps} reps)")
    return with_memory({
        "arch": arch, "batch": batch, "class_index": class_index,
        "ms": round(secs * 1e3, 4), "img_per_s": round(batch / secs, 2), "reps": reps,
    }, args)


def run_heatmaps(args, arch: str, images: int) -> dict:
    """Input gradients of every class for `images` images: one forward, then one backward per class
    (retain_graph), the way a detector computes all-class heatmaps without a forward per class."""
    import torch

    model = build_model(arch)
    model.eval()
    for p in model.parameters():
        p.requires_grad_(False)
    x = torch.rand(*input_shape(arch, images)).requires_grad_(True)
    classes = num_classes(arch)

    def step():
        out = model(x)
        grads = []
        for c in range(classes):
            (g,) = torch.autograd.grad(out[:, c].sum(), x, retain_graph=c < classes - 1)
            grads.append(g.abs().amax(dim=1))
        return grads

    secs, reps = measure(step, args.seconds)
    log(f"heatmaps {arch} {images} images x {classes} classes: {secs:.3f} s ({reps} reps)")
    return with_memory({"arch": arch, "images": images, "classes": classes,
                        "seconds": round(secs, 5), "reps": reps}, args)


def run_forward(args, arch: str, batch: int) -> dict:
    import torch

    model = build_model(arch)
    model.eval()
    x = torch.randn(*input_shape(arch, batch))

    def step():
        with torch.no_grad():
            return model(x)

    secs, reps = measure(step, args.seconds)
    log(f"forward {arch} b{batch}: {secs * 1e3:.3f} ms, {batch / secs:.1f} img/s ({reps} reps)")
    return with_memory({
        "arch": arch, "batch": batch,
        "ms": round(secs * 1e3, 4), "img_per_s": round(batch / secs, 2), "reps": reps,
    }, args)


def run_cleanse(args, arch: str, batch: int) -> dict:
    """One optimisation step of Neural Cleanse (Wang et al. 2019, the authors' visualizer.py): the model's
    weights are frozen; the mask (1 x H x W) and pattern (C x H x W) live in tanh space."""
    import torch
    import torch.nn.functional as F

    model = build_model(arch)
    model.eval()
    for p in model.parameters():
        p.requires_grad_(False)
    shape = input_shape(arch, batch)
    c, h, w = shape[1], shape[2], shape[3]
    x = torch.rand(*shape)
    eps = 1e-7
    mask_tanh = torch.atanh((torch.rand(1, 1, h, w) - 0.5) * (2 - eps) * 0.999).requires_grad_(True)
    pattern_tanh = torch.atanh((torch.rand(1, c, h, w) - 0.5) * (2 - eps) * 0.999).requires_grad_(True)
    opt = torch.optim.Adam([mask_tanh, pattern_tanh], lr=0.1, betas=(0.5, 0.9), eps=1e-7)
    y = torch.zeros(batch, dtype=torch.long)
    cost = 1e-3

    def step():
        opt.zero_grad(set_to_none=True)
        mask = torch.tanh(mask_tanh) / (2 - eps) + 0.5
        pattern = torch.tanh(pattern_tanh) / (2 - eps) + 0.5
        x_adv = (1 - mask) * x + mask * pattern
        loss = F.cross_entropy(model(x_adv), y, reduction="sum") + batch * cost * mask.sum()
        loss.backward()
        opt.step()
        return loss

    secs, reps = measure(step, args.seconds)
    log(f"cleanse {arch} b{batch}: {secs * 1e3:.3f} ms/step ({reps} reps)")
    return with_memory({"arch": arch, "batch": batch, "ms": round(secs * 1e3, 4), "reps": reps}, args)


def run_all(args) -> dict:
    out: dict = {"versions": run_versions(args)}
    out["gemm"] = run_gemm(args)
    out["train"] = [
        run_train(args, "mnist", args.batch, "adam", 1e-3),
        run_train(args, "gtsrb", args.batch, "rmsprop", 1e-3),
    ]
    out["saliency"] = [run_saliency(args, arch, args.batch, 0) for arch in ARCHS]
    out["forward"] = [run_forward(args, arch, args.batch) for arch in ARCHS]
    return out


# ---------------------------------------------------------------------------------------------
# CLI
# ---------------------------------------------------------------------------------------------

def positive_int(text: str) -> int:
    value = int(text)
    if value <= 0:
        raise argparse.ArgumentTypeError(f"must be > 0, got {text}")
    return value


def positive_float(text: str) -> float:
    value = float(text)
    if not value > 0:
        raise argparse.ArgumentTypeError(f"must be > 0, got {text}")
    return value


def add_global_options(p: argparse.ArgumentParser, suppress: bool) -> None:
    # On subparsers the defaults are SUPPRESSed so an option given before the subcommand is not
    # overwritten by the subparser's default.
    d = (lambda v: argparse.SUPPRESS) if suppress else (lambda v: v)
    p.add_argument("--threads", type=positive_int, default=d(2),
                   help="torch.set_num_threads (default 2)")
    p.add_argument("--seconds", type=positive_float, default=d(1.0),
                   help="time budget per measurement in seconds (default 1.0)")
    p.add_argument("--peak-memory", action="store_true", default=d(False),
                   help="add peak RSS (ru_maxrss, MiB) to each result")
    p.add_argument("--seed", type=int, default=d(0), help="RNG seed (default 0)")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="pytorch_reference.py",
        description="PyTorch CPU reference benchmarks; prints one JSON object on stdout.",
    )
    add_global_options(parser, suppress=False)
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    def add(name: str, help_text: str) -> argparse.ArgumentParser:
        sp = sub.add_parser(name, help=help_text, description=help_text)
        add_global_options(sp, suppress=True)
        return sp

    add("versions", "torch/numpy/onnxruntime versions, threads, CPU model")

    sp = add("gemm", "float32 GEMM C[M,N] = A[M,K] @ B[K,N]")
    sp.add_argument("--shapes", default=DEFAULT_SHAPES,
                    help=f"comma-separated MxNxK list (default {DEFAULT_SHAPES})")

    sp = add("train", "training steps/s (forward, cross-entropy, backward, optimizer step)")
    sp.add_argument("--arch", choices=ARCHS, required=True)
    sp.add_argument("--batch", type=positive_int, default=64)
    sp.add_argument("--optimizer", choices=OPTIMIZERS, default="adam")
    sp.add_argument("--lr", type=float, default=1e-3)

    sp = add("saliency", "forward + backward of one logit column's sum to the input")
    sp.add_argument("--arch", choices=ARCHS, required=True)
    sp.add_argument("--batch", type=positive_int, default=64)
    sp.add_argument("--class-index", type=int, default=0,
                    help="logit column whose sum is back-propagated (default 0)")

    sp = add("heatmaps", "all-class input gradients: one forward, a backward per class")
    sp.add_argument("--arch", choices=ARCHS, required=True)
    sp.add_argument("--images", type=positive_int, default=50)

    sp = add("forward", "inference forward under torch.no_grad()")
    sp.add_argument("--arch", choices=ARCHS, required=True)
    sp.add_argument("--batch", type=positive_int, default=64)

    sp = add("cleanse", "one Neural Cleanse optimisation step (mask + pattern, Adam)")
    sp.add_argument("--arch", choices=ARCHS, required=True)
    sp.add_argument("--batch", type=positive_int, default=32)

    sp = add("all", "versions + gemm + train + saliency + forward, merged")
    sp.add_argument("--shapes", default=DEFAULT_SHAPES,
                    help=f"comma-separated MxNxK list (default {DEFAULT_SHAPES})")
    sp.add_argument("--batch", type=positive_int, default=64)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        import torch

        torch.set_num_threads(args.threads)
        try:
            torch.set_num_interop_threads(args.threads)
        except RuntimeError:
            pass  # already set (only possible once per process); intra-op threads matter here
        torch.manual_seed(args.seed)
        log(f"torch {torch.__version__}, threads={torch.get_num_threads()}, "
            f"budget={args.seconds}s per measurement")

        if args.command == "versions":
            result = run_versions(args)  # flat object: {"torch": ..., "numpy": ..., ...}
        elif args.command == "gemm":
            result = {"gemm": run_gemm(args)}
        elif args.command == "train":
            result = {"train": run_train(args, args.arch, args.batch, args.optimizer, args.lr)}
        elif args.command == "saliency":
            result = {"saliency": run_saliency(args, args.arch, args.batch, args.class_index)}
        elif args.command == "heatmaps":
            result = {"heatmaps": run_heatmaps(args, args.arch, args.images)}
        elif args.command == "forward":
            result = {"forward": run_forward(args, args.arch, args.batch)}
        elif args.command == "cleanse":
            result = {"cleanse": run_cleanse(args, args.arch, args.batch)}
        elif args.command == "all":
            result = run_all(args)
        else:  # argparse guarantees a known command
            raise ValueError(f"unknown command {args.command!r}")
        if args.peak_memory:
            result["peak_rss_mib"] = peak_rss_mib()
    except Exception as exc:  # noqa: BLE001 - report any failure as JSON for the caller
        traceback.print_exc(file=sys.stderr)
        sys.stdout.write(json.dumps({"error": f"{type(exc).__name__}: {exc}"}) + "\n")
        sys.stdout.flush()
        return 1
    sys.stdout.write(json.dumps(result) + "\n")
    sys.stdout.flush()
    return 0


if __name__ == "__main__":
    sys.exit(main())
