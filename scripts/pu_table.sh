#!/usr/bin/env bash
# Reproduces the positive-unlabeled table: uPU, nnPU (the prior given, then estimated), VPU,
# Elkan-Noto and PN on Fashion-MNIST, each trained for LIMIT seconds, one run at a time (each takes
# the whole machine), once per seed of SEEDS (a seed draws the labeled positives, the validation
# split and the initial weights). Then scripts/pu_table.py copies every summary to
# ROOT/docs/results/pu_<row>_<its limit>_s<seed>.json, writes the table and its targets into
# ROOT/docs/results/tables.json and regenerates ROOT/docs/results.md.
#
# Environment (defaults in brackets):
#   LIMIT [600]     seconds of training per run; LIMIT_<row> overrides one row (LIMIT_pn=300)
#   SEEDS [0 1 2]   seeds, each a separate run of every row
#   ROWS [upu nnpu nnpu_estimated vpu elkan_noto pn]
#   MACHINE [cpu-avx2]  the machine id in docs/results/tables.json the rows ran on
#   RUNS [runs/pu]  run folders: RUNS/<row>_<its limit>_s<seed>, its stderr in <folder>.log
#   ROOT [.]        the tree whose docs/results/ receives the files (a copy, for a trial run)
#   SELFSUP [./build/selfsup]
#   EXTRA []        more flags for every run (trial runs: EXTRA="--set pu.estimate_steps=20"); the
#                   table's commands include them
# A finished run (summary.json present) is not run again and an interrupted one is resumed, so
# the script can be started again after a stop. Needs a build (scripts/build.sh).
# Wall time: about (LIMIT + 60 s) per run, plus ~2 min of prior estimation per nnpu_estimated
# run: 18 runs, about 3.5 hours, with the defaults.
set -euo pipefail
cd "$(dirname "$0")/.."
limit=${LIMIT:-600}
seeds=${SEEDS:-0 1 2}
rows=${ROWS:-upu nnpu nnpu_estimated vpu elkan_noto pn}
runs=${RUNS:-runs/pu}
selfsup=${SELFSUP:-./build/selfsup}
[ -x "$selfsup" ] || { echo "pu_table: no selfsup binary at $selfsup (scripts/build.sh builds it)" >&2; exit 1; }
mkdir -p "$runs"

for seed in $seeds; do
  for row in $rows; do
    row_limit_var="LIMIT_$row"
    row_limit=${!row_limit_var:-$limit}
    config=configs/fashion_mnist/pu/${row%_estimated}.yaml
    extra=()
    [ "$row" != "${row%_estimated}" ] && extra=(--set pu.prior=estimate)
    # shellcheck disable=SC2206  # EXTRA is split into words on purpose
    extra+=(${EXTRA:-})
    [ -f "$config" ] || { echo "pu_table: unknown row '$row' (no $config)" >&2; exit 1; }
    out="$runs/${row}_${row_limit}_s$seed"
    if [ -f "$out/summary.json" ]; then
      echo "pu_table: $out is finished, kept"
      continue
    fi
    mode=()
    if [ -f "$out/last.ckpt" ]; then
      mode=(--resume)  # the run's own config, seed and flags are in its folder
    elif [ -e "$out" ]; then
      mode=(--overwrite)  # stopped before its first checkpoint
    fi
    echo "pu_table: $row, seed $seed, ${row_limit} s -> $out"
    if [ "${mode[*]-}" = --resume ]; then
      "$selfsup" pu --resume --out "$out" --time-limit "$row_limit" --quiet >/dev/null 2>>"$out.log"
    else
      "$selfsup" pu --config "$config" "${extra[@]}" --out "$out" --time-limit "$row_limit" --seed "$seed" \
        "${mode[@]}" --quiet >/dev/null 2>"$out.log"
    fi || { echo "pu_table: $out failed: $(tail -n 1 "$out.log")" >&2; exit 1; }
  done
done

python3 scripts/pu_table.py --root "${ROOT:-.}" --runs "$runs" --limit "$limit" --seeds "$seeds" --rows "$rows" \
  --machine "${MACHINE:-cpu-avx2}"
