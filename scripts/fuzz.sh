#!/usr/bin/env bash
# Searches for inputs that crash or trip a sanitizer in the file readers, SECONDS per target.
# New interesting inputs go to BUILD/fuzz-work/<target> (not the committed corpus); an input
# that fails is left as BUILD/fuzz-work/crash-* and should be fixed, then committed to
# fuzz/corpus/<target>/ so that CI replays it from then on.
# Usage: bash scripts/fuzz.sh SECONDS [TARGET...]   (targets: idx cifar image_folder config checkpoint)
set -euo pipefail
cd "$(dirname "$0")/.."
SECONDS_PER_TARGET=${1:?usage: fuzz.sh SECONDS [TARGET...]}
shift
TARGETS=("$@")
[ ${#TARGETS[@]} -gt 0 ] || TARGETS=(idx cifar image_folder config checkpoint)
BUILD=${BUILD:-build-asan}
CC=clang CXX=clang++ cmake -S . -B "$BUILD" -G Ninja -DSELFSUP_FUZZ=ON -DSELFSUP_BUILD_BENCH=OFF \
  -DCMAKE_BUILD_TYPE=RelWithDebInfo -DCMAKE_CXX_FLAGS_RELWITHDEBINFO="-O1 -g1" >/dev/null
cmake --build "$BUILD" -j"$(nproc)" --target "${TARGETS[@]/#/fuzz_}"
export ASAN_OPTIONS=detect_leaks=0
export UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1:suppressions=$PWD/scripts/ubsan.supp
export OMP_NUM_THREADS=1
status=0
for t in "${TARGETS[@]}"; do
  mkdir -p "$BUILD/fuzz-work/$t"
  echo "== fuzz_$t for $SECONDS_PER_TARGET s"
  # -rss_limit_mb: a reader that allocates whatever a header claims is a finding, not this
  # machine's out-of-memory. Crash files land in fuzz-work/ (the working directory).
  rc=0
  (cd "$BUILD/fuzz-work" && "../fuzz/fuzz_$t" -max_total_time="$SECONDS_PER_TARGET" -rss_limit_mb=4096 \
    -timeout=20 -print_final_stats=1 "$t" "$OLDPWD/fuzz/corpus/$t" >"$t.log" 2>&1) || rc=$?
  grep -E '^stat::(number_of_executed_units|average_exec_per_sec|new_units_added)|^SUMMARY|Test unit written' \
    "$BUILD/fuzz-work/$t.log" || true
  if [ "$rc" -ne 0 ]; then
    echo "fuzz_$t failed (exit $rc): see $BUILD/fuzz-work/$t.log"
    status=1
  fi
done
exit $status
