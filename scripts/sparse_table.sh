#!/usr/bin/env bash
# The structured-sparsity figures on Fashion-MNIST (real test set): a dense supervised ConvNet on
# nearly every label, the same recipe with filter group lasso (groups below the threshold zeroed
# during training) at each strength of $STRENGTHS, then `selfsup prune` (thinning + fine-tuning)
# of each. Prints, per strength, the dense and pruned test accuracy, the share of filters removed,
# MACs before / after, and the inference speed-up of the original against the thinned classifier
# timed side by side at one batch size (256 test images).
# Usage: [STRENGTHS="2e-3 5e-3 1e-2"] [EPOCHS=15] [FT_EPOCHS=3] [FT_LR=0.01] [REUSE_DENSE=1] \
#          bash scripts/sparse_table.sh [OUT_DIR [--set k=v ...]]
# (FT_*: the fine-tuning of the thinned network; REUSE_DENSE=1 keeps an existing OUT_DIR/dense run.)
# (the --set flags go to every training, e.g. a quick check on a subset).
# Each command's wall time is appended to OUT_DIR/wall_times.txt.
set -euo pipefail
cd "$(dirname "$0")/.."
OUT=${1:-runs/sparse}
shift || true
BIN=${SELFSUP:-./build/selfsup}
CFG=configs/fashion_mnist/semi/supervised_group_lasso.yaml
STRENGTHS=${STRENGTHS:-"2e-3 5e-3 1e-2"}
EPOCHS=${EPOCHS:-15}
FT_EPOCHS=${FT_EPOCHS:-3}
FT_LR=${FT_LR:-0.01}
mkdir -p "$OUT"
t() { local s=$SECONDS; "$@"; echo "wall $((SECONDS - s)) s: $*" | tee -a "$OUT/wall_times.txt"; }

if [ "${REUSE_DENSE:-0}" = 1 ] && [ -f "$OUT/dense/summary.json" ]; then
  echo "keeping the dense run in $OUT/dense"
else
  t "$BIN" semi --config "$CFG" --out "$OUT/dense" --overwrite --quiet --set train.epochs="$EPOCHS" \
    --set 'regularize=[]' "$@" >"$OUT/dense.json"
fi
for s in $STRENGTHS; do
  t "$BIN" semi --config "$CFG" --out "$OUT/gl_$s" --overwrite --quiet --set train.epochs="$EPOCHS" \
    --set "regularize=[{type: group_lasso, group: filters, strength: $s, threshold: 1.0e-2}]" "$@" >"$OUT/gl_$s.json"
  t "$BIN" prune --checkpoint "$OUT/gl_$s" --out "$OUT/pruned_$s" --overwrite --quiet \
    --set train.epochs="$FT_EPOCHS" --set train.lr="$FT_LR" --set train.warmup_epochs=0 --set 'regularize=[]' >"$OUT/pruned_$s.json"
done

python3 - "$OUT" $STRENGTHS <<'PY'
import json, sys
out, strengths = sys.argv[1], sys.argv[2:]
load = lambda p: json.load(open(f"{out}/{p}/summary.json"))
dense = load("dense")
print("| model | test acc | conv filters | MACs / image | params | inference, 256 images |")
print("|---|---|---|---|---|---|")
first = load(f"pruned_{strengths[0]}")["prune"]
print(f"| dense | {100 * dense['test_acc']:.2f} | {first['filters_before']} | {first['macs_before']:.3g} | "
      f"{first['params_before']} | |")
for s in strengths:
    gl, pr = load(f"gl_{s}"), load(f"pruned_{s}")
    p = pr["prune"]
    print(f"| group lasso {s}, zeroed | {100 * gl['test_acc']:.2f} | {gl['sparsity']['zero_filters']} zero | "
          f"{gl['sparsity']['macs_after']:.3g} once thinned | | |")
    print(f"| group lasso {s}, thinned + fine-tuned | {100 * pr['test_acc']:.2f} | {p['filters_after']} | "
          f"{p['macs_after']:.3g} | {p['params_after']} | {p['infer_ms_before']:.1f} -> {p['infer_ms_after']:.1f} ms |")
print()
for s in strengths:
    pr = load(f"pruned_{s}")
    p = pr["prune"]
    print(f"strength {s}: filters removed {100 * (1 - p['filters_after'] / p['filters_before']):.1f}% (target >= 50%), "
          f"MACs {p['macs_before'] / p['macs_after']:.2f}x fewer (target >= 2x), "
          f"accuracy {100 * (pr['test_acc'] - dense['test_acc']):+.2f} points against dense (target >= -0.5), "
          f"inference {p['infer_speedup']:.2f}x faster at batch {p['infer_batch']} (target >= 1.5x)")
PY
