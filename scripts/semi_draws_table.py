#!/usr/bin/env python3
"""Files the runs of scripts/semi_draws.sh into docs/results/ and regenerates docs/results.md.

usage: scripts/semi_draws_table.py --runs DIR --machine ID [--root DIR]

Every finished run RUNS/<method>_<labels>_<seconds>_s<seed>/summary.json (one that used at least
95% of its time limit) is copied to ROOT/docs/results/semi_draws_<method>_<labels>_<seconds>_s<seed>.json.
The tables then come from every such file in docs/results/, filed now or before: one table of kind
`semi_draws` per label count and time limit in the section "Semi-supervised learning", one row per
method over its draws, each method's paired difference against the supervised baseline (Deep
Co-Training's against the Pi-model, the bar it is held to). The targets (S4L-Rotation at
least 2 points above supervised, Deep Co-Training not below the Pi-model) go to "Targets" from
semi_draws_checks_<labels>_<seconds>.json. A row keeps the machine it was filed with; adding runs
from another machine to it is an error, since time-limited runs are only comparable on one CPU.
"""
import argparse
import json
import os
import re

from results_filing import Filing

SECTION = "Semi-supervised learning"
# The order of the rows: the baseline, then roughly by the year of the method.
ORDER = ["supervised", "pseudo_label", "pi_model", "mean_teacher", "vat", "mixmatch", "uda", "fixmatch",
         "flexmatch", "simmatch", "s4l_rotation", "s4l_exemplar", "deep_co_training"]
AGAINST = {"deep_co_training": "pi_model"}  # every other method is compared with supervised
STEM = re.compile(r"^(?P<method>[a-z0-9_]+?)_(?P<labels>\d+)_(?P<seconds>\d+)_s(?P<seed>\d+)$")
FILE = re.compile(r"^semi_draws_(?P<stem>.+)\.json$")
TARGET_PREFIX = "semi-supervised over label draws, "


def title(labels, seconds):
    return f"{labels} labels per class, {seconds} s, over label draws"


def text(labels, seconds):
    return [[
        f"Each method from scratch for {seconds} s on the label draws of `selfsup semi --seed <seed>` ({10 * labels:,}",
        "labeled images, 100 validation images per class held out of both streams), one run at a time on",
        "the whole machine; each run is `selfsup semi --config configs/fashion_mnist/semi/<method>.yaml",
        f"--out runs/semi_draws/<method>_{labels}_{seconds}_s<seed> --seed <seed> --time-limit {seconds} --set",
        f"data.labels_per_class={labels}`. The paired difference compares the EMA model's test accuracy",
        "draw by draw with the method named. Filed by `scripts/semi_draws_table.py`.",
    ]]


def command(method, labels, seconds, seeds):
    return (f"METHODS=\"{method}\" LABELS={labels} SECONDS_EACH={seconds} SEEDS=\"{' '.join(map(str, seeds))}\" "
            "bash scripts/semi_draws.sh runs/semi_draws")


