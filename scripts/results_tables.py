#!/usr/bin/env python3
"""Markdown tables for docs/RESULTS.md from zoo results (issue 6). Reads ZOO_DIR/<plan>/results.json as
written by `neuroninspect zoo`; prints the paper's numbers beside ours where the paper has them.
    python3 scripts/results_tables.py [ZOO_DIR] [--no-figures]   (default: zoo; --no-figures: print the
                                                                   tables, leave docs/figures/*.svg alone)
Only formats what the zoo measured: no number here is computed from anything but results.json."""
import json, os, statistics, sys

args = [a for a in sys.argv[1:] if a != "--no-figures"]
write_figures = "--no-figures" not in sys.argv[1:]
zoo = args[0] if args else "zoo"

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
    left = max((s.get("collapsed") or 0 for s in t["summary"]), default=0)
    if left:
        print(f"({left} model(s) whose training collapsed on every attempt left out: {', '.join(sorted({r['model'] for r in t['rows'] if r.get('collapsed')}))}.)\n")

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
def table3(plan, title):
    t = load(plan)
    if not t: return
    print(f"### {title}\n")
    ds = detectors(t)
    print("| trigger | paper NC / NI anomaly index | " + " | ".join(f"{d}: index, flagged" for d in ds) + " |")
    print("|---|---|" + "---|" * len(ds))
    for r0 in [r for r in t["rows"] if r["detector"] == ds[0]]:
        paper = PAPER_T3.get((r0.get("pattern"), r0.get("position")), {}).get(r0.get("size"))
        cells = []
        for d in ds:
            r = next((x for x in t["rows"] if x["detector"] == d and x["model"] == r0["model"]), None)
            cells.append("not run" if r is None else f"{r['anomalyIndex']:.2f}, {','.join(map(str, r['flagged'])) or '-'}{'' if r['correct'] else ' ✗'}")
        print(f"| {r0['model']} | {'%.2f / %.2f' % paper if paper else '-'} | " + " | ".join(cells) + " |")
    print()
    summary(t)

# Table 3 in detail: the default's view of each GTSRB model, from the whole reports the zoo keeps
# (results/<model>.neuroninspect-default.report.json): the target's best patch, the strongest other label's,
# and the labels the margin screening dropped.
def table3_detail(plan, title):
    rdir = os.path.join(zoo, plan, "results")
    if not os.path.isdir(rdir): return
    files = sorted(f for f in os.listdir(rdir) if f.endswith(".neuroninspect-default.report.json"))
    if not files: return
    print(f"### {title}\n")
    print("| model | clean acc | ASR | flagged | target: flips, margin ratio, specificity, window | strongest other label: flips, margin ratio, specificity, window | labels the screening dropped |")
    print("|---|---:|---:|---|---|---|---|")
    for f in files:
        rep = json.load(open(os.path.join(rdir, f)))
        row = json.load(open(os.path.join(rdir, f.replace(".report.json", ".json"))))
        pc, t = rep["perClass"], row.get("target")
        def cell(r):
            window = f"blend {r['opacity'] * 100:.0f}%" if 'opacity' in r else f"{int(r['windowSize'])} px"
            return f"{r['flipRate'] * 100:.0f}%, {r['marginRatio']:.2f}, {r.get('specificity', 0):.1f}, {window}"
        # The strongest other label: the largest margin among those whose patch flips at least 65% of the images.
        strong = [r for r in pc if r["label"] != t and r["flipRate"] >= 0.65] or [r for r in pc if r["label"] != t]
        other = max(strong, key=lambda r: (r["marginRatio"], r["flipRate"]))
        tc = "-" if t is None else cell(pc[t])
        dropped = [n.split(":")[0].replace("label ", "") for n in rep.get("notes", []) if "not flagged" in n]
        asr = "-" if row.get("attackSuccess") is None else f"{row['attackSuccess'] * 100:.1f}%"
        retrained = f" (retrained, attempt {row['trainingAttempt'] + 1})" if row.get("trainingAttempt") else ""
        print(f"| {row['model']}{retrained} | {row['cleanAccuracy'] * 100:.1f}% | {asr} | {','.join(map(str, row['flagged'])) or '-'}{'' if row['correct'] else ' ✗'} "
              f"| {tc} | {other['label']}: {cell(other)} | {', '.join(dropped) or '-'} |")
    print()

