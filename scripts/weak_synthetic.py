#!/usr/bin/env python3
"""Measures the label models on synthetic votes of known accuracies (the weak supervision table).

usage: scripts/weak_synthetic.py [--selfsup build/selfsup] [--seeds "0 1 2"] [--root .] [--machine cpu-avx2]

For each seed and each setting, `selfsup weak synthetic` writes 20,000 examples of 3 balanced
classes voted on by 10 conditionally independent functions with coverage from 0.6 down to 0.2
(spread: accuracies evenly over 0.55-0.95; uniform: every function 0.75), then `selfsup weak
label-model --labels` scores majority vote, Dawid-Skene and matrix completion on the gold labels.
Writes ROOT/docs/results/weak_synthetic.json, puts its table in tables.json (section "Weak
supervision") and regenerates docs/results.md.
"""
import argparse
import json
import os
import subprocess
import tempfile

from results_filing import Filing

SETTINGS = {"spread": (0.55, 0.95), "uniform": (0.75, 0.75)}
MODELS = ["majority_vote", "dawid_skene", "matrix_completion"]


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--selfsup", default="build/selfsup")
    ap.add_argument("--seeds", default="0 1 2")
    ap.add_argument("--root", default=".")
    ap.add_argument("--machine", default="cpu-avx2")
    a = ap.parse_args()
    filing = Filing("weak_synthetic", a.root, a.machine)
    out = {"examples": 20000, "functions": 10, "classes": 3, "coverage": [0.6, 0.2], "settings": {}}
    with tempfile.TemporaryDirectory() as tmp:
        for name, (lo, hi) in SETTINGS.items():
            rows = {m: [] for m in MODELS}
            for seed in a.seeds.split():
                d = os.path.join(tmp, f"{name}_{seed}")
                subprocess.run([a.selfsup, "weak", "synthetic", "--out", d, "--n", "20000", "--functions", "10",
                                "--classes", "3", "--accuracy-low", str(lo), "--accuracy-high", str(hi),
                                "--coverage-low", "0.2", "--coverage-high", "0.6", "--seed", seed],
                               check=True, stdout=subprocess.DEVNULL)
                for m in MODELS:
                    r = subprocess.run([a.selfsup, "weak", "label-model", "--votes", f"{d}/votes.npy", "--labels",
                                        f"{d}/labels.npy", "--model", m, "--classes", "3", "--out", f"{d}/{m}"],
                                       check=True, capture_output=True, text=True)
                    j = json.loads(r.stdout)
                    # The functions' true accuracies, as `weak synthetic` spreads them.
                    syn_acc = [lo + (hi - lo) * i / 9 for i in range(10)]
                    err = sum(abs(f["accuracy"] - t) for f, t in zip(j["per_function"], syn_acc)) / 10
                    rows[m].append({"seed": int(seed), "label_accuracy": j["label_accuracy"],
                                    "accuracy_mae": err})
            out["settings"][name] = {"accuracy": [lo, hi], "models": rows}
    def mean_acc(setting, model):
        rs = out["settings"][setting]["models"][model]
        return 100 * sum(r["label_accuracy"] for r in rs) / len(rs)

    checks, targets = {}, []
    for m in ("dawid_skene", "matrix_completion"):
        checks[f"{m}_minus_majority_vote_spread"] = mean_acc("spread", m) - mean_acc("spread", "majority_vote")
        checks[f"{m}_minus_majority_vote_uniform_abs"] = abs(mean_acc("uniform", m) - mean_acc("uniform", "majority_vote"))
        targets.append({"target": f"weak supervision, {m} above majority vote with accuracies spread over 0.55-0.95 "
                                  "(synthetic)", "compare": ">=", "bar": 2.0, "unit": " points",
                        "sources": [{"file": "weak_synthetic.json", "path": f"checks.{m}_minus_majority_vote_spread"}]})
        targets.append({"target": f"weak supervision, {m} ties majority vote with uniform accuracies (synthetic)",
                        "compare": "<=", "bar": 0.5, "unit": " points",
                        "sources": [{"file": "weak_synthetic.json", "path": f"checks.{m}_minus_majority_vote_uniform_abs"}]})
    out["checks"] = checks
    filing.write_json("weak_synthetic.json", out)
    filing.set_targets("weak supervision, ", targets)
    table = {
        "title": "Label models on synthetic votes",
        "kind": "weak_synthetic",
        "file": "weak_synthetic.json",
        "machine": a.machine,
        "command": f"python3 scripts/weak_synthetic.py --seeds \"{a.seeds}\"",
        "text": [["20,000 examples, 3 balanced classes, 10 conditionally independent labeling functions with",
                  "coverage from 0.6 down to 0.2 (the accurate ones the least busy); accuracy of the labels on",
                  "the gold labels and the mean absolute error of the estimated function accuracies; mean +- sd",
                  "over the seeds (each its own draw of votes)."]],
    }
    section = filing.section("Weak supervision", [["`selfsup weak` ([usage.md](usage.md#weak-supervision-weak))."]],
                             "Active learning")
    filing.put_tables(section, [table])
    filing.save()
    for name, s in out["settings"].items():
        for m, rs in s["models"].items():
            print(name, m, [round(100 * r["label_accuracy"], 2) for r in rs])


if __name__ == "__main__":
    main()
