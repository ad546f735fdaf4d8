#!/usr/bin/env bash
# selfsup semi end to end on a small subset: the summary reports validation and test accuracy
# of the last and the EMA model, the unlabeled mask rate and pseudo-label accuracy; --init loads
# a pretrain checkpoint's encoder; bad input fails with one error line.
# Usage: bash semi.sh <selfsup binary> <source dir> <build dir>
set -u
SELFSUP=$1
SRC=$2
TMP=$(mktemp -d "${TMPDIR:-/tmp}/selfsup_semi.XXXXXX")
trap 'rm -rf "$TMP"' EXIT
fail() {
  echo "FAIL: $*"
  exit 1
}

cat >"$TMP/semi.yaml" <<EOF
method: {name: fixmatch, mu: 2}
data: {name: fashion-mnist, limit: 1200, labels_per_class: 4, val_per_class: 10}
model: {backbone: convnet, channels: [8, 16, 32]}
train: {batch_size: 16, max_steps: 6, lr: 0.03, momentum: 0.9, nesterov: true, threads: 1}
seed: 1
report: {map: pca}  # t-SNE costs seconds a run; tests/cli/report.sh checks the t-SNE map
EOF
# The supervised baseline reads no unlabeled images, so it has no method.mu.
sed 's/name: fixmatch, mu: 2/name: supervised/' "$TMP/semi.yaml" >"$TMP/sup.yaml"
"$SELFSUP" semi --config "$TMP/semi.yaml" --out "$TMP/fix" --quiet >"$TMP/fix.out" 2>"$TMP/fix.err" ||
  fail "semi failed: $(tail -3 "$TMP/fix.err")"
python3 - "$TMP/fix/summary.json" <<'EOF' || fail "summary.json lacks a field"
import json, sys
s = json.load(open(sys.argv[1]))
for k in ["test_acc", "test_acc_ema", "val_acc", "val_acc_ema", "unlabeled_mask_rate",
          "unlabeled_pseudo_label_acc", "labeled", "unlabeled", "validation"]:
    assert k in s, k
assert s["labeled"] == 40 and s["validation"] == 100 and s["unlabeled"] == 1200 - 140, s
assert 0 <= s["test_acc"] <= 1 and 0 <= s["unlabeled_mask_rate"] <= 1
EOF
grep -q '"mask_rate"' "$TMP/fix/metrics.jsonl" || fail "metrics.jsonl logs no mask_rate"
echo "ok: fixmatch summary and metrics"

# The folder of a finished run is refused, then overwritten or resumed (which re-evaluates it).
if "$SELFSUP" semi --config "$TMP/semi.yaml" --out "$TMP/fix" --quiet >/dev/null 2>"$TMP/again.err"; then
  fail "semi ran into the folder of another run"
fi
[ "$(wc -l <"$TMP/again.err")" -eq 1 ] && grep -q "^error: --out $TMP/fix holds another run (config.yaml, metrics.jsonl, last.ckpt, summary.json, report.html): pass --resume to continue it or --overwrite to replace it" "$TMP/again.err" ||
  fail "unclear refusal: $(cat "$TMP/again.err")"
"$SELFSUP" semi --resume --out "$TMP/fix" --quiet >/dev/null 2>"$TMP/resume.err" || fail "semi --resume failed: $(tail -1 "$TMP/resume.err")"
"$SELFSUP" semi --config "$TMP/semi.yaml" --out "$TMP/fix" --overwrite --set train.max_steps=2 --quiet >/dev/null 2>"$TMP/over.err" ||
  fail "semi --overwrite failed: $(tail -1 "$TMP/over.err")"
python3 -c 'import json,sys; assert json.load(open(sys.argv[1]))["steps"] == 2' "$TMP/fix/summary.json" || fail "--overwrite kept the old run"
echo "ok: another run's folder is refused, resumed or overwritten"

