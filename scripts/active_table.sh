#!/usr/bin/env bash
# Reproduces the active learning table: every strategy's learning curve on the frozen features of
# a SimCLR encoder (ENCODER, a pretrain run), from 10 labels (one per class) in rounds of 10 up to
# 500, once per seed of SEEDS (a seed draws the first labels and every random choice after), then
# the fine-tuned curves (random against FINETUNE_STRATEGY, rounds of 100 up to 500) for
# FINETUNE_SEEDS. One run at a time: each takes the whole machine. Then scripts/active_table.py
# files the curves in ROOT/docs/results/ and draws docs/images/active_curves.png.
#
# Environment (defaults in brackets):
#   ENCODER [runs/simclr_600_refactor]  the pretrain run whose encoder every run uses
#   SEEDS [0 1 2]   STRATEGIES [random margin badge typiclust least_confidence entropy bald coreset]
#   FINETUNE_SEEDS [0]   FINETUNE_STRATEGY [margin]   (FINETUNE_SEEDS="" skips the fine-tuned curves)
#   RUNS [runs/active]  run folders: RUNS/<strategy>_s<seed>, RUNS/<strategy>_finetune_s<seed>; logs beside
#   SELFSUP [./build/selfsup]
# A finished run (summary.json present) is kept; an interrupted one is resumed.
# Wall time on a 2-core CPU: ~25 min for the frozen curves with the defaults, ~4 min per fine-tuned curve.
set -euo pipefail
cd "$(dirname "$0")/.."
encoder=${ENCODER:-runs/simclr_600_refactor}
seeds=${SEEDS:-0 1 2}
strategies=${STRATEGIES:-random margin badge typiclust least_confidence entropy bald coreset}
ft_seeds=${FINETUNE_SEEDS-0}
ft_strategy=${FINETUNE_STRATEGY:-margin}
runs=${RUNS:-runs/active}
selfsup=${SELFSUP:-./build/selfsup}
[ -x "$selfsup" ] || { echo "active_table: no selfsup binary at $selfsup (scripts/build.sh builds it)" >&2; exit 1; }
[ -f "$encoder/last.ckpt" ] || { echo "active_table: no pretrain run at $encoder (ENCODER=...)" >&2; exit 1; }
mkdir -p "$runs"

run() {  # config, out, seed
  local config=$1 out=$2 seed=$3
  if [ -f "$out/summary.json" ]; then
    echo "active_table: $out is finished, kept"
    return
  fi
  local mode=(--config "$config" --init "$encoder" --seed "$seed")
  [ -f "$out/active_state.json" ] && mode=(--resume)
  echo "active_table: $out"
  /usr/bin/time -f "%e s wall" "$selfsup" active "${mode[@]}" --out "$out" --quiet >"$out.json" 2>"$out.log"
  tail -n 1 "$out.log"
}

for seed in $seeds; do
  for s in $strategies; do
    run "configs/fashion_mnist/active/$s.yaml" "$runs/${s}_s$seed" "$seed"
  done
done
for seed in $ft_seeds; do
  for s in random "$ft_strategy"; do
    run "configs/fashion_mnist/active/${s}_finetune.yaml" "$runs/${s}_finetune_s$seed" "$seed"
  done
done
