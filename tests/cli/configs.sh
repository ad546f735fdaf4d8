#!/usr/bin/env bash
# Every config shipped in configs/ runs: two training steps through the real command, so a
# misspelt key, an op a pipeline cannot parse or a method option that no longer exists fails here
# rather than at the end of somebody's hour-long run (the commands refuse keys that nothing read,
# the eval section's included, before training). The evaluation itself is not repeated for each
# config: tests/cli/errors.sh and semi.sh run it. CIFAR-10 is not on this machine: its configs
# run on a tiny stand-in written in CIFAR's binary format.
# Usage: bash configs.sh <selfsup binary> <source dir> <build dir>
set -u
SELFSUP=$1
SRC=$2
TMP=$(mktemp -d "${TMPDIR:-/tmp}/selfsup_configs.XXXXXX")
trap 'rm -rf "$TMP"' EXIT
failed=0

python3 - "$TMP/cifar" <<'PY'
import os, random, sys
d = sys.argv[1]
os.makedirs(d)
rng = random.Random(0)
def batch(name, n):
    with open(os.path.join(d, name), "wb") as f:
        for i in range(n):
            f.write(bytes([i % 10]) + bytes(rng.randrange(256) for _ in range(3072)))
for b in range(1, 6):
    batch(f"data_batch_{b}.bin", 40)
batch("test_batch.bin", 40)
PY

