#!/usr/bin/env bash
# selfsup pu end to end on a small subset: every method runs and reports test and validation
# accuracy, precision, recall, F1 and AUC, the risk terms and the class prior (given or
# estimated) beside the true one; metrics.jsonl logs both risk terms; --init loads a pretrain
# checkpoint; a run killed after a checkpoint and resumed ends with the same weights and figures
# as an uninterrupted one, estimated prior included; bad input fails with one error line.
# Usage: bash pu.sh <selfsup binary> <source dir> <build dir>
set -u
SELFSUP=$1
SRC=$2
TMP=$(mktemp -d "${TMPDIR:-/tmp}/selfsup_pu.XXXXXX")
source "$(dirname "$0")/../support/cli.sh"
PID=
cleanup() {
  [ -n "$PID" ] && kill -9 "$PID" 2>/dev/null
  rm -rf "$TMP"
}
trap cleanup EXIT
[ -x "$SELFSUP" ] || fail "selfsup binary '$SELFSUP' not found"

# One thread: the runs compared below must do their arithmetic in the same order.
cat >"$TMP/pu.yaml" <<EOF
method: {name: nnpu}
data: {name: fashion-mnist, limit: 1500, labeled_positives: 100, val_per_class: 20}
pu: {prior: estimate, estimate_steps: 4}
model: {backbone: convnet, channels: [8, 16, 32]}
train: {batch_size: 16, max_steps: 8, optimizer: adamw, lr: 0.003, threads: 1, log_every_steps: 2}
seed: 1
report: {map: pca}  # t-SNE costs seconds a run; tests/cli/report.sh checks the t-SNE map
EOF

"$SELFSUP" pu --config "$TMP/pu.yaml" --out "$TMP/nnpu" >"$TMP/nnpu.out" 2>"$TMP/nnpu.err" ||
  fail "pu failed: $(tail -3 "$TMP/nnpu.err")"
grep -q "estimating the class prior" "$TMP/nnpu.err" || fail "no estimation announced: $(cat "$TMP/nnpu.err")"
python3 - "$TMP/nnpu/summary.json" <<'EOF' || fail "summary.json lacks a field"
import json, sys
s = json.load(open(sys.argv[1]))
for split in ("test", "val"):
    for k in ("acc", "precision", "recall", "f1", "auc"):
        v = s[f"{split}_{k}"]
        assert 0 <= v <= 1, (split, k, v)
    assert set(s[f"{split}_confusion"]) == {"true_positives", "false_positives", "true_negatives", "false_negatives"}
assert sum(s["test_confusion"].values()) == 10000, s["test_confusion"]
assert s["positive_classes"] == [1, 4, 7] and s["labeled"] == 100 and s["validation"] == 200, s
assert s["unlabeled"] == 1500 - 200 and s["unlabeled_set"] == "all", s
assert abs(s["prior_true"] - 0.3) < 0.05, s["prior_true"]
assert s["prior_source"] == "bbe" and s["prior_used"] == s["prior_estimates"]["bbe"], s
for k in ("c", "elkan_noto", "bbe", "seconds"):
    assert k in s["prior_estimates"], k
assert s["prior_estimates"]["steps"] == 4
for part in ("train_risk", "val_risk"):
    assert set(s[part]) == {"positive_risk", "negative_risk", "risk"}, s[part]
EOF
python3 - "$TMP/nnpu/metrics.jsonl" <<'EOF' || fail "metrics.jsonl lacks the risk terms"
import json, sys
lines = [json.loads(l) for l in open(sys.argv[1])]
assert [l["step"] for l in lines] == [2, 4, 6, 8], lines
for l in lines:
    assert "positive_risk" in l and "negative_risk" in l and "ascent" in l, l
EOF
echo "ok: nnpu with an estimated prior: summary and metrics"

