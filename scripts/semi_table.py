#!/usr/bin/env python3
"""Markdown rows for a semi-supervised results table from run folders written by `selfsup semi`.

usage: scripts/semi_table.py RUN_DIR [RUN_DIR ...]
Each RUN_DIR holds summary.json and config.yaml. The folder name gives the time limit as its
<seconds> field (runs/semi/<method>_<labels per class>_<seconds>[_init]), which is how the
commands in the tables name them; the command shown is rebuilt from the summary and, for keys
that differ from the shipped config, from config.yaml (this needs python3-yaml).
scripts/results_page.py formats docs/results.md's semi-supervised tables with cells() below.
"""
import json
import os
import sys

CONFIGS = "configs/fashion_mnist/semi"
HEADER = ["labels/class", "test (last)", "test (EMA)", "val (last / EMA)",
          "EMA on unlabeled: share >= threshold / their accuracy", "training"]


def cells(s):
    """The HEADER cells of one `selfsup semi` summary."""
    mask = s.get("unlabeled_mask_rate")
    plab = s.get("unlabeled_pseudo_label_acc")
    extra = "" if mask is None else f"{100 * mask:.0f}% / {100 * plab:.1f}%"
    return [str(s["labels_per_class"]), f"{100 * s['test_acc']:.2f}", f"{100 * s['test_acc_ema']:.2f}",
            f"{100 * s['val_acc']:.1f} / {100 * s['val_acc_ema']:.1f}", extra,
            f"{s['train_seconds']:.0f} s, {s['steps']} steps"]


def command(run_dir, s):
    import yaml  # only the run-folder path needs it

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
    return cmd


def row(run_dir):
    with open(os.path.join(run_dir, "summary.json")) as f:
        s = json.load(f)
    init = " (from SimCLR)" if s.get("init") else ""
    return "| " + " | ".join([s["method"] + init] + cells(s) + [f"`{command(run_dir, s)}`"]) + " |"


def main():
    if len(sys.argv) < 2:
        sys.exit(__doc__)
    print("| method | " + " | ".join(HEADER) + " | command |")
    print("|" + "---|" * (len(HEADER) + 2))
    for d in sys.argv[1:]:
        print(row(d))


if __name__ == "__main__":
    main()
