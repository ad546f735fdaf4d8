#!/usr/bin/env python3
"""Files the results of scripts/weak_pipeline.sh into docs/results/ and regenerates docs/results.md.

usage: scripts/weak_pipeline.py --runs DIR --encoder RUN --end-model NAME --limit S --machine ID [--root DIR]

Writes ROOT/docs/results/weak_pipeline.json (the functions' coverage and accuracy per split, each
label model's accuracy on the training and the test votes, the encoder's and the end model's
summaries) and puts the table "Labeling functions, label models and the end model" (kind
`weak_pipeline`) into the section "Weak supervision", with the issue's bar in "Targets": the end
model's test accuracy above its label model's own accuracy on the test images.
"""
import argparse
import json
import os

from results_filing import Filing

SECTION = "Weak supervision"
MODELS = ["majority_vote", "dawid_skene", "matrix_completion"]
TARGET_PREFIX = "weak supervision, "


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--root", default=".")
    ap.add_argument("--runs", required=True)
    ap.add_argument("--encoder", required=True)
    ap.add_argument("--end-model", required=True)
    ap.add_argument("--limit", type=int, required=True)
    ap.add_argument("--machine", required=True)
    a = ap.parse_args()
    filing = Filing("weak_pipeline", a.root, a.machine)

    def read(path):
        if not os.path.exists(path):
            filing.fail(f"{path} is missing: run scripts/weak_pipeline.sh first")
        with open(path) as f:
            return json.load(f)

    apply = read(os.path.join(a.runs, "votes", "apply.json"))
    models = {m: {split: read(os.path.join(a.runs, f"lm_{m}_{split}", "label_model.json")) for split in ("train", "test")}
              for m in MODELS}
    end = read(os.path.join(a.runs, f"end_{a.end_model}_{a.limit}", "summary.json"))
    encoder = read(os.path.join(a.encoder, "summary.json"))
    result = {
        "functions": apply["functions"], "functions_test": apply["functions_test"],
        "covered_train": apply["covered_train"], "covered_test": apply["covered_test"],
        "seed_images": apply["seed_images"],
        "label_models": {m: {split: {"label_accuracy": models[m][split]["label_accuracy"],
                                     "majority_vote_accuracy": models[m][split]["majority_vote_accuracy"],
                                     "estimated_accuracy": [f["accuracy"] for f in models[m][split]["per_function"]]}
                             for split in ("train", "test")} for m in MODELS},
        "end_model": {"label_model": a.end_model, "time_limit": a.limit, "summary": end},
        "encoder": {"run": a.encoder, "knn_acc": encoder.get("knn_acc"), "linear_acc": encoder.get("linear_acc"),
                    "train_seconds": encoder.get("train_seconds")},
    }
    result["end_minus_label_model_test"] = 100 * (end["test_acc"] - models[a.end_model]["test"]["label_accuracy"])
    filing.write_json("weak_pipeline.json", result)

    table = {
        "title": "Labeling functions, label models and the end model",
        "kind": "weak_pipeline",
        "file": "weak_pipeline.json",
        "text": [[
            "The seven labeling functions of configs/fashion_mnist/weak/functions.yaml (a nearest prototype and a",
            "kNN vote on the features of a 600 s SimCLR encoder with 5 labeled images per class, five image-statistic",
            "rules read off those 50 images) on the 60,000 training and 10,000 test images. A label model is fitted",
            "to the training votes, and on its own to the test votes (no label is read by a fit; the gold labels",
            "only score); the end model (ConvNet from the SimCLR encoder, soft-label cross-entropy, 5 epochs of",
            "configs/fashion_mnist/weak/end_model.yaml) trains on the training images the functions covered and",
            "predicts every test image. One run: the seed set, the encoder and the end model are seed 0's.",
        ]],
        "commands": ["bash scripts/weak_pipeline.sh", "its last step, the end model",
                     f"selfsup semi --config configs/fashion_mnist/weak/end_model.yaml --init {a.encoder} "
                     f"--set data.soft_labels={a.runs}/lm_{a.end_model}_train --out {a.runs}/end_{a.end_model}_{a.limit} "
                     f"--time-limit {a.limit}"],
        "machine": a.machine,
    }
    section = filing.section(SECTION, [["`selfsup weak` and the noisy-label methods of `selfsup semi`."]],
                             "Active learning")
    filing.put_tables(section, [table])
    filing.set_targets(TARGET_PREFIX, [{
        "target": TARGET_PREFIX + "Fashion-MNIST: the end model's test accuracy above its label model's on the test images",
        "compare": ">=", "bar": 0.0, "unit": " points",
        "sources": [{"file": "weak_pipeline.json", "path": "end_minus_label_model_test"}]}])
    filing.save()
    print(f"weak_pipeline: end model {100 * end['test_acc']:.2f}, label model ({a.end_model}) on the test votes "
          f"{100 * models[a.end_model]['test']['label_accuracy']:.2f}")


if __name__ == "__main__":
    main()