# The other methods; uPU with the prior given, Elkan-Noto reporting the estimates of its own classifier.
for m in upu vpu elkan_noto pn; do
  extra=()
  [ "$m" = upu ] && extra=(--set pu.prior=0.3)
  "$SELFSUP" pu --config "$TMP/pu.yaml" --set method.name=$m "${extra[@]}" --out "$TMP/$m" \
    >"$TMP/$m.out" 2>"$TMP/$m.err" || fail "pu $m failed: $(tail -3 "$TMP/$m.err")"
  grep -q "estimating the class prior" "$TMP/$m.err" && fail "$m estimated a prior it does not use"
  python3 - "$TMP/$m/summary.json" "$m" <<'EOF' || fail "$m: unexpected summary"
import json, sys
s, m = json.load(open(sys.argv[1])), sys.argv[2]
assert s["method"] == m and 0 <= s["test_auc"] <= 1
if m == "upu":
    assert s["prior_source"] == "config" and s["prior_used"] == 0.3, s
else:
    assert s["prior_source"] == "none" and s["prior_used"] is None, s
if m == "elkan_noto":
    assert 0 < s["calibration"]["c"] < 1 and "bbe" in s["prior_estimates"], s
if m == "vpu":
    assert "log_max_phi" in s["calibration"], s
EOF
done
echo "ok: upu, vpu, elkan_noto and pn"

# --init from a SimCLR checkpoint of the same backbone.
cat >"$TMP/pre.yaml" <<EOF
method: {name: simclr, proj_hidden_dim: 32, proj_output_dim: 16}
data: {name: fashion-mnist, limit: 256}
model: {backbone: convnet, channels: [8, 16, 32]}
train: {batch_size: 32, max_steps: 2, threads: 1}
EOF
"$SELFSUP" pretrain --config "$TMP/pre.yaml" --out "$TMP/pre" --no-eval --quiet >/dev/null 2>"$TMP/pre.err" ||
  fail "pretrain failed: $(tail -1 "$TMP/pre.err")"
"$SELFSUP" pu --config "$TMP/pu.yaml" --set pu.prior=0.3 --out "$TMP/init" --init "$TMP/pre" --quiet \
  >/dev/null 2>"$TMP/init.err" || fail "pu --init failed: $(tail -1 "$TMP/init.err")"
echo "ok: --init from a pretrain run"

# Resume: A straight through; B killed without warning after its first checkpoint, then resumed.
STEPS=80
sed -e "s/max_steps: 8/max_steps: $STEPS, checkpoint_every_steps: 5/" "$TMP/pu.yaml" >"$TMP/long.yaml"
"$SELFSUP" pu --config "$TMP/long.yaml" --out "$TMP/A" --quiet >"$TMP/A.out" 2>"$TMP/A.err" ||
  fail "run A failed: $(tail -3 "$TMP/A.err")"
"$SELFSUP" pu --config "$TMP/long.yaml" --out "$TMP/B" --quiet >"$TMP/B1.out" 2>"$TMP/B1.err" &
PID=$!
for _ in $(seq 1 6000); do
  [ -f "$TMP/B/last.ckpt" ] && break
  kill -0 "$PID" 2>/dev/null || break
  sleep 0.02
done
kill -9 "$PID" 2>/dev/null
wait "$PID" 2>/dev/null
PID=
[ -f "$TMP/B/last.ckpt" ] || fail "run B wrote no checkpoint before it ended: $(cat "$TMP/B1.err")"
[ -f "$TMP/B/summary.json" ] && fail "run B finished before it could be killed (raise STEPS)"
"$SELFSUP" pu --resume --out "$TMP/B" >"$TMP/B2.out" 2>"$TMP/B2.err" ||
  fail "resuming B failed: $(tail -3 "$TMP/B2.err")"
