#!/usr/bin/env python3
"""Markdown rows for a pretraining results table from run folders written by `selfsup pretrain`.

usage: scripts/results_table.py RUN_DIR [RUN_DIR ...]
Each RUN_DIR holds summary.json and config.yaml; the time limit is read from the folder name's
trailing _<seconds> (e.g. runs/byol_600), which is how scripts/run_table.sh names them.
scripts/results_page.py formats docs/results.md's pretraining tables with cells() below.
"""
import json
import os
import sys

DASH = "–"


def pct(x, digits=2):
    """A fraction as a percentage with fixed decimals, or a dash when the figure is missing."""
    return DASH if x is None else f"{100 * x:.{digits}f}"


def cells(s):
    """kNN, linear, training time and images/s of one `selfsup pretrain` summary."""
    if s.get("train_seconds") is None:
        training = DASH
    elif s.get("epochs") is None:
        training = f"{s['train_seconds']:.0f} s"
    else:
        training = f"{s['train_seconds']:.0f} s, {s['epochs']:.1f} epochs"
    ips = s.get("images_per_second")
    return [pct(s.get("knn_acc")), pct(s.get("linear_acc")), training,
            DASH if ips is None else f"{ips:.0f}"]


def row(run_dir):
    with open(os.path.join(run_dir, "summary.json")) as f:
        s = json.load(f)
    name = os.path.basename(os.path.normpath(run_dir))
    limit = name.rsplit("_", 1)[-1]
    method = s["method"]
    cmd = (f"`selfsup pretrain --config configs/fashion_mnist/{method}.yaml --out runs/{name} "
           f"--time-limit {limit}`")
    return "| " + " | ".join([method] + cells(s) + [cmd]) + " |"


def main():
    if len(sys.argv) < 2:
        sys.exit(__doc__)
    print("| method | kNN | linear | training | images/s | command |")
    print("|---|---|---|---|---|---|")
    for d in sys.argv[1:]:
        print(row(d))


if __name__ == "__main__":
    main()
