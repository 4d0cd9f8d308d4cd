#!/usr/bin/env python3
"""Markdown tables for docs/RESULTS.md from zoo results (issue 6). Reads ZOO_DIR/<plan>/results.json as
written by `neuroninspect zoo`; prints the paper's numbers beside ours where the paper has them.
    python3 scripts/results_tables.py [ZOO_DIR]        (default: zoo)
Only formats what the zoo measured: no number here is computed from anything but results.json."""
import json, os, statistics, sys

zoo = sys.argv[1] if len(sys.argv) > 1 else "zoo"

def load(plan):
    path = os.path.join(zoo, plan, "results.json")
    if not os.path.exists(path):
        return None
    return json.load(open(path))

def fmt(xs):
    xs = [x for x in xs if x is not None]
    if not xs: return "-"
    if len(xs) == 1: return "%.2f" % xs[0]
    return "%.2f ± %.2f" % (statistics.mean(xs), statistics.stdev(xs))

def flagged_cell(rows):
    return "; ".join(",".join(map(str, r["flagged"])) or "-" for r in rows)

def summary(t):
    print("| detector | target flagged alone | benign clean | ROC AUC | s / model |")
    print("|---|---:|---:|---:|---:|")
    for s in t["summary"]:
        auc = "-" if s.get("rocAUC") is None else "%.3f" % s["rocAUC"]
        print(f"| {s['detector']} | {s['detected']}/{s['trojaned']} | {s['benign']-s['falseAlarms']}/{s['benign']} | {auc} | {s['meanSeconds']:.2f} |")
    print()

def detectors(t):
    out = []
    for r in t["rows"]:
        if r["detector"] not in out: out.append(r["detector"])
    return out

PAPER_T2 = {"benign": 1.77, 1: 3.64, 2: 6.67, 3: 6.22, 4: 6.05}
t = load("table2-mnist")
if t:
    print("### Table 2 (MNIST, white square bottom right -> 5)\n")
    ds = detectors(t)
    print("| trigger | paper: anomaly index | " + " | ".join(f"{d}: anomaly index (mean ± sd) | {d}: flagged per seed" for d in ds) + " |")
    print("|---|---:|" + "---:|---|" * len(ds))
    for key in ["benign", 1, 2, 3, 4]:
        cells = []
        for d in ds:
            rows = [r for r in t["rows"] if r["detector"] == d and ((key == "benign" and not r["trojaned"]) or r.get("size") == key)]
            cells += [fmt([r["anomalyIndex"] for r in rows]), flagged_cell(rows)]
        label = "benign" if key == "benign" else f"{key}x{key}"
        print(f"| {label} | {PAPER_T2[key]} | " + " | ".join(cells) + " |")
    print()
    summary(t)

t = load("figure4-mnist-multi")
if t:
    print("### Figure 4 and the translucent trigger (MNIST, -> 5)\n")
    ds = detectors(t)
    print("| trigger | " + " | ".join(f"{d}: anomaly index | {d}: detected" for d in ds) + " |")
    print("|---|" + "---:|---:|" * len(ds))
    groups = {}
    for r in t["rows"]:
        k = (f"{r['triggerCount']} x 3x3 square ({r['position']})" if r.get("size") else r["pattern"])
        groups.setdefault(k, []).append(r)
    for k, rows in groups.items():
        cells = []
        for d in ds:
            rs = [r for r in rows if r["detector"] == d]
            cells += [fmt([r["anomalyIndex"] for r in rs]), f"{sum(r['correct'] for r in rs)}/{len(rs)}"]
        print(f"| {k} | " + " | ".join(cells) + " |")
    print()
    summary(t)

t = load("table5-ablation-mnist")
if t:
    print("### Table 5 / Figure 7 ablation (MNIST)\n")
    summary(t)

PAPER_T3 = {("square", "bottom-right"): {6: (2.82, 3.21), 8: (2.97, 4.03), 10: (2.73, 3.88), 12: (2.44, 3.69), 14: (1.89, 3.54)},
            ("square", "top-left"): {6: (2.77, 3.16), 8: (2.86, 3.82), 10: (2.88, 4.02), 12: (2.32, 3.78), 14: (1.79, 3.64)},
            ("checkerboard", "bottom-right"): {6: (2.56, 3.21), 8: (2.66, 3.99), 10: (2.35, 3.79), 12: (2.14, 3.67), 14: (1.57, 3.56)},
            ("checkerboard", "top-left"): {6: (2.43, 3.04), 8: (2.59, 3.75), 10: (2.11, 3.92), 12: (1.77, 3.8), 14: (1.42, 3.66)}}
t = load("table3-gtsrb")
if t:
    print("### Table 3 (GTSRB, -> 20)\n")
    ds = detectors(t)
    print("| trigger | paper NC / NI anomaly index | " + " | ".join(f"{d}: index, flagged" for d in ds) + " |")
    print("|---|---|" + "---|" * len(ds))
    for r0 in [r for r in t["rows"] if r["detector"] == ds[0]]:
        paper = PAPER_T3.get((r0.get("pattern"), r0.get("position")), {}).get(r0.get("size"))
        cells = []
        for d in ds:
            r = next(x for x in t["rows"] if x["detector"] == d and x["model"] == r0["model"])
            cells.append(f"{r['anomalyIndex']:.2f}, {','.join(map(str, r['flagged'])) or '-'}{'' if r['correct'] else ' ✗'}")
        print(f"| {r0['model']} | {'%.2f / %.2f' % paper if paper else '-'} | " + " | ".join(cells) + " |")
    print()
    summary(t)
