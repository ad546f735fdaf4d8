#!/usr/bin/env bash
# selfsup denoise end to end on a few small synthetic images: each method (n2c, n2n, n2v, nb2nb)
# trains a small U-Net whose loss falls, scores the held-out image and draws its examples picture;
# apply denoises a gray PNG and an RGB image into PNG / JPEG of the same size; eval scores a run
# and both classical filters on the same noisy images; a killed nb2nb run resumes to the weights of
# an uninterrupted one; bad input fails with one error line each.
# Usage: bash denoise.sh <selfsup binary> <source dir> <build dir>
set -u
SELFSUP=$1
TMP=$(mktemp -d "${TMPDIR:-/tmp}/selfsup_denoise.XXXXXX")
PID=
cleanup() {
  [ -n "$PID" ] && kill -9 "$PID" 2>/dev/null
  rm -rf "$TMP"
}
trap cleanup EXIT
source "$(dirname "$0")/../support/cli.sh"
# Debian's Python, with PIL (python3-pil; scripts/setup.sh installs it), whatever python3 is first
# on the PATH.
PY=/usr/bin/python3

"$PY" - "$TMP/img" <<'PY' || fail "writing the test images"
import math, os, sys
from PIL import Image
d = sys.argv[1]
os.makedirs(d)
def scene(w, h, k):
    # smooth shading, discs and stripes: structure a denoiser must keep
    im = Image.new("L", (w, h))
    px = im.load()
    for y in range(h):
        for x in range(w):
            v = 90 + 60 * math.sin((x + 3 * k) / 9.0) * math.cos(y / 13.0)
            if (x - w / 3) ** 2 + (y - h / 2) ** 2 < (h / 4) ** 2: v = 220 - k * 10
            if (x // 6 + k) % 5 == 0 and y > h * 0.7: v = 30
            px[x, y] = int(max(0, min(255, v)))
    return im
for i, name in enumerate(["a.png", "b.png", "c.png", "v.png", "t.png"]):
    scene(72, 64, i).save(os.path.join(d, name))
Image.merge("RGB", [scene(48, 40, 1), scene(48, 40, 2), scene(48, 40, 3)]).save(os.path.join(d, "rgb.png"))
scene(3, 3, 0).save(os.path.join(d, "tiny.png"))
open(os.path.join(d, "bad.png"), "w").write("not an image\n")
PY
mkdir "$TMP/held" && cp "$TMP/img/t.png" "$TMP/held/"

cat >"$TMP/base.yaml" <<YAML
data: {root: $TMP/img, channels: 1, train: [a.png, b.png, c.png], val: [v.png], test: [t.png]}
noise: {type: gaussian, sigma: 25}
model: {unet_width: 8, unet_depth: 2}
train: {max_steps: 300, batch_size: 8, patch_size: 32, optimizer: adamw, lr: 3.0e-3, weight_decay: 0.0,
        log_every_steps: 5, checkpoint_every_steps: 20, threads: 1}
seed: 0
YAML

for m in n2c n2n n2v nb2nb; do
  "$SELFSUP" denoise train --config "$TMP/base.yaml" --set method.name=$m --out "$TMP/$m" --quiet \
    >"$TMP/$m.json" 2>"$TMP/$m.err" || fail "$m: training failed: $(tail -3 "$TMP/$m.err")"
  "$PY" - "$TMP/$m" <<'PY' || fail "$m: loss or summary"
import json, sys
d = sys.argv[1]
m = [json.loads(x) for x in open(f"{d}/metrics.jsonl") if '"loss"' in x]
first = sum(r["loss"] for r in m[:3]) / 3
last = sum(r["loss"] for r in m[-3:]) / 3
assert len(m) >= 10 and last < first, (first, last)
s = json.load(open(f"{d}/summary.json"))
assert s["steps"] == 300, s["steps"]
assert set(s["test"]["images"]) == {"t.png"} and s["noisy"]["test"]["psnr"] < s["test"]["psnr"] + 30
assert 18 < s["noisy"]["test"]["psnr"] < 23, s["noisy"]
print(d.rsplit("/", 1)[1], "loss", round(first, 4), "->", round(last, 4), "test PSNR", round(s["test"]["psnr"], 2),
      "noisy", round(s["noisy"]["test"]["psnr"], 2))
PY
  [ -s "$TMP/$m/denoise_examples.png" ] || fail "$m: no denoise_examples.png"
done
# Under bf16 autocast too (fp32 with a warning where the CPU has no native bf16): nb2nb's pass
# without gradient must not leave the step's cast weights without one.
"$SELFSUP" denoise train --config "$TMP/base.yaml" --set method.name=nb2nb --set precision=bf16 \
  --set train.max_steps=3 --out "$TMP/nb2nb_bf16" --quiet --no-eval >/dev/null 2>"$TMP/bf16.err" ||
  fail "nb2nb in bf16: $(tail -3 "$TMP/bf16.err")"
# Clean targets beat doing nothing after 300 steps.
"$PY" - "$TMP/n2c/summary.json" <<'PY' || fail "n2c does not denoise"
import json, sys
s = json.load(open(sys.argv[1]))
assert s["test"]["psnr"] > s["noisy"]["test"]["psnr"] + 2, (s["test"]["psnr"], s["noisy"]["test"]["psnr"])
PY

# Exact resume: nb2nb (per-step pair draws, gamma's ramp) killed after its first checkpoint and
# resumed ends with the tensors of the uninterrupted run above.
"$SELFSUP" denoise train --config "$TMP/base.yaml" --set method.name=nb2nb --out "$TMP/B" --quiet --no-eval \
  >/dev/null 2>"$TMP/B1.err" &
PID=$!
for _ in $(seq 1 3000); do
  [ -f "$TMP/B/last.ckpt" ] && break
  kill -0 "$PID" 2>/dev/null || break
  sleep 0.01
done
kill -9 "$PID" 2>/dev/null
wait "$PID" 2>/dev/null
PID=
[ -f "$TMP/B/last.ckpt" ] || fail "the nb2nb run wrote no checkpoint before it ended: $(cat "$TMP/B1.err")"
[ -f "$TMP/B/summary.json" ] && fail "the nb2nb run finished before it could be killed"
"$SELFSUP" denoise train --resume --out "$TMP/B" --quiet --no-eval >"$TMP/B2.out" 2>"$TMP/B2.err" ||
  fail "resuming nb2nb failed: $(cat "$TMP/B2.err")"
grep -q "resuming from .* at step" "$TMP/B2.err" || fail "the resumed run did not say where: $(cat "$TMP/B2.err")"
"$PY" "$(dirname "$0")/same_checkpoint_tensors.py" "$TMP/nb2nb/last.ckpt" "$TMP/B/last.ckpt" ||
  fail "the resumed nb2nb run ends with other tensors than the uninterrupted one"
echo "ok: nb2nb killed at $(sed -n 's/^resuming from .* at step \([0-9]*\) of .*/\1/p' "$TMP/B2.err") resumes exactly"

# apply: gray PNG -> PNG, RGB PNG -> JPEG (each channel through the gray network), same sizes.
"$SELFSUP" denoise apply --checkpoint "$TMP/n2n" --in "$TMP/img/t.png" --out "$TMP/t_out.png" >/dev/null 2>"$TMP/err" ||
  fail "apply to a PNG: $(cat "$TMP/err")"
"$SELFSUP" denoise apply --checkpoint "$TMP/n2n/last.ckpt" --in "$TMP/img/rgb.png" --out "$TMP/rgb_out.jpg" \
  >/dev/null 2>"$TMP/err" || fail "apply to an RGB image: $(cat "$TMP/err")"
"$PY" - "$TMP" <<'PY' || fail "apply's outputs"
import sys
from PIL import Image
t = sys.argv[1]
a = Image.open(f"{t}/t_out.png"); b = Image.open(f"{t}/rgb_out.jpg")
assert a.size == (72, 64) and a.mode == "L", (a.size, a.mode)
assert b.size == (48, 40) and b.mode == "RGB" and b.format == "JPEG", (b.size, b.mode, b.format)
PY

# eval: a run and both filters on the same noisy images, strengths chosen on v.png.
"$SELFSUP" denoise eval --checkpoint "$TMP/n2c" --filter nlm --filter gaussian_blur --in "$TMP/held" \
  --examples "$TMP/ex.png" --out "$TMP/eval.json" --quiet >/dev/null 2>"$TMP/err" || fail "eval: $(cat "$TMP/err")"
"$PY" - "$TMP" <<'PY' || fail "eval's figures"
import json, sys
t = sys.argv[1]
j = json.load(open(f"{t}/eval.json"))
assert set(j["methods"]) == {"n2c", "nlm", "gaussian_blur"}, j["methods"].keys()
assert j["methods"]["nlm"]["h"] in [5, 10, 15, 20, 25, 30, 35, 40, 50]
for k, v in j["methods"].items():
    assert v["psnr"] > j["noisy"]["psnr"], (k, v["psnr"], j["noisy"]["psnr"])
n2c = json.load(open(f"{t}/n2c/summary.json"))
assert abs(j["methods"]["n2c"]["psnr"] - n2c["test"]["psnr"]) < 1e-9, "not the same noisy test image"
from PIL import Image
assert Image.open(f"{t}/ex.png").format == "PNG"
PY

# `selfsup methods NAME` spells defaults as a config would (not 0.20000000000000001).
"$SELFSUP" methods nb2nb >"$TMP/keys.txt" 2>&1 || fail "methods nb2nb: $(cat "$TMP/keys.txt")"
grep -q "method.gamma: 2 " "$TMP/keys.txt" || fail "methods nb2nb: $(cat "$TMP/keys.txt")"
"$SELFSUP" methods n2v >>"$TMP/keys.txt" 2>&1 && "$SELFSUP" methods fixmatch >>"$TMP/keys.txt" 2>&1 ||
  fail "methods n2v / fixmatch"
grep -q "method.mask_fraction: 0.01 " "$TMP/keys.txt" || fail "methods n2v: $(cat "$TMP/keys.txt")"
grep -Eq "[0-9]\.[0-9]{12,}" "$TMP/keys.txt" && fail "a default printed at full precision: $(cat "$TMP/keys.txt")"

# Bad input: one error line each.
expect_error "a file that is not an image" "bad.png" denoise apply --checkpoint "$TMP/n2n" --in "$TMP/img/bad.png" \
  --out "$TMP/x.png"
expect_error "an image smaller than the network's input" "smaller than the network's smallest input 4x4" \
  denoise apply --checkpoint "$TMP/n2n" --in "$TMP/img/tiny.png" --out "$TMP/x.png"
expect_error "an output format it cannot write" "must end in .png, .jpg or .jpeg" \
  denoise apply --checkpoint "$TMP/n2n" --in "$TMP/img/t.png" --out "$TMP/x.tiff"
expect_error "an unknown noise model" "noise.type must be gaussian or poisson, got 'speckle'" \
  denoise train --config "$TMP/base.yaml" --set method.name=n2n --set noise.type=speckle --out "$TMP/bad1"
expect_error "a held-out image that does not exist" "no image 'missing.png'" \
  denoise train --config "$TMP/base.yaml" --set method.name=n2n --set 'data.test=[missing.png]' --out "$TMP/bad2"
expect_error "an unknown method" "unknown method" \
  denoise train --config "$TMP/base.yaml" --set method.name=n3n --out "$TMP/bad3"
expect_error "a method that is not a denoiser" "method 'simclr' is self-supervised" \
  denoise train --config "$TMP/base.yaml" --set method.name=simclr --out "$TMP/bad4"
expect_error "a patch smaller than the network's input" "train.patch_size must be even and at least 4" \
  denoise train --config "$TMP/base.yaml" --set method.name=n2n --set train.patch_size=2 --out "$TMP/bad5"
expect_error "eval with nothing to score" "give at least one --checkpoint or --filter" denoise eval --config "$TMP/base.yaml"
echo "PASS: denoise"
