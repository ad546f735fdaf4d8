#!/usr/bin/env bash
# The structured-sparsity figures on Fashion-MNIST (real test set): a dense supervised ConvNet on
# every label, the same recipe with filter group lasso (filters below the threshold zeroed during
# training), then `selfsup prune` (thinning + fine-tuning). Prints the dense and pruned test
# accuracy, the share of filters removed, MACs before / after, and the inference speed-up of the
# original against the thinned classifier timed side by side at one batch size (256 test images).
# Usage: bash scripts/sparse_table.sh [OUT_DIR] [extra --set flags for both trainings ...]
# Each command's wall time is appended to OUT/wall_times.txt.
set -euo pipefail
cd "$(dirname "$0")/.."
OUT=${1:-runs/sparse}
shift || true
BIN=${SELFSUP:-./build/selfsup}
CFG=configs/fashion_mnist/semi/supervised_group_lasso.yaml
mkdir -p "$OUT"
t() { local s=$SECONDS; "$@"; echo "wall $((SECONDS - s)) s: $*" | tee -a "$OUT/wall_times.txt"; }

t "$BIN" semi --config "$CFG" --out "$OUT/dense" --overwrite --quiet --set 'regularize=[]' "$@" >"$OUT/dense.json"
t "$BIN" semi --config "$CFG" --out "$OUT/group_lasso" --overwrite --quiet "$@" >"$OUT/group_lasso.json"
t "$BIN" prune --checkpoint "$OUT/group_lasso" --out "$OUT/pruned" --overwrite --quiet \
  --set train.epochs=3 --set train.lr=0.01 --set train.warmup_epochs=0 --set 'regularize=[]' >"$OUT/pruned.json"

python3 - "$OUT" <<'PY'
import json, sys
out = sys.argv[1]
dense = json.load(open(f"{out}/dense/summary.json"))
gl = json.load(open(f"{out}/group_lasso/summary.json"))
pr = json.load(open(f"{out}/pruned/summary.json"))
p = pr["prune"]
print(f"| model | test acc | filters | MACs/image | params |")
print(f"|---|---|---|---|---|")
print(f"| dense | {100 * dense['test_acc']:.2f} | {p['filters_before']} | {p['macs_before']:.3g} | {p['params_before']} |")
print(f"| group lasso (zeroed, not thinned) | {100 * gl['test_acc']:.2f} | {p['filters_before']} "
      f"({gl['sparsity']['zero_filters']} zero) | {gl['sparsity']['macs_nonzero']:.3g} nonzero | |")
print(f"| thinned + fine-tuned | {100 * pr['test_acc']:.2f} | {p['filters_after']} | {p['macs_after']:.3g} | {p['params_after']} |")
print()
print(f"filters removed {100 * (1 - p['filters_after'] / p['filters_before']):.1f}% (target >= 50%), "
      f"MACs {p['macs_before'] / p['macs_after']:.2f}x fewer (target >= 2x), "
      f"accuracy {100 * (pr['test_acc'] - dense['test_acc']):+.2f} points against dense (target >= -0.5), "
      f"inference {p['infer_speedup']:.2f}x faster at batch {p['infer_batch']} "
      f"({p['infer_ms_before']:.2f} -> {p['infer_ms_after']:.2f} ms; target >= 1.5x)")
PY
