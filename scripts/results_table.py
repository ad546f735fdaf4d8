#!/usr/bin/env python3
"""Markdown rows for the README's results table from run folders written by `selfsup pretrain`.

usage: scripts/results_table.py RUN_DIR [RUN_DIR ...]
Each RUN_DIR holds summary.json and config.yaml; the time limit is read from the folder name's
trailing _<seconds> (e.g. runs/byol_600), which is how scripts/run_table.sh names them.
"""
import json
import os
import sys


def row(run_dir):
    with open(os.path.join(run_dir, "summary.json")) as f:
        s = json.load(f)
    name = os.path.basename(os.path.normpath(run_dir))
    limit = name.rsplit("_", 1)[-1]
    method = s["method"]
    cmd = (f"`selfsup pretrain --config configs/fashion_mnist/{method}.yaml --out runs/{name} "
           f"--time-limit {limit}`")
    return (f"| {method} | {100 * s['knn_acc']:.2f} | {100 * s['linear_acc']:.2f} | "
            f"{s['train_seconds']:.0f} s, {s['epochs']:.1f} epochs | {s['images_per_second']:.0f} | {cmd} |")


def main():
    if len(sys.argv) < 2:
        sys.exit(__doc__)
    print("| method | kNN | linear | training | images/s | command |")
    print("|---|---|---|---|---|---|")
    for d in sys.argv[1:]:
        print(row(d))


if __name__ == "__main__":
    main()
