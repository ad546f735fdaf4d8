#!/usr/bin/env bash
# Classic co-training on Fashion-MNIST over two views: a pretrain run's encoder features and the
# raw pixels, from LABELS labels per class, over the label draws SEEDS.
# usage: RUN=runs/simclr LABELS=10 SEEDS="0 1 2" bash scripts/cotrain_table.sh runs/cotrain
# Writes OUT/{encoder,pixels}_{train,test}/ (features.npy, labels.npy) and OUT/cotrain_<labels>_s<seed>/.
set -euo pipefail
OUT=${1:?usage: bash scripts/cotrain_table.sh OUT}
RUN=${RUN:-runs/simclr}
LABELS=${LABELS:-10}
SEEDS=${SEEDS:-"0 1 2"}
ROUNDS=${ROUNDS:-20}
PER_CLASS=${PER_CLASS:-5}
SELFSUP=${SELFSUP:-build/selfsup}
DATA=${DATA:-/usr/share/datasets/fashion-mnist}
mkdir -p "$OUT"
for split in train test; do
  [ -f "$OUT/encoder_$split/features.npy" ] ||
    "$SELFSUP" embed --checkpoint "$RUN" --split "$split" --out "$OUT/encoder_$split" --quiet >/dev/null
done
# The pixels in [0, 1], one row per image in the files' order (the order `embed` uses).
/usr/bin/python3 - "$DATA" "$OUT" <<'PY'
import gzip, os, sys
import numpy as np
data, out = sys.argv[1], sys.argv[2]
for split, prefix in [("train", "train"), ("test", "t10k")]:
    d = os.path.join(out, f"pixels_{split}")
    if os.path.exists(os.path.join(d, "features.npy")):
        continue
    os.makedirs(d, exist_ok=True)
    with gzip.open(os.path.join(data, f"{prefix}-images-idx3-ubyte.gz")) as f:
        x = np.frombuffer(f.read(), np.uint8, offset=16).reshape(-1, 784).astype(np.float32) / 255
    with gzip.open(os.path.join(data, f"{prefix}-labels-idx1-ubyte.gz")) as f:
        y = np.frombuffer(f.read(), np.uint8, offset=8).astype(np.int64)
    np.save(os.path.join(d, "labels.npy"), y)
    np.save(os.path.join(d, "features.npy"), x)
PY
for seed in $SEEDS; do
  "$SELFSUP" cotrain --train1 "$OUT/encoder_train" --train2 "$OUT/pixels_train" --test1 "$OUT/encoder_test" \
    --test2 "$OUT/pixels_test" --labels-per-class "$LABELS" --seed "$seed" --rounds "$ROUNDS" --per-class "$PER_CLASS" \
    --out "$OUT/cotrain_${LABELS}_s$seed" --overwrite --quiet >/dev/null
  /usr/bin/python3 -c "
import json, sys; s = json.load(open(sys.argv[1]))
r = s['rounds']
print(f\"seed {s['seed']}: round 0 test {100 * r[0]['test_acc']:.2f} (views {100 * r[0]['test_acc_view1']:.2f} / {100 * r[0]['test_acc_view2']:.2f}); \"
      f\"chosen round {s['chosen_round']} test {100 * s['test_acc']:.2f} (views {100 * r[s['chosen_round']]['test_acc_view1']:.2f} / \"
      f\"{100 * r[s['chosen_round']]['test_acc_view2']:.2f}); last {100 * s['test_acc_last']:.2f}\")" "$OUT/cotrain_${LABELS}_s$seed/cotrain.json"
done