table3("table3-gtsrb", "Table 3 (GTSRB, -> 20)")
table3_detail("table3-gtsrb", "Table 3 in detail: what the default saw (GTSRB)")
table3("table3-gtsrb-seed2", "Table 3, second seed (fresh models, a subset of the grid)")
table3_detail("table3-gtsrb-seed2", "Table 3, second seed, in detail")
table3("table3-gtsrb-seed3", "Table 3, third seed (validation: trained and scanned after the rules were fixed)")
table3_detail("table3-gtsrb-seed3", "Table 3, third seed, in detail")
# Session 13: the third seed replayed by the session 13 rules (tuning data for them), and the fourth seed (sizes 6
# and 8 and two benign nets, seed offset 13000), trained before and scanned after the session 13 rules were
# committed, also scanned by the session 12 build (the session 10 rules).
# Session 14: the same two tuning zoos replayed by the session 14 rules.
for suffix, session, tuning in [("s13", "13", "tuning data for them"), ("s14", "14", "tuning data")]:
    if load("table3-gtsrb-seed3-" + suffix):
        print(f"### Table 3, third seed, replayed by the session {session} rules ({tuning})\n")
        summary(load("table3-gtsrb-seed3-" + suffix))
        table3_detail("table3-gtsrb-seed3-" + suffix, f"Table 3, third seed, in detail (session {session} rules, replay)")
    if load("validation-blend-mnist-" + suffix):
        print(f"### Session 9's MNIST validation zoo replayed by the session {session} rules\n")
        summary(load("validation-blend-mnist-" + suffix))

def tally(rows):
    """Rows of one detector: (targets alone, trojaned, benign clean, benign, ROC AUC cell); the AUC is Mann-Whitney over
    the rows' scores, ties counted half. Rows the zoo marked collapsed (training failed on every attempt) are left out,
    as the zoo's own summary leaves them out."""
    rows = [r for r in rows if not r.get("collapsed")]
    pos = [r["score"] for r in rows if r["trojaned"]]; neg = [r["score"] for r in rows if not r["trojaned"]]
    auc = "-" if not pos or not neg else "%.3f" % (sum((a > b) + 0.5 * (a == b) for a in pos for b in neg) / (len(pos) * len(neg)))
    alone = sum(r["correct"] for r in rows if r["trojaned"]); clean = sum(r["correct"] for r in rows if not r["trojaned"])
    return alone, len(pos), clean, len(neg), auc

def rows_summary(rows):
    """The `summary` table computed from rows (a zoo whose rows were scanned by different builds, split by them)."""
    print("| detector | target flagged alone | benign clean | ROC AUC | s / model |")
    print("|---|---:|---:|---:|---:|")
    for d in dict.fromkeys(r["detector"] for r in rows):
        rs = [r for r in rows if r["detector"] == d]
        alone, trojaned, clean, benign, auc = tally(rs)
        print(f"| {d} | {alone}/{trojaned} | {clean}/{benign} | {auc} | {statistics.mean(r['seconds'] for r in rs):.2f} |")
    print()

# A validation zoo: trained after the rules that scan it were committed, the same models also scanned by an
# earlier build (<plan>-<earlier suffix>) and, for tuning data of a later rule, replayed by a later build.
def validation(plan, title, rules, earlier=None, replay=None):
    t = load(plan)
    if not t: return
    print(f"### {title}\n")
    print(f"{rules} rules (the default as committed):\n")
    summary(t)
    # A net whose training collapsed (clean accuracy under 50%: a constant output) carries no backdoor to find.
    # (Zoos whose plan sets training.minCleanAccuracy mark them and leave them out of their own summary.)
    collapsed = sorted({r["model"] for r in t["rows"] if r["cleanAccuracy"] < 0.5 and r.get("collapsed") is None})
    if collapsed:
        print(f"Without the {len(collapsed)} nets whose training collapsed (clean accuracy under 50%: {', '.join(collapsed)}):\n")
        rows_summary([r for r in t["rows"] if r["model"] not in collapsed])
    if earlier and load(plan + "-" + earlier[0]):
        print(f"The same models, {earlier[1]} rules:\n")
        summary(load(plan + "-" + earlier[0]))
    table3_detail(plan, title + f", in detail ({rules.lower()} rules)")
    if replay and load(plan + "-" + replay[0]):
        print(f"The same models replayed with the {replay[1]} rules (tuning data for them: these models showed the need):\n")
        summary(load(plan + "-" + replay[0]))
        table3_detail(plan + "-" + replay[0], title + f", in detail ({replay[1]} rules, replay)")

