#!/usr/bin/env bash
# The denoising figures: each method of configs/denoise/ trained for $TIME seconds (one at a time,
# the machine to itself), then one `selfsup denoise eval` of all of them and of the two classical
# filters (their strength chosen on the validation images) on the same noisy test images, with the
# examples picture. Each command's wall time is appended to OUT_DIR/wall_times.txt.
# Usage: [TIME=1200] [METHODS="n2c n2n n2v nb2nb"] bash scripts/denoise_table.sh [OUT_DIR [--set k=v ...]]
set -euo pipefail
cd "$(dirname "$0")/.."
OUT=${1:-runs/denoise}
shift || true
BIN=${SELFSUP:-./build/selfsup}
TIME=${TIME:-1200}
METHODS=${METHODS:-"n2c n2n n2v nb2nb"}
mkdir -p "$OUT"
t() { local s=$SECONDS; "$@"; echo "wall $((SECONDS - s)) s: $*" | tee -a "$OUT/wall_times.txt"; }

ckpts=()
for m in $METHODS; do
  t "$BIN" denoise train --config "configs/denoise/$m.yaml" --out "$OUT/$m" --overwrite --quiet \
    --time-limit "$TIME" "$@" >"$OUT/$m.json"
  ckpts+=(--checkpoint "$OUT/$m")
done
t "$BIN" denoise eval "${ckpts[@]}" --filter gaussian_blur --filter nlm --examples "$OUT/denoise_examples.png" \
  --out "$OUT/table.json" --quiet >/dev/null

python3 - "$OUT" <<'PY'
import json, sys
out = sys.argv[1]
j = json.load(open(f"{out}/table.json"))
print(f"noise {j['noise']}, test images {', '.join(j['images'])}")
print("| method | PSNR (dB) | SSIM | gain over noisy (dB) | training |")
print("|---|---|---|---|---|")
noisy = j["noisy"]
print(f"| noisy input | {noisy['psnr']:.2f} | {noisy['ssim']:.3f} | | |")
for name, m in j["methods"].items():
    extra = ""
    if "checkpoint" in m:
        s = json.load(open(f"{m['checkpoint']}/summary.json"))
        extra = f"{s['steps']} steps, {s['train_seconds']:.0f} s"
    else:
        key = "h" if "h" in m else "sigma"
        extra = f"{key} {m[key]} chosen on validation"
    print(f"| {name} | {m['psnr']:.2f} | {m['ssim']:.3f} | {m['psnr'] - noisy['psnr']:+.2f} | {extra} |")
PY
