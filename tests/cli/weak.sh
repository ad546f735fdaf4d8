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
echo "PASS"
