#!/usr/bin/env bash
# Reproduces the README's per-method table: each of the eight methods pretrained for LIMIT
# seconds (default 600), one at a time (each takes the whole machine), then evaluated (kNN and
# linear probe on the test set); prints the table's rows. Needs a build (scripts/build.sh).
set -euo pipefail
cd "$(dirname "$0")/.."
limit=${LIMIT:-600}
dirs=()
for m in simclr mocov2 mocov3 byol simsiam barlow_twins vicreg supcon; do
  ./build/selfsup pretrain --config "configs/fashion_mnist/$m.yaml" --out "runs/${m}_$limit" \
    --time-limit "$limit" --quiet
  dirs+=("runs/${m}_$limit")
done
python3 scripts/results_table.py "${dirs[@]}"
