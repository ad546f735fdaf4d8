#!/usr/bin/env python3
"""Files the runs of scripts/pu_table.sh into docs/results/ and regenerates docs/results.md.

usage: scripts/pu_table.py --runs DIR --limit L --seeds "0 1 2" --rows "upu nnpu ..." --machine ID [--root DIR]

For every row and seed, RUNS/<row>_<limit>_s<seed>/summary.json is copied to
ROOT/docs/results/pu_<row>_<limit>_s<seed>.json (<limit>: the row's). ROOT/docs/results/tables.json then gets (or has
replaced) the table "Every method, <limit> s" of kind `pu` in the section "Positive-unlabeled
learning" (placed after the semi-supervised section), one row per method reading its seeds'
files, and, in "Targets", the issue's bars: nnPU with the true prior at >= 94.0% (every seed),
its mean above uPU's, VPU and nnPU with the estimated prior each within 1.5 points of it. The
differences of means are recorded in pu_checks_<limit>.json. A row's time limit is LIMIT_<row>
from the environment when set, as in pu_table.sh.
"""
import argparse
import os

from results_filing import Filing, loop_command

SECTION = "Positive-unlabeled learning"
LABELS = {
    "upu": "upu",
    "nnpu": "nnpu, prior given (0.3)",
    "nnpu_estimated": "nnpu, prior estimated (BBE)",
    "vpu": "vpu (no prior)",
    "elkan_noto": "elkan_noto",
    "pn": "pn (uses the labels: the upper bound)",
}
TARGET_PREFIX = "positive-unlabeled, "


def row_limit(row, limit):
    return int(os.environ.get(f"LIMIT_{row}", limit))


def command(row, limit, seeds):
    config = row[:-len("_estimated")] if row.endswith("_estimated") else row
    extra = " --set pu.prior=estimate" if row != config else ""
    if os.environ.get("EXTRA", "").strip():
        extra += " " + " ".join(os.environ["EXTRA"].split())
    run = (f"selfsup pu --config configs/fashion_mnist/pu/{config}.yaml{extra} --out runs/pu/{row}_{row_limit(row, limit)}_s$S "
           f"--time-limit {row_limit(row, limit)} --seed $S")
    return loop_command(run, seeds)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--root", default=".")
    ap.add_argument("--runs", required=True)
    ap.add_argument("--limit", type=int, required=True)
    ap.add_argument("--seeds", required=True)
    ap.add_argument("--rows", required=True)
    ap.add_argument("--machine", required=True)
    a = ap.parse_args()
    seeds, rows = a.seeds.split(), a.rows.split()
    filing = Filing("pu_table", a.root, a.machine)

    files = {}
    for row in rows:
        if row not in LABELS:
            filing.fail(f"unknown row '{row}' (rows: {', '.join(LABELS)})")
        files[row] = []
        for seed in seeds:
            stem = f"{row}_{row_limit(row, a.limit)}_s{seed}"
            files[row].append(filing.copy_summary(os.path.join(a.runs, stem), f"pu_{stem}.json",
                                                  "run scripts/pu_table.sh first"))

    table = {
        "title": f"Every method, {a.limit} s",
        "kind": "pu",
        "text": [[
            "Positives: trouser, coat, sneaker (classes 1, 4, 7; prior 0.3); 3,000 labeled positives; the",
            "unlabeled set is every training image; 500 images per class held out as the validation split.",
            "Figures of the last model on the 10,000 test images, mean +- sd over the seeds (each seed its",
            "own draw of the labeled positives and the validation split); nothing is chosen on the test set.",
        ]],
        "rows": [{"label": LABELS[r], "files": files[r], "machine": a.machine, "command": command(r, a.limit, seeds)}
                 for r in rows],
    }
    section = filing.section(SECTION, [["`selfsup pu` ([pu.md](pu.md)); the table is written by",
                                        "`scripts/pu_table.sh`."]], "Semi-supervised")
    filing.put_tables(section, [table])

    # The bars, from the means of the seeds.
    checks, targets = {}, []
    if "nnpu" in files:
        nnpu = filing.mean_test_acc(files["nnpu"])
        checks["nnpu_test_acc"] = nnpu
        targets.append({"target": f"{TARGET_PREFIX}nnPU with the true prior, {a.limit} s: final test accuracy "
                                  "(every seed)", "compare": ">=", "bar": 94.0, "scale": 100, "unit": "%",
                        "sources": [{"file": f, "path": "test_acc"} for f in files["nnpu"]]})
        for other, key, compare, bar, what in (
                ("upu", "nnpu_minus_upu", ">=", 0.0, "nnPU's mean test accuracy above uPU's, same budget"),
                ("vpu", "nnpu_minus_vpu_abs", "<=", 1.5, "VPU (no prior) within 1.5 points of nnPU"),
                ("nnpu_estimated", "nnpu_minus_nnpu_estimated_abs", "<=", 1.5,
                 "nnPU with the estimated prior within 1.5 points of nnPU with the true one")):
            if other not in files:
                continue
            d = 100 * (nnpu - filing.mean_test_acc(files[other]))
            checks[key] = abs(d) if key.endswith("_abs") else d
            targets.append({"target": TARGET_PREFIX + what, "compare": compare, "bar": bar, "unit": " points",
                            "sources": [{"file": f"pu_checks_{a.limit}.json", "path": key}]})
    if checks:
        filing.write_json(f"pu_checks_{a.limit}.json", dict(checks, seeds=len(seeds), rows=files))
        filing.set_targets(TARGET_PREFIX, targets)
    filing.save()
    for key, value in checks.items():
        print(f"pu_table: {key} = {value:.4f}")
    print(f"pu_table: wrote {os.path.join(a.root, 'docs', 'results.md')}")


if __name__ == "__main__":
    main()
