#!/usr/bin/env python3
"""Writes docs/results.md, the page that holds every results table, from docs/results/.

usage: scripts/results_page.py [--root DIR] [--out FILE]

docs/results/tables.json lists the page's sections and tables in order. Each table row names the
file its figures come from (a summary written by selfsup, a benchmark's JSON or log, or a small
JSON that records figures for which no summary was kept) and carries what that file does not:
the row's label, the exact command, the machine it ran on and an optional note. The figures are
read from the files and formatted here, never copied into tables.json, so changing a file changes
the page. tests/cli/results_page.sh fails when docs/results.md differs from what this writes.

The output depends only on the files (sorted where listed, fixed number formats); only the
Python standard library is needed.
"""
import argparse
import json
import os
import re
import sys

sys.dont_write_bytecode = True  # the source tree may be read-only (ctest), and needs no caches
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import results_table  # noqa: E402  (the pretraining table's cells)
import semi_table  # noqa: E402  (the semi-supervised table's cells)

DASH = results_table.DASH
SPLITS = {"test": "the test set (10,000 images)",
          "val": "a validation split held out of the training set"}


def stat(values, scale=100, digits=2):
    """The mean of values (scaled), with the sample sd after +- when there are several."""
    m = sum(values) / len(values)
    if len(values) == 1:
        return f"{scale * m:.{digits}f}"
    sd = (sum((v - m) ** 2 for v in values) / (len(values) - 1)) ** 0.5
    return f"{scale * m:.{digits}f} +- {scale * sd:.{digits}f}"


