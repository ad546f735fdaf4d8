#!/usr/bin/env python3
"""Files the runs of scripts/active_table.sh into docs/results/ and regenerates docs/results.md.

usage: scripts/active_table.py --runs DIR --seeds "0 1 2" --strategies "random margin ..." --machine ID
                               [--finetune-seeds "0"] [--finetune-strategy margin] [--encoder RUN] [--root DIR]

Every RUNS/<strategy>_s<seed> (and RUNS/<strategy>_finetune_s<seed>) becomes
ROOT/docs/results/active_<name>_s<seed>.json: its summary with the curve's rounds. tables.json gets the
section "Active learning" (after the positive-unlabeled one) with one table for the frozen features and
one for the fine-tuned network, and in "Targets" the issue's bars: margin and badge above random by at
least 1 point of area under the learning curve, typiclust above random at 10-50 labels (the mean of its
accuracies at 10, 20, 30, 40 and 50 labels). The differences are in active_checks.json. The picture
docs/images/active_curves.png is drawn by `selfsup active compare` from the frozen runs.
"""
import argparse
import json
import os
import subprocess

from results_filing import Filing, loop_command

SECTION = "Active learning"
TARGET_PREFIX = "active learning, "
EARLY = [10, 20, 30, 40, 50]
LABELS = {"typiclust": "typiclust (cold start: its own first 10)",
          "random_cold": "random (cold start: a random first 10)"}