# Session 7 (seed offset 7000; earlier: the session 5/6 build), session 8 (offset 8000, corner probe 99f2aed;
# earlier: 37eab10), session 9 (offset 9000, full-image probe 9e75460; earlier: a1984ff; replayed by session
# 10's build), session 10 (offset 10000, 4945305; earlier: 9e75460), session 11 (offset 11000, the session 10 rules).
# Session 12: Table 3's whole grid, third seed (table3-gtsrb-seed3, offset 2000, never trained before), the same rules.
for plan, title in [("validation-table2-mnist", "Validation: Table 2's cells, fresh models (MNIST)"),
                    ("validation-figure4-mnist", "Validation: Figure 4's cells and the 10% blend, fresh models (MNIST)"),
                    ("validation-gtsrb", "Validation: six fresh GTSRB models (hard cells)"),
                    ("validation-gtsrb-b", "Validation: four more fresh GTSRB models (8 and 12 px, bottom right)")]:
    validation(plan, title, "Session 7", earlier=("s6", "session 5/6"))
validation("validation-corners-gtsrb", "Validation (session 8): six fresh GTSRB models (6x6 triggers at corners, 2 benign)",
           "Session 8", earlier=("s7", "session 7"))
for plan, title in [("validation-blend-mnist", "Validation (session 9): eleven fresh MNIST models (10% blends, 1x1 and 3x3 squares, 4 benign)"),
                    ("validation-blend-gtsrb", "Validation (session 9): nine fresh GTSRB models (10% blends, 14x14, checkerboard 12, all corners, 3 benign)")]:
    validation(plan, title, "Session 9", earlier=("s8", "session 8"), replay=("s10", "session 10"))
validation("validation-s10-gtsrb", "Validation (session 10): eight fresh GTSRB models (three new 10% blends, 12x12 square, 10x10 checkerboard, 3 benign)",
           "Session 10", earlier=("s9", "session 9"))
validation("validation-s11-gtsrb", "Validation (session 11): nine fresh GTSRB models (14x14, checkerboard 8, 6x6 at all corners, 10x10 to label 3, two new 10% blends, 3 benign)",
           "Session 10")

def two_part_validation(plan, title, first, parts, detail, replay=None):
    """A fresh zoo scanned in two parts by two rule sets: `first(row)` says which part a row is in; `parts` holds, per
    part, its heading and (suffix, rules) of an earlier build that scanned the same models; `replay` is (suffix,
    heading, detail title or None) of the first part replayed by the later rules."""
    t = load(plan)
    if not t: return
    print(f"### {title}\n")
    for in_part, (heading, earlier) in zip([first, lambda r: not first(r)], parts):
        rows = [r for r in t["rows"] if in_part(r)]
        if not rows: continue
        print(heading + ":\n")
        rows_summary(rows)
        before = [r for r in (load(plan + "-" + earlier[0]) or {"rows": []})["rows"] if in_part(r)]
        if before:
            n = len({r["model"] for r in before})
            same = "The same models" if n == len({r["model"] for r in rows}) else f"{n} of them"
            print(f"{same}, {earlier[1]}:\n")
            rows_summary(before)
    table3_detail(plan, title + ", in detail (" + detail + ")")
    if replay and load(plan + "-" + replay[0]):
        print(replay[1] + ":\n")
        summary(load(plan + "-" + replay[0]))
        if replay[2]: table3_detail(plan + "-" + replay[0], title + replay[2])

