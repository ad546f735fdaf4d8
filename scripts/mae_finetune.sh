#!/usr/bin/env bash
# Reproduces MAE's fine-tuning comparison: the ViT of configs/fashion_mnist/mae.yaml fine-tuned from
# an MAE run (--init) against the same ViT trained from scratch, the same fine-tuning budget, with
# 10 labels per class (one run per seed of SEEDS: a seed draws the labels, the validation split and
# the head) and with every label but the validation split (seed 0; the budget is under one epoch,
# so the warm-up is shortened to a tenth of one). From scratch the layer-wise
# learning-rate decay is off (train.layer_decay=1.0): it is a device for pretrained weights, and
# shrinking the early blocks' rate would only handicap the baseline.
#
# usage: scripts/mae_finetune.sh MAE_RUN [RUNS]
#   MAE_RUN  a finished `selfsup pretrain` run of method mae (its last.ckpt is the initialisation)
#   RUNS     where the run folders go [runs/mae_ft]: RUNS/<labels>_<init>_s<seed>, stderr in <folder>.log
# Environment: LABELS [10 all] (which halves to run and file), SEEDS
# [0 1 2], LIMIT_FEW [300] and LIMIT_ALL [600] seconds of training per run, SELFSUP
# [./build/selfsup], MACHINE [cpu-avx2] (the machine id in docs/results/tables.json),
# BENCH [] (bench/run_mae_bench.py's --json output, filed beside the table), ROOT [.] (the tree
# whose docs/results/ receives the files). A finished run (summary.json present) is kept, so the
# script can be started again after a stop; then scripts/mae_table.py files the summaries and
# regenerates docs/results.md. Wall time: about (limit + 3 min of evaluation) per run: 8 runs, ~75 min.
set -euo pipefail
cd "$(dirname "$0")/.."
mae=${1:?usage: scripts/mae_finetune.sh MAE_RUN [RUNS]}
runs=${2:-runs/mae_ft}
selfsup=${SELFSUP:-./build/selfsup}
config=configs/fashion_mnist/semi/supervised_vit.yaml
[ -f "$mae/last.ckpt" ] || { echo "mae_finetune: no checkpoint at $mae/last.ckpt" >&2; exit 1; }
[ -x "$selfsup" ] || { echo "mae_finetune: no selfsup binary at $selfsup (scripts/build.sh builds it)" >&2; exit 1; }
mkdir -p "$runs"

run() {  # name limit seed flags...
  local out="$runs/$1" limit=$2 seed=$3
  shift 3
  if [ -f "$out/summary.json" ]; then echo "mae_finetune: $out is finished, kept"; return; fi
  echo "mae_finetune: $out ($limit s)"
  "$selfsup" semi --config "$config" "$@" --out "$out" --time-limit "$limit" --seed "$seed" --overwrite \
    --quiet >/dev/null 2>"$out.log" || { echo "mae_finetune: $out failed: $(tail -n 1 "$out.log")" >&2; exit 1; }
}

for labels in ${LABELS:-10 all}; do
  if [ "$labels" = 10 ]; then
    for seed in ${SEEDS:-0 1 2}; do
      run "10_mae_s$seed" "${LIMIT_FEW:-300}" "$seed" --init "$mae"
      run "10_scratch_s$seed" "${LIMIT_FEW:-300}" "$seed" --set train.layer_decay=1.0
    done
  else
    # Under an epoch of training: the config's one-epoch warm-up would last the whole run.
    all=(--set data.labels_per_class=5900 --set train.warmup_epochs=0.1)
    run all_mae_s0 "${LIMIT_ALL:-600}" 0 --init "$mae" "${all[@]}"
    run all_scratch_s0 "${LIMIT_ALL:-600}" 0 --set train.layer_decay=1.0 "${all[@]}"
  fi
done

bench=()
[ -n "${BENCH:-}" ] && bench=(--bench "$BENCH")
python3 scripts/mae_table.py --root "${ROOT:-.}" --runs "$runs" --mae "$mae" --seeds "${SEEDS:-0 1 2}" \
  --limit-few "${LIMIT_FEW:-300}" --limit-all "${LIMIT_ALL:-600}" --machine "${MACHINE:-cpu-avx2}" --labels "${LABELS:-10 all}" "${bench[@]}"