def order_key(method):
    return (ORDER.index(method), "") if method in ORDER else (len(ORDER), method)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--root", default=".")
    ap.add_argument("--runs", required=True)
    ap.add_argument("--machine", required=True)
    a = ap.parse_args()
    filing = Filing("semi_draws_table", a.root, a.machine)
    if not os.path.isdir(a.runs):
        filing.fail(f"--runs {a.runs} is not a folder (scripts/semi_draws.sh writes it)")

    section = filing.section(SECTION, [], "Self-supervised")
    old = {t["title"]: {r["label"]: r for r in t["rows"]} for t in section["tables"] if t["kind"] == "semi_draws"}
    pending = []  # (run folder, file name): checked in full before anything is copied
    for stem in sorted(os.listdir(a.runs)):
        m = STEM.match(stem)
        summary = os.path.join(a.runs, stem, "summary.json")
        if not m or not os.path.isfile(summary):
            continue
        with open(summary) as f:
            s = json.load(f)
        if s["train_seconds"] < 0.95 * int(m["seconds"]):
            print(f"semi_draws_table: skipping {stem}: it trained {s['train_seconds']:.0f} s of {m['seconds']}")
            continue
        if s["method"] != m["method"] or s["labels_per_class"] != int(m["labels"]):
            filing.fail(f"{summary} is a run of {s['method']} with {s['labels_per_class']} labels per class, "
                        f"not what its folder's name says")
        name = title(int(m["labels"]), int(m["seconds"]))
        machine = old.get(name, {}).get(m["method"], {}).get("machine", a.machine)
        if machine != a.machine:
            filing.fail(f"the row {m['method']} of '{name}' ran on {machine}, not --machine {a.machine}: "
                        "file these runs under other names or rerun the row's draws here")
        pending.append((os.path.join(a.runs, stem), f"semi_draws_{stem}.json"))
    filed = [filing.copy_summary(run, name, "") for run, name in pending]

    groups = {}  # (labels, seconds) -> method -> [(seed, file)]
    for name in sorted(os.listdir(filing.results)):
        f = FILE.match(name)
        m = STEM.match(f["stem"]) if f else None
        if m:
            key = (int(m["labels"]), int(m["seconds"]))
            groups.setdefault(key, {}).setdefault(m["method"], []).append((int(m["seed"]), name))
    if not groups:
        filing.fail(f"no finished runs in {a.runs} and none filed before")

    tables, checks, targets = [], {}, []
    for (labels, seconds), methods in sorted(groups.items()):
        name = title(labels, seconds)
        rows = []
        for method in sorted(methods, key=order_key):
            runs = sorted(methods[method])
            files = [f for _, f in runs]
            row = {"label": method, "files": files,
                   "machine": old.get(name, {}).get(method, {}).get("machine", a.machine),
                   "command": command(method, labels, seconds, [sd for sd, _ in runs])}
            against = AGAINST.get(method, "supervised")
            if method != "supervised" and against in methods:
                row["against"] = against
            rows.append(row)
        tables.append({"title": name, "kind": "semi_draws", "text": text(labels, seconds), "rows": rows})

        # The targets, as the mean of the paired differences (draws both methods ran).
        def paired(method, other):
            mine, theirs = dict(methods.get(method, [])), dict(methods.get(other, []))
            common = sorted(set(mine) & set(theirs))
            if not common:
                return None
            d = [filing.load(mine[sd])["test_acc_ema"] - filing.load(theirs[sd])["test_acc_ema"] for sd in common]
            return 100 * sum(d) / len(d), common
        for method, bar, what in (("s4l_rotation", 2.0, "S4L-Rotation above supervised"),
                                  ("deep_co_training", 0.0, "Deep Co-Training not below the Pi-model")):
            other = AGAINST.get(method, "supervised")
            key = f"{method}_minus_{other}"
            p = paired(method, other)
            if p is None or labels != 100:
                continue
            checks.setdefault((labels, seconds), {})[key] = p[0]
            checks[(labels, seconds)][key + "_draws"] = p[1]
            targets.append({"target": f"{TARGET_PREFIX}{what}, {labels} labels per class, {seconds} s "
                                      f"(EMA test accuracy, mean paired difference over {len(p[1])} draws)",
                            "compare": ">=", "bar": bar, "unit": " points",
                            "sources": [{"file": f"semi_draws_checks_{labels}_{seconds}.json", "path": key}]})

    # The tables of kind semi_draws are replaced in place; new ones follow the last of them.
    others = [t for t in section["tables"] if t["kind"] != "semi_draws"]
    first = next((i for i, t in enumerate(section["tables"]) if t["kind"] == "semi_draws"), len(others))
    section["tables"] = others[:first] + tables + others[first:]
    for (labels, seconds), c in checks.items():
        filing.write_json(f"semi_draws_checks_{labels}_{seconds}.json", c)
    filing.set_targets(TARGET_PREFIX, targets)
    filing.save()
    for (labels, seconds), c in sorted(checks.items()):
        for key, value in c.items():
            if not key.endswith("_draws"):
                print(f"semi_draws_table: {labels} labels, {seconds} s: {key} = {value:+.2f} points")
    print(f"semi_draws_table: {len(filed)} runs filed; wrote {os.path.join(a.root, 'docs', 'results.md')}")


if __name__ == "__main__":
    main()
