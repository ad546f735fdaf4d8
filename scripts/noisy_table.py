#!/usr/bin/env python3
"""Files the runs of scripts/noisy_table.sh into docs/results/ and regenerates docs/results.md.

usage: scripts/noisy_table.py --runs DIR --methods "ce gce ..." --noises "sym50 pair45" --seeds "0" --machine ID [--root DIR]

For every noise, method and seed, RUNS/<method>_<noise>_s<seed>/summary.json is copied to
ROOT/docs/results/noisy_<method>_<noise>_s<seed>.json. ROOT/docs/results/tables.json then gets (or has
replaced) the table "Learning with noisy labels" of kind `noisy` in the section "Weak supervision",
one row per noise and method, and, in "Targets", the issue's bar: co-teaching at least 5 points
above cross-entropy at the final epoch with 50% symmetric noise (the difference of the seeds'
means, in noisy_checks.json).
"""
import argparse

from results_filing import Filing, loop_command

SECTION = "Weak supervision"
NOISES = {
    "sym50": ("symmetric 50%", "--set data.label_noise=symmetric --set data.noise_rate=0.5", 0.5),
    "sym20": ("symmetric 20%", "--set data.label_noise=symmetric --set data.noise_rate=0.2", 0.2),
    "pair45": ("pair-flip 45%", "--set data.label_noise=pairflip --set data.noise_rate=0.45", 0.45),
}
LABELS = {
    "ce": "cross-entropy",
    "gce": "generalized cross-entropy (q 0.7)",
    "co_teaching": "co-teaching",
    "elr": "ELR (beta 0.7, lambda 3)",
}
TARGET_PREFIX = "noisy labels, "


def command(method, noise, seeds, extra):
    _, flags, rate = NOISES[noise]
    if method == "co_teaching":
        flags += f" --set method.forget_rate={rate}"
    if extra.strip():
        flags += " " + " ".join(extra.split())
    run = (f"selfsup semi --config configs/fashion_mnist/noisy/{method}.yaml {flags} --set seed=$S "
           f"--out runs/noisy/{method}_{noise}_s$S")
    return loop_command(run, seeds)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--root", default=".")
    ap.add_argument("--runs", required=True)
    ap.add_argument("--methods", required=True)
    ap.add_argument("--noises", required=True)
    ap.add_argument("--seeds", required=True)
    ap.add_argument("--machine", required=True)
    ap.add_argument("--extra", default="")
    a = ap.parse_args()
    seeds, methods, noises = a.seeds.split(), a.methods.split(), a.noises.split()
    filing = Filing("noisy_table", a.root, a.machine)
    for m in methods:
        if m not in LABELS:
            filing.fail(f"unknown method '{m}' (methods: {', '.join(LABELS)})")
    for n in noises:
        if n not in NOISES:
            filing.fail(f"unknown noise '{n}' (noises: {', '.join(NOISES)})")

    files, rows = {}, []
    for noise in noises:
        for m in methods:
            stems = [f"{m}_{noise}_s{s}" for s in seeds]
            files[(m, noise)] = [filing.copy_summary(f"{a.runs}/{stem}", f"noisy_{stem}.json",
                                                     "run scripts/noisy_table.sh first") for stem in stems]
            rows.append({"label": LABELS[m], "noise": NOISES[noise][0], "files": files[(m, noise)],
                         "machine": a.machine, "command": command(m, noise, seeds, a.extra)})

    table = {
        "title": "Learning with noisy labels",
        "kind": "noisy",
        "text": [[
            "1,000 Fashion-MNIST training images per class with labels corrupted by seeded synthetic noise,",
            "the same draw for every method (a validation split of 100 per class keeps its true labels);",
            "ConvNet, no augmentation, Adam 1e-3 with a cosine decay, 60 epochs (configs/fashion_mnist/noisy/). Test",
            "accuracy of the model at the final epoch on the 10,000 test images (true labels); nothing is",
            "chosen on the test set or the validation split. Co-teaching's forget rate is the noise rate.",
        ]],
        "rows": rows,
    }
    section = filing.section(SECTION, [["`selfsup weak` and the noisy-label methods of `selfsup semi`."]],
                             "Active learning")
    filing.put_tables(section, [table])

    checks, targets = {}, []
    if ("ce", "sym50") in files and ("co_teaching", "sym50") in files:
        d = 100 * (filing.mean_test_acc(files[("co_teaching", "sym50")]) - filing.mean_test_acc(files[("ce", "sym50")]))
        checks["co_teaching_minus_ce_sym50"] = d
        targets.append({"target": TARGET_PREFIX + "50% symmetric: co-teaching's final test accuracy above "
                                                  "cross-entropy's", "compare": ">=", "bar": 5.0, "unit": " points",
                        "sources": [{"file": "noisy_checks.json", "path": "co_teaching_minus_ce_sym50"}]})
    if checks:
        filing.write_json("noisy_checks.json", dict(checks, seeds=len(seeds),
                                                    rows={f"{m}_{n}": f for (m, n), f in files.items()}))
        filing.set_targets(TARGET_PREFIX, targets)
    filing.save()
    for key, value in checks.items():
        print(f"noisy_table: {key} = {value:.2f}")


if __name__ == "__main__":
    main()
