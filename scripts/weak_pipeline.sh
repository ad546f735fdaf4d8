#!/usr/bin/env bash
# Reproduces the labeling-function table: the functions of configs/fashion_mnist/weak/functions.yaml
# applied to Fashion-MNIST (their encoder: the SimCLR run ENCODER, pretrained first when missing),
# each label model fitted to the training votes and, on its own, to the test votes (no label is
# read by either fit; the gold labels only score), then the end model on the chosen label model's
# probabilities, scored on the test set. scripts/weak_pipeline.py files the results into
# ROOT/docs/results/ (weak_pipeline.json) and regenerates ROOT/docs/results.md.
#
# Environment (defaults in brackets):
#   ENCODER [runs/simclr_600]  a SimCLR pretrain run; pretrained for 600 s when missing
#   RUNS [runs/weak]           votes, label models and the end model go here
#   END_MODEL [matrix_completion]  the label model whose probabilities the end model trains on
#   END_LIMIT [300]            seconds of end-model training
#   MACHINE [cpu-epyc-avx512]  the machine id in docs/results/tables.json
#   ROOT [.]  SELFSUP [./build/selfsup]
# Wall time on a 2-core AMD EPYC with AVX-512 BF16: ~11 min for the encoder, ~1 min for the votes
# and label models, END_LIMIT for the end model.
set -euo pipefail
cd "$(dirname "$0")/.."
enc=${ENCODER:-runs/simclr_600}
runs=${RUNS:-runs/weak}
lm=${END_MODEL:-matrix_completion}
limit=${END_LIMIT:-300}
selfsup=${SELFSUP:-./build/selfsup}
[ -x "$selfsup" ] || { echo "weak_pipeline: no selfsup binary at $selfsup (scripts/build.sh builds it)" >&2; exit 1; }
mkdir -p "$runs"
if [ ! -f "$enc/summary.json" ]; then
  mode=()
  [ -d "$enc" ] && mode=(--resume)
  "$selfsup" pretrain --config configs/fashion_mnist/simclr.yaml --out "$enc" --time-limit 600 "${mode[@]}" 2>"$enc.log"
fi
"$selfsup" weak apply --config configs/fashion_mnist/weak/functions.yaml --set "weak.encoder=$enc" --out "$runs/votes" \
  >/dev/null 2>"$runs/votes.log"
for m in majority_vote dawid_skene matrix_completion; do
  for split in train test; do
    "$selfsup" weak label-model --votes "$runs/votes/votes_$split.npy" --labels "$runs/votes/labels_$split.npy" \
      --classes 10 --model "$m" --out "$runs/lm_${m}_$split" >/dev/null
  done
done
end=$runs/end_${lm}_$limit
if [ ! -f "$end/summary.json" ]; then
  mode=()
  [ -d "$end" ] && mode=(--resume)
  "$selfsup" semi --config configs/fashion_mnist/weak/end_model.yaml --set "data.soft_labels=$runs/lm_${lm}_train" \
    --init "$enc" --out "$end" --time-limit "$limit" "${mode[@]}" 2>"$end.log"
fi
python3 scripts/weak_pipeline.py --runs "$runs" --encoder "$enc" --end-model "$lm" --limit "$limit" \
  --root "${ROOT:-.}" --machine "${MACHINE:-cpu-epyc-avx512}"
