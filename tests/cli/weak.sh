#!/usr/bin/env bash
# selfsup weak end to end: synthetic votes of known accuracies, each label model fitted to them
# writes its files and scores the gold labels (the fitted models above majority vote when the
# accuracies are spread), a CSV votes file with a header reads, and bad input fails with one
# error line.
# Usage: bash weak.sh <selfsup binary> <source dir> <build dir>
set -u
SELFSUP=$1
TMP=$(mktemp -d "${TMPDIR:-/tmp}/selfsup_weak.XXXXXX")
source "$(dirname "$0")/../support/cli.sh"
trap 'rm -rf "$TMP"' EXIT
[ -x "$SELFSUP" ] || fail "selfsup binary '$SELFSUP' not found"

"$SELFSUP" weak synthetic --out "$TMP/syn" --n 20000 --functions 10 --classes 3 --seed 1 >"$TMP/syn.json" 2>"$TMP/err" ||
  fail "weak synthetic failed: $(cat "$TMP/err")"
for m in majority_vote dawid_skene matrix_completion; do
  "$SELFSUP" weak label-model --votes "$TMP/syn/votes.npy" --labels "$TMP/syn/labels.npy" --model $m \
    --out "$TMP/$m" >/dev/null 2>"$TMP/err" || fail "label-model $m failed: $(cat "$TMP/err")"
done
python3 - "$TMP" <<'EOF' || fail "the label models' files"
import json, sys
d = sys.argv[1]
syn = json.load(open(f"{d}/syn.json"))
mv = json.load(open(f"{d}/majority_vote/label_model.json"))
for m in ("dawid_skene", "matrix_completion"):
    j = json.load(open(f"{d}/{m}/label_model.json"))
    assert j["examples"] == 20000 and j["functions"] == 10 and j["classes"] == 3, j
    assert j["label_accuracy"] >= mv["label_accuracy"] + 0.02, (m, j["label_accuracy"], mv["label_accuracy"])
    err = sum(abs(f["accuracy"] - a) for f, a in zip(j["per_function"], syn["accuracy"])) / 10
    assert err <= 0.03, (m, err)
    lines = open(f"{d}/{m}/predictions.csv").read().split("\n")
    assert lines[0] == "index,label,confidence" and len(lines) == 20002, (m, lines[:2], len(lines))
    npy = open(f"{d}/{m}/probabilities.npy", "rb").read()
    assert npy[:6] == b"\x93NUMPY", m
EOF
echo "ok: synthetic votes, three label models, the fitted ones above majority vote"

printf 'lf_a,lf_b,lf_c\n0,0,1\n1,-1,1\n-1,-1,-1\n' >"$TMP/votes.csv"
"$SELFSUP" weak label-model --votes "$TMP/votes.csv" --model majority_vote --classes 2 --out "$TMP/csv" >"$TMP/csv.json" 2>"$TMP/err" ||
  fail "a CSV votes file failed: $(cat "$TMP/err")"
grep -q '^2,-1,' "$TMP/csv/predictions.csv" || fail "an example every function abstained on is not -1: $(cat "$TMP/csv/predictions.csv")"
echo "ok: a CSV votes file with a header"

printf '0,0,1\n1,-1\n' >"$TMP/ragged.csv"
expect_error "a ragged row" "line 2 has 2 values, the first line 3" weak label-model --votes "$TMP/ragged.csv" --out "$TMP/e1"
printf '0,0,5\n' >"$TMP/big.csv"
expect_error "a label outside the classes" "votes 5, outside the classes 0..2" weak label-model --votes "$TMP/big.csv" \
  --classes 3 --out "$TMP/e2"
printf -- '-1,-1\n-1,-1\n' >"$TMP/none.csv"
expect_error "no function ever votes" "no labeling function votes" weak label-model --votes "$TMP/none.csv" --classes 2 \
  --out "$TMP/e3"
printf '0,1\n0,x\n' >"$TMP/text.csv"
expect_error "a value that is not a number" "line 2: 'x' is not an integer" weak label-model --votes "$TMP/text.csv" \
  --out "$TMP/e4"
expect_error "an unknown label model" "snorkel" weak label-model --votes "$TMP/big.csv" --model snorkel --out "$TMP/e5"
expect_error "a missing votes file" "cannot read the votes file" weak label-model --votes "$TMP/nope.csv" --out "$TMP/e6"

