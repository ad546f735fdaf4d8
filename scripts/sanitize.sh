#!/usr/bin/env bash
# Builds the library with clang's AddressSanitizer + UndefinedBehaviorSanitizer and runs the unit
# tests of the code that reads users' files and computes the losses (config, data, augmentation,
# checkpoints, losses), then replays every fuzz corpus (fuzz/corpus/*) once.
# Usage: bash scripts/sanitize.sh [BUILD_DIR]   (default build-asan)
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD=${1:-build-asan}
CC=clang CXX=clang++ cmake -S . -B "$BUILD" -G Ninja -DSELFSUP_FUZZ=ON -DSELFSUP_BUILD_BENCH=OFF \
  -DCMAKE_BUILD_TYPE=RelWithDebInfo -DCMAKE_CXX_FLAGS_RELWITHDEBINFO="-O1 -g1" >/dev/null
TARGETS=(test_core test_data test_augment test_losses test_train_files
  fuzz_idx fuzz_cifar fuzz_image_folder fuzz_config fuzz_checkpoint)
cmake --build "$BUILD" -j"$(nproc)" --target "${TARGETS[@]}"
# LibTorch is not instrumented: its allocations made at load time and kept for the process's life
# are not ours to report.
export ASAN_OPTIONS=detect_leaks=0:abort_on_error=0:strict_string_checks=1
export UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1:suppressions=$PWD/scripts/ubsan.supp
export OMP_NUM_THREADS=${OMP_NUM_THREADS:-2}
for t in core data augment losses; do
  echo "== test_$t (ASan + UBSan)"
  "$BUILD/tests/test_$t" --gtest_brief=1
done
# Of the training tests, those of the checkpoint and run-folder code (tests/CMakeLists.txt): the
# rest trains whole runs, which take minutes under the sanitizers and the regular build covers.
echo "== test_train_files: checkpoints and run folders (ASan + UBSan)"
"$BUILD/tests/test_train_files" --gtest_brief=1
for dir in fuzz/corpus/*/; do
  t=$(basename "$dir")
  echo "== fuzz_$t: replaying $(find "$dir" -type f | wc -l) inputs"
  "$BUILD/fuzz/fuzz_$t" -runs=0 "$dir" 2>&1 | tail -n 2
done
echo "sanitizers: clean"