# --init from a SimCLR checkpoint of the same backbone.
cat >"$TMP/pre.yaml" <<EOF
method: {name: simclr, proj_hidden_dim: 32, proj_output_dim: 16}
data: {name: fashion-mnist, limit: 256}
model: {backbone: convnet, channels: [8, 16, 32]}
train: {batch_size: 32, max_steps: 2, threads: 1}
EOF
"$SELFSUP" pretrain --config "$TMP/pre.yaml" --out "$TMP/pre" --no-eval --quiet >/dev/null 2>"$TMP/pre.err" ||
  fail "pretrain failed: $(tail -1 "$TMP/pre.err")"
"$SELFSUP" semi --config "$TMP/sup.yaml" --out "$TMP/init" --init "$TMP/pre/last.ckpt" \
  --quiet >/dev/null 2>"$TMP/init.err" || fail "semi --init failed: $(tail -1 "$TMP/init.err")"
echo "ok: --init from a pretrain checkpoint"
# LP-FT: the head starts as a linear probe on the encoder's features; the summary says which L2.
"$SELFSUP" semi --config "$TMP/sup.yaml" --set train.probe_head=true --set train.backbone_lr_scale=0.1 --out "$TMP/probe" \
  --init "$TMP/pre/last.ckpt" --quiet >/dev/null 2>"$TMP/probe.err" || fail "semi --init with train.probe_head failed: $(tail -1 "$TMP/probe.err")"
python3 -c 'import json,sys; p=json.load(open(sys.argv[1]))["probe_head"]; assert p["l2"] > 0 and 0 <= p["val_acc"] <= 1, p' \
  "$TMP/probe/summary.json" || fail "summary.json lacks the probed head"
if "$SELFSUP" semi --config "$TMP/semi.yaml" --set train.probe_head=true --out "$TMP/bad_probe" --quiet >/dev/null 2>"$TMP/bad_probe.err"; then
  fail "train.probe_head was accepted without --init"
fi
grep -q "^error: train.probe_head .*needs --init" "$TMP/bad_probe.err" || fail "unclear error: $(cat "$TMP/bad_probe.err")"
echo "ok: --init with the head fitted first (train.probe_head)"
# SimCLRv2's start: the classifier's hidden layer takes the projector's first layer (width 32 here).
"$SELFSUP" semi --config "$TMP/sup.yaml" --set model.classifier_hidden_dim=32 \
  --out "$TMP/init_hidden" --init "$TMP/pre/last.ckpt" --quiet >/dev/null 2>"$TMP/init_hidden.err" ||
  fail "semi --init with a hidden layer failed: $(tail -1 "$TMP/init_hidden.err")"
grep -q "classifier_hidden_dim: 32" "$TMP/init_hidden/config.yaml" || fail "config.yaml lacks the hidden layer"
if "$SELFSUP" semi --config "$TMP/sup.yaml" --set model.classifier_hidden_dim=48 \
  --out "$TMP/bad_hidden" --init "$TMP/pre/last.ckpt" --quiet >/dev/null 2>"$TMP/bad_hidden.err"; then
  fail "a hidden layer wider than the projector's was accepted"
fi
grep -q "^error: --init .*model.classifier_hidden_dim 48" "$TMP/bad_hidden.err" &&
  grep -q "'projector.layers.0.weight' of shape \[32, 32\]) does not match this model's (shape \[48, 32\])" "$TMP/bad_hidden.err" ||
  fail "unclear error: $(cat "$TMP/bad_hidden.err")"
echo "ok: --init into a hidden layer"

# A different backbone cannot be loaded: one error line naming the problem.
if "$SELFSUP" semi --config "$TMP/semi.yaml" --set 'model.channels=[8, 16, 64]' --out "$TMP/bad" \
  --init "$TMP/pre/last.ckpt" --quiet >/dev/null 2>"$TMP/bad.err"; then
  fail "a mismatched --init was accepted"
