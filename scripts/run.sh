#!/usr/bin/env bash
# The main job on a fresh machine: set up, build, pretrain SimCLR on Fashion-MNIST for 15 minutes,
# then evaluate (weighted kNN + linear probe on the real test set). Results in runs/simclr/.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
bash scripts/build.sh
# Running the job again replaces runs/simclr, unless it is asked to --resume it.
mode=--overwrite
for a in "$@"; do if [ "$a" = --resume ]; then mode=; fi; done
./build/selfsup pretrain --config configs/fashion_mnist/simclr.yaml --out runs/simclr --time-limit 900 $mode "$@"