# Table 3's fourth seed: sizes 6-10 and the benign nets scanned by the session 13 rules (session 13), sizes 12 and 14
# trained and scanned in session 14 after the session 14 rule (e412837) was committed; each part also scanned by the
# build before (-s12: the session 12 build on sizes 6-10; -s13: the session 13 build on sizes 12 and 14) and sizes 6-10
# replayed by the session 14 rules (-s14, tuning data: the 8x8 top-left miss showed the need).
two_part_validation("table3-gtsrb-seed4", "Validation (sessions 13 and 14): Table 3's fourth seed, fresh GTSRB models",
    lambda r: not r["trojaned"] or r["size"] <= 10,
    [("Sizes 6, 8 and 10 and the benign nets, session 13 rules (the default as committed when they were scanned)", ("s12", "session 10 (the session 12 build) rules")),
     ("Sizes 12 and 14, session 14 rules (trained and scanned after they were committed)", ("s13", "session 13 rules (the session 13 build)"))],
    "session 13 rules for sizes 6-10 and the benign nets, session 14 rules for 12 and 14",
    ("s14", "Sizes 6, 8 and 10 and the benign nets replayed with the session 14 rules (tuning data for them: `square8-top-left` showed the need)",
     ", sizes 6-10 in detail (session 14 rules, replay)"))
# Table 3's fifth seed: its first five models (the 6x6 and 8x8 squares and benign-s1) scanned by the session 14 rules
# in session 14, the other 17 trained and scanned in session 15 after the session 15 rule (faf7b5e) was committed. The
# first five also scanned by the session 13 build (-s13) and replayed by the session 15 rules (-s15, tuning data: the
# 8x8 top-left miss showed the need); the other 17 also scanned by the session 14 build (-s14).
two_part_validation("table3-gtsrb-seed5", "Validation (sessions 14 and 15): Table 3's fifth seed, fresh GTSRB models",
    lambda r: r["model"] == "benign-s1" or (r["trojaned"] and r["size"] <= 8 and r["pattern"] == "square"),
    [("The 6x6 and 8x8 squares and one benign net, session 14 rules (the default as committed when they were scanned)", ("s13", "session 13 rules (the session 13 build)")),
     ("The other models, session 15 rules (trained and scanned after they were committed)", ("s14", "session 14 rules (the session 14 build)"))],
    "session 14 rules for the first five models, session 15 rules for the others",
    ("s15", "The first five models replayed with the session 15 rules (tuning data for them: `square8-top-left` showed the need)", None))

# Table 3's sixth seed (seed offset 15000, plan committed in session 16 before training): its first four models (the
# 8x8 and 6x6 top-left squares, the 8x8 top-left checkerboard, benign-s1) trained and scanned in session 16 by the
# session 15 rules (faf7b5e), then replayed by the session 16 rules (-s16: the point probe, 96688ba, committed while
# they trained); the other 18 trained and scanned in session 17 by the session 16 rules (committed before them).
SEED6_FIRST = {"square8-top-left-t20-s1", "benign-s1", "square6-top-left-t20-s1", "checkerboard8-top-left-t20-s1"}
two_part_validation("table3-gtsrb-seed6", "Validation (sessions 16 and 17): Table 3's sixth seed, fresh GTSRB models",
    lambda r: r["model"] in SEED6_FIRST,
    [("The first four models, session 15 rules (the default as committed when they were scanned)", ("none", "")),
     ("The other models, session 16 rules (trained and scanned in session 17, after they were committed)", ("s15", "session 15 rules (the session 15 build)"))],
    "session 15 rules for the first four models, session 16 rules for the others",
    ("s16", "The first four models replayed with the session 16 rules", None))
# Session 16: fresh models of Table 1's own MNIST recipe (seed offset 16000), trained after the session 16 rule (96688ba)
# was committed; the same models also scanned by the session 15 build (-s15). Session 17: the four whose training had
# collapsed retrained under the plan's collapse floor and retries (1903c48, committed before retraining), scanned by
# the same session 16 rules and, in -s15, by the session 15 build.
validation("validation-table1-mnist", "Validation (sessions 16 and 17): fresh models of Table 1's own MNIST recipe", "Session 16",
           earlier=("s15", "session 15"))

