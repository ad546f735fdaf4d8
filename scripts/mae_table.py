#!/usr/bin/env python3
"""Files the runs of scripts/mae_finetune.sh into docs/results/ and regenerates docs/results.md.

usage: scripts/mae_table.py --runs DIR --mae RUN --seeds "0 1 2" --limit-few 300 --limit-all 600 --machine ID
       [--labels "10 all"] [--bench FILE] [--root DIR]

Each RUNS/<labels>_<init>_s<seed>/summary.json is copied to ROOT/docs/results/mae_ft_<same>.json.
ROOT/docs/results/tables.json then gets (or has replaced) the section "Masked autoencoders": the
fine-tuning table (kind `finetune`, one row per labels x initialisation, mean +- sd over the
label draws) and, with --bench (bench/run_mae_bench.py's --json output, copied in under its own
name), the step benchmark (kind `step_bench`). In "Targets" go the issue's bars: MAE-initialised
fine-tuning above scratch by 5 points with 10 labels per class and by 1 point with all labels
(differences of the means, recorded in mae_checks.json), and the step at 1.5x the allocator-fixed
PyTorch one. A half left out of --labels keeps the files it was filed with; without --bench the
benchmark filed before stays.
"""
import argparse
import json
import os

from results_filing import Filing, loop_command

SECTION = "Masked autoencoders"
TARGET_PREFIX = "MAE, "
CONFIG = "configs/fashion_mnist/semi/supervised_vit.yaml"


def command(labels, init, seeds, limit, mae):
    flags = f" --init {mae}" if init == "mae" else " --set train.layer_decay=1.0"
    if labels == "all":
        flags += " --set data.labels_per_class=5900 --set train.warmup_epochs=0.1"
    run = f"selfsup semi --config {CONFIG}{flags} --out runs/mae_ft/{labels}_{init}_s$S --time-limit {limit} --seed $S"
    return loop_command(run, seeds)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--root", default=".")
    ap.add_argument("--runs", required=True)
    ap.add_argument("--mae", required=True, help="the pretraining run the MAE rows started from")
    ap.add_argument("--seeds", required=True)
    ap.add_argument("--limit-few", type=int, required=True)
    ap.add_argument("--limit-all", type=int, required=True)
    ap.add_argument("--machine", required=True)
    ap.add_argument("--bench")
    ap.add_argument("--labels", default="10 all", help="the halves that ran: 10, all or both")
    a = ap.parse_args()
    seeds = a.seeds.split()
    filing = Filing("mae_table", a.root, a.machine)
    results = filing.results

    # A half that did not run this time keeps the files it was filed with.
    checks_path = os.path.join(results, "mae_checks.json")
    filed = {}
    if os.path.exists(checks_path):
        with open(checks_path) as f:
            filed = json.load(f).get("rows", {})
    files, rows = {}, []
    for labels, label_seeds, limit in (("10", seeds, a.limit_few), ("all", ["0"], a.limit_all)):
        ran = labels in a.labels.split()
        if not ran and f"{labels}_mae" not in filed:
            continue
        for init in ("mae", "scratch"):
            key = f"{labels}_{init}"
            if not ran:
                files[key] = filed[key]
                label_seeds = [n.rsplit("_s", 1)[1][:-len(".json")] for n in filed[key]]
            else:
                files[key] = []
                for seed in label_seeds:
                    files[key].append(filing.copy_summary(os.path.join(a.runs, f"{key}_s{seed}"),
                                                          f"mae_ft_{key}_s{seed}.json", "run scripts/mae_finetune.sh first"))
            what = "10 labels per class" if labels == "10" else "every label"
            how = f"from MAE ({a.mae})" if init == "mae" else "from scratch"
            rows.append({"label": f"{what}, {how}, {limit} s", "files": files[key], "machine": a.machine,
                         "command": command(labels, init, label_seeds, limit, a.mae)})

    tables = [{
        "title": "Fine-tuning the ViT: MAE-initialised against from scratch",
        "kind": "finetune",
        "text": [[
            "The ViT of `configs/fashion_mnist/mae.yaml` (dim 128, depth 6, 4x4 patches) with a linear head",
            "on the mean of its patch tokens, trained with labels only (`method: supervised`): from the MAE",
            "run's encoder with layer-wise learning-rate decay 0.65, or from random weights without it, the",
            "same budget and recipe otherwise. 100 images per class held out as the validation split; the",
            "last model and its EMA on the 10,000 test images, mean +- sd over the label draws (a seed",
            "draws the labels, the split and the head); nothing is chosen on the test set.",
        ]],
        "rows": rows,
    }]
    if a.bench:
        name = filing.copy_file(a.bench)
        tables.append({
            "title": "MAE pretraining step against PyTorch",
            "kind": "step_bench",
            "file": name,
            "machine": a.machine,
            "text": [[
                "An MAE pretraining step of `configs/fashion_mnist/mae.yaml` (256 images, 12 of 49 patches",
                "seen by the encoder) in `selfsup pretrain` against the same model and step written as the MAE",
                "reference code writes it (bench/python/mae_torch.py), loading and augmentation included.",
            ]],
            "command": "/usr/bin/python3 bench/run_mae_bench.py --json " + name,
        })
    section = filing.section(SECTION, [["`method: mae` ([mae.md](mae.md)); the tables are written by",
                                        "`scripts/mae_finetune.sh` and `scripts/mae_table.py`."]], "Self-supervised")
    filing.put_tables(section, tables)

    checks, targets = {}, []
    for labels, bar, what in (("10", 5.0, "10 labels per class"), ("all", 1.0, "every label")):
        if f"{labels}_mae" not in files:
            continue
        d = 100 * (filing.mean_test_acc(files[f"{labels}_mae"]) - filing.mean_test_acc(files[f"{labels}_scratch"]))
        checks[f"mae_minus_scratch_{labels}"] = d
        targets.append({"target": f"{TARGET_PREFIX}fine-tuning with {what}: MAE-initialised above from scratch, "
                                  "same budget (mean test accuracy)", "compare": ">=", "bar": bar,
                        "unit": " points", "sources": [{"file": "mae_checks.json", "path": f"mae_minus_scratch_{labels}"}]})
    if a.bench:
        targets.append({"target": f"{TARGET_PREFIX}pretraining step against the allocator-fixed PyTorch one",
                        "compare": ">=", "bar": 1.5, "unit": "x",
                        "sources": [{"file": os.path.basename(a.bench), "path": "selfsup_over_python_allocator_fixed"}]})
    filing.write_json("mae_checks.json", dict(checks, rows=files))
    # Without --bench the step benchmark filed before stays, with its target.
    filing.set_targets(TARGET_PREFIX, targets, keep=lambda r: not a.bench and "pretraining step" in r["target"])
    filing.save()
    for key, value in checks.items():
        print(f"mae_table: {key} = {value:+.2f} points")


if __name__ == "__main__":
    main()
