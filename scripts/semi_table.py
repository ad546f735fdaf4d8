#!/usr/bin/env python3
"""Markdown rows for the README's semi-supervised table from run folders written by `selfsup semi`.

usage: scripts/semi_table.py RUN_DIR [RUN_DIR ...]
Each RUN_DIR holds summary.json and config.yaml. The folder name gives the time limit as its
<seconds> field (runs/semi/<method>_<labels per class>_<seconds>[_init]), which is how the
commands in the table name them; the command shown is rebuilt from the summary.
"""
import json
import os
import sys

import yaml

CONFIGS = "configs/fashion_mnist/semi"


def row(run_dir):
    with open(os.path.join(run_dir, "summary.json")) as f:
        s = json.load(f)
    name = os.path.basename(os.path.normpath(run_dir))
    parts = name.split("_")
    limit = next(p for p in reversed(parts) if p.isdigit() and int(p) >= 60)
    method, lpc = s["method"], s["labels_per_class"]
    cmd = f"selfsup semi --config {CONFIGS}/{method}.yaml --out runs/semi/{name} --time-limit {limit}"
    if lpc != 10:
        cmd += f" --set data.labels_per_class={lpc}"
    # A run made before the shipped config changed gets the --set that reproduces it.
    with open(os.path.join(run_dir, "config.yaml")) as f:
        ran_all = yaml.safe_load(f) or {}
    with open(f"{CONFIGS}/{method}.yaml") as f:
        shipped_all = yaml.safe_load(f) or {}
    for section in ("method", "train"):
        ran, shipped = ran_all.get(section, {}), shipped_all.get(section, {})
        for key in sorted(set(ran) | set(shipped)):
            if key in ran and ran.get(key) != shipped.get(key):
                cmd += f" --set {section}.{key}={ran[key]}"
    if s.get("init"):
        cmd += f" --init {s['init']}"
    mask = s.get("unlabeled_mask_rate")
    plab = s.get("unlabeled_pseudo_label_acc")
    extra = "" if mask is None else f"{100 * mask:.0f}% / {100 * plab:.1f}%"
    init = " (from SimCLR)" if s.get("init") else ""
    return (f"| {method}{init} | {lpc} | {100 * s['test_acc']:.2f} | {100 * s['test_acc_ema']:.2f} | "
            f"{100 * s['val_acc']:.1f} / {100 * s['val_acc_ema']:.1f} | {extra} | "
            f"{s['train_seconds']:.0f} s, {s['steps']} steps | `{cmd}` |")


def main():
    if len(sys.argv) < 2:
        sys.exit(__doc__)
    print("| method | labels/class | test (last) | test (EMA) | val (last / EMA) | EMA on unlabeled: share >= threshold / their accuracy |"
          " training | command |")
    print("|---|---|---|---|---|---|---|---|")
    for d in sys.argv[1:]:
        print(row(d))


if __name__ == "__main__":
    main()