# Session 16: zoos replayed by the session 16 rules (-s16; the GTSRB ones on their benign nets only).
for plan, what in [("table1-recipe-mnist", "Table 1's own MNIST recipe (tuning data: `square1-bottom-right-t5-s2` showed the need)"),
                   ("table2-mnist", "Table 2 (MNIST)"), ("figure4-mnist-multi", "Figure 4 and the translucent trigger (MNIST)"),
                   ("image-count-mnist", "The image-count zoo (MNIST, session 17)"),
                   ("table5-ablation-mnist", "Table 5's zoo (MNIST)"), ("validation-blend-mnist", "Session 9's MNIST validation zoo"),
                   ("table3-gtsrb-seed3", "Table 3's third seed"), ("table3-gtsrb-seed4", "Table 3's fourth seed"),
                   ("table3-gtsrb-seed5", "Table 3's fifth seed"), ("validation-s10-gtsrb", "Session 10's GTSRB validation zoo"),
                   ("validation-s11-gtsrb", "Session 11's GTSRB validation zoo"), ("validation-blend-gtsrb", "Session 9's GTSRB validation zoo")]:
    if load(plan + "-s16"):
        rows = load(plan + "-s16")["rows"]
        print(f"### {what} replayed by the session 16 rules ({len({r['model'] for r in rows})} of its models)\n")
        summary(load(plan + "-s16"))

# Session 15: the tuning zoos replayed by the session 15 rules (those that ran; the folder holds only the rows run).
for plan, what in [("table3-gtsrb-seed4", "Table 3's fourth seed"), ("table3-gtsrb-seed3", "Table 3's third seed"),
                   ("validation-blend-gtsrb", "Session 9's GTSRB validation zoo"), ("validation-blend-mnist", "Session 9's MNIST validation zoo")]:
    if load(plan + "-s15"):
        rows = load(plan + "-s15")["rows"]
        print(f"### {what} replayed by the session 15 rules ({len(rows)} of its models)\n")
        summary(load(plan + "-s15"))

def pooled_cells(rows):
    """Rows of one detector pooled: 'models | target alone | target among the flagged | benign clean | ROC AUC' cells."""
    alone, trojaned, clean, benign, auc = tally(rows)
    targets = lambda r: r["target"] if isinstance(r["target"], list) else [r["target"]]
    among = sum(all(t in r["flagged"] for t in targets(r)) for r in rows if r["trojaned"])
    return f"{len(rows)} | {alone}/{trojaned} ({100 * alone / max(trojaned, 1):.0f}%) | {among}/{trojaned} | {clean}/{benign} | {auc}"

def default_rows(plans, suffix=""):
    return [r for p in plans if load(p + suffix) for r in load(p + suffix)["rows"] if r["detector"] == "neuroninspect:default"]

# Every fresh GTSRB validation zoo since session 7, each scanned by the rules committed before it was trained.
fresh = [("session 7", ["validation-gtsrb", "validation-gtsrb-b"]), ("session 8", ["validation-corners-gtsrb"]),
         ("session 9", ["validation-blend-gtsrb"]), ("session 10", ["validation-s10-gtsrb"]),
         ("session 10 (session 11's zoo)", ["validation-s11-gtsrb"]),
         ("session 10 (Table 3's third seed, session 12)", ["table3-gtsrb-seed3"]),
         ("session 13 (sizes 6-10) and 14 (sizes 12, 14): Table 3's fourth seed", ["table3-gtsrb-seed4"]),
         ("session 14 (first five) and 15 (the rest): Table 3's fifth seed", ["table3-gtsrb-seed5"]),
         ("sessions 15 (first four) and 16 (the rest): Table 3's sixth seed", ["table3-gtsrb-seed6"])]
if any(load(p) for _, ps in fresh for p in ps):
    print("### Fresh GTSRB validation zoos pooled (neuroninspect:default, each zoo by the rules committed before it was trained)\n")
    print("| rules | models | target flagged alone | target among the flagged | benign clean | ROC AUC |")
    print("|---|---:|---:|---:|---:|---:|")
    every = []
    for rules, plans in fresh:
        rows = default_rows(plans); every += rows
        if rows: print(f"| {rules} | {pooled_cells(rows)} |")
    print(f"| all of them on this machine | {pooled_cells(every)} |\n")