check() {  # label, command...
  local label=$1; shift
  if ! "$@" --quiet --no-eval >"$TMP/out" 2>"$TMP/err"; then
    echo "FAIL: $label: $(tail -n 2 "$TMP/err")"
    failed=1
  fi
}
short=(--set train.max_steps=2 --set train.threads=1 --set eval.protocols=[knn])
n=0
for c in "$SRC"/configs/fashion_mnist/*.yaml; do
  check "$c" "$SELFSUP" pretrain --config "$c" --out "$TMP/run$n" "${short[@]}" --set train.batch_size=16 \
    --set data.limit=300
  n=$((n + 1))
done
# The CIFAR recipes' heads (up to 4096 wide, with their momentum copies and optimizer state) made
# checkpoints of up to 390 MB, whose writing took most of these runs: their widths shrink, through
# the same keys.
for c in "$SRC"/configs/cifar10/*.yaml; do
  narrow=()
  for k in proj_hidden_dim proj_output_dim pred_hidden_dim queue_size; do
    grep -q "$k:" "$c" && narrow+=(--set "method.$k=64")
  done
  check "$c" "$SELFSUP" pretrain --config "$c" --out "$TMP/run$n" "${short[@]}" --set train.batch_size=8 \
    --set data.root="$TMP/cifar" "${narrow[@]}"
  n=$((n + 1))
done
for c in "$SRC"/configs/fashion_mnist/semi/*.yaml; do
  check "$c" "$SELFSUP" semi --config "$c" --out "$TMP/run$n" --set train.max_steps=2 --set train.threads=1 \
    --set train.batch_size=8 --set data.limit=1200 --set data.labels_per_class=4 --set data.val_per_class=10
  n=$((n + 1))
done
for c in "$SRC"/configs/fashion_mnist/pu/*.yaml; do
  check "$c" "$SELFSUP" pu --config "$c" --out "$TMP/run$n" --set train.max_steps=2 --set train.threads=1 \
    --set train.batch_size=8 --set data.limit=1200 --set data.labeled_positives=50 --set data.val_per_class=10
  n=$((n + 1))
done
for c in "$SRC"/configs/fashion_mnist/noisy/*.yaml; do
  check "$c" "$SELFSUP" semi --config "$c" --out "$TMP/run$n" --set train.max_steps=2 --set train.threads=1 \
    --set train.batch_size=8 --set data.limit=1200 --set data.labels_per_class=40 --set data.val_per_class=10
  n=$((n + 1))
done
# The active learning loops run to a small budget (two purchases for the linear head, one for
# fine-tuning) on the encoder of a two-step pretrain run, scored on a small validation split:
# encoding the 10,000 test images took most of each run (tests/cli/active.sh scores the test set).
"$SELFSUP" pretrain --config "$SRC/configs/fashion_mnist/simclr.yaml" --out "$TMP/encoder" "${short[@]}" \
  --set train.batch_size=16 --set data.limit=300 --quiet --no-eval >/dev/null 2>"$TMP/err" ||
  { echo "FAIL: the encoder for the active configs: $(tail -n 2 "$TMP/err")"; failed=1; }
for c in "$SRC"/configs/fashion_mnist/active/*.yaml; do
  budget=30  # the linear head's loops start from 10 labels and buy 10 a round
  case "$c" in *_finetune.yaml) budget=200 ;; esac  # from 100, by 100
  check "$c" "$SELFSUP" active --config "$c" --init "$TMP/encoder" --out "$TMP/run$n" --set data.limit=300 \
    --set train.threads=1 --set active.budget=$budget --set active.finetune.steps=2 --set active.split=val \
    --set active.val_per_class=5
  n=$((n + 1))
done
# Weak supervision: the labeling functions on that encoder, a label model, the end model on its labels.
wl=(--set data.limit=300 --set train.threads=1)
if "$SELFSUP" weak apply --config "$SRC/configs/fashion_mnist/weak/functions.yaml" --out "$TMP/votes" \
  --set weak.encoder="$TMP/encoder" "${wl[@]}" --quiet >/dev/null 2>"$TMP/err" &&
  "$SELFSUP" weak label-model --votes "$TMP/votes/votes_train.npy" --classes 10 --out "$TMP/lm" >/dev/null 2>>"$TMP/err"; then
  check "configs/fashion_mnist/weak/end_model.yaml" "$SELFSUP" semi --config "$SRC/configs/fashion_mnist/weak/end_model.yaml" \
    --out "$TMP/run$n" --set data.soft_labels="$TMP/lm" "${wl[@]}" --set data.labels_per_class=10 \
    --set data.val_per_class=5 --set train.max_steps=2 --set train.batch_size=8
else
  echo "FAIL: configs/fashion_mnist/weak/functions.yaml: $(tail -n 2 "$TMP/err")"
  failed=1
fi
n=$((n + 2))
# Denoising: two steps on small patches (the configs' images are read in full).
for c in "$SRC"/configs/denoise/*.yaml; do
  check "$c" "$SELFSUP" denoise train --config "$c" --out "$TMP/run$n" --set train.max_steps=2 --set train.threads=1 \
    --set train.batch_size=2
  n=$((n + 1))
done
# Sentence embeddings: two steps on the default corpus with a small tokenizer.
if "$SELFSUP" text corpus --out "$TMP/text" >/dev/null 2>"$TMP/err" && head -n 3000 "$TMP/text/train.txt" >"$TMP/text/small.txt" &&
  "$SELFSUP" text tokenizer --corpus "$TMP/text/small.txt" --out "$TMP/text/tok.model" --vocab-size 500 >/dev/null 2>>"$TMP/err"; then
  for c in "$SRC"/configs/text/*.yaml; do
    data=(--set data.train="$TMP/text/small.txt")
    [ "$(basename "$c")" = simcse_sup.yaml ] && data=(--set data.pairs="$TMP/text/pairs_train.tsv")
    check "$c" "$SELFSUP" text train --config "$c" --out "$TMP/run$n" --set train.max_steps=2 --set train.threads=1 \
      --set train.batch_size=8 --set data.tokenizer="$TMP/text/tok.model" "${data[@]}"
    n=$((n + 1))
  done
else
  echo "FAIL: the text corpus for configs/text: $(tail -n 2 "$TMP/err")"
  failed=1
fi
[ "$n" -ge 48 ] || { echo "FAIL: found only $n configs"; failed=1; }
[ "$failed" = 0 ] && echo "PASS: all $n shipped configs run"
exit $failed
