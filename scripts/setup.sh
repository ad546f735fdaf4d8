#!/usr/bin/env bash
# Installs every Debian package selfsup needs to build, test, benchmark and run.
# A fresh Debian bookworm machine needs nothing else.
set -euo pipefail
SUDO=""
if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi
PKGS=(
  build-essential cmake ninja-build ccache pkg-config git
  libtorch-dev libdnnl-dev libopenblas0-openmp libopenblas-dev libgloo-dev
  libcli11-dev libyaml-cpp-dev nlohmann-json3-dev libfmt-dev libspdlog-dev
  libstb-dev zlib1g-dev libgtest-dev libgmock-dev libbenchmark-dev libjemalloc-dev
  clang libclang-rt-14-dev  # the sanitizer build and the fuzz targets (scripts/sanitize.sh, fuzz.sh)
  dataset-fashion-mnist
  python3 python3-torch python3-torchvision python3-numpy
  libjs-chart.js  # compiled into the report page (src/run/report.html)
  libopencv-imgproc-dev libopencv-imgcodecs-dev  # the PNG charts (src/plot: active learning curves)
  libopencv-photo-dev  # denoising's non-local means baseline (src/denoise)
  python3-skimage  # the grayscale test images of the denoising configs (configs/denoise)
  chromium fonts-dejavu-core python3-pil  # the report's test in a headless browser (tests/cli/report.sh)
  sentencepiece  # the text commands' tokenizer programs, spm_* (src/text/tokenizer.cpp)
  wordnet-base fortunes fasttext  # the default text corpus and its word-vector baseline (configs/text)
)
missing=()
for p in "${PKGS[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ "${#missing[@]}" -gt 0 ]; then
  export DEBIAN_FRONTEND=noninteractive
  $SUDO apt-get update
  $SUDO apt-get install -y --no-install-recommends "${missing[@]}"
fi
# Debian's LibTorch links the reference BLAS unless the OpenMP OpenBLAS is the chosen alternative,
# and libopenblas.so.0 itself defaults to the pthread build, whose worker threads spin beside
# LibTorch's OpenMP threads: fp32 SimCLR steps took 104 ms against 74 ms with the OpenMP build on
# a 2-core AMD EPYC (docs/experiments/2026-12-04-cpu-precision.md).
if command -v update-alternatives >/dev/null; then
  for alt in libblas.so.3-x86_64-linux-gnu liblapack.so.3-x86_64-linux-gnu libopenblas.so.0-x86_64-linux-gnu; do
    cand=$(update-alternatives --list "$alt" 2>/dev/null | grep openblas-openmp | head -n1 || true)
    if [ -n "$cand" ]; then $SUDO update-alternatives --set "$alt" "$cand" >/dev/null; fi
  done
fi
