#!/usr/bin/env bash
# Sets up a fresh machine, builds everything and runs the whole test suite (ctest), then the
# sanitizer build's tests and the fuzz corpora (scripts/sanitize.sh).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
bash scripts/build.sh
ctest --test-dir build --output-on-failure -j2 --timeout 900
bash scripts/sanitize.sh build-asan
