#!/usr/bin/env bash
# One borrowed-GPU pass: builds selfsup against the machine's CUDA LibTorch, runs the CUDA device
# tests (tests/train/device_test.cpp: every method, every semi-supervised method through
# `selfsup semi`'s path), then pretrains SimCLR with the default Fashion-MNIST recipe for PRE
# seconds (the GPU gets ~10x the epochs of 30 CPU minutes) and previews FixMatch and SimMatch from
# that encoder at the ~3,000 steps an AVX2-only CPU gets in 1800 s. The previews report the
# validation split only: the test figures are dropped here, so nothing can be chosen by them.
# Run from the repository root with the Debian headers, libraries and data in .devdeps/ (see
# docs/gpu.md):   bash scripts/gpu_encoder_check.sh   (writes into $OUT)
set -u
OUT=${OUT:?set OUT to a folder for the results}
ROOT=$PWD
D=$ROOT/.devdeps
PRE=${PRE:-180}
SEMI_LIMIT=${SEMI_LIMIT:-150}
STEPS=${STEPS:-3000}
T0=$(date +%s)
say() { echo "[$(( $(date +%s) - T0 )) s] $*" | tee -a "$OUT/steps.txt"; }
{ nvidia-smi -L; python3 -c 'import torch; print("torch", torch.__version__, torch.version.cuda)'; nproc; } > "$OUT/steps.txt" 2>&1
# The device tests read the data from its standard place.
[ -e /usr/share/datasets/fashion-mnist ] || { mkdir -p /usr/share/datasets && ln -s "$D/fashion-mnist" /usr/share/datasets/fashion-mnist; }
DEV=${DEV:-cuda}
if [ -z "${SELFSUP_BIN:-}" ]; then
TP=$(python3 -c 'import torch; print(torch.utils.cmake_prefix_path)')
ZL=$(ls /lib/x86_64-linux-gnu/libz.so.1 /usr/lib/x86_64-linux-gnu/libz.so.1 2>/dev/null | head -1)
cmake -S . -B build-cuda -G Ninja -DCMAKE_BUILD_TYPE=Release -DSELFSUP_BUILD_BENCH=OFF \
  "-DCMAKE_PREFIX_PATH=$TP;$D/root/usr" "-DCMAKE_CXX_FLAGS=-isystem $D/gloo/usr/include -isystem $D/root/usr/include" \
  -DZLIB_LIBRARY=$ZL -DZLIB_INCLUDE_DIR=$D/root/usr/include > "$OUT/build.log" 2>&1
ninja -C build-cuda -k 0 selfsup_cli test_train >> "$OUT/build.log" 2>&1 && say "built" || { say "BUILD FAILED"; grep -B2 -A8 "error" "$OUT/build.log" | head -120 | tee -a "$OUT/steps.txt"; }
fi
S=${SELFSUP_BIN:-$ROOT/build-cuda/selfsup}
C=$ROOT/configs/fashion_mnist
DATA="--set data.root=$D/fashion-mnist"
[ -x "$S" ] || exit 1
W=/tmp/g; rm -rf $W; mkdir -p $W
# The device tests run beside the pretraining (they are short and take one core).
if [ -x build-cuda/tests/test_train ]; then
  (cd build-cuda/tests && timeout 200 ./test_train --gtest_filter='*OnCuda*' --gtest_brief=1 > "$OUT/device_tests.log" 2>&1
   echo "device tests rc $?: $(grep -E '^\[  (PASSED|FAILED|SKIPPED) ' "$OUT/device_tests.log" | tr '\n' ' ')" >> "$OUT/steps.txt") &
fi
timeout $((PRE + 120)) $S pretrain --config $C/simclr.yaml --out $W/simclr --time-limit $PRE $DATA \
  --set device=$DEV --set precision=fp32 --set train.epochs=100000 > $W/simclr.log 2>&1
say "pretrain rc $?"
tail -5 $W/simclr.log >> "$OUT/steps.txt"
cp $W/simclr/last.ckpt "$OUT/simclr_gpu.ckpt"; cp $W/simclr/summary.json "$OUT/simclr_gpu_summary.json"
cp $W/simclr/config.yaml "$OUT/simclr_gpu_config.yaml"
preview() {  # name, config, args...
  local name=$1 cfg=$2; shift 2
  timeout $((SEMI_LIMIT + 90)) $S semi --config $C/semi/$cfg.yaml --out $W/$name --time-limit $SEMI_LIMIT --init $W/simclr/last.ckpt $DATA \
    --set device=$DEV --set precision=fp32 --set train.threads=4 --set train.max_steps=$STEPS "$@" > $W/$name.log 2>&1 &
}
preview fixmatch fixmatch --set method.masked_mean=batch
preview simmatch simmatch
preview fixmatch_probe fixmatch --set method.masked_mean=batch --set train.probe_head=true
wait
say "previews done"
python3 - "$W" > "$OUT/previews.json" <<'EOF'
import json, sys, os
out = {}
for name in ("fixmatch", "simmatch", "fixmatch_probe"):
    p = os.path.join(sys.argv[1], name, "summary.json")
    if not os.path.exists(p):
        out[name] = open(os.path.join(sys.argv[1], name + ".log")).read()[-600:]
        continue
    s = json.load(open(p))
    out[name] = {k: v for k, v in s.items() if "test" not in k}  # validation only
print(json.dumps(out, indent=1))
EOF
cat "$OUT/previews.json" >> "$OUT/steps.txt"
say "done"