# The validation zoos pooled per dataset for the default, with the session 7 rules and, on the same models, the
# earlier ones.
pooled = {"MNIST": ["validation-table2-mnist", "validation-figure4-mnist"], "GTSRB": ["validation-gtsrb", "validation-gtsrb-b"]}
if any(load(p) for ps in pooled.values() for p in ps):
    print("### Validation pooled (neuroninspect:default)\n")
    print("| dataset | rules | models | target flagged alone | target among the flagged | benign clean | ROC AUC |")
    print("|---|---|---:|---:|---:|---:|---:|")
    for ds, plans in pooled.items():
        for suffix, rules in [("", "session 7"), ("-s6", "session 5/6")]:
            rows = default_rows(plans, suffix)
            if rows: print(f"| {ds} | {rules} | {pooled_cells(rows)} |")
    print()

t = load("image-count-mnist")
if t:
    print("### Number of clean images (MNIST)\n")
    summary(t)
t = load("table1-recipe-mnist")
if t:
    print("### Table 1's own MNIST recipe (10 epochs, Adam lr 0.01, 1% poisoning, 50,000 images)\n")
    print("| model | clean acc | ASR | " + " | ".join(f"{d}: flagged (index)" for d in detectors(t)) + " |")
    print("|---|---:|---:|" + "---|" * len(detectors(t)))
    for r0 in [r for r in t["rows"] if r["detector"] == detectors(t)[0]]:
        cells = []
        for d in detectors(t):
            r = next((x for x in t["rows"] if x["detector"] == d and x["model"] == r0["model"]), None)
            cells.append("not run" if r is None else f"{','.join(map(str, r['flagged'])) or '-'} ({r['anomalyIndex']:.2f}){'' if r['correct'] else ' ✗'}")
        asr = "-" if r0.get("attackSuccess") is None else "%.1f%%" % (100 * r0["attackSuccess"])
        print(f"| {r0['model']} | {100 * r0['cleanAccuracy']:.1f}% | {asr} | " + " | ".join(cells) + " |")
    print()
    summary(t)

# Time: what each zoo's runs recorded (training seconds per epoch in models/*.json, each detector's seconds in
# results.json), summed. On a machine shared with other work these sums are larger than on a quiet one.
print("### Time recorded by the zoo runs\n")
print("| zoo | models | training (min) | " + " | ".join(["detectors (min, per detector)"]) + " | total (min) |")
print("|---|---:|---:|---|---:|")
for plan in ["table2-mnist", "figure4-mnist-multi", "table5-ablation-mnist", "image-count-mnist", "table1-recipe-mnist", "table3-gtsrb", "table3-gtsrb-seed2", "table3-gtsrb-seed3", "table3-gtsrb-seed4", "table3-gtsrb-seed5", "table3-gtsrb-seed6",
             "validation-table2-mnist", "validation-figure4-mnist", "validation-gtsrb", "validation-gtsrb-b",
             "validation-corners-gtsrb", "validation-blend-mnist", "validation-blend-gtsrb", "validation-s10-gtsrb", "validation-s11-gtsrb", "validation-table1-mnist"]:
    t = load(plan)
    if not t: continue
    train = 0.0; n = 0
    mdir = os.path.join(zoo, plan, "models")
    for f in sorted(os.listdir(mdir)) if os.path.isdir(mdir) else []:
        if f.endswith(".json") and not f.endswith(".attack.json"):
            h = json.load(open(os.path.join(mdir, f))).get("history", [])
            train += sum(e.get("seconds", 0) for e in h); n += 1
    per = {}
    for r in t["rows"]: per[r["detector"]] = per.get(r["detector"], 0) + r["seconds"]
    cells = ", ".join(f"{d} {v / 60:.1f}" for d, v in per.items())
    print(f"| {plan} | {n} | {train / 60:.1f} | {cells} | {(train + sum(per.values())) / 60:.1f} |")
print()

# ---------------------------------------------------------------------------------------------------------
# Figures (SVG, standard library only) into FIG_DIR (default docs/figures): the paper's Figure 3 (anomaly index
# against trigger size), Figure 4 (detection against the number of triggers), the image-count study and ROC
# curves. Each is drawn from the same results.json files as the tables.
FIG = os.environ.get("FIG_DIR", os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "docs", "figures"))
COLORS = ["#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e", "#8c564b", "#17becf", "#7f7f7f"]