# Image labeling functions on a tiny encoder, a label model over their votes, the end model on its
# probabilistic labels.
cat >"$TMP/lf.yaml" <<EOF
data: {name: fashion-mnist, limit: 400}
weak: {encoder: $TMP/enc, seed_per_class: 3}
train: {threads: 1}
functions:
  - {name: proto, type: prototype, margin: 0.01}
  - {name: knn, type: knn, k: 3, min_agreement: 0.6}
  - {name: flat, type: rule, stat: height, below: 0.47, label: Sneaker}
EOF
cat >"$TMP/enc.yaml" <<EOF
method: {name: simclr}
data: {name: fashion-mnist, limit: 400}
model: {backbone: convnet, channels: [8, 16, 32]}
train: {batch_size: 16, max_steps: 2, threads: 1}
EOF
"$SELFSUP" pretrain --config "$TMP/enc.yaml" --out "$TMP/enc" --quiet --no-eval >/dev/null 2>"$TMP/err" ||
  fail "the encoder: $(tail -2 "$TMP/err")"
"$SELFSUP" weak apply --config "$TMP/lf.yaml" --out "$TMP/votes" --quiet >"$TMP/apply.json" 2>"$TMP/err" ||
  fail "weak apply failed: $(tail -2 "$TMP/err")"
"$SELFSUP" weak label-model --votes "$TMP/votes/votes_train.npy" --labels "$TMP/votes/labels_train.npy" --classes 10 \
  --out "$TMP/lm" >/dev/null 2>"$TMP/err" || fail "label-model on the applied votes failed: $(cat "$TMP/err")"
cat >"$TMP/end.yaml" <<EOF
method: {name: soft_label}
data: {name: fashion-mnist, limit: 400, labels_per_class: 20, val_per_class: 5, soft_labels: $TMP/lm}
model: {backbone: convnet, channels: [8, 16, 32]}
train: {batch_size: 16, max_steps: 4, threads: 1}
report: {map: pca}  # t-SNE costs seconds a run; tests/cli/report.sh checks the t-SNE map
EOF
"$SELFSUP" semi --config "$TMP/end.yaml" --init "$TMP/enc" --out "$TMP/end" --quiet >/dev/null 2>"$TMP/err" ||
  fail "the end model failed: $(tail -2 "$TMP/err")"
python3 - "$TMP" <<'EOF' || fail "weak apply / end model files"
import json, os, struct, sys
d = sys.argv[1]
a = json.load(open(f"{d}/apply.json"))
assert [f["name"] for f in a["functions"]] == ["proto", "knn", "flat"], a
assert a["seed_images"] == 30 and 0 < a["covered_train"] <= 1, a
for f in a["functions"] + a["functions_test"]:
    assert 0 <= f["coverage"] <= 1 and 0 <= f["accuracy"] <= 1, f
def shape(path):  # the shape in a .npy header
    head = open(path, "rb").read(256).decode("latin1")
    return tuple(int(x) for x in head.split("'shape': (")[1].split(")")[0].split(",") if x.strip())
assert shape(f"{d}/votes/votes_train.npy") == (400, 3), shape(f"{d}/votes/votes_train.npy")
assert shape(f"{d}/votes/votes_test.npy")[1] == 3
assert shape(f"{d}/lm/covered.npy") == (400,)
s = json.load(open(f"{d}/end/summary.json"))
assert s["method"] == "soft_label" and 0 < s["soft_labels"]["images"] <= s["labeled"] <= 400, s
assert 0 <= s["test_acc"] <= 1
EOF
echo "ok: weak apply, label model, end model"
expect_error "an unknown function type" "labeling function 'x': type must be prototype, knn or rule, got 'lasso'" \
  weak apply --config "$TMP/lf.yaml" --set 'functions=[{name: x, type: lasso}]' --out "$TMP/e7"
expect_error "a prototype function without an encoder" "weak.encoder: the prototype and knn functions need" \
  weak apply --config "$TMP/lf.yaml" --set "weak.encoder=''" --out "$TMP/e8"
expect_error "a rule voting an unknown class" "label 'Hat' is neither a class name" \
  weak apply --config "$TMP/lf.yaml" --set 'functions=[{name: x, type: rule, stat: ink, below: 0.1, label: Hat}]' --out "$TMP/e9"
expect_error "soft_label without soft labels" "set data.soft_labels" \
  semi --config "$TMP/end.yaml" --set "data.soft_labels=''" --out "$TMP/e10" --quiet
expect_error "soft labels of another data set" "probabilities.npy must be [1200, 10]" \
  semi --config "$TMP/end.yaml" --set data.limit=1200 --out "$TMP/e11" --quiet
echo "PASS"