def command(config, out, encoder, seeds, extra=""):
    return loop_command(f"selfsup active --config configs/fashion_mnist/active/{config}.yaml --init {encoder} "
                        f"--out runs/active/{out}_s$S --seed $S{extra}", seeds)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--root", default=".")
    ap.add_argument("--runs", required=True)
    ap.add_argument("--seeds", required=True)
    ap.add_argument("--strategies", required=True)
    ap.add_argument("--finetune-seeds", default="")
    ap.add_argument("--finetune-strategy", default="margin")
    ap.add_argument("--encoder", default="runs/simclr_600_refactor")
    ap.add_argument("--selfsup", default="./build/selfsup")
    ap.add_argument("--machine", required=True)
    ap.add_argument("--tuned-l2", default="0.1",
                    help="the second attempt: random and margin with this L2 (their validation curves' choice), "
                         "runs RUNS/<strategy>_l2_<value>_s<seed>; empty: none")
    a = ap.parse_args()
    seeds, strategies, ft_seeds = a.seeds.split(), a.strategies.split(), a.finetune_seeds.split()
    filing = Filing("active_table", a.root, a.machine)

    def file_run(name, seed):
        run = os.path.join(a.runs, f"{name}_s{seed}")
        summary_path, curve_path = os.path.join(run, "summary.json"), os.path.join(run, "curve.json")
        if not os.path.exists(summary_path):
            filing.fail(f"{summary_path} is missing: run scripts/active_table.sh first")
        with open(summary_path) as f:
            data = json.load(f)
        with open(curve_path) as f:
            data["rounds"] = json.load(f)["rounds"]
        # The process's wall time (features of every image, then the rounds), as active_table.sh logged it.
        log = run + ".log"
        if os.path.exists(log):
            last = open(log).read().split("\n")
            walls = [l for l in last if l.endswith(" s wall")]
            if walls:
                data["wall_seconds"] = float(walls[-1].split()[0])
        out = f"active_{name}_s{seed}.json"
        filing.write_json(out, data)
        return out

    frozen = {s: [file_run(s, seed) for seed in seeds] for s in strategies}
    tuned = {}
    if a.tuned_l2:
        for s in ("random", "margin"):
            tuned[s] = [file_run(f"{s}_l2_{a.tuned_l2}", seed) for seed in seeds]
        if "badge" in frozen:
            tuned["badge"] = frozen["badge"]  # its validation curves chose the default, 1e-2
    finetuned = {}
    for s in (["random", a.finetune_strategy] if ft_seeds else []):
        finetuned[s] = [file_run(f"{s}_finetune", seed) for seed in ft_seeds]

    text = [["Fashion-MNIST; the pool is the 60,000 training images, each round's model is scored on the",
             "10,000 test images (nothing is chosen on them: the linear model's L2 strength was chosen on a",
             f"validation split). The encoder: {a.encoder} (SimCLR, 600 s of pretraining; kNN 84.17 / linear 88.14).",
             "Area: the mean accuracy under the learning curve (trapezoids over the label counts).",
             "Mean +- sd over the seeds; a seed draws the first labels and every random choice after."]]
    tables = [{
        "title": "Frozen features: a linear head each round, 10 to 500 labels in rounds of 10",
        "kind": "active", "text": text,
        "after": [["![learning curves, mean and spread over three seeds](images/active_curves.png)"]],
        "rows": [{"label": LABELS.get(s, s), "files": frozen[s], "machine": a.machine,
                  "command": command(s, s, a.encoder, seeds)} for s in strategies],
    }]
    if tuned:
        tables.append({
            "title": "Second attempt: each strategy's L2 strength chosen on the validation split",
            "kind": "active",
            "text": [["The linear model's L2 strength (1e-2, 1e-1 or 1) chosen per strategy by the area of its",
                      "curve on a validation split of 500 images per class carved from the training set",
                      "(`--set active.split=val`, the same seeds): 1e-1 for random and margin, 1e-2 for badge."]],
            "rows": [{"label": f"{s}, L2 {'1e-2' if s == 'badge' else a.tuned_l2}", "files": tuned[s], "machine": a.machine,
                      "command": command(s, s if s == "badge" else f"{s}_l2_{a.tuned_l2}", a.encoder, seeds,
                                         "" if s == "badge" else f" --set active.l2={a.tuned_l2}")} for s in tuned],
        })
    if finetuned:
        tables.append({
            "title": "The whole network fine-tuned each round, 100 to 500 labels in rounds of 100",
            "kind": "active",
            "text": [["From the pretrained weights every round: 500 SGD steps, batch 64, weak augmentation."]],
            "rows": [{"label": s, "files": finetuned[s], "machine": a.machine,
                      "command": command(f"{s}_finetune", f"{s}_finetune", a.encoder, ft_seeds)} for s in finetuned],
        })
    section = filing.section(SECTION, [["`selfsup active` ([usage.md](usage.md#active-learning-active)); the tables are",
                                        "written by `scripts/active_table.sh`."]], "Positive-unlabeled")
    filing.put_tables(section, tables)

    def mean(values):
        return sum(values) / len(values)

    def auc(files):
        return mean([filing.load(f)["auc"] for f in files])

    def early(files):
        accs = []
        for f in files:
            by = {r["labeled"]: r["acc"] for r in filing.load(f)["rounds"]}
            accs.append(mean([by[n] for n in EARLY]))
        return mean(accs)

    checks, targets = {}, []
    if "random" in finetuned and a.finetune_strategy in finetuned:
        checks[f"finetune_{a.finetune_strategy}_minus_random_auc"] = 100 * (auc(finetuned[a.finetune_strategy]) -
                                                                             auc(finetuned["random"]))
    if "random" in frozen:
        for s in ("margin", "badge"):
            if s in frozen:
                key = f"{s}_minus_random_auc"  # one L2 (1e-2) for every strategy
                checks[key] = 100 * (auc(frozen[s]) - auc(frozen["random"]))
                targets.append({"target": f"{TARGET_PREFIX}{s} above random in area under the curve, one L2 for "
                                          f"every strategy (frozen, {len(seeds)} seeds)", "compare": ">=", "bar": 1.0, "unit": " points",
                                "sources": [{"file": "active_checks.json", "path": key}]})
        if tuned:
            for s in ("margin", "badge"):
                key = f"{s}_minus_random_auc_tuned_l2"
                checks[key] = 100 * (auc(tuned[s]) - auc(tuned["random"]))
                targets.append({"target": f"{TARGET_PREFIX}{s} above random in area under the curve, each with the "
                                          f"L2 its validation curves chose (frozen, {len(seeds)} seeds)",
                                "compare": ">=", "bar": 1.0, "unit": " points",
                                "sources": [{"file": "active_checks.json", "path": key}]})
        for base, what in (("random", "random from one image per class"), ("random_cold", "random from a random first set")):
            if "typiclust" in frozen and base in frozen:
                key = f"typiclust_minus_{base}_10_50"
                checks[key] = 100 * (early(frozen["typiclust"]) - early(frozen[base]))
                targets.append({"target": f"{TARGET_PREFIX}typiclust (cold start) above {what} at 10-50 labels (mean "
                                          "accuracy at 10, 20, 30, 40, 50)", "compare": ">=", "bar": 0.0,
                                "unit": " points", "sources": [{"file": "active_checks.json", "path": key}]})
    filing.write_json("active_checks.json", dict(checks, seeds=len(seeds), frozen=frozen, finetuned=finetuned))
    filing.set_targets(TARGET_PREFIX, targets)
    filing.save()

    images = os.path.join(a.root, "docs", "images")
    os.makedirs(images, exist_ok=True)
    shown = [s for s in ("random", "margin", "badge", "typiclust", "random_cold") if s in strategies]
    runs = [os.path.join(a.runs, f"{s}_s{seed}") for s in shown for seed in seeds]
    subprocess.run([a.selfsup, "active", "compare", *runs, "--out", os.path.join(images, "active_curves.png")],
                   check=True)
    for key, value in checks.items():
        print(f"active_table: {key} = {value:.2f}")


if __name__ == "__main__":
    main()
