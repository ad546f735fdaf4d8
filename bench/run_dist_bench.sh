#!/usr/bin/env bash
# Threads or processes on one machine: SimCLR (default Fashion-MNIST config) as 1 process x all
# cores of intra-op threads against N processes x (cores / N) threads (`--nproc N`, data-parallel
# over loopback), alternating, for a fixed wall time each. Prints each run's training images/s
# (the trainer's own count, global batch) and the medians.
# Usage: bash bench/run_dist_bench.sh [build dir] [seconds per run] [repetitions] [N]
set -eu
BUILD=${1:-build}
SECONDS_PER_RUN=${2:-90}
REPS=${3:-2}
N=${4:-2}
SELFSUP=$BUILD/selfsup
TMP=$(mktemp -d "${TMPDIR:-/tmp}/selfsup_dist_bench.XXXXXX")
trap 'rm -rf "$TMP"' EXIT
rate() { python3 -c "import json,sys; print(round(json.load(open(sys.argv[1]))['images_per_second'], 1))" "$1/summary.json"; }
one=() many=()
for r in $(seq "$REPS"); do
  "$SELFSUP" pretrain --config configs/fashion_mnist/simclr.yaml --out "$TMP/one_$r" --time-limit "$SECONDS_PER_RUN" \
    --no-eval --quiet >/dev/null 2>"$TMP/one_$r.err"
  one+=("$(rate "$TMP/one_$r")")
  "$SELFSUP" pretrain --config configs/fashion_mnist/simclr.yaml --out "$TMP/many_$r" --time-limit "$SECONDS_PER_RUN" \
    --no-eval --quiet --nproc "$N" >/dev/null 2>"$TMP/many_$r.err"
  many+=("$(rate "$TMP/many_$r")")
  echo "rep $r: 1 process x $(nproc) threads ${one[-1]} images/s; $N processes x $(($(nproc) / N)) threads ${many[-1]} images/s"
done
median() { printf '%s\n' "$@" | sort -n | awk '{a[NR]=$1} END {print (NR % 2) ? a[(NR + 1) / 2] : (a[NR / 2] + a[NR / 2 + 1]) / 2}'; }
m1=$(median "${one[@]}") mn=$(median "${many[@]}")
echo "median: 1 process ${m1} images/s, $N processes ${mn} images/s, ratio $(python3 -c "print(round($mn / $m1, 3))")"