def svg_plot(path, title, xlabel, ylabel, series, xticks=None, ymax=None, hline=None, diag=False):
    """series: [(name, [(x, y, err_or_None)], dashed)]. Writes a small line plot with error bars."""
    W, H, L, B, T, R = 560, 300, 56, 40, 28, 170
    pts = [p for _, ps, _ in series for p in ps]
    if not pts or not write_figures: return
    xs = [p[0] for p in pts]; x0, x1 = min(xs + (xticks or [])), max(xs + (xticks or []))
    if x1 == x0: x1 = x0 + 1
    y1 = ymax if ymax is not None else max([p[1] + (p[2] or 0) for p in pts] + [hline or 0]) * 1.1 or 1
    X = lambda x: L + (x - x0) / (x1 - x0) * (W - L - R)
    Y = lambda y: T + (1 - min(y, y1) / y1) * (H - T - B)
    s = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{W}" height="{H}" font-family="sans-serif" font-size="11">',
         '<rect width="100%" height="100%" fill="white"/>',
         f'<text x="{L}" y="16" font-size="13">{title}</text>',
         f'<line x1="{L}" y1="{Y(0)}" x2="{W - R}" y2="{Y(0)}" stroke="black"/><line x1="{L}" y1="{T}" x2="{L}" y2="{Y(0)}" stroke="black"/>',
         f'<text x="{(L + W - R) / 2}" y="{H - 6}" text-anchor="middle">{xlabel}</text>',
         f'<text x="14" y="{(T + H - B) / 2}" transform="rotate(-90 14 {(T + H - B) / 2})" text-anchor="middle">{ylabel}</text>']
    for k in range(5):
        y = y1 * k / 4
        s.append(f'<text x="{L - 4}" y="{Y(y) + 4}" text-anchor="end">{y:.2g}</text><line x1="{L}" y1="{Y(y)}" x2="{W - R}" y2="{Y(y)}" stroke="#eee"/>')
    for x in (xticks or sorted(set(xs))):
        s.append(f'<text x="{X(x)}" y="{Y(0) + 14}" text-anchor="middle">{x:g}</text>')
    if hline is not None:
        s.append(f'<line x1="{L}" y1="{Y(hline)}" x2="{W - R}" y2="{Y(hline)}" stroke="#999" stroke-dasharray="4 3"/>')
    if diag:
        s.append(f'<line x1="{X(0)}" y1="{Y(0)}" x2="{X(1)}" y2="{Y(1)}" stroke="#bbb" stroke-dasharray="4 3"/>')
    for i, (name, ps, dashed) in enumerate(series):
        c = COLORS[i % len(COLORS)]
        ps = sorted(ps)
        d = " ".join(f"{X(x):.1f},{Y(y):.1f}" for x, y, _ in ps)
        dash = ' stroke-dasharray="6 3"' if dashed else ""
        s.append(f'<polyline points="{d}" fill="none" stroke="{c}" stroke-width="2"{dash}/>')
        for x, y, e in ps:
            s.append(f'<circle cx="{X(x):.1f}" cy="{Y(y):.1f}" r="3" fill="{c}"/>')
            if e: s.append(f'<line x1="{X(x):.1f}" y1="{Y(y - e):.1f}" x2="{X(x):.1f}" y2="{Y(y + e):.1f}" stroke="{c}"/>')
        s.append(f'<line x1="{W - R + 10}" y1="{T + 8 + 16 * i}" x2="{W - R + 30}" y2="{T + 8 + 16 * i}" stroke="{c}" stroke-width="2"/><text x="{W - R + 34}" y="{T + 12 + 16 * i}">{name}</text>')
    s.append("</svg>")
    os.makedirs(FIG, exist_ok=True)
    tmp = os.path.join(FIG, "." + path + ".tmp")
    with open(tmp, "w") as f: f.write("\n".join(s) + "\n")
    os.replace(tmp, os.path.join(FIG, path))
    print(f"![{title}](figures/{path})\n")

def mean_sd(v):
    return (statistics.mean(v), statistics.stdev(v) if len(v) > 1 else None)