class Page:
    def __init__(self, root):
        self.root = root
        self.results = os.path.join(root, "docs", "results")
        with open(os.path.join(self.results, "tables.json")) as f:
            self.spec = json.load(f)
        self.machines = {m["id"]: m for m in self.spec["machines"]}
        self.used = {}  # file -> titles of the tables that read it
        self.lines = []
        self.table_title = ""

    # ---- reading -------------------------------------------------------------------------------
    def load(self, name, key=None):
        path = os.path.join(self.results, name)
        if not os.path.exists(path):
            sys.exit(f"results_page: {name} (named in docs/results/tables.json) is not in docs/results/")
        self.used.setdefault(name, [])
        if self.table_title not in self.used[name]:
            self.used[name].append(self.table_title)
        if name.endswith(".json"):
            with open(path) as f:
                data = json.load(f)
            if key is not None:
                if key not in data:
                    sys.exit(f"results_page: {name} has no entry '{key}'")
                data = data[key]
            return data
        with open(path) as f:
            return f.read()

    def machine(self, mid):
        if mid not in self.machines:
            sys.exit(f"results_page: unknown machine '{mid}' in table '{self.table_title}'")
        return self.machines[mid]["name"]

    # ---- writing -------------------------------------------------------------------------------
    def put(self, *lines):
        self.lines.extend(lines)

    def text(self, paragraphs):
        """Paragraphs are lists of lines; consecutive lines join into one paragraph."""
        for p in paragraphs or []:
            self.put(*(p if isinstance(p, list) else [p]), "")

    def table(self, header, rows, lifted=None, notes=None):
        """A markdown table. `lifted` maps a column name to its values: one value shared by every
        row becomes a line above the table, different values become a column."""
        header = list(header)
        rows = [list(r) for r in rows]
        above = []
        at = len(header) - 1 if header[-1].startswith("command") else len(header)  # before the command
        for name, (values, sentence) in (lifted or {}).items():
            if len(set(values)) == 1:
                above.append(sentence.format(values[0]))
            else:
                header.insert(at, name)
                for r, v in zip(rows, values):
                    r.insert(at, v)
                at += 1
        if above:
            self.put(" ".join(above), "")
        self.put("| " + " | ".join(header) + " |", "|" + "---|" * len(header))
        for r in rows:
            self.put("| " + " | ".join(str(c) for c in r) + " |")
        self.put("")
        for i, n in enumerate(notes or [], 1):
            self.put(f"[{i}] {n}", "")

    # ---- helpers shared by the row kinds --------------------------------------------------------
    @staticmethod
    def code(cmd):
        if cmd is None:
            return DASH
        if isinstance(cmd, list):
            return ", then ".join(f"`{c}`" for c in cmd)
        return f"`{cmd}`"

    @staticmethod
    def label_with_note(row, notes):
        label = row["label"]
        if row.get("note"):
            notes.append(row["note"])
            label += f" [{len(notes)}]"
        return label

    def split_of(self, s, row):
        return SPLITS[row.get("split", s.get("eval_split", "test"))]

    # ---- table kinds ---------------------------------------------------------------------------
    def kind_pretrain(self, t):
        rows, machines, splits, cmds, notes = [], [], [], [], []
        for r in t["rows"]:
            s = self.load(r["file"], r.get("key"))
            if r.get("figures") == "test_set":  # trained with eval.split=val, then scored on test
                s = dict(s, knn_acc=s["test_set"]["knn"]["knn_acc"],
                         linear_acc=s["test_set"]["linear"]["linear_acc"], eval_split="test")
            lin_val = s.get("linear_val_acc")
            rows.append([self.label_with_note(r, notes)] + results_table.cells(s)
                        + [results_table.pct(lin_val)])
            machines.append(self.machine(r["machine"]))
            splits.append(self.split_of(s, r))
            cmds.append(self.code(r.get("command")))
        for row, c in zip(rows, cmds):
            row.append(c)
        self.table(["run", "kNN", "linear", "training", "images/s", "linear, L2-selection split", "command"],
                   rows, {"machine": (machines, "Ran on the {}."),
                          "scored on": (splits, "Scored on {}.")}, notes)

    def kind_semi(self, t):
        rows, machines, notes = [], [], []
        for r in t["rows"]:
            s = self.load(r["file"], r.get("key"))
            rows.append([self.label_with_note(r, notes)] + semi_table.cells(s) + [self.code(r["command"])])
            machines.append(self.machine(r["machine"]))
        self.table(["run"] + semi_table.HEADER + ["command"], rows,
                   {"machine": (machines, "Ran on the {}.")}, notes)

    def kind_semi_draws(self, t):
        """`selfsup semi` summaries over label draws (scripts/semi_draws.sh): one row per method and
        label count, mean +- sample sd over the draws (seeds) of the final and the EMA model's test
        accuracy; a row may name the row it is compared with (`against`): the mean paired difference
        of the EMA test accuracy, draw by draw."""
        rows, machines, notes, by_label = [], [], [], {}
        for r in t["rows"]:
            runs = [self.load(f) for f in r["files"]]
            seeds = []  # the draw's seed, from the file's name (..._s<seed>.json)
            for f in r["files"]:
                m = re.search(r"_s(\d+)\.json$", f)
                if not m:
                    sys.exit(f"results_page: {f} does not end in _s<seed>.json (table '{self.table_title}')")
                seeds.append(int(m.group(1)))
            by_label[r["label"]] = dict(zip(seeds, runs))
            diff = DASH
            if r.get("against"):
                other = by_label[r["against"]]
                pairs = [(x["test_acc_ema"], other[sd]["test_acc_ema"]) for sd, x in zip(seeds, runs) if sd in other]
                if pairs:
                    d = stat([a - b for a, b in pairs])
                    diff = f"{'+' if not d.startswith('-') else ''}{d} vs {r['against']} ({len(pairs)} paired)"
            rows.append([self.label_with_note(r, notes), str(runs[0]["labels_per_class"]),
                         f"{len(runs)} ({', '.join(str(x) for x in seeds)})",
                         stat([x["test_acc"] for x in runs]), stat([x["test_acc_ema"] for x in runs]),
                         stat([x["val_acc_ema"] for x in runs], 100, 1), diff,
                         f"{sum(x['train_seconds'] for x in runs) / len(runs):.0f} s, "
                         f"{sum(x['steps'] for x in runs) / len(runs):,.0f} steps", self.code(r["command"])])
            machines.append(self.machine(r["machine"]))
        self.table(["method", "labels/class", "draws (seeds)", "test (last)", "test (EMA)", "val (EMA)",
                    "EMA test, paired difference", "training (mean)", "command"], rows,
                   {"machine": (machines, "Ran on the {}.")}, notes)

    def kind_cotrain(self, t):
        """`selfsup cotrain` summaries over label draws: mean +- sample sd of the test accuracy of
        each view and the combined classifier on the labeled images alone (round 0), at the round
        the combined validation accuracy chose, and after the last round; the share of the added
        labels that were right."""
        rows, machines, notes = [], [], []
        for r in t["rows"]:
            runs = [self.load(f) for f in r["files"]]
            first = [x["rounds"][0] for x in runs]
            chosen = [x["rounds"][x["chosen_round"]] for x in runs]
            added = sum(sum(y["added"] for y in x["rounds"]) for x in runs)
            right = sum(sum(y["added_correct"] for y in x["rounds"]) for x in runs)
            rows.append([self.label_with_note(r, notes), str(runs[0]["labels_per_class"]), str(len(runs)),
                         stat([y["test_acc_view1"] for y in first]), stat([y["test_acc_view2"] for y in first]),
                         stat([y["test_acc"] for y in first]),
                         stat([y["test_acc"] for y in chosen]) + f" (rounds {', '.join(str(x['chosen_round']) for x in runs)})",
                         stat([x["test_acc_last"] for x in runs]),
                         f"{100 * right / max(added, 1):.1f}% of {added:,}", self.code(r["command"])])
            machines.append(self.machine(r["machine"]))
        self.table(["views", "labels/class", "draws", "view 1 alone", "view 2 alone", "combined, round 0",
                    "combined, round chosen on val", "combined, last round", "added labels right", "command"], rows,
                   {"machine": (machines, "Ran on the {}.")}, notes)

    def kind_semi_compare(self, t):
        """bench/run_semi_compare.py's JSON: per label draw, the Python FixMatch's EMA test accuracy at
        its logged points of training time, selfsup's at each of its budgets (each a run of its own)
        and, where the file has it, the pipeline `selfsup tune` chose; then the mean +- sample sd over
        the draws and the comparisons the benchmark exists for: selfsup's shorter budget against
        Python's full one, the two full budgets, and the tuned pipeline against Python. A side a
        draw lacks is a dash and stays out of the means; a paired difference pairs the draws that
        have both sides."""
        c = self.load(t["file"])
        draws = c["draws"]
        points = sorted({p["seconds"] for d in draws if d.get("python") for p in d["python"]["points"]})
        budgets = c["selfsup_budgets"].split(",")
        tuned = any(d.get("tuned") for d in draws)
        fmt = lambda v: f"{100 * v:.2f}"
        full = max(points)

        def py_at(d, sec):
            hit = [p for p in (d.get("python") or {}).get("points", []) if p["seconds"] == sec]
            return hit[0]["test_acc_ema"] if hit else None

        def ours(d, b):
            return d["selfsup"][b]["test_acc_ema"] if b in d.get("selfsup", {}) else None

        def tuned_of(d):
            return d["tuned"]["test_acc_ema"] if d.get("tuned") else None

        def cell(v):
            return fmt(v) if v is not None else DASH

        def mean_of(vals):
            vals = [v for v in vals if v is not None]
            return stat(vals) if vals else DASH

        rows, cpus = [], []
        for d in draws:
            row = [str(d["seed"])] + [cell(py_at(d, x)) for x in points]
            row.append(f"{d['python']['steps']:,}" if d.get("python") else DASH)
            row += [cell(ours(d, b)) for b in budgets]
            row.append(" / ".join(f"{d['selfsup'][b]['steps']:,}" for b in budgets if b in d["selfsup"]) or DASH)
            if tuned:
                row.append(cell(tuned_of(d)))
            rows.append(row)
            apart = d.get("tuned") and (d["tuned"]["cpu"], d["tuned"]["date"]) != (d["cpu"], d["date"])
            cpus.append(f"{d['cpu']}, {d['date']}" + (f" (tuned: {d['tuned']['cpu']}, {d['tuned']['date']})"
                                                       if apart else ""))
        mean_row = ["mean"] + [mean_of([py_at(d, x) for d in draws]) for x in points] + [DASH]
        mean_row += [mean_of([ours(d, b) for d in draws]) for b in budgets] + [DASH]
        if tuned:
            mean_row.append(mean_of([tuned_of(d) for d in draws]))
        header = (["draw (seed)"] + [f"Python {x:.0f} s" for x in points] + ["Python steps"]
                  + [f"selfsup {b} s" for b in budgets] + ["selfsup steps"])
        if tuned:
            header.append(f"tuned pipeline {c['budget']:.0f} s")
        self.table(header, rows + [mean_row], {"CPU": (cpus, "Every draw ran on: {}.")})

        def compare(name, get):
            mine = [get(d) for d in draws if get(d) is not None]
            py = [py_at(d, full) for d in draws if py_at(d, full) is not None]
            pairs = [get(d) - py_at(d, full) for d in draws if get(d) is not None and py_at(d, full) is not None]
            if not mine or not py:
                return None
            a, b = sum(mine) / len(mine), sum(py) / len(py)
            return (f"{name} against Python in {full:.0f} s, {len(mine)} and {len(py)} draw(s): mean {fmt(a)} "
                    f"against {fmt(b)} ({'at or above' if a >= b else 'below'}, {100 * (a - b):+.2f} points); paired "
                    f"difference over {len(pairs)} draw(s) {stat(pairs) if pairs else DASH} points.")

        lines = [compare(f"selfsup in {b} s", lambda d, b=b: ours(d, b)) for b in budgets]
        if tuned:
            lines.append(compare(f"the tuned pipeline in {c['budget']:.0f} s in all", tuned_of))
        self.text([x for x in lines if x])

    def kind_tune(self, t):
        """A `selfsup tune` search's tune_results.json: every trial ranked (furthest rung, then its
        score there) with its drawn values and its score at each rung's budget."""
        r = self.load(t["file"])
        plan = r["plan"]
        keys = sorted({k for x in r["ranked"] for k in x["params"]})

        def value(v):
            v = v.strip()
            if v.startswith("{") and "name:" in v:  # a whole method section: its name stands for it
                return v.split("name:", 1)[1].split(",", 1)[0].strip(" }")
            try:
                return f"{float(v):.4g}"
            except ValueError:
                return v

        rows = []
        for x in r["ranked"]:
            at = {res["rung"]: res for res in x["results"]}
            rows.append([str(x["rank"]), str(x["trial"])] + [value(x["params"][k]) for k in keys]
                        + [f"{100 * at[i]['score']:.1f}" if i in at and at[i]["status"] == "done" else DASH
                           for i in range(len(plan))])
        header = (["rank", "trial"] + [f"`{k}`" for k in keys]
                  + [f"{r['metric']} at {p['seconds']:.0f} s ({p['trials']} trial{'s' if p['trials'] > 1 else ''})" for p in plan])
        self.table(header, rows)

    def kind_text(self, t):
        """`selfsup text train` summaries over seeds (mean +- sample sd), or one baseline of a
        `selfsup text eval` file (row key "method"), on the split the table names: the gloss pairs'
        Spearman rho, retrieval MRR and R@1, the fortune probes' kNN and linear accuracy."""
        split = t.get("split", "test")
        keys = ["sts_spearman", "retrieval_mrr", "retrieval_r1", "knn_acc", "linear_acc"]
        rows, machines, notes = [], [], []
        for r in t["rows"]:
            if "method" in r:
                figures = [self.load(r["file"])["methods"][r["method"]]]
                training = DASH
            else:
                runs = [self.load(f) for f in r["files"]]
                figures = [x[split] for x in runs]
                training = (f"{sum(x['train_seconds'] for x in runs) / len(runs):,.0f} s, "
                            f"{sum(x['steps'] for x in runs) / len(runs):,.0f} steps")
            rows.append([self.label_with_note(r, notes), str(len(figures))]
                        + [stat([f[k] for f in figures], scale=1 if k == "sts_spearman" else 100,
                                digits=3 if k == "sts_spearman" else 2) for k in keys]
                        + [training, self.code(r["command"])])
            machines.append(self.machine(r["machine"]))
        self.table(["encoder", "seeds", "gloss Spearman", "retrieval MRR", "R@1", "fortune kNN", "fortune linear",
                    "training (mean)", "command"], rows, {"machine": (machines, "Ran on the {}.")}, notes)

    def kind_pu(self, t):
        """`selfsup pu` summaries; a row with several files (seeds) shows mean +- sample sd."""
        rows, machines, notes, true_priors = [], [], [], set()
        for r in t["rows"]:
            runs = [self.load(f) for f in r.get("files", [r.get("file")])]
            true_priors.update(f"{x['prior_true']:.3f}" for x in runs)
            first = runs[0]
            prior = DASH
            if first.get("prior_used") is not None:
                prior = stat([x["prior_used"] for x in runs], 1, 3) + f" ({first['prior_source']})"
            est = first.get("prior_estimates")
            estimates = DASH if not est else f"BBE {stat([x['prior_estimates']['bbe'] for x in runs], 1, 3)}, " \
                f"EN {stat([x['prior_estimates']['elkan_noto'] for x in runs], 1, 3)}"
            wall = [x["train_seconds"] + x.get("eval_seconds", 0) + ((x.get("prior_estimates") or {}).get("seconds") or 0)
                    for x in runs]
            rows.append([self.label_with_note(r, notes) + (f" ({len(runs)} seeds)" if len(runs) > 1 else ""),
                         stat([x["test_acc"] for x in runs]), stat([x["test_f1"] for x in runs]),
                         stat([x["test_auc"] for x in runs]), stat([x["val_acc"] for x in runs], 100, 1),
                         prior, estimates, f"{sum(x['steps'] for x in runs) / len(runs):,.0f}",
                         f"{sum(wall) / len(wall):.0f} s", self.code(r["command"])])
            machines.append(self.machine(r["machine"]))
        true_prior = f" (true {true_priors.pop()})" if len(true_priors) == 1 else ""
        self.table(["run", "test acc", "test F1", "test AUC", "val acc", "prior used" + true_prior,
                    "prior estimates", "steps", "wall time", "command"], rows,
                   {"machine": (machines, "Ran on the {}.")}, notes)

    def kind_active(self, t):
        """`selfsup active` runs (summary + rounds); a row with several files (seeds) shows mean +- sample sd."""
        counts = sorted({r2["labeled"] for r in t["rows"] for f in r["files"] for r2 in self.load(f)["rounds"]})
        shown = [n for n in (10, 20, 50, 100, 200, 300, 500) if n in counts]
        rows, machines, notes = [], [], []
        for r in t["rows"]:
            runs = [self.load(f) for f in r["files"]]
            cells = []
            for n in shown:
                accs = [next((x["acc"] for x in run["rounds"] if x["labeled"] == n), None) for run in runs]
                cells.append(DASH if None in accs else stat(accs, 100, 1))
            rows.append([self.label_with_note(r, notes) + (f" ({len(runs)} seeds)" if len(runs) > 1 else ""),
                         stat([x["auc"] for x in runs])] + cells +
                        [f"{sum(x['seconds'] for x in runs) / len(runs):.0f} s",
                         f"{sum(x.get('wall_seconds', 0) for x in runs) / len(runs):.0f} s", self.code(r["command"])])
            machines.append(self.machine(r["machine"]))
        self.table(["strategy", "area"] + [f"{n} labels" for n in shown] + ["rounds", "wall", "command"], rows,
                   {"machine": (machines, "Ran on the {}.")}, notes)

    def kind_weak_synthetic(self, t):
        """scripts/weak_synthetic.py's file: per setting and label model, label accuracy and the error of
        the estimated function accuracies, mean +- sample sd over the seeds."""
        data = self.load(t["file"])
        rows = []
        for name, setting in data["settings"].items():
            lo, hi = setting["accuracy"]
            for model, runs in setting["models"].items():
                rows.append([f"{name} ({lo:.2f}-{hi:.2f})", model, stat([r["label_accuracy"] for r in runs]),
                             DASH if model == "majority_vote" else stat([r["accuracy_mae"] for r in runs], 1, 3),
                             str(len(runs))])
        self.put(f"Ran on the {self.machine(t['machine'])}. Command: {self.code(t['command'])}.", "")
        self.table(["function accuracies", "label model", "label accuracy", "accuracy error", "seeds"], rows)

    def kind_noisy(self, t):
        """`selfsup semi` summaries of runs on noisy labels (scripts/noisy_table.py): per noise and
        method the share of labels actually corrupted and the final model's accuracy; a row with
        several files (seeds) shows mean +- sample sd."""
        rows, machines, notes = [], [], []
        for r in t["rows"]:
            runs = [self.load(f) for f in r["files"]]
            rows.append([r["noise"], self.label_with_note(r, notes) + (f" ({len(runs)} seeds)" if len(runs) > 1 else ""),
                         stat([x["label_noise"]["corrupted"] for x in runs], 100, 1) + "%",
                         stat([x["test_acc"] for x in runs]), stat([x["test_acc_ema"] for x in runs]),
                         stat([x["val_acc"] for x in runs], 100, 1),
                         f"{sum(x['labeled_epochs'] for x in runs) / len(runs):.0f}",
                         f"{sum(x['train_seconds'] for x in runs) / len(runs):.0f} s", self.code(r["command"])])
            machines.append(self.machine(r["machine"]))
        self.table(["noise", "method", "labels corrupted", "test acc, final", "test acc, EMA", "val acc", "epochs",
                    "training", "command"], rows, {"machine": (machines, "Ran on the {}.")}, notes)

    def kind_weak_pipeline(self, t):
        """scripts/weak_pipeline.py's file: each labeling function's coverage and accuracy, each label
        model's accuracy on the training and the test images, and the end model's."""
        d = self.load(t["file"])
        enc = d["encoder"]
        self.put(f"Ran on the {self.machine(t['machine'])}. Command: {self.code(t['commands'][0])}; {t['commands'][1]}"
                 f" (`{t['commands'][2]}`). The encoder ({enc['run']}, {enc['train_seconds']:.0f} s of SimCLR): kNN "
                 f"{100 * enc['knn_acc']:.2f}, linear {100 * enc['linear_acc']:.2f}.", "")
        rows = [[f["name"], f["type"], f"{100 * f['coverage']:.1f}%", f"{100 * f['accuracy']:.1f}",
                 f"{100 * g['coverage']:.1f}%", f"{100 * g['accuracy']:.1f}"]
                for f, g in zip(d["functions"], d["functions_test"])]
        self.table(["function", "type", "coverage, train", "accuracy where it votes, train", "coverage, test",
                    "accuracy, test"], rows)
        rows = []
        for m, r in d["label_models"].items():
            rows.append([m, f"{100 * r['train']['label_accuracy']:.2f}", f"{100 * r['test']['label_accuracy']:.2f}"])
        e = d["end_model"]
        s = e["summary"]
        rows.append([f"end model on {e['label_model']}'s labels ({s['soft_labels']['images']:,} images, "
                     f"{s['train_seconds']:.0f} s)", DASH, f"{100 * s['test_acc']:.2f}"])
        self.put(f"Images some function voted on: {100 * d['covered_train']:.1f}% of the training set, "
                 f"{100 * d['covered_test']:.1f}% of the test set; an image no function voted on gets the label model's "
                 "class balance (majority vote: a tie), and counts.", "")
        self.table(["labels from", "accuracy, 60,000 training images", "accuracy, 10,000 test images"], rows)

    def kind_sparse(self, t):
        """Group lasso, thinning and fine-tuning (scripts/sparse_table.sh): the dense classifier's
        `selfsup semi` summary, then per strength the regularized run's (its zeroed filters) and the
        `selfsup prune` run's (filters, MACs, parameters and inference time before and after)."""
        dense = self.load(t["dense"]["file"])
        base = dense["test_acc"]
        rows, machines, notes = [], [], []
        first = self.load(t["rows"][0]["thinned"])["prune"]
        rows.append(["dense", f"{100 * base:.2f}", "", str(first["filters_before"]), f"{first['macs_before']:,.0f}",
                     f"{first['params_before']:,}", "", f"{t['dense']['wall']} s", self.code(t["dense"]["command"])])
        machines.append(self.machine(t["dense"]["machine"]))
        for r in t["rows"]:
            z, th = self.load(r["zeroed"]), self.load(r["thinned"])
            p, sp = th["prune"], z["sparsity"]
            label = self.label_with_note(r, notes)
            rows.append([f"{label}, zeroed in training", f"{100 * z['test_acc']:.2f}",
                         f"{100 * (z['test_acc'] - base):+.2f}", f"{sp['zero_filters']} zeroed",
                         f"{sp['macs_after']:,.0f} once thinned", DASH, DASH, f"{r['walls'][0]} s",
                         self.code(r["commands"][0])])
            rows.append([f"{label}, thinned and fine-tuned", f"{100 * th['test_acc']:.2f}",
                         f"{100 * (th['test_acc'] - base):+.2f}",
                         f"{p['filters_after']} ({100 * (1 - p['filters_after'] / p['filters_before']):.0f}% removed)",
                         f"{p['macs_after']:,.0f} ({p['macs_before'] / p['macs_after']:.2f}x fewer)",
                         f"{p['params_after']:,}",
                         f"{p['infer_ms_before']:.1f} -> {p['infer_ms_after']:.1f} ms ({p['infer_speedup']:.2f}x)",
                         f"{r['walls'][1]} s", self.code(r["commands"][1])])
            machines += [self.machine(r["machine"])] * 2
        self.table(["run", "test acc", "vs dense", "conv filters", "MACs / image", "parameters",
                    f"inference, batch {first['infer_batch']}", "wall time", "command"], rows,
                   {"machine": (machines, "Ran on the {}.")}, notes)

    def kind_sparsity_report(self, t):
        """A run's sparsity.json (nets/sparsity.h): per layer, what group lasso zeroed."""
        r = self.load(t["file"])
        rows = []
        for l in r["layers"] + [r["total"]]:
            rows.append([l["name"], f"{l['zero_filters']} of {l['filters']}", f"{l['zero_kernels']} of {l['kernels']}",
                         f"{100 * l['zero_params_fraction']:.1f}%", f"{l['macs']:,.0f}", f"{l['macs_after']:,.0f}"])
        self.table(["layer", "zero filters", "zero 2-D kernels", "zero parameters", "MACs", "MACs once thinned"], rows)

    def kind_denoise(self, t):
        """`selfsup denoise eval`'s file (every method and filter on the same noisy test images) and
        each trained run's summary: PSNR / SSIM, the gain over the noisy input, and how it was fitted."""
        d = self.load(t["file"])
        runs = {r["label"]: r for r in t["rows"]}
        noisy = d["noisy"]
        images = list(noisy["images"])
        rows = [["noisy input", f"{noisy['psnr']:.2f}", f"{noisy['ssim']:.3f}", DASH]
                + [f"{noisy['images'][i]['psnr']:.2f}" for i in images] + [DASH, DASH]]
        for name, m in d["methods"].items():
            r = runs[name]
            if "summary" in r:
                s = self.load(r["summary"])
                how = f"{s['steps']:,} steps, {s['train_seconds']:.0f} s"
            else:
                key = "h" if "h" in m else "sigma"
                how = f"{key} {m[key]:g}, chosen on the validation images"
            rows.append([r["text"], f"{m['psnr']:.2f}", f"{m['ssim']:.3f}", f"{m['psnr'] - noisy['psnr']:+.2f}"]
                        + [f"{m['images'][i]['psnr']:.2f}" for i in images] + [how, self.code(r.get("command"))])
        self.put(f"Ran on the {self.machine(t['machine'])}. Noise: {d['noise']} (seed {d['eval_noise_seed']}); "
                 f"scored by {self.code(t['command'])}.", "")
        self.table(["method", "PSNR (dB)", "SSIM", "gain (dB)"] + [f"{i}, PSNR" for i in images]
                   + ["fitted", "command"], rows)

    def kind_finetune(self, t):
        """`selfsup semi` summaries of fine-tuning runs; a row with several files (label draws) shows
        mean +- sample sd."""
        rows, machines, notes = [], [], []
        for r in t["rows"]:
            runs = [self.load(f) for f in r["files"]]
            rows.append([self.label_with_note(r, notes) + (f" ({len(runs)} draws)" if len(runs) > 1 else ""),
                         f"{runs[0]['labeled']:,}", stat([x["test_acc"] for x in runs]),
                         stat([x["test_acc_ema"] for x in runs]), stat([x["val_acc"] for x in runs], 100, 1),
                         f"{sum(x['steps'] for x in runs) / len(runs):,.0f}",
                         f"{sum(x['train_seconds'] for x in runs) / len(runs):.0f} s", self.code(r["command"])])
            machines.append(self.machine(r["machine"]))
        self.table(["run", "labels", "test acc", "test acc, EMA", "val acc", "steps", "training", "command"], rows,
                   {"machine": (machines, "Ran on the {}.")}, notes)

    def kind_propagate(self, t):
        def acc(name):
            if not name:
                return DASH
            s = self.load(name)
            return f"{100 * s['propagate_acc']:.2f} +- {100 * s['propagate_acc_std']:.2f}"

        rows, machines, notes = [], [], []
        with_test = any(r.get("test") for r in t["rows"])
        for r in t["rows"]:
            cells = [self.label_with_note(r, notes), acc(r.get("val"))]
            if with_test:
                cells.append(acc(r.get("test")))
            rows.append(cells + [self.code(r["command"])])
            machines.append(self.machine(r["machine"]))
        header = ["features", "val (5 draws)"] + (["test (5 draws)"] if with_test else []) + [t["command_header"]]
        self.table(header, rows, {"machine": (machines, "Ran on the {}.")}, notes)

    def kind_records(self, t):
        """A file that records figures with no summary behind them: {machine, command, note, rows}."""
        data = self.load(t["file"])
        rows = data["rows"]
        if "where" in t:
            rows = [r for r in rows if all(r.get(k) == v for k, v in t["where"].items())]
        out = []
        for r in rows:
            cells = []
            for col in t["columns"]:
                v = r.get(col["field"])
                cells.append(DASH if v is None else col.get("format", "{}").format(v))
            out.append(cells)
        machines = [self.machine(r.get("machine", data.get("machine"))) for r in rows]
        lifted = {"machine": (machines, "Ran on the {}.")}
        if "eval_split" in data:
            lifted["scored on"] = ([SPLITS[data["eval_split"]]] * len(rows), "Scored on {}.")
        self.table([c["header"] for c in t["columns"]], out, lifted)
        self.put(f"Command: {self.code(data['command'])}. {data['note']}", "")

    def kind_speed(self, t):
        s = self.load(t["file"])
        m = s["medians"]
        pipelines = [("selfsup fp32", "selfsup_fp32"), ("PyTorch stock fp32", "python_stock_fp32"),
                     ("PyTorch allocator fixed fp32", "python_fixed_fp32"), ("selfsup bf16", "selfsup_bf16"),
                     ("PyTorch allocator fixed bf16", "python_fixed_bf16")]
        rows = [[name, f"{m[p + '_e2e']:,.0f}", f"{m[p + '_augment']:,.0f}", f"{m[p + '_compute']:,.0f}",
                 f"{m[p + '_peak_mib']:,.0f} MiB"] for name, p in pipelines]
        self.table(["images/s", "end to end", "augmentation only", "compute only", "peak memory (PSS)"], rows,
                   {"machine": ([self.machine(t["machine"])] * len(rows), "Ran on the {}.")})
        r = s["ratios"]
        stock_mem = m["selfsup_fp32_peak_mib"] / m["python_stock_fp32_peak_mib"]
        self.put(f"End to end, fp32: {r['e2e_fp32_vs_python_stock']:.2f}x the stock pipeline and "
                 f"{r['e2e_fp32_vs_python_fixed']:.2f}x the allocator-fixed one; bf16: "
                 f"{r['e2e_bf16_vs_python_fixed_bf16']:.2f}x the allocator-fixed bf16 one. Augmentation "
                 f"{r['augment_vs_python']:.1f}x. Overhead over pure compute {100 * r['overhead_fp32']:.1f}% fp32 / "
                 f"{100 * r['overhead_bf16']:.1f}% bf16 (end to end and compute come from separate runs, so a small "
                 f"negative value is noise). Peak memory {r['peak_memory_vs_python_fixed_fp32']:.2f}x the "
                 f"allocator-fixed pipeline's and {stock_mem:.2f}x the stock one's. The training step runs "
                 f"{m['selfsup_fp32_compute_gflops']:.1f} GFLOP/s fp32, {100 * m['selfsup_fp32_share_of_gemm']:.1f}% of "
                 f"the {m['gemm_fp32_gflops']:.1f} GFLOP/s fp32 GEMM rate measured in the same run (bf16: "
                 f"{m['selfsup_bf16_compute_gflops']:.1f} GFLOP/s, {100 * m['selfsup_bf16_share_of_gemm']:.1f}%). "
                 f"{s['reps']} repetitions of {s['steps']} timed steps after {s['warmup']} warm-up steps, batch "
                 f"{s['batch']}, medians.", "")
        self.put(f"Command: {self.code(t['command'])}.", "")

    def kind_speed_history(self, t):
        rows, machines, notes = [], [], []
        for r in t["rows"]:
            s = self.load(r["file"])
            m, q = s["medians"], s["ratios"]
            rows.append([self.label_with_note(r, notes), f"{s['reps']}, {s['warmup']} + {s['steps']}",
                         f"{m['selfsup_fp32_e2e']:,.0f}", f"{m['python_stock_fp32_e2e']:,.0f}",
                         f"{m['python_fixed_fp32_e2e']:,.0f}", f"{q['e2e_fp32_vs_python_stock']:.2f}x",
                         f"{q['e2e_fp32_vs_python_fixed']:.2f}x", f"{q['e2e_bf16_vs_python_fixed_bf16']:.2f}x",
                         f"{100 * q['overhead_fp32']:.1f}% / {100 * q['overhead_bf16']:.1f}%",
                         f"{100 * m['selfsup_fp32_share_of_gemm']:.1f}%"])
            machines.append(self.machine(r["machine"]))
        self.table(["code", "reps, warm-up + timed steps", "selfsup fp32", "PyTorch stock fp32",
                    "PyTorch fixed fp32", "fp32 vs stock", "fp32 vs fixed", "bf16 vs fixed bf16",
                    "overhead fp32 / bf16", "fp32 share of GEMM rate"], rows,
                   {"machine": (machines, "Ran on the {}.")}, notes)
        self.put(f"Command: {self.code(t['command'])}.", "")

    def kind_augment(self, t):
        log = self.load(t["file"])
        rows = []
        for line in log.splitlines():
            f = dict(kv.split("=", 1) for kv in line.split() if "=" in kv)
            if "shape" in f:
                rows.append([f["shape"], f"{float(f['selfsup_images_per_s']):,.0f}",
                             f"{float(f['torchvision_images_per_s']):,.0f}", f"{float(f['ratio']):.1f}x", f["reps"]])
        self.table(["images", "selfsup (images/s)", "torchvision (images/s)", "ratio", "repetitions (medians)"],
                   rows, {"machine": ([self.machine(t["machine"])] * len(rows), "Ran on the {}.")})
        self.put(f"Command: {self.code(t['command'])}.", "")

    def kind_dist(self, t):
        log = self.load(t["file"])
        reps = re.findall(r"rep (\d+): 1 process x 2 threads ([\d.]+) images/s; 2 processes x 1 threads ([\d.]+)", log)
        med = re.search(r"median: 1 process ([\d.]+) images/s, 2 processes ([\d.]+) images/s", log)
        rows = [["1 process x 2 intra-op threads", f"{float(med.group(1)):,.0f}",
                 " / ".join(f"{float(r[1]):,.0f}" for r in reps)],
                ["2 processes x 1 thread (`--nproc 2`)", f"{float(med.group(2)):,.0f}",
                 " / ".join(f"{float(r[2]):,.0f}" for r in reps)]]
        self.table(["", "images/s (median)", "repetitions"], rows,
                   {"machine": ([self.machine(t["machine"])] * 2, "Ran on the {}.")})
        self.put(f"Command: {self.code(t['command'])}.", "")

    def kind_precision_check(self, t):
        """bench/run_speed_bench.py --short: the shipped config (precision: auto) against fp32 and bf16."""
        s = self.load(t["file"])
        m = s["medians"]
        rows = [[name, f"{m[k]:,.0f}", " / ".join(f"{x:,.0f}" for x in s["samples"][k])]
                for name, k in (("fp32", "fp32"), ("bf16", "bf16"), ("auto (the shipped config)", "auto"))]
        self.table(["SimCLR end to end", "images/s (median)", "repetitions"], rows,
                   {"machine": ([self.machine(t["machine"])] * len(rows), "Ran on the {}.")})
        chosen = sorted({c["precision"] for c in s["auto_choices"]})
        probes = [c.get("probe_seconds", 0) for c in s["auto_choices"]]
        self.put(f"auto chose {', '.join(chosen)} in {len(s['auto_choices'])} of {len(s['auto_choices'])} runs, "
                 f"probing {min(probes):.1f}-{max(probes):.1f} s each (outside the timed steps). The default's rate "
                 f"over the faster fixed precision's, per repetition: "
                 f"{', '.join(f'{r:.3f}' for r in s['ratios'])}; median {s['default_vs_fastest']:.3f} "
                 f"({'within' if s['within_5_percent'] else 'not within'} 5%). CPU: {s['cpu']['model']}, "
                 f"{s['cpu']['cores']} cores. {s['reps']} repetitions of {s['warmup']} warm-up and {s['steps']} timed "
                 f"steps of batch {s['batch']}, the three runs' order rotating.", "")
        self.put(f"Command: {self.code(t['command'])}.", "")

    def kind_step_bench(self, t):
        s = self.load(t["file"])
        names = [("selfsup", "selfsup"), ("PyTorch, allocator fixed", "python_allocator_fixed"),
                 ("PyTorch, stock", "python_stock")]
        ratio = {"python_allocator_fixed": s["selfsup_over_python_allocator_fixed"],
                 "python_stock": s["selfsup_over_python_stock"]}
        rows = [[n, f"{s['steps_per_s'][k]:.2f}", " / ".join(f"{x:.2f}" for x in s["runs"][k]),
                 f"{ratio[k]:.2f}x" if k in ratio else DASH] for n, k in names]
        self.table(["", "steps/s (median)", "repetitions", "selfsup's speed-up"], rows,
                   {"machine": ([self.machine(t["machine"])] * 3, "Ran on the {}.")})
        self.put(f"{s['precision']} on both sides, {s['warmup']} warm-up and {s['steps']} timed steps a repetition. "
                 f"Command: {self.code(t['command'])}.", "")

    def kind_cuda_check(self, t):
        log = self.load(t["file"])
        figures = {}
        for name, js in re.findall(r"^== (\S+)\n(\{.*\})$", log, re.M):
            figures[name] = json.loads(js)
        rows = []
        for name, secs in re.findall(r"^PASS (\S+) \((\d+) s\)$", log, re.M):
            f = figures.get(name, {})
            parts = []
            if "images_per_second" in f:
                parts.append(f"{f['images_per_second']:,.0f} images/s")
            if "processes" in f:
                parts.append(f"{f['processes']} process" + ("es" if f["processes"] > 1 else ""))
            if "train_seconds" in f:
                parts.append(f"{f['train_seconds']:.0f} s of training")
            for k, n in (("knn_acc", "kNN"), ("linear_acc", "linear"), ("test_acc", "test (last)"),
                         ("test_acc_ema", "test (EMA)")):
                if k in f:
                    parts.append(f"{n} {100 * f[k]:.2f}")
            rows.append([name, "passed", f"{secs} s", ", ".join(parts) or DASH])
        self.table(["step", "result", "wall time", "figures"], rows,
                   {"machine": ([self.machine(t["machine"])] * len(rows), "Ran on the {}.")})
        self.put(f"Command: {self.code(t['command'])}.", "")

    def kind_previews(self, t):
        data = self.load(t["file"])
        rows = []
        for r in t["rows"]:
            s = data[r["key"]]
            pc = s["val_acc_ema_per_class"]
            rows.append([r["label"], f"{100 * s['val_acc']:.1f} / {100 * s['val_acc_ema']:.1f}",
                         f"{100 * s['unlabeled_mask_rate']:.0f}% / {100 * s['unlabeled_pseudo_label_acc']:.1f}%",
                         f"{100 * pc[4]:.0f}% / {100 * pc[6]:.0f}%", str(s["steps"])])
        self.table(["run", "val (last / EMA)", "EMA on unlabeled: share >= threshold / their accuracy",
                    "EMA val: coats / shirts", "steps"], rows,
                   {"machine": ([self.machine(t["machine"])] * len(rows), "Ran on the {}.")})
        self.put(f"Command: {self.code(t['command'])}.", "")

    def kind_targets(self, t):
        rows = []
        for r in t["rows"]:
            found = []
            for src in r["sources"]:
                v = self.load(src["file"], src.get("key"))
                for part in src["path"].split("."):
                    v = v[part]
                found.append((v * r.get("scale", 1), src["file"]))
            pick = min if r.get("reduce", "min" if r["compare"] == ">=" else "max") == "min" else max
            value, where = pick(found, key=lambda x: x[0])
            met = value >= r["bar"] if r["compare"] == ">=" else value <= r["bar"]
            fmt = "{:." + str(r.get("digits", 2)) + "f}" + r.get("unit", "")
            rows.append([r["target"], ("at least " if r["compare"] == ">=" else "at most ") + fmt.format(r["bar"]),
                         fmt.format(value), "met" if met else "**not met**",
                         f"[{where}](results/{where})"])
        self.table(["target", "bar", "reached", "", "from"], rows)

    # ---- the page --------------------------------------------------------------------------------
    def build(self):
        spec = self.spec
        self.put(f"# {spec['title']}", "")
        self.text(spec["intro"])
        self.put("## Machines", "")
        self.table(["machine", "what it is"], [[m["name"], m["text"]] for m in spec["machines"]])
        for sec in spec["sections"]:
            self.put(f"## {sec['title']}", "")
            self.text(sec.get("text"))
            for t in sec["tables"]:
                self.table_title = t.get("title", sec["title"])
                if "title" in t:  # a section with one table may leave its heading out
                    self.put(f"### {t['title']}", "")
                self.text(t.get("text"))
                getattr(self, "kind_" + t["kind"])(t)
                self.text(t.get("after"))
        self.table_title = ""
        self.put("## Files", "")
        self.put("Every file in docs/results/ and the tables that read it:", "")
        names = []
        for name in sorted(os.listdir(self.results)):
            sub = os.path.join(self.results, name)
            names += [f"{name}/{f}" for f in sorted(os.listdir(sub))] if os.path.isdir(sub) else [name]
        for name in names:
            if name == "tables.json":
                continue
            where = "; ".join(self.used.get(name, [])) or "no table (raw log)"
            self.put(f"- [{name}](results/{name}): {where}")
        self.put("")
        while self.lines and self.lines[-1] == "":
            self.lines.pop()
        return "\n".join(self.lines) + "\n"


def main():
    here = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--root", default=here, help="repository root (default: this script's)")
    ap.add_argument("--out", help="file to write (default: ROOT/docs/results.md)")
    a = ap.parse_args()
    page = Page(a.root).build()
    out = a.out or os.path.join(a.root, "docs", "results.md")
    with open(out, "w") as f:
        f.write(page)


if __name__ == "__main__":
    main()
