#!/usr/bin/env bash
# selfsup data info: prints Fashion-MNIST's counts, and reports damaged files and unknown names as
# one "error:" line with a non-zero exit, never a crash.
# Usage: bash data_info.sh <selfsup binary> <source dir> <build dir>
set -u
SELFSUP=$1
DATA=/usr/share/datasets/fashion-mnist
TMP=$(mktemp -d "${TMPDIR:-/tmp}/selfsup_data_info.XXXXXX")
source "$(dirname "$0")/../support/cli.sh"
trap 'rm -rf "$TMP"' EXIT

# A folder holding intact copies of the four files, with the train images replaced by stdin.
damaged_copy() {
  local dir=$1
  mkdir -p "$dir"
  cp "$DATA"/*.gz "$dir"/ || fail "cannot copy $DATA"
  cat >"$dir/train-images-idx3-ubyte.gz"
}

[ -x "$SELFSUP" ] || fail "selfsup binary '$SELFSUP' not found"
[ -f "$DATA/train-images-idx3-ubyte.gz" ] || fail "Fashion-MNIST not installed in $DATA"

# 1. The real data set.
"$SELFSUP" data info --dataset fashion-mnist >"$TMP/out" 2>"$TMP/err"
rc=$?
[ "$rc" -eq 0 ] || fail "data info --dataset fashion-mnist exited $rc: $(cat "$TMP/err")"
for want in 60000 10000 1x28x28 T-shirt/top; do
  grep -qF -- "$want" "$TMP/out" || fail "data info output lacks '$want': $(cat "$TMP/out")"
done
echo "ok: data info --dataset fashion-mnist"

# 2. Train images cut short (compressed stream ends early).
head -c 100000 "$DATA/train-images-idx3-ubyte.gz" | damaged_copy "$TMP/cut"
expect_error "truncated train images" "$TMP/cut/train-images-idx3-ubyte.gz" \
  data info --dataset fashion-mnist --root "$TMP/cut"

# 3. Train images cut short inside a valid gzip stream: the header promises more than there is.
gzip -dc "$DATA/train-images-idx3-ubyte.gz" | head -c 1000000 | gzip -1 | damaged_copy "$TMP/short"
expect_error "short train images" "truncated" data info --dataset fashion-mnist --root "$TMP/short"

# 4. Wrong magic number.
gzip -dc "$DATA/train-images-idx3-ubyte.gz" | { printf '\x12'; tail -c +2; } | gzip -1 |
  damaged_copy "$TMP/magic"
expect_error "wrong magic number" "wrong magic number" data info --dataset fashion-mnist --root "$TMP/magic"

# 5. Empty file and missing data folder.
damaged_copy "$TMP/empty" </dev/null
expect_error "empty train images" "$TMP/empty/train-images-idx3-ubyte.gz" \
  data info --dataset fashion-mnist --root "$TMP/empty"
expect_error "missing folder" "$TMP/nowhere" data info --dataset fashion-mnist --root "$TMP/nowhere"

# 6. Unknown data set name.
expect_error "unknown data set" "fashion-mnist" data info --dataset no-such-set

echo "PASS"