def figure3(t, name, title):
    """Anomaly index (mean ± sd over seeds) against trigger size; benign models at size 0."""
    series = []
    for d in detectors(t):
        if "@" in d: continue
        by = {}
        for r in t["rows"]:
            if r["detector"] != d or r["triggerCount"] > 1 or (r["trojaned"] and r.get("size") is None): continue
            by.setdefault(0 if not r["trojaned"] else r["size"], []).append(min(r["anomalyIndex"], 50))
        series.append((d, [(k, *mean_sd(v)) for k, v in by.items()], d == "neural-cleanse"))
    svg_plot(name, title, "trigger size (0 = benign)", "anomaly index (capped at 50)", series, hline=2)

def roc_points(rows):
    pos = sorted((r["score"] for r in rows if r["trojaned"]), reverse=True)
    neg = [r["score"] for r in rows if not r["trojaned"]]
    if not pos or not neg: return None
    pts = [(0.0, 0.0, None)]
    for th in sorted(set(r["score"] for r in rows), reverse=True):
        pts.append((sum(s >= th for s in neg) / len(neg), sum(s >= th for s in pos) / len(pos), None))
    return pts

tables = {p: load(p) for p in ["table2-mnist", "figure4-mnist-multi", "table5-ablation-mnist", "image-count-mnist", "table1-recipe-mnist", "table3-gtsrb", "table3-gtsrb-seed3"]}
if any(tables.values()):
    print("### Figures\n")
if tables["table2-mnist"]:
    figure3(tables["table2-mnist"], "figure3-mnist.svg", "Figure 3 (MNIST): anomaly index against trigger size")
if tables["table3-gtsrb"]:
    figure3(tables["table3-gtsrb"], "figure3-gtsrb.svg", "Figure 3 (GTSRB): anomaly index against trigger size")
if tables["table3-gtsrb-seed3"]:
    figure3(tables["table3-gtsrb-seed3"], "figure3-gtsrb-seed3.svg",
            "Figure 3 (GTSRB, third seed, session 10 rules): anomaly index against trigger size")
for plan, label in [("figure4-mnist-multi", "MNIST"), ("table3-gtsrb", "GTSRB"), ("table3-gtsrb-seed3", "GTSRB-seed3")]:
    t = tables[plan]
    if not t: continue
    series = []
    for d in detectors(t):
        by = {}
        for r in t["rows"]:
            if r["detector"] == d and r["trojaned"] and r.get("pattern") == "square" and r.get("size") == (6 if plan.startswith("table3-gtsrb") else 3):
                by.setdefault(r["triggerCount"], []).append(r["correct"])
        if by: series.append((d, [(k, sum(v) / len(v), None) for k, v in by.items()], d == "neural-cleanse"))
    svg_plot(f"figure4-{label.lower()}.svg", f"Figure 4 ({label}): several triggers to one target", "number of triggers",
             "fraction detected (target alone)", series, ymax=1.0)
t = tables["image-count-mnist"]
if t:
    series = []
    for base in ["neuroninspect:default", "neuroninspect:paper", "neural-cleanse"]:
        det, fa = [], []
        for d in detectors(t):
            spec = d.split("@")
            if spec[0] != base or len(spec) != 2: continue
            s = next(x for x in t["summary"] if x["detector"] == d)
            det.append((int(spec[1]), s["detected"] / max(s["trojaned"], 1), None))
            fa.append((int(spec[1]), s["falseAlarms"] / max(s["benign"], 1), None))
        if det:
            series += [(f"{base.split(':')[-1]}: detected", det, False), (f"{base.split(':')[-1]}: false alarms", fa, True)]
    svg_plot("image-count-mnist.svg", "Clean images per scan (MNIST)", "clean images", "fraction of models", series,
             xticks=None, ymax=1.0)
for plan in ["table2-mnist", "table3-gtsrb", "table3-gtsrb-seed3"]:
    t = tables[plan]
    if not t: continue
    series = []
    for d in detectors(t):
        pts = roc_points([r for r in t["rows"] if r["detector"] == d])
        if pts:
            s = next(x for x in t["summary"] if x["detector"] == d)
            series.append((f"{d} (AUC {s['rocAUC']:.2f})", pts + [(1.0, 1.0, None)], False))
    svg_plot(f"roc-{plan}.svg", f"ROC over the {plan} zoo", "false-positive rate", "true-positive rate", series,
             xticks=[0, 0.25, 0.5, 0.75, 1], ymax=1.0, diag=True)
