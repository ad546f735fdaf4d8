#!/usr/bin/env bash
# The main job on a fresh machine: set up, build, pretrain SimCLR on Fashion-MNIST for 15 minutes,
# then evaluate (weighted kNN + linear probe on the real test set). Results in runs/simclr/.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
bash scripts/build.sh
# Running the job again replaces runs/simclr, unless it is asked to --resume it (with the config
# saved in the run).
start=(--config configs/fashion_mnist/simclr.yaml --overwrite)
for a in "$@"; do if [ "$a" = --resume ]; then start=(); fi; done
./build/selfsup pretrain "${start[@]}" --out runs/simclr --time-limit 900 "$@"
