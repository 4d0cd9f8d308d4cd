#!/usr/bin/env python3
"""Offline check of session 15's `marginRelief` (docs/DETECTION.md, "Session 15"), run before the rule was committed.

Rescores every stored `neuroninspect:default` report under zoo/ with the specificity floor relieved by a wide margin
(floor 4.5 x max(relief, marginFloor / margin)) and reports which verdicts change and which labels newly pass the
floors. It redoes `TriggerVerification.screen` (flip, margin and specificity floors, then the 50% margin share and the
90% evidence share) from each label's reported candidates only: the reported pick, its square and its full-image
pattern, not every window size (reports do not store them), so it approximates the detector; the detector itself
decides (rescan with the build).

    python3 scripts/rescore_margin_relief.py zoo            # relief 0.9 (the rule), 0.85, 0.8
"""
import glob
import json
import os
import sys

FLIP, SPEC, MARGIN_SHARE, EVIDENCE_SHARE, SPEC_RELIEF = 0.65, 4.5, 0.5, 0.9, 0.6


def margin_floor(size):
    return 1.5 if size == 0 else max(1.0, size / 10)


def passes(size, flip, margin, spec, relief):
    """The floors of one candidate: `clears` with `effectiveMarginFloor` and `effectiveSpecificityFloor`."""
    if flip < FLIP:
        return False
    if margin < margin_floor(size) * max(SPEC_RELIEF, min(1, SPEC / spec) if spec > 0 else 1):
        return False
    if size == 0:
        return True  # full-image patterns have no specificity floor
    return spec >= SPEC * max(relief, min(1, margin_floor(size) / margin) if margin > 0 else 1)


def candidates(c):
    out = [(c["windowSize"], c["flipRate"], c["marginRatio"], c["specificity"])]
    if "squareWindowSize" in c:
        out.append((c["squareWindowSize"], c["squareFlipRate"], c["squareMarginRatio"], c["squareSpecificity"]))
    if c.get("blendFlipRate") is not None:
        out.append((0, c["blendFlipRate"], c["blendMarginRatio"], c["blendSpecificity"]))
    return out


def passing(per_class, relief):
    """Label -> (margin, margin x specificity) of its best passing candidate, among labels over the MAD threshold."""
    out = {}
    for c in per_class:
        if c["anomalyIndex"] <= 2:
            continue
        ok = [(m, m * s) for (w, f, m, s) in candidates(c) if passes(w, f, m, s, relief)]
        if ok:
            out[c["label"]] = max(ok)
    return out


def verdict(per_class, relief):
    p = passing(per_class, relief)
    kept = list(p)
    if len(kept) > 1:
        top = max(p[l][0] for l in kept)
        kept = [l for l in kept if p[l][0] >= MARGIN_SHARE * top]
    if len(kept) > 1:
        top = max(p[l][1] for l in kept)
        kept = [l for l in kept if p[l][1] >= EVIDENCE_SHARE * top]
    return sorted(kept)


def main(root, reliefs=(0.9, 0.85, 0.8)):
    reports = sorted(glob.glob(os.path.join(root, "*", "results", "*.neuroninspect-default.report.json")))
    if not reports:
        sys.exit(f"{root}: no <zoo>/results/*.neuroninspect-default.report.json here (run `neuroninspect zoo` first)")
    n = 0
    for f in reports:
        per_class = json.load(open(f))["perClass"]
        if "specificity" not in per_class[0]:
            continue
        n += 1
        name = f.split(os.sep)[-3] + "/" + os.path.basename(f).split(".neuroninspect")[0]
        base = verdict(per_class, 1.0)
        changed = {r: verdict(per_class, r) for r in reliefs}
        if any(v != base for v in changed.values()):
            print(f"verdict  {name}: {base} -> " + ", ".join(f"{r}: {v}" for r, v in changed.items()))
        old, new = passing(per_class, 1.0), passing(per_class, reliefs[0])
        for label in sorted(set(new) - set(old)):
            top = max((e for l, e in old.items()), key=lambda e: e[1], default=None)
            share = f"{new[label][1] / top[1]:.0%} of the strongest passing label's" if top else "no other label passing"
            print(f"passes   {name}: label {label} at relief {reliefs[0]} (margin x specificity {new[label][1]:.1f}, {share})")
    print(f"{n} reports rescored")


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else "zoo")