fi
grep -q "^error: --init .*its encoder .*does not match this model's" "$TMP/bad.err" || fail "unclear error: $(cat "$TMP/bad.err")"
# A self-supervised method is not a semi-supervised one.
if "$SELFSUP" semi --config "$TMP/semi.yaml" --set method.name=simclr --out "$TMP/bad2" --quiet >/dev/null 2>"$TMP/bad2.err"; then
  fail "simclr accepted by semi"
fi
grep -q "^error: method 'simclr' is self-supervised; this command trains .*fixmatch" "$TMP/bad2.err" || fail "unclear error: $(cat "$TMP/bad2.err")"
# Distribution alignment is for the methods whose targets come from the weak view only.
if "$SELFSUP" semi --config "$TMP/sup.yaml" --set method.name=mean_teacher --set method.dist_align=true \
  --out "$TMP/bad3" --quiet >/dev/null 2>"$TMP/bad3.err"; then
  fail "mean_teacher accepted method.dist_align"
fi
grep -q "^error: config key 'method.dist_align' .* is not a key of method mean_teacher" "$TMP/bad3.err" || fail "unclear error: $(cat "$TMP/bad3.err")"
echo "ok: bad input fails with one error line"

# Noisy labels: synthetic noise on the labeled set (data.label_noise), a noisy-label method, the
# corrupted share in the summary; a resumed co-teaching run keeps both networks; bad settings fail
# with one error line.
sed 's/name: fixmatch, mu: 2/name: co_teaching, forget_rate: 0.4, forget_ramp_epochs: 1/; s/labels_per_class: 4,/labels_per_class: 50, label_noise: symmetric, noise_rate: 0.4,/' \
  "$TMP/semi.yaml" >"$TMP/noisy.yaml"
"$SELFSUP" semi --config "$TMP/noisy.yaml" --out "$TMP/noisy" --quiet >/dev/null 2>"$TMP/noisy.err" ||
  fail "co_teaching with noisy labels failed: $(tail -3 "$TMP/noisy.err")"
python3 - "$TMP/noisy/summary.json" "$TMP/noisy/metrics.jsonl" <<'EOF' || fail "noisy-label summary or metrics wrong"
import json, sys
s = json.load(open(sys.argv[1]))
n = s["label_noise"]
assert n["type"] == "symmetric" and n["rate"] == 0.4, n
assert 0.25 < n["corrupted"] < 0.55, n   # 500 labels at rate 0.4
rates = [json.loads(l).get("forget_rate") for l in open(sys.argv[2])]
rates = [r for r in rates if r is not None]
assert rates and max(rates) <= 0.4 + 1e-9, rates
EOF
"$SELFSUP" semi --resume --out "$TMP/noisy" --quiet >/dev/null 2>"$TMP/noisy_resume.err" ||
  fail "co_teaching --resume failed: $(tail -1 "$TMP/noisy_resume.err")"
for m in gce elr; do
  sed "s/name: co_teaching, forget_rate: 0.4, forget_ramp_epochs: 1/name: $m/" "$TMP/noisy.yaml" >"$TMP/$m.yaml"
  "$SELFSUP" semi --config "$TMP/$m.yaml" --out "$TMP/$m" --quiet >/dev/null 2>"$TMP/$m.err" ||
    fail "$m with noisy labels failed: $(tail -3 "$TMP/$m.err")"
done
if "$SELFSUP" semi --config "$TMP/noisy.yaml" --set data.label_noise=uniform --out "$TMP/bad_noise" --quiet >/dev/null 2>"$TMP/bad_noise.err"; then
  fail "an unknown label noise was accepted"
fi
grep -q "^error: data.label_noise must be none, symmetric or pairflip, got 'uniform'" "$TMP/bad_noise.err" ||
  fail "unclear error: $(cat "$TMP/bad_noise.err")"
if "$SELFSUP" semi --config "$TMP/noisy.yaml" --set data.noise_rate=1.2 --out "$TMP/bad_rate" --quiet >/dev/null 2>"$TMP/bad_rate.err"; then
  fail "a noise rate of 1.2 was accepted"
