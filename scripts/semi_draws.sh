#!/usr/bin/env bash
# Semi-supervised methods over label draws: for each draw (seed) in turn, each method for the same
# time limit, one run at a time on the whole machine, so that a cut-short sweep still holds whole
# draws of every method. Run folders: OUT/<method>_<labels per class>_<seconds>_s<seed>.
# usage: METHODS="supervised s4l_rotation" LABELS=100 SECONDS_EACH=600 SEEDS="0 1 2" \
#        bash scripts/semi_draws.sh runs/semi_draws
# Then: python3 scripts/semi_draws_table.py --runs OUT --machine ID files them into docs/results/
# (mean and spread per method, the paired differences and the targets).
set -euo pipefail
OUT=${1:?usage: bash scripts/semi_draws.sh OUT}
METHODS=${METHODS:-"supervised s4l_rotation"}
LABELS=${LABELS:-100}
SECONDS_EACH=${SECONDS_EACH:-600}
SEEDS=${SEEDS:-"0 1 2"}
SELFSUP=${SELFSUP:-build/selfsup}
mkdir -p "$OUT"
for seed in $SEEDS; do
  for m in $METHODS; do
    dir="$OUT/${m}_${LABELS}_${SECONDS_EACH}_s${seed}"
    # A finished run used its whole budget; a run stopped by a signal also leaves a summary.
    if [ -f "$dir/summary.json" ] && /usr/bin/python3 -c "import json, sys; s = json.load(open(sys.argv[1]));
sys.exit(0 if s['train_seconds'] >= 0.95 * float(sys.argv[2]) else 1)" "$dir/summary.json" "$SECONDS_EACH"; then
      echo "have $dir"
      continue
    fi
    echo "$(date +%T) $m, $LABELS labels per class, seed $seed, ${SECONDS_EACH} s"
    "$SELFSUP" semi --config "configs/fashion_mnist/semi/$m.yaml" --out "$dir" --overwrite --quiet \
      --seed "$seed" --time-limit "$SECONDS_EACH" --set "data.labels_per_class=$LABELS" >"$dir.log" 2>&1
  done
done
