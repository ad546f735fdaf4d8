#!/usr/bin/env bash
# Reproduces the noisy-label table: cross-entropy, generalized cross-entropy, co-teaching and ELR
# on Fashion-MNIST with every training label corrupted by synthetic noise (50% symmetric, then 45%
# pair-flip), each run to its last epoch, one at a time (each takes the whole machine). Then
# scripts/noisy_table.py copies every summary to ROOT/docs/results/noisy_<method>_<noise>_s<seed>.json,
# writes the table into ROOT/docs/results/tables.json and regenerates ROOT/docs/results.md.
#
# Environment (defaults in brackets):
#   METHODS [ce gce co_teaching elr]   configs/fashion_mnist/noisy/<method>.yaml
#   NOISES [sym50 pair45]              sym50: symmetric 0.5; pair45: pairflip 0.45; sym20: symmetric 0.2
#   SEEDS [0]                          a seed draws the noise, the validation split and the weights
#   MACHINE [cpu-epyc-avx512]          the machine id in docs/results/tables.json the rows ran on
#   RUNS [runs/noisy]  run folders RUNS/<method>_<noise>_s<seed>, stderr in <folder>.log
#   ROOT [.]           the tree whose docs/results/ receives the files
#   SELFSUP [./build/selfsup]
#   EXTRA []           more flags for every run (trial runs: EXTRA="--set train.epochs=1")
# A finished run (summary.json present) is not run again and an interrupted one is resumed.
# Wall time on a 2-core AMD EPYC with AVX-512 BF16: ~2.3 min a single-network run, ~4.5 min
# co-teaching (two networks): about 23 minutes a seed with the defaults.
set -euo pipefail
cd "$(dirname "$0")/.."
methods=${METHODS:-ce gce co_teaching elr}
noises=${NOISES:-sym50 pair45}
seeds=${SEEDS:-0}
runs=${RUNS:-runs/noisy}
selfsup=${SELFSUP:-./build/selfsup}
[ -x "$selfsup" ] || { echo "noisy_table: no selfsup binary at $selfsup (scripts/build.sh builds it)" >&2; exit 1; }
mkdir -p "$runs"
for seed in $seeds; do
  for noise in $noises; do
    case $noise in
      sym50) set_noise=(--set data.label_noise=symmetric --set data.noise_rate=0.5); rate=0.5 ;;
      sym20) set_noise=(--set data.label_noise=symmetric --set data.noise_rate=0.2); rate=0.2 ;;
      pair45) set_noise=(--set data.label_noise=pairflip --set data.noise_rate=0.45); rate=0.45 ;;
      *) echo "noisy_table: unknown noise '$noise' (sym50, sym20 or pair45)" >&2; exit 1 ;;
    esac
    for method in $methods; do
      config=configs/fashion_mnist/noisy/$method.yaml
      extra=()
      # Co-teaching forgets the share of each batch the noise corrupts (the paper's tau = noise rate).
      [ "$method" = co_teaching ] && extra=(--set "method.forget_rate=$rate")
      out=$runs/${method}_${noise}_s$seed
      [ -f "$out/summary.json" ] && continue
      mode=()
      [ -d "$out" ] && mode=(--resume)
      echo "noisy_table: $out" >&2
      # shellcheck disable=SC2206  # EXTRA is split into words on purpose
      "$selfsup" semi --config "$config" --out "$out" "${mode[@]}" "${set_noise[@]}" "${extra[@]}" \
        --set "seed=$seed" ${EXTRA:-} 2>"$out.log"
    done
  done
done
python3 scripts/noisy_table.py --runs "$runs" --root "${ROOT:-.}" --machine "${MACHINE:-cpu-epyc-avx512}" \
  --methods "$methods" --noises "$noises" --seeds "$seeds" --extra "${EXTRA:-}"
