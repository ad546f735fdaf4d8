#!/usr/bin/env bash
# Builds selfsup against a CUDA build of LibTorch (by default the one inside python3's torch
# package) and checks that the same code runs on the GPU: the CPU-vs-CUDA step tests
# (tests/train/device_test.cpp, skipped on CPU-only machines), short `pretrain` and `semi` runs
# with device=cuda (bf16 and fp32, two ranks on one GPU through Gloo), then the whole test suite.
#
#   bash scripts/cuda_check.sh OUT_DIR
#
# Environment: TORCH_CMAKE_PREFIX (default: torch.utils.cmake_prefix_path of python3),
# DEPS_PREFIX (extra CMake prefix for yaml-cpp, CLI11, nlohmann-json, GoogleTest, zlib headers),
# EXTRA_CXX_FLAGS, JOBS, RUN_SECONDS (training seconds of each short run, default 20), CTEST
# (0 skips the whole-suite step). OUT_DIR/steps.txt says which steps passed, OUT_DIR/all.log
# holds every step's output; a failing step is reported and the next one still runs.
set -u
OUT=${1:?usage: cuda_check.sh OUT_DIR}
mkdir -p "$OUT"
ROOT=$(cd "$(dirname "$0")/.." && pwd)
B=$ROOT/build-cuda
W=$(mktemp -d)
JOBS=${JOBS:-$(nproc)}
SECS=${RUN_SECONDS:-20}
TORCH_CMAKE_PREFIX=${TORCH_CMAKE_PREFIX:-$(python3 -c 'import torch; print(torch.utils.cmake_prefix_path)')}
status=0
step() {  # name, command...: runs one step, appends its log to OUT/all.log, records pass/fail
  local name=$1; shift
  local t0=$(date +%s)
  local log="$W/$name.log"
  if "$@" > "$log" 2>&1; then
    echo "PASS $name ($(( $(date +%s) - t0 )) s)" | tee -a "$OUT/steps.txt"
  else
    echo "FAIL $name ($(( $(date +%s) - t0 )) s): last lines of its log:" | tee -a "$OUT/steps.txt"
    tail -n 25 "$log" | tee -a "$OUT/steps.txt"
    status=1
  fi
  { echo "===== $name"; cat "$log"; } >> "$OUT/all.log"
}

{
  nvidia-smi -L 2>&1
  python3 -c 'import torch; print("torch", torch.__version__, "cuda", torch.version.cuda, "available", torch.cuda.is_available())'
  echo "prefix $TORCH_CMAKE_PREFIX"
} | tee "$OUT/machine.txt"

step configure cmake -S "$ROOT" -B "$B" -G Ninja -DCMAKE_BUILD_TYPE=Release -DSELFSUP_BUILD_BENCH=OFF \
  "-DCMAKE_PREFIX_PATH=$TORCH_CMAKE_PREFIX${DEPS_PREFIX:+;$DEPS_PREFIX}" "-DCMAKE_CXX_FLAGS=${EXTRA_CXX_FLAGS:-}" \
  ${ZLIB_LIBRARY:+-DZLIB_LIBRARY=$ZLIB_LIBRARY} ${ZLIB_INCLUDE_DIR:+-DZLIB_INCLUDE_DIR=$ZLIB_INCLUDE_DIR}
step build ninja -C "$B" -k 0 -j "$JOBS"

S="$B/selfsup"
C="$ROOT/configs/fashion_mnist"
summary() { cat "$1/summary.json"; }
if [ -x "$B/tests/test_train" ]; then
  step device_tests "$B/tests/test_train" --gtest_filter='*OnCuda*'
fi
if [ -x "$S" ]; then
  step pretrain_cuda_bf16 bash -c "'$S' pretrain --config '$C/simclr.yaml' --out '$W/bf16' --time-limit $SECS --set device=cuda && cat '$W/bf16/summary.json'"
  step pretrain_cuda_fp32 bash -c "'$S' pretrain --config '$C/simclr.yaml' --out '$W/fp32' --time-limit $SECS --set device=cuda --set precision=fp32 --set eval.protocols=[knn] && cat '$W/fp32/summary.json'"
  step semi_cuda bash -c "'$S' semi --config '$C/semi/fixmatch.yaml' --out '$W/semi' --time-limit $SECS --set device=cuda && cat '$W/semi/summary.json'"
  step nproc2_cuda bash -c "'$S' pretrain --config '$C/simclr.yaml' --out '$W/dist' --time-limit $SECS --nproc 2 --set device=cuda --set eval.protocols=[knn] && cat '$W/dist/summary.json'"
  step eval_on_cpu_of_cuda_checkpoint "$S" eval --checkpoint "$W/bf16/last.ckpt" --protocol knn --device cpu
fi
if [ "${CTEST:-1}" != 0 ] && [ -d "$B/tests" ]; then
  step ctest ctest --test-dir "$B" -j "$JOBS" --timeout 300 --output-on-failure
fi
rm -rf "$W"  # the logs are in OUT/all.log
exit $status