grep -q "^resuming from .* at step [1-9]" "$TMP/B2.err" || fail "B did not resume from a checkpoint: $(cat "$TMP/B2.err")"
grep -q "estimating the class prior" "$TMP/B2.err" && fail "the resumed run estimated the prior again"
python3 - "$TMP/A/summary.json" "$TMP/B/summary.json" <<'EOF' || fail "the resumed run's figures differ"
import json, sys
a, b = (json.load(open(p)) for p in sys.argv[1:3])
assert b["steps"] == a["steps"] == 80, (a["steps"], b["steps"])
for k in ("prior_used", "test_acc", "test_auc", "test_f1", "val_acc", "train_risk"):
    assert a[k] == b[k], (k, a[k], b[k])
for k in ("c", "elkan_noto", "bbe"):
    assert a["prior_estimates"][k] == b["prior_estimates"][k], k
EOF
if [ -x /usr/bin/python3 ]; then
  /usr/bin/python3 "$SRC/tests/cli/same_checkpoint_tensors.py" "$TMP/A/last.ckpt" "$TMP/B/last.ckpt" ||
    fail "the final checkpoints hold different tensors"
fi
echo "ok: killed, resumed, same weights and figures"

# Bad input: one error line each, nothing trained.
expect_error "empty positive set" "data.positive_classes is empty" \
  pu --config "$TMP/pu.yaml" --out "$TMP/e1" --set 'data.positive_classes=[]'
expect_error "positive class outside the data set" "data.positive_classes: class 12 is not a class of this data set (0..9)" \
  pu --config "$TMP/pu.yaml" --out "$TMP/e2" --set 'data.positive_classes=[1, 12]'
expect_error "prior outside (0, 1)" "pu.prior must be a number in (0, 1) or estimate, got '1.5'" \
  pu --config "$TMP/pu.yaml" --out "$TMP/e3" --set pu.prior=1.5
expect_error "prior that is no number" "pu.prior must be a number in (0, 1) or estimate, got 'known'" \
  pu --config "$TMP/pu.yaml" --out "$TMP/e4" --set pu.prior=known
expect_error "more labeled positives than exist" "data.labeled_positives = 5000 but the training split holds only" \
  pu --config "$TMP/pu.yaml" --out "$TMP/e5" --set data.labeled_positives=5000
expect_error "unknown unlabeled set" "data.unlabeled must be all" \
  pu --config "$TMP/pu.yaml" --out "$TMP/e6" --set data.unlabeled=most
expect_error "semi-supervised method under pu" "method 'fixmatch' is semi-supervised; this command trains elkan_noto, nnpu, pn, upu, vpu" \
  pu --config "$TMP/pu.yaml" --out "$TMP/e7" --set method.name=fixmatch
expect_error "PU method under semi" "method 'nnpu' is positive-unlabeled; this command trains co_teaching, deep_co_training, elr, fixmatch" \
  semi --config "$SRC/configs/fashion_mnist/semi/supervised.yaml" --out "$TMP/e8" --set method.name=nnpu
expect_error "PU method under pretrain" "method 'vpu' is positive-unlabeled; this command trains barlow_twins" \
  pretrain --config "$TMP/pre.yaml" --out "$TMP/e9" --set method.name=vpu
expect_error "nnPU key on VPU" "config key 'method.beta' in $TMP/pu.yaml is not a key of method vpu" \
  pu --config "$TMP/pu.yaml" --out "$TMP/e10" --set method.name=vpu --set method.beta=0.1
expect_error "negative beta" "method.beta must be >= 0, got -0.5" \
  pu --config "$TMP/pu.yaml" --out "$TMP/e11" --set method.beta=-0.5
expect_error "prior of zero" "pu.prior must be a number in (0, 1) or estimate, got '0'" \
  pu --config "$TMP/pu.yaml" --out "$TMP/e12" --set pu.prior=0
expect_error "unknown prior estimator" "pu.prior_estimator must be bbe or elkan_noto, got 'mean'" \
  pu --config "$TMP/pu.yaml" --out "$TMP/e13" --set pu.prior_estimator=mean
for d in e1 e2 e3 e4 e5 e6 e7 e11 e12 e13; do
  [ -e "$TMP/$d/last.ckpt" ] && fail "$d trained despite its error"
done
echo "PASS"