fi
grep -q "^error: data.noise_rate must be in \\[0, 1), got 1.2" "$TMP/bad_rate.err" || fail "unclear error: $(cat "$TMP/bad_rate.err")"
if "$SELFSUP" semi --config "$TMP/noisy.yaml" --set method.forget_rate=-0.1 --out "$TMP/bad_forget" --quiet >/dev/null 2>"$TMP/bad_forget.err"; then
  fail "a negative forget rate was accepted"
fi
grep -q "^error: .*forget_rate must be in \\[0, 1), got -0.1" "$TMP/bad_forget.err" || fail "unclear error: $(cat "$TMP/bad_forget.err")"
echo "ok: noisy labels (co_teaching, gce, elr), resume and bad settings"

# --dump-split: the draw a run trains on, as indices another program can read; the same config and
# seed give the same file; labeled, unlabeled and validation images are disjoint and cover the set.
"$SELFSUP" semi --config "$TMP/semi.yaml" --dump-split "$TMP/split1.json" >/dev/null 2>"$TMP/split.err" ||
  fail "--dump-split failed: $(cat "$TMP/split.err")"
"$SELFSUP" semi --config "$TMP/semi.yaml" --dump-split "$TMP/split2.json" >/dev/null 2>&1 || fail "--dump-split again"
"$SELFSUP" semi --config "$TMP/semi.yaml" --seed 2 --dump-split "$TMP/split3.json" >/dev/null 2>&1 || fail "--dump-split, seed 2"
cmp -s "$TMP/split1.json" "$TMP/split2.json" || fail "the same draw wrote two different files"
/usr/bin/python3 - "$TMP" <<'PY' || fail "the split file"
import json, sys
t = sys.argv[1]
a, c = json.load(open(f"{t}/split1.json")), json.load(open(f"{t}/split3.json"))
lab, unl, val = set(a["labeled"]), set(a["unlabeled"]), set(a["val"])
assert a["labels_per_class"] == 4 and len(lab) == 40 and len(val) == 100, (len(lab), len(val))
assert not (lab & unl) and not (lab & val) and not (unl & val)
assert lab | unl | val == set(range(a["train_size"])), a["train_size"]
assert a["seed"] == 1 and c["seed"] == 2 and set(c["labeled"]) != lab
PY
# The Python FixMatch of the comparison benchmark reads the same draw of the full training set:
# its labeled images are labels_per_class of each class under its own reading of the labels, and it
# trains on them and scores its EMA model.
"$SELFSUP" semi --config "$SRC/configs/fashion_mnist/semi/fixmatch.yaml" --set data.labels_per_class=3 \
  --dump-split "$TMP/full.json" >/dev/null 2>&1 || fail "--dump-split of the full training set"
GLIBC_TUNABLES=glibc.malloc.mmap_max=0:glibc.malloc.trim_threshold=4294967296 /usr/bin/python3 \
  "$SRC/bench/python/fixmatch_torch.py" --split "$TMP/full.json" --budget 2 --log-at 1 --batch 8 --mu 2 --workers 0 \
  --threads 1 --out "$TMP/py.json" >"$TMP/py.out" 2>&1 || fail "the Python side on the split: $(tail -3 "$TMP/py.out")"
/usr/bin/python3 - "$TMP" <<'PY' || fail "the Python side's summary"
import json, sys
t = sys.argv[1]
s, py = json.load(open(f"{t}/full.json")), json.load(open(f"{t}/py.json"))
assert (py["labeled"], py["unlabeled"], py["validation"]) == (len(s["labeled"]), len(s["unlabeled"]), len(s["val"])), py
assert py["labeled"] == 30 and py["steps"] > 0 and [p["seconds"] for p in py["points"]] == [1.0, 2.0], py
assert all(0 <= p["test_acc_ema"] <= 1 and 0 <= p["val_acc_ema"] <= 1 for p in py["points"]), py
PY
echo "ok: --dump-split"
