#!/usr/bin/env bash
# selfsup pretrain / eval: every bad config, file or argument gives exactly one "error: ..." line
# on stderr naming what is wrong, and a non-zero exit; never a crash, a backtrace or a hang.
# Usage: bash errors.sh <selfsup binary> <source dir> <build dir>
set -u
SELFSUP=$1
TMP=$(mktemp -d "${TMPDIR:-/tmp}/selfsup_errors.XXXXXX")
source "$(dirname "$0")/../support/cli.sh"
trap 'rm -rf "$TMP"' EXIT

[ -x "$SELFSUP" ] || fail "selfsup binary '$SELFSUP' not found"

cat >"$TMP/ok.yaml" <<EOF
method: {name: simclr, proj_hidden_dim: 32, proj_output_dim: 16}
data: {name: fashion-mnist, limit: 128}
model: {backbone: convnet, channels: [8, 16, 32]}
train: {batch_size: 64, max_steps: 2, threads: 1}
EOF
printf 'method: {name: simclr\ntrain: [1, 2\n' >"$TMP/bad.yaml"

# Config and arguments.
expect_error "unknown method" "nope" pretrain --config "$TMP/ok.yaml" --out "$TMP/r1" --set method.name=nope
expect_error "negative temperature" "method.temperature" \
  pretrain --config "$TMP/ok.yaml" --out "$TMP/r2" --set method.temperature=-1
expect_error "unknown config key" "train.lrr" pretrain --config "$TMP/ok.yaml" --out "$TMP/r3" --set train.lrr=0.1
[ -e "$TMP/r3/last.ckpt" ] && fail "a run with a misspelt key trained anyway"
expect_error "missing config file" "$TMP/none.yaml" pretrain --config "$TMP/none.yaml" --out "$TMP/r4"
expect_error "malformed YAML" "$TMP/bad.yaml" pretrain --config "$TMP/bad.yaml" --out "$TMP/r5"

# --resume where there is nothing to resume.
mkdir -p "$TMP/empty"
expect_error "--resume on an empty folder" "$TMP/empty/last.ckpt" pretrain --resume --out "$TMP/empty"

# A checkpoint cut in half.
"$SELFSUP" pretrain --config "$TMP/ok.yaml" --out "$TMP/good" --no-eval --quiet >"$TMP/out" 2>"$TMP/err" ||
  fail "the reference run failed: $(cat "$TMP/err")"
# The folder of another run: refused with one line, unless the run is resumed or overwritten.
expect_error "--out of another run" "--out $TMP/good holds another run (config.yaml, metrics.jsonl, last.ckpt, summary.json, report.html): pass --resume" \
  pretrain --config "$TMP/ok.yaml" --out "$TMP/good" --no-eval
expect_error "--resume and --overwrite" "give one" pretrain --resume --overwrite --out "$TMP/good"
expect_error "--out is a file" "is a file, not a folder" pretrain --config "$TMP/ok.yaml" --out "$TMP/ok.yaml"
"$SELFSUP" pretrain --config "$TMP/ok.yaml" --out "$TMP/good" --overwrite --set train.max_steps=1 --no-eval --quiet \
  >"$TMP/out" 2>"$TMP/err" || fail "--overwrite failed: $(cat "$TMP/err")"
python3 -c 'import json,sys; assert json.load(open(sys.argv[1]))["steps"] == 1' "$TMP/good/summary.json" ||
  fail "--overwrite kept the old run"
"$SELFSUP" pretrain --config "$TMP/ok.yaml" --out "$TMP/good" --overwrite --no-eval --quiet >"$TMP/out" 2>"$TMP/err" ||
  fail "--overwrite failed: $(cat "$TMP/err")"
size=$(stat -c %s "$TMP/good/last.ckpt")
head -c $((size / 2)) "$TMP/good/last.ckpt" >"$TMP/cut.ckpt"
expect_error "truncated checkpoint" "$TMP/cut.ckpt" eval --checkpoint "$TMP/cut.ckpt" --protocol knn
expect_error "missing checkpoint" "$TMP/none.ckpt" eval --checkpoint "$TMP/none.ckpt" --protocol knn
expect_error "unknown eval device" "tpu" eval --checkpoint "$TMP/good/last.ckpt" --protocol knn --device tpu
"$SELFSUP" eval --checkpoint "$TMP/good/last.ckpt" --protocol knn --device cpu >"$TMP/out" 2>"$TMP/err" ||
  fail "eval --device cpu failed: $(tail -1 "$TMP/err")"
expect_error "zero labels per class" "labels-per-class" eval --checkpoint "$TMP/good/last.ckpt" --protocol propagate \
  --labels-per-class 0
expect_error "more labels per class than a class has" "labeled_subset: class 0 has only 13 examples" \
  eval --checkpoint "$TMP/good/last.ckpt" --protocol propagate --labels-per-class 50
# Label propagation from 2 labels per class: five draws, their mean and spread in the summary.
"$SELFSUP" eval --checkpoint "$TMP/good/last.ckpt" --protocol propagate --labels-per-class 2 --threads 1 \
  --summary "$TMP/prop.json" >"$TMP/out" 2>"$TMP/err" || fail "eval --protocol propagate failed: $(tail -1 "$TMP/err")"
python3 - "$TMP/prop.json" <<'PY' || fail "propagate summary: $(cat "$TMP/prop.json")"
import json, sys
j = json.load(open(sys.argv[1]))
draws = j["propagate_acc_draws"]
assert len(draws) == 5 and all(0 <= a <= 1 for a in draws), draws
assert abs(sum(draws) / 5 - j["propagate_acc"]) < 1e-12 and j["propagate_labels"] == 20, j
assert len(set(draws)) > 1, "every draw scored the same: the draws are not different seeds"
PY

echo "PASS"
